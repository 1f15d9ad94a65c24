"""Authorization matrix: EVERY route of the app (from its URL map) × every role, against the
written permission table of docs/security.md. A new route fails this test until it is added there.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from app import db

from .conftest import ROOT, csrf_of, login, make_student
from .test_autoservicio import student_client

ROLES = ("anon", "plantel", "plantel_b", "estatal", "empresa", "admin", "alumno")
PUBLIC = "público"


def permission_table() -> dict[tuple[str, str], set[str]]:
    """(method, rule) → roles allowed, parsed from the table in docs/security.md."""
    table = {}
    text = (ROOT / "docs" / "security.md").read_text()
    for line in text.splitlines():
        m = re.match(r"^\| `(GET|POST) ([^`]+)` \| ([^|]+) \|", line)
        if m:
            who = {w.strip() for w in m.group(3).split(",")}
            table[(m.group(1), m.group(2))] = who
    return table


def app_routes(app) -> list[tuple[str, str, str]]:
    """(method, rule, endpoint) of every route except static files."""
    out = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            out.append((method, rule.rule, rule.endpoint))
    return sorted(out)


def test_every_route_is_in_the_written_table(app):
    """The table and the app agree route by route (new routes must be documented)."""
    table = permission_table()
    routes = {(m, r) for m, r, _ in app_routes(app)}
    assert routes - set(table) == set(), "rutas sin fila en docs/security.md"
    assert set(table) - routes == set(), "filas de docs/security.md sin ruta"


async def _fixtures(users) -> dict[str, str]:
    """Sample values for URL parameters: objects of plantel A (Ciudad Azteca)."""
    s = await make_student("recibido")
    orden = await db.fetch_val("INSERT INTO ordenes_impresion (creada_por) VALUES (:u) RETURNING id",
                               {"u": users["estatal"]["id"]})
    corrida = await db.fetch_val("INSERT INTO conciliaciones DEFAULT VALUES RETURNING id")
    return {"matricula": s["matricula"], "alumno_id": str(s["id"]), "bio_id": str(s["foto_id"]),
            "orden_id": str(orden), "corrida_id": str(corrida), "plantel_id": str(s["plantel_id"]), "token": "no-valido",
            "slug": "carreras", "clave": "ZZZZ", "version": "1", "usuario_id": "999999", "empresa_id": "999999", "token_id": "999999",
            "envio_id": "999999"}


def _url(rule: str, values: dict[str, str]) -> str:
    """Fill <converter:name> placeholders with sample values."""
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", lambda m: values[m.group(1)], rule)


async def test_matrix(app, users):
    """Denied roles get 403 (or the sign-in page); allowed ones never 401/403/500."""
    table = permission_table()
    values = await _fixtures(users)
    clients = {"anon": app.test_client()}
    for role in ROLES[1:-1]:
        clients[role] = app.test_client()
        await login(clients[role], users[role]["email"])
    clients["alumno"] = await student_client(app)  # a Mi credencial session: anonymous to staff routes
    failures = []
    for method, rule, endpoint in app_routes(app):
        allowed = table[(method, rule)]
        url = _url(rule, values)
        for role, client in clients.items():
            if rule == "/logout" and role not in ("anon", "alumno"):  # signing out would end the shared client's session
                client = app.test_client()
                await login(client, users[role]["email"])
            if rule == "/mi-credencial/salir" and role == "alumno":
                client = await student_client(app)
            token = await csrf_of(client)
            if method == "GET":
                r = await client.get(url)
            else:
                r = await client.post(url, form={"csrf_token": token})
            ok_for_role = PUBLIC in allowed or role.removesuffix("_b") in allowed
            if "token" in allowed:  # bearer-token API: no cookie user gets in
                ok_for_role = False
                expected_denied = r.status_code == 401
            elif role in ("anon", "alumno"):  # sent to sign in (staff's page or Mi credencial's)
                location = r.headers.get("Location", "")
                expected_denied = r.status_code == 302 and ("/login" in location or "/mi-credencial" in location)
            else:
                expected_denied = r.status_code == 403
            object_of_a = values["matricula"] in url or url.endswith(f"/{values['plantel_id']}.xlsx")
            if r.status_code >= 500:
                failures.append(f"{method} {url} as {role}: {r.status_code}")
            elif PUBLIC in allowed:
                continue  # public routes: anything but a server error
            elif role == "plantel_b" and object_of_a and r.status_code in (403, 404, 409, 422):
                continue  # plantel B on plantel A's student: refused by scope (see the test below)
            elif not ok_for_role and not expected_denied:
                failures.append(f"{method} {url} as {role}: expected refusal, got {r.status_code}")
            elif ok_for_role and r.status_code in (401, 403):
                failures.append(f"{method} {url} as {role}: expected access, got {r.status_code}")
    assert failures == [], "\n".join(failures)


@pytest.mark.parametrize("method,path", [
    ("GET", "/captura?matricula={m}"), ("POST", "/captura/{m}/guardar"), ("POST", "/entrega/{m}/guardar"),
    ("POST", "/rechazo/{m}"), ("GET", "/validacion/alumno/{m}"), ("POST", "/validacion/alumno/{m}"),
    ("POST", "/temporal/{m}/credencial.pdf"), ("GET", "/reporte/plantel/{p}.xlsx"),
])
async def test_no_cross_plantel_access(app, users, method, path):
    """Plantel B cannot act on plantel A's students by typing their matrícula or id."""
    s = await make_student("recibido")
    c = app.test_client()
    await login(c, users["plantel_b"]["email"])
    url = path.format(m=s["matricula"], p=s["plantel_id"])
    token = await csrf_of(c)
    r = await (c.get(url) if method == "GET" else c.post(url, form={"csrf_token": token, "comentario": "x"}))
    body = await r.get_data(as_text=True)
    assert r.status_code in (403, 404, 409, 422) or "otro plantel" in body, (r.status_code, body[:300])
    assert r.status_code < 500
    assert await db.fetch_val("SELECT estatus::text FROM alumnos WHERE id = :id", {"id": s["id"]}) == "recibido"
    assert await db.fetch_val("SELECT count(*) FROM eventos WHERE alumno_id = :id", {"id": s["id"]}) == 0


async def test_every_post_route_refuses_without_csrf(app, users):
    """Every state-changing route of a cookie session refuses a request without the CSRF token."""
    values = await _fixtures(users)
    table = permission_table()
    clients = {}
    checked = 0
    for method, rule, _ in app_routes(app):
        allowed = table[(method, rule)]
        if method != "POST" or "token" in allowed:
            continue  # the company API authenticates by bearer token, not cookies
        role = next((r for r in ("plantel", "estatal", "empresa", "admin", "alumno") if r in allowed), None)
        if role not in clients:
            clients[role] = await student_client(app) if role == "alumno" else app.test_client()
            if role and role != "alumno":
                await login(clients[role], users[role]["email"])
        client = clients[role]
        await csrf_of(client)  # the cookie is there; only the token is missing
        r = await client.post(_url(rule, values), form={"comentario": "x"})
        assert r.status_code == 400 and "Recargue la página" in await r.get_data(as_text=True), (rule, r.status_code)
        checked += 1
    assert checked >= 15
