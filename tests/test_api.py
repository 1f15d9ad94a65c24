"""The company JSON API: tokens, listing, package download, state changes and the OpenAPI document."""
from __future__ import annotations

import io
import json
import zipfile

from app import api_tokens, db, orders

from .conftest import actor, make_student, plantel_id
from .mailtools import drain


async def _order(users, n: int = 2) -> tuple[int, list[dict]]:
    """An order of n validated Ciudad Azteca students."""
    students = [await make_student("validado") for _ in range(n)]
    res = await orders.crear(actor(users["estatal"]), [await plantel_id("Ciudad Azteca")], True)
    return res.orden_id, students


def _auth(token: str) -> dict:
    """The Authorization header."""
    return {"Authorization": f"Bearer {token}"}


async def test_token_is_stored_only_as_hash_and_required(client, users):
    """Only the sha256 is stored; no token, a wrong one or a revoked one answer 401 in JSON."""
    token = await api_tokens.create_token(users["empresa"]["email"], "ERP")
    stored = await db.fetch_val("SELECT token_sha256 FROM api_tokens")
    assert token not in stored and stored == api_tokens.digest(token)
    assert (await client.get("/api/v1/ordenes", headers=_auth(token))).status_code == 200
    for headers in ({}, _auth("cred_falso"), {"Authorization": "Basic abc"}):
        r = await client.get("/api/v1/ordenes", headers=headers)
        assert r.status_code == 401 and "Token" in (await r.get_json())["error"]
        assert "Bearer" in r.headers["WWW-Authenticate"]
    await api_tokens.revoke(token)
    assert (await client.get("/api/v1/ordenes", headers=_auth(token))).status_code == 401


async def test_only_company_users_get_tokens(users):
    """Tokens are refused for plantel or estatal accounts and unknown e-mails."""
    for email in (users["plantel"]["email"], users["estatal"]["email"], "nadie@x.mx"):
        try:
            await api_tokens.create_token(email)
        except ValueError:
            continue
        raise AssertionError(f"token issued to {email}")


async def test_list_detail_and_reprints(client, users):
    """The company lists orders, reads one with its students, and the reprint requests with the reason."""
    oid, students = await _order(users)
    rej = await make_student("rechazado", orden_id=oid)  # its card was printed in this company's order
    await db.execute("INSERT INTO eventos (alumno_id, accion, de, a, comentario) VALUES "
                     "(:a, 'rechazar', 'recibido', 'rechazado', 'Color deficiente')", {"a": rej["id"]})
    token = await api_tokens.create_token(users["empresa"]["email"])
    data = await (await client.get("/api/v1/ordenes", headers=_auth(token))).get_json()
    assert [o["id"] for o in data["ordenes"]] == [oid]
    assert data["ordenes"][0]["estado"] == "solicitada" and data["ordenes"][0]["progreso"] == {"solicitado": 2}
    one = await (await client.get(f"/api/v1/ordenes/{oid}", headers=_auth(token))).get_json()
    assert sorted(i["matricula"] for i in one["items"]) == sorted(s["matricula"] for s in students)
    assert one["items"][0]["numero_afiliacion"] == "72795608040" and one["items"][0]["vigencia"] == "2028-08-01"
    rep = await (await client.get("/api/v1/reimpresiones", headers=_auth(token))).get_json()
    assert rep["reimpresiones"] == [{**rep["reimpresiones"][0], "matricula": rej["matricula"], "motivo": "Color deficiente"}]
    assert (await client.get("/api/v1/ordenes/999", headers=_auth(token))).status_code == 404


async def test_state_changes_through_api(client, users):
    """POST estado en_impresion (students → Imprimiendo, event by the token's user), then enviada;
    repeating or a bad body is refused. No CSRF token is needed."""
    oid, students = await _order(users)
    token = await api_tokens.create_token(users["empresa"]["email"])
    r = await client.post(f"/api/v1/ordenes/{oid}/estado", headers=_auth(token), json={"estado": "en_impresion"})
    body = await r.get_json()
    assert r.status_code == 200 and body["estado"] == "en_impresion" and body["alumnos_actualizados"] == 2
    assert body["progreso"] == {"imprimiendo": 2}
    ev = await db.fetch_one("SELECT * FROM eventos WHERE accion = 'imprimir' LIMIT 1")
    assert ev["usuario_id"] == users["empresa"]["id"] and ev["orden_id"] == oid
    r = await client.post(f"/api/v1/ordenes/{oid}/estado", headers=_auth(token), json={"estado": "en_impresion"})
    assert r.status_code == 409 and "En impresión" in (await r.get_json())["error"]
    r = await client.post(f"/api/v1/ordenes/{oid}/estado", headers=_auth(token), json={"estado": "recibida"})
    assert r.status_code == 422
    r = await client.post(f"/api/v1/ordenes/{oid}/estado", headers=_auth(token), data="no json")
    assert r.status_code == 422
    r = await client.post(f"/api/v1/ordenes/{oid}/estado", headers=_auth(token), json={"estado": "enviada"})
    assert r.status_code == 200 and (await r.get_json())["estado"] == "enviada"
    r = await client.post(f"/api/v1/ordenes/{oid}/estado", json={"estado": "enviada"})
    assert r.status_code == 401


async def test_package_download(client, users):
    """The API serves the same ZIP: manifest and one photo per student."""
    oid, students = await _order(users)
    token = await api_tokens.create_token(users["empresa"]["email"])
    await drain(client.app)  # the package is built in the background (app/paquetes.py)
    r = await client.get(f"/api/v1/ordenes/{oid}/paquete", headers=_auth(token))
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/zip"
    z = zipfile.ZipFile(io.BytesIO(await r.get_data()))
    names = set(z.namelist())
    assert {"manifiesto.csv", "manifiesto.xlsx", "credenciales-001.pdf"} <= names
    assert {f"fotos/{s['matricula']}.jpg" for s in students} <= names


async def test_company_token_sees_only_its_orders(client, users):
    """A token of another company does not see, download or change this company's order."""
    oid, _ = await _order(users)
    await db.execute("UPDATE ordenes_impresion SET empresa_id = 1")
    other = await db.fetch_val("INSERT INTO empresas (nombre) VALUES ('Imprenta B') RETURNING id")
    await db.execute("UPDATE usuarios SET empresa_id = :e WHERE id = :u", {"e": other, "u": users["empresa"]["id"]})
    token = await api_tokens.create_token(users["empresa"]["email"])
    assert (await (await client.get("/api/v1/ordenes", headers=_auth(token))).get_json())["ordenes"] == []
    for path in (f"/api/v1/ordenes/{oid}", f"/api/v1/ordenes/{oid}/paquete"):
        assert (await client.get(path, headers=_auth(token))).status_code == 404
    r = await client.post(f"/api/v1/ordenes/{oid}/estado", headers=_auth(token), json={"estado": "en_impresion"})
    assert r.status_code == 404
    await db.execute("UPDATE usuarios SET empresa_id = NULL")
    await db.execute("DELETE FROM empresas WHERE id = :e", {"e": other})


async def test_openapi_documents_every_api_route(app, client):
    """Every /api/v1 route of the app is described in the OpenAPI document (and vice versa)."""
    doc = json.loads(await (await client.get("/api/v1/openapi.json")).get_data(as_text=True))
    assert doc["openapi"].startswith("3.") and "bearer" in doc["components"]["securitySchemes"]
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/"):
            path = rule.rule.removeprefix("/api/v1").replace("<id:orden_id>", "{orden_id}")
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                routes.add((path, method.lower()))
    documented = {(p, m) for p, ops in doc["paths"].items() for m in ops if m != "parameters"}
    assert routes == documented


async def test_create_api_token_command(client, users, database_url):
    """`python -m app create-api-token EMAIL` prints a working token once; other roles are refused."""
    import asyncio
    import sys

    from .conftest import ROOT

    async def run(email: str):
        """Run the command for email; (exit code, stdout, stderr)."""
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "app", "create-api-token", email, "--nombre", "ERP", cwd=ROOT,
            env={**__import__("os").environ, "DATABASE_URL": database_url},
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await proc.communicate()
        return proc.returncode, out.decode(), err.decode()

    code, out, _ = await run(users["empresa"]["email"])
    token = out.strip().splitlines()[-1]
    assert code == 0 and token.startswith("cred_") and "no se vuelve a mostrar" in out
    assert (await client.get("/api/v1/ordenes", headers=_auth(token))).status_code == 200
    assert await db.fetch_val("SELECT nombre FROM api_tokens") == "ERP"
    code, _, err = await run(users["plantel"]["email"])
    assert code != 0 and "Solo los usuarios de la empresa" in err
