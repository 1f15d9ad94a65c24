"""Administración → Usuarios and Empresas over HTTP: activation without a password, scope rules, the safety
rules (self, last admin, at once), deactivation ending sessions, unlock, CSV import, company tokens."""
from __future__ import annotations

import asyncio
import io
import re

import pytest

from app import db

from .conftest import PASSWORD, csrf_of, login, text_of
from .test_admin import changes, post


@pytest.fixture
async def admin(signed_in):
    """A signed-in admin client (no SMTP configured: links are shown once); companies added are removed
    afterwards (orders need a company choice once there are several)."""
    yield await signed_in("admin")
    await db.execute("UPDATE usuarios SET empresa_id = NULL WHERE empresa_id IN (SELECT id FROM empresas WHERE "
                     "nombre = 'Imprenta Norte')")
    await db.execute("DELETE FROM empresas WHERE nombre = 'Imprenta Norte'")


def link_in(html: str) -> str:
    """The activation/reset link shown to the admin."""
    m = re.search(r"<code>(https?://[^<]+/restablecer/[^<]+)</code>", html)
    assert m, html[:2000]
    return m.group(1)


async def plantel_id(nombre: str = "Ciudad Azteca") -> int:
    """A plantel's id."""
    return await db.fetch_val("SELECT id FROM planteles WHERE nombre = :n", {"n": nombre})


async def activate(app, link: str, password: str = "Una-clave-larga-7") -> None:
    """Open the activation link and choose the password, as the new user does."""
    path = "/" + link.split("/", 3)[3]
    c = app.test_client()
    assert (await c.get(path)).status_code == 200
    r = await c.post(path, form={"password": password, "password2": password, "csrf_token": await csrf_of(c)})
    assert r.status_code == 200, await r.get_data(as_text=True)


async def test_new_user_activates_and_signs_in_to_own_plantel(app, admin):
    """Nuevo usuario has no password; the link (shown once without SMTP) sets it; the user then signs in and
    sees only their plantel."""
    pid = await plantel_id()
    r = await post(admin, "/admin/usuarios/nuevo", email="Nueva.Persona@ConalepMex.edu.mx", nombre="Nueva Persona",
                   rol="plantel", plantel=str(pid))
    html = await r.get_data(as_text=True)
    assert r.status_code == 201 and "no se volverá a mostrar" in text_of(html)
    row = await db.fetch_one("SELECT email, password_hash, rol::text AS rol, plantel_id FROM usuarios WHERE email = "
                             "'nueva.persona@conalepmex.edu.mx'")
    assert row["rol"] == "plantel" and row["plantel_id"] == pid and not row["password_hash"].startswith("$argon2")
    c = app.test_client()
    assert (await login(c, "nueva.persona@conalepmex.edu.mx", "cualquier-cosa")).status_code == 401
    await activate(app, link_in(html))
    assert (await login(c, "nueva.persona@conalepmex.edu.mx", "Una-clave-larga-7")).status_code == 302
    report = text_of(await (await c.get("/")).get_data(as_text=True))
    assert "Ciudad Azteca" in report and "Toluca" not in report
    assert [x["accion"] for x in await changes("usuarios")] == ["crear"]


@pytest.mark.parametrize("form,field,message", [
    ({"email": "no-es-correo", "nombre": "X", "rol": "estatal"}, "email", "correo electrónico válido"),
    ({"email": "a@conalepmex.edu.mx", "nombre": "", "rol": "estatal"}, "nombre", "Escriba el nombre"),
    ({"email": "a@conalepmex.edu.mx", "nombre": "X", "rol": "jefe"}, "rol", "Elija el rol"),
    ({"email": "a@conalepmex.edu.mx", "nombre": "X", "rol": "plantel"}, "plantel", "Elija el plantel"),
    ({"email": "a@conalepmex.edu.mx", "nombre": "X", "rol": "empresa", "empresa": "999"}, "empresa", "Elija la empresa"),
])
async def test_new_user_rules_beside_each_field(admin, form, field, message):
    """Each rule is a Spanish message beside its field (aria-invalid); nothing is created."""
    r = await post(admin, "/admin/usuarios/nuevo", **form)
    html = await r.get_data(as_text=True)
    assert r.status_code == 422 and message in html
    assert f'id="error-{field}"' in html and 'aria-invalid="true"' in html
    assert await db.fetch_val("SELECT count(*) FROM usuarios WHERE email = 'a@conalepmex.edu.mx'") == 0


async def test_emails_are_unique_whatever_the_case(admin, users):
    """An e-mail already used, in other capitals, is refused."""
    r = await post(admin, "/admin/usuarios/nuevo", email=users["estatal"]["email"].upper(), nombre="Otro", rol="estatal")
    assert r.status_code == 422 and "Ya existe una cuenta" in await r.get_data(as_text=True)


async def test_admin_cannot_remove_themselves_nor_the_last_admin(app, admin, users):
    """Demoting or deactivating oneself is refused; so is removing the last active admin, even by two admins
    at the same moment."""
    me = users["admin"]["id"]
    r = await post(admin, f"/admin/usuarios/{me}", nombre="Yo", rol="estatal")
    assert r.status_code == 409 and "a sí mismo" in await r.get_data(as_text=True)
    r = await post(admin, f"/admin/usuarios/{me}/estado", activo="0")
    assert r.status_code == 409
    other = await db.fetch_val("INSERT INTO usuarios (email, password_hash, rol) SELECT 'admin2@conalepmex.edu.mx', "
                               "password_hash, 'admin' FROM usuarios WHERE id = :u RETURNING id", {"u": me})
    second = app.test_client()
    assert (await login(second, "admin2@conalepmex.edu.mx")).status_code == 302
    answers = await asyncio.gather(post(admin, f"/admin/usuarios/{other}/estado", activo="0"),
                                   post(second, f"/admin/usuarios/{me}/estado", activo="0"))
    codes = sorted(r.status_code for r in answers)
    assert codes in ([303, 409], [302, 303], [302, 409]), codes  # one wins; the loser is refused or signed out
    assert await db.fetch_val("SELECT count(*) FROM usuarios WHERE rol = 'admin' AND activo") == 1


async def test_deactivation_ends_sessions_and_explains_the_refusal(app, admin, users, signed_in):
    """Desactivar: the user's open session ends at the next request and the sign-in says why; Reactivar undoes it."""
    victim = await signed_in("plantel")
    assert (await victim.get("/captura")).status_code == 200
    assert (await post(admin, f"/admin/usuarios/{users['plantel']['id']}/estado", activo="0")).status_code == 303
    r = await victim.get("/captura")
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    r = await login(app.test_client(), users["plantel"]["email"])
    assert r.status_code == 401 and "desactivada" in await r.get_data(as_text=True)
    r = await login(app.test_client(), users["plantel"]["email"], "contraseña-equivocada")
    assert "desactivada" not in await r.get_data(as_text=True)  # a wrong password reveals nothing
    assert (await post(admin, f"/admin/usuarios/{users['plantel']['id']}/estado", activo="1")).status_code == 303
    assert (await login(app.test_client(), users["plantel"]["email"])).status_code == 302
    assert [x["accion"] for x in await changes("usuarios")] == ["desactivar", "reactivar"]


async def test_role_change_ends_sessions_and_reset_link_is_single_use(app, admin, users, signed_in):
    """Changing a user's plantel ends their sessions; «Enviar enlace» gives a link that works once."""
    victim = await signed_in("plantel")
    toluca = await plantel_id("Toluca")
    r = await post(admin, f"/admin/usuarios/{users['plantel']['id']}", nombre="Movido", rol="plantel", plantel=str(toluca))
    assert r.status_code == 303
    assert (await victim.get("/captura")).status_code == 302
    r = await post(admin, f"/admin/usuarios/{users['plantel']['id']}/enlace")
    link = link_in(await r.get_data(as_text=True))
    await activate(app, link, "Otra-clave-larga-8")
    path = "/" + link.split("/", 3)[3]
    assert (await app.test_client().get(path)).status_code == 400  # used
    assert (await login(app.test_client(), users["plantel"]["email"], "Otra-clave-larga-8")).status_code == 302


async def test_unlock_after_failed_sign_ins(app, admin, users):
    """Five wrong guesses lock the account from that address; «Desbloquear» lets the right password in again."""
    c = app.test_client()
    for _ in range(5):
        await login(c, users["estatal"]["email"], "mala-clave")
    assert (await login(c, users["estatal"]["email"])).status_code == 401
    page = text_of(await (await admin.get(f"/admin/usuarios?q={users['estatal']['email']}")).get_data(as_text=True))
    assert "Bloqueado por intentos" in page and re.search(r"estatal@conalepmex\.edu\.mx .* Sí", page)
    assert (await post(admin, f"/admin/usuarios/{users['estatal']['id']}/desbloquear")).status_code == 303
    assert (await login(c, users["estatal"]["email"])).status_code == 302
    assert await db.fetch_val("SELECT count(*) FROM intentos_acceso WHERE desbloqueado_por = :a",
                              {"a": users["admin"]["id"]}) == 1


async def test_list_filters_and_pages(admin, users):
    """Search and filters narrow the list; pages hold 25."""
    await db.execute("""INSERT INTO usuarios (email, password_hash, rol) SELECT 'lote' || g || '@conalepmex.edu.mx', '!',
                        'estatal' FROM generate_series(1, 30) g""")
    page1 = text_of(await (await admin.get("/admin/usuarios?q=lote&rol=estatal")).get_data(as_text=True))
    assert "30 usuarios" in page1 and "página 1 de 2" in page1
    page2 = text_of(await (await admin.get("/admin/usuarios?q=lote&rol=estatal&pagina=2")).get_data(as_text=True))
    assert page2.count("lote") >= 5
    only = text_of(await (await admin.get(f"/admin/usuarios?rol=plantel&plantel={users['plantel']['plantel_id']}")).get_data(as_text=True))
    assert users["plantel"]["email"] in only and users["plantel_b"]["email"] not in only
    assert (await admin.get("/admin/usuarios?pagina=99999999999999&plantel=abc")).status_code == 200


async def test_import_users_per_row_and_bad_files(admin, users):
    """Import: created, updated and refused rows each with their reason; a file without a column changes nothing."""
    csv_text = ("email,nombre,rol,plantel,empresa\n"
                "alta1@conalepmex.edu.mx,Alta Uno,plantel,Toluca,\n"
                f"{users['estatal']['email']},Estatal Renombrado,estatal,,\n"
                "mal,Sin Correo,estatal,,\n"
                "alta2@conalepmex.edu.mx,Sin Plantel,plantel,Atlantis,\n"
                f"{users['admin']['email']},Yo,estatal,,\n")
    r = await admin.post("/admin/usuarios/importar", form={"csrf_token": await csrf_of(admin)},
                         files={"archivo": _file("usuarios.csv", csv_text)})
    html = text_of(await r.get_data(as_text=True))
    assert "Creados: 1" in html and "Actualizados: 1" in html and "Rechazados: 3" in html
    assert "correo electrónico válido" in html and "Elija el plantel" in html and "a sí mismo" in html
    assert await db.fetch_val("SELECT nombre FROM usuarios WHERE id = :u", {"u": users["estatal"]["id"]}) == "Estatal Renombrado"
    before = await db.fetch_val("SELECT count(*) FROM usuarios")
    r = await admin.post("/admin/usuarios/importar", form={"csrf_token": await csrf_of(admin)},
                         files={"archivo": _file("u.csv", "correo,nombre\nx@conalepmex.edu.mx,X\n")})
    assert r.status_code == 422 and "Faltan columnas" in await r.get_data(as_text=True)
    r = await admin.post("/admin/usuarios/importar", form={"csrf_token": await csrf_of(admin)},
                         files={"archivo": _file("u.xlsx", "esto no es un xlsx")})
    assert r.status_code == 422 and "No se cambió nada" in await r.get_data(as_text=True)
    assert await db.fetch_val("SELECT count(*) FROM usuarios") == before


def _file(name: str, text: str):
    """An uploaded file for the test client."""
    from quart.datastructures import FileStorage
    return FileStorage(io.BytesIO(text.encode()), filename=name, content_type="text/csv")


async def test_company_catalog_and_tokens(app, admin, users):
    """Empresas: RFC checked; a token is created for one of its users, shown once, works on the API and stops
    working when revoked here."""
    r = await post(admin, "/admin/catalogos/empresas/nuevo", nombre="Imprenta Norte", rfc="malo", contacto="")
    assert r.status_code == 422 and "El RFC tiene" in await r.get_data(as_text=True)
    assert (await post(admin, "/admin/catalogos/empresas/nuevo", nombre="Imprenta Norte", rfc="imp010203ab1",
                       contacto="Ana, 55 1234 5678")).status_code == 303
    eid = await db.fetch_val("SELECT id FROM empresas WHERE nombre = 'Imprenta Norte'")
    assert await db.fetch_val("SELECT rfc FROM empresas WHERE id = :e", {"e": eid}) == "IMP010203AB1"
    await db.execute("UPDATE usuarios SET empresa_id = :e WHERE id = :u", {"e": eid, "u": users["empresa"]["id"]})
    r = await post(admin, f"/admin/empresas/{eid}/tokens", usuario=str(users["empresa"]["id"]), nombre="ERP")
    html = await r.get_data(as_text=True)
    token = re.search(r"data-token>([^<]+)<", html).group(1)
    assert r.status_code == 201 and token.startswith("cred_")
    api = app.test_client()
    assert (await api.get("/api/v1/ordenes", headers={"Authorization": f"Bearer {token}"})).status_code == 200
    tid = await db.fetch_val("SELECT id FROM api_tokens WHERE nombre = 'ERP'")
    page = await (await admin.get(f"/admin/catalogos/empresas/{eid}")).get_data(as_text=True)
    assert "ERP" in page and token not in page  # listed, never shown again
    assert (await post(admin, f"/admin/empresas/{eid}/tokens/{tid}/revocar")).status_code == 200
    assert (await api.get("/api/v1/ordenes", headers={"Authorization": f"Bearer {token}"})).status_code == 401
    r = await post(admin, f"/admin/empresas/{eid}/tokens", usuario=str(users["estatal"]["id"]))
    assert r.status_code == 422 and "usuario activo de esta empresa" in await r.get_data(as_text=True)
    assert [x["accion"] for x in await changes("empresas")] == ["crear", "crear_token", "revocar_token"]
