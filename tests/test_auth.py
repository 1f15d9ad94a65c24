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
    """After failures from this address the account refuses it even the right password, with a clear message."""
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


# ---- issue 11: CSRF bound to the session -------------------------------------------------------

def _cookie(client, name: str) -> str | None:
    """A cookie's value in a test client's jar."""
    return next((c.value for c in client.cookie_jar if c.name == name), None)


async def test_csrf_attacker_chosen_token_refused(client, users):
    """A token the client made up (same value in cookie and form: classic double submit) is refused."""
    client.set_cookie("localhost", "csrf", "elegido-por-el-atacante")
    r = await client.post("/login", form={"email": users["admin"]["email"], "password": PASSWORD,
                                          "csrf_token": "elegido-por-el-atacante"})
    assert r.status_code == 400 and "Recargue la página" in await r.get_data(as_text=True)
    assert await db.fetch_val("SELECT count(*) FROM sesiones") == 0


async def test_csrf_token_rotates_at_sign_in_and_sign_out(app, users):
    """The pre-login token stops working at sign-in; the session's token dies at sign-out; the next
    user on the same browser gets a different one."""
    c = app.test_client()
    anonymous = await csrf_of(c)
    await login(c, users["plantel"]["email"])
    signed = _cookie(c, "csrf")
    assert signed != anonymous
    r = await c.post("/logout", form={"csrf_token": anonymous})
    assert r.status_code == 400  # the pre-login token is not this session's
    assert (await c.post("/logout", form={"csrf_token": signed})).status_code == 302
    after = _cookie(c, "csrf")
    assert after not in (anonymous, signed)
    await login(c, users["estatal"]["email"])
    assert _cookie(c, "csrf") not in (anonymous, signed, after)
    r = await c.post("/logout", headers={"X-CSRF-Token": signed})
    assert r.status_code == 400  # the previous user's token does not work for the next one


async def test_csrf_token_of_one_session_refused_in_another(signed_in):
    """User B's request carrying user A's token (e.g. leaked from A's page) is refused."""
    a, b = await signed_in("plantel"), await signed_in("plantel_b")
    token_a = _cookie(a, "csrf")
    r = await b.post("/logout", headers={"X-CSRF-Token": token_a})
    assert r.status_code == 400
    page = await (await b.get("/")).get_data(as_text=True)
    assert _cookie(b, "csrf") in page  # csrf_token() in templates is the current session's token


# ---- issue 11: open redirect --------------------------------------------------------------------

ATTACKS = ["//evil.example/x", "/\\evil.example/", "/%09/evil.example", "/\t/evil.example", "https://evil.example",
           "http:evil.example", "/\r\nLocation: https://evil.example", "/\x00//evil.example", " //evil.example",
           "/%2F/evil.example", "/%5Cevil.example", "\\\\evil.example", "javascript:alert(1)", "evil.example"]


async def test_open_redirect_refused(client, users):
    """'next' only follows same-origin relative paths; every known trick falls back to Inicio."""
    for i, target in enumerate(ATTACKS):
        c = client.app.test_client()
        token = await csrf_of(c)
        r = await c.post("/login", form={"email": users["admin"]["email"], "password": PASSWORD,
                                         "csrf_token": token, "next": target})
        if r.status_code == 400:  # refused earlier by the edge guard (NUL, CR/LF in form fields)
            assert "\x00" in target or "\r" in target, target
            continue
        assert r.status_code == 302 and r.headers["Location"] == "/", target
    c = client.app.test_client()
    r = await c.post("/login", form={"email": users["admin"]["email"], "password": PASSWORD,
                                     "csrf_token": await csrf_of(c), "next": "/consulta?q=PEREZ"})
    assert r.headers["Location"] == "/consulta?q=PEREZ"


def _browser_host(location: str) -> str:
    """The host a browser goes to for a Location header on https://app.example (WHATWG URL parsing:
    leading/trailing controls and spaces stripped, tabs and newlines removed, '\\' read as '/')."""
    from urllib.parse import urljoin, urlsplit

    cleaned = location.strip("".join(map(chr, range(0x21))))
    cleaned = cleaned.replace("\t", "").replace("\n", "").replace("\r", "").replace("\\", "/")
    return urlsplit(urljoin("https://app.example/login", cleaned)).netloc


def test_safe_redirect_property():
    """Property: whatever the input, the redirect stays on the site (as a browser reads it); ordinary
    local paths are kept as they are."""
    from hypothesis import given, settings, strategies as st

    from app.security import safe_redirect

    tricky = st.sampled_from(["/", "\\", "%", "09", "2F", "5C", "\t", "\n", "\r", "\x00", " ", ":", "@", "?",
                              "#", ".", "evil.example", "https:", "http:", "//", "\u3000", "\uff0f", "%2e"])
    hostile = st.lists(tricky, max_size=8).map("".join) | st.text(max_size=40)
    local = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_=&?", min_size=1, max_size=30)

    @settings(max_examples=3000, deadline=None)
    @given(hostile)
    def stays_on_site(target):
        result = safe_redirect(target, "/")
        assert result.startswith("/") and _browser_host(result) == "app.example", (target, result)

    @settings(max_examples=300, deadline=None)
    @given(local)
    def keeps_local_paths(path):
        assert safe_redirect("/" + path, "/") == "/" + path

    stays_on_site()
    keeps_local_paths()
    for target in ATTACKS:
        assert safe_redirect(target, "/") == "/", target


# ---- issue 11: passwords, reset links, API tokens, headers, throttle ----------------------------

def test_common_and_own_email_passwords_refused():
    """A password from the common list, or containing the e-mail's user name, is refused in Spanish."""
    from app.auth import check_password_strength

    for common in ("12345678", "password", "Password1", "qwertyuiop", "iloveyou"):
        assert "más usadas" in (check_password_strength(common) or ""), common
    assert "usuario del correo" in check_password_strength("cdazteca2024!", "cdazteca@conalepmex.edu.mx")
    assert check_password_strength("Credencial-Toluca-77", "cdazteca@conalepmex.edu.mx") is None
    assert "8 caracteres" in check_password_strength("corta")


async def _queued_links() -> list[str]:
    """The reset links in the mail queue, oldest first."""
    import json
    import re

    rows = await db.fetch_all("SELECT payload FROM pgqueuer ORDER BY id")
    return [re.search(r"/restablecer/\S+", json.loads(bytes(r["payload"]))["text"]).group(0) for r in rows]


async def test_new_reset_link_revokes_older_ones_and_using_one_revokes_all(client, users):
    """Only the newest link works; using it (or changing the password) leaves no link open."""
    await clear_queue()
    for _ in range(3):
        await post(client, "/recuperar", {"email": users["estatal"]["email"]})
    links = await _queued_links()
    assert len(links) == 3
    for old in links[:2]:
        assert (await client.get(old)).status_code == 400
    assert (await client.get(links[2])).status_code == 200
    done = await post(client, links[2], {"password": "Nueva-Clave-Segura-9", "password2": "Nueva-Clave-Segura-9"})
    assert done.status_code == 200
    assert await db.fetch_val("SELECT count(*) FROM recuperaciones WHERE usado_en IS NULL") == 0


async def test_reset_form_refuses_common_password(client, users):
    """The reset form applies the common-password and own-e-mail rules."""
    await clear_queue()
    await post(client, "/recuperar", {"email": users["plantel"]["email"]})
    (link,) = await _queued_links()
    r = await post(client, link, {"password": "12345678", "password2": "12345678"})
    assert r.status_code == 400 and "más usadas" in await r.get_data(as_text=True)
    r = await post(client, link, {"password": "CDAZTECA-nueva", "password2": "CDAZTECA-nueva"})
    assert r.status_code == 400 and "usuario del correo" in await r.get_data(as_text=True)


async def test_recovery_rate_limited_per_account_and_address(client, users, app):
    """Recovery requests are limited per account and per address; the answer stays the same."""
    s = app.config["SETTINGS"]
    await clear_queue()
    for _ in range(s.recovery_max_per_account + 2):
        r = await post(client, "/recuperar", {"email": users["admin"]["email"]})
        assert r.status_code == 200 and "Si el correo corresponde" in await r.get_data(as_text=True)
    assert len(await _queued_links()) == s.recovery_max_per_account
    await clear_queue()
    for i in range(s.recovery_max_per_address):
        await post(client, "/recuperar", {"email": f"nadie{i}@conalepmex.edu.mx"})
    r = await post(client, "/recuperar", {"email": users["estatal"]["email"]})
    assert "Si el correo corresponde" in await r.get_data(as_text=True)
    assert await _queued_links() == []  # the address is over its limit: nothing queued
    other = await client.post("/recuperar", form={"email": users["estatal"]["email"],
                                                  "csrf_token": await csrf_of(client)},
                              scope_base={"client": ("10.9.8.7", 4000)})
    assert other.status_code == 200 and len(await _queued_links()) == 1  # another address is not affected


async def test_api_token_stops_after_password_reset_or_deactivation(client, users):
    """A company API token dies with a password change and with the user's deactivation."""
    from app import api_tokens
    from app.auth import set_password

    token = await api_tokens.create_token(users["empresa"]["email"], "ERP")
    headers = {"Authorization": f"Bearer {token}"}
    assert (await client.get("/api/v1/ordenes", headers=headers)).status_code == 200
    await set_password(users["empresa"]["id"], "Empresa-Nueva-Clave-3")
    assert (await client.get("/api/v1/ordenes", headers=headers)).status_code == 401
    token2 = await api_tokens.create_token(users["empresa"]["email"], "ERP 2")
    assert (await client.get("/api/v1/ordenes", headers={"Authorization": f"Bearer {token2}"})).status_code == 200
    # a change made outside set_password (e.g. directly in the database) also ends older tokens
    await db.execute("UPDATE usuarios SET password_cambiado_en = now() WHERE id = :u", {"u": users["empresa"]["id"]})
    assert (await client.get("/api/v1/ordenes", headers={"Authorization": f"Bearer {token2}"})).status_code == 401
    token3 = await api_tokens.create_token(users["empresa"]["email"], "ERP 3")
    await db.execute("UPDATE usuarios SET activo = false WHERE id = :u", {"u": users["empresa"]["id"]})
    assert (await client.get("/api/v1/ordenes", headers={"Authorization": f"Bearer {token3}"})).status_code == 401


async def test_page_referrer_policy_not_overwritten(client):
    """A page that sets a stricter Referrer-Policy (/verificar: no-referrer) keeps it."""
    r = await client.get("/verificar/no-es-un-token")
    assert r.headers["Referrer-Policy"] == "no-referrer"
    assert (await client.get("/login")).headers["Referrer-Policy"] == "same-origin"


async def test_throttle_is_per_address_and_account_with_tries_left(app, users, monkeypatch):
    """Wrong guesses from one address lock that address out of that account only: the account still
    signs in from elsewhere (no lock-out of a shared plantel account). The error says the tries left."""
    monkeypatch.setattr(app.config["SETTINGS"], "login_delay_seconds", 0)
    attacker = {"client": ("10.0.0.66", 5555)}
    c = app.test_client()
    messages = []
    for _ in range(5):
        r = await c.post("/login", form={"email": users["plantel"]["email"], "password": "incorrecta",
                                         "csrf_token": await csrf_of(c)}, scope_base=attacker)
        messages.append(text_of(await r.get_data(as_text=True)))
    assert "Quedan 4 intentos" in messages[0] and "Queda 1 intento" in messages[3]
    assert "No quedan intentos" in messages[4]
    r = await c.post("/login", form={"email": users["plantel"]["email"], "password": PASSWORD,
                                     "csrf_token": await csrf_of(c)}, scope_base=attacker)
    assert r.status_code == 401 and "Demasiados intentos" in await r.get_data(as_text=True)
    staff = app.test_client()  # the plantel's own staff, from the plantel's address
    assert (await login(staff, users["plantel"]["email"])).status_code == 302


async def test_throttle_delay_grows_after_free_failures(app, users, monkeypatch):
    """After the free failures each wrong guess from an address on an account makes the next wait longer."""
    from app.auth import delay_after

    s = app.config["SETTINGS"]
    delays = [delay_after(n, s) for n in range(1, 5)]
    assert delays[:s.login_free_failures] == [0] * s.login_free_failures
    assert delays[2] < delays[3]
    monkeypatch.setattr(s, "login_delay_seconds", 30)
    c = app.test_client()
    for _ in range(s.login_free_failures + 1):
        await login(c, users["estatal"]["email"], "incorrecta")
    r = await login(c, users["estatal"]["email"], PASSWORD)
    assert r.status_code == 401 and "Espere 30 segundos" in await r.get_data(as_text=True)
