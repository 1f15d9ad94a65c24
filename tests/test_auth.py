"""Sign-in, sessions, throttling, password recovery, CSRF and security headers."""
from __future__ import annotations

import logging

from app import db

from .conftest import PASSWORD, csrf_of, login, post, text_of
from .mailtools import clear_queue, drain


async def test_login_page_has_manual_labels(client):
    """The manual's login screen: Usuario, Contraseña, Mantener sesión iniciada, Recuperar, Iniciar sesión."""
    html = await (await client.get("/login")).get_data(as_text=True)
    for label in ("Usuario", "Correo electrónico", "Contraseña", "Mantener sesión iniciada",
                  "Recuperar contraseña", "Iniciar sesión"):
        assert label in html


async def test_login_success_and_logout_ends_session(client, users):
    """A good password opens a session; signing out closes it server-side (old cookie useless)."""
    r = await login(client, users["plantel"]["email"])
    assert r.status_code == 302 and r.headers["Location"] == "/"
    home = await client.get("/")
    assert home.status_code == 200 and "Ciudad Azteca" in await home.get_data(as_text=True)
    cookie = next(c.value for c in client.cookie_jar if c.name == "credencial_sesion")
    assert (await post(client, "/logout")).status_code == 302
    assert (await client.get("/")).status_code == 302
    assert await db.fetch_val("SELECT count(*) FROM sesiones WHERE cerrada_en IS NOT NULL") == 1
    client.set_cookie("localhost", "credencial_sesion", cookie)  # replaying the old cookie
    assert (await client.get("/")).status_code == 302


async def test_wrong_password_and_unknown_user_same_message(client, users):
    """No user enumeration: the same Spanish message for a bad password and an unknown account."""
    bad = await login(client, users["plantel"]["email"], "incorrecta")
    unknown = await login(client, "nadie@conalepmex.edu.mx", "incorrecta")
    assert bad.status_code == unknown.status_code == 401
    for r in (bad, unknown):
        assert "Usuario o contraseña incorrectos." in await r.get_data(as_text=True)
    html = await bad.get_data(as_text=True)
    assert users["plantel"]["email"] in html  # what was typed is kept


async def test_throttling_after_repeated_failures(client, users):
    """After 5 failures the account is refused even with the right password, with a clear message."""
    for _ in range(5):
        await login(client, users["estatal"]["email"], "incorrecta")
    r = await login(client, users["estatal"]["email"], PASSWORD)
    assert r.status_code == 401
    assert "Demasiados intentos" in await r.get_data(as_text=True)


async def test_session_rotates_on_sign_in(app, users):
    """Each sign-in gets a new session id."""
    ids = set()
    for _ in range(2):
        c = app.test_client()
        await login(c, users["admin"]["email"])
        ids.add(next(c.value for c in c.cookie_jar if c.name == "credencial_sesion"))
    assert len(ids) == 2
    assert await db.fetch_val("SELECT count(DISTINCT id) FROM sesiones") == 2


async def test_remember_me_sets_persistent_cookie(client, users):
    """'Mantener sesión iniciada' makes the cookie outlive the browser session."""
    r = await login(client, users["admin"]["email"], remember=True)
    assert "Max-Age=" in session_cookie(r) or "Expires=" in session_cookie(r)
    c2 = client.app.test_client()
    r2 = await login(c2, users["estatal"]["email"])
    assert "Max-Age=" not in session_cookie(r2)


def session_cookie(response) -> str:
    """The Set-Cookie header of the session cookie."""
    return next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("credencial_sesion="))


async def test_password_recovery_single_use_link(client, users, caplog):
    """Recovery writes a link to the log (no SMTP); it works once, then is refused; old sessions end."""
    await clear_queue()
    signed = client.app.test_client()
    await login(signed, users["plantel"]["email"])
    r = await post(client, "/recuperar", {"email": users["plantel"]["email"]})
    assert "Si el correo corresponde" in await r.get_data(as_text=True)
    with caplog.at_level(logging.WARNING):
        await drain(client.app)  # the worker sends it (here: writes it to the log, no SMTP_HOST)
    link = next(w for rec in caplog.records for w in rec.getMessage().split() if "/restablecer/" in w)
    path = link[link.index("/restablecer/"):]
    assert (await client.get(path)).status_code == 200
    mismatch = await post(client, path, {"password": "nueva-clave-1", "password2": "otra"})
    assert "no coinciden" in await mismatch.get_data(as_text=True)
    done = await post(client, path, {"password": "nueva-clave-1", "password2": "nueva-clave-1"})
    assert done.status_code == 200 and "se actualizó" in await done.get_data(as_text=True)
    again = await post(client, path, {"password": "otra-clave-2", "password2": "otra-clave-2"})
    assert again.status_code == 400 and "no es válido" in await again.get_data(as_text=True)
    assert (await signed.get("/")).status_code == 302  # sessions ended by the password change
    assert (await login(client.app.test_client(), users["plantel"]["email"], "nueva-clave-1")).status_code == 302


async def test_recovery_unknown_email_same_answer(client, users, caplog):
    """Unknown e-mails get the same answer and no link."""
    await clear_queue()
    r = await post(client, "/recuperar", {"email": "nadie@conalepmex.edu.mx"})
    assert "Si el correo corresponde" in await r.get_data(as_text=True)
    with caplog.at_level(logging.WARNING):
        await drain(client.app)
    assert not any("/restablecer/" in rec.getMessage() for rec in caplog.records)


async def test_expired_reset_link_refused(client, users):
    """A link past its expiry is refused."""
    from app.auth import _token_digest

    await db.execute("INSERT INTO recuperaciones (token_sha256, usuario_id, expira_en) VALUES (:d, :u, now() - interval '1 minute')",
                     {"d": _token_digest("viejo"), "u": users["admin"]["id"]})
    r = await client.get("/restablecer/viejo")
    assert r.status_code == 400 and "venció" in await r.get_data(as_text=True)


async def test_csrf_required_on_post(client, users):
    """A state-changing request without the token is refused with a Spanish message."""
    await csrf_of(client)
    r = await client.post("/login", form={"email": users["admin"]["email"], "password": PASSWORD})
    assert r.status_code == 400 and "Recargue la página" in await r.get_data(as_text=True)
    r = await client.post("/login", form={"email": users["admin"]["email"], "password": PASSWORD,
                                          "csrf_token": "falso"})
    assert r.status_code == 400


async def test_open_redirect_refused(client, users):
    """'next' only follows local paths."""
    token = await csrf_of(client)
    r = await client.post("/login", form={"email": users["admin"]["email"], "password": PASSWORD,
                                          "csrf_token": token, "next": "//evil.example/x"})
    assert r.headers["Location"] == "/"


async def test_security_headers(client, users):
    """Strict CSP, no framing, referrer and camera policy; personal pages are not cached."""
    r = await client.get("/login")
    csp = r.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert r.headers["Referrer-Policy"] == "same-origin"
    assert "camera=(self)" in r.headers["Permissions-Policy"]
    await login(client, users["estatal"]["email"])
    home = await client.get("/")
    assert home.headers["Cache-Control"] == "no-store"


async def test_pages_need_sign_in(client):
    """Anonymous users are sent to the login page."""
    r = await client.get("/")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login")
    r = await client.get("/", headers={"HX-Request": "true"})
    assert r.status_code == 401 and r.headers["HX-Redirect"] == "/login"


async def test_every_route_declares_access(app):
    """Default deny: every view function carries @public or @roles (a new route can't be left open)."""
    from app.auth import access_of

    missing = [rule.endpoint for rule in app.url_map.iter_rules()
               if rule.endpoint != "static" and access_of(app.view_functions[rule.endpoint]) is None]
    assert missing == []


async def test_menu_by_role(signed_in):
    """The menu shows the manual's items to plantel users and only the right ones to others."""
    plantel = text_of(await (await (await signed_in("plantel")).get("/")).get_data(as_text=True))
    for item in ("Inicio", "Importar alumno SAE", "Toma de biométricos", "Imprimir temporal",
                 "Validar datos alumno", "Rechazar / reimprimir", "Entregar credencial", "Consultar alumno"):
        assert item in plantel
    estatal = text_of(await (await (await signed_in("estatal")).get("/")).get_data(as_text=True))
    assert "Toma de biométricos" not in estatal and "Consultar alumno" in estatal


async def test_throttling_per_address(app, users):
    """20 failures from one address across many accounts block that address, even for a good password."""
    c = app.test_client()
    for i in range(20):
        await login(c, f"nadie{i}@conalepmex.edu.mx", "incorrecta")
    r = await login(c, users["admin"]["email"], PASSWORD)
    assert r.status_code == 401 and "Demasiados intentos" in await r.get_data(as_text=True)
