"""Sensitive reads leave a row in accesos_sensibles (issue 11 #11): the offline roster download, the
company API's order detail and a full record in Consultar alumno (any role, any plantel)."""
from __future__ import annotations

from app import api_tokens, db, orders

from .conftest import actor, make_student, plantel_id


async def _rows(recurso: str) -> list[dict]:
    """The audit rows of one kind."""
    return await db.fetch_all("SELECT usuario_id, alumno_id, plantel_id, detalle, ip FROM accesos_sensibles "
                              "WHERE recurso = :r ORDER BY id", {"r": recurso})


async def test_offline_roster_download_is_audited(signed_in, users):
    """/pwa/padron.json: who downloaded which plantel's roster, and how many students it held."""
    await make_student("enrolado")
    await make_student("capturado")
    c = await signed_in("plantel")
    assert (await c.get("/pwa/padron.json")).status_code == 200
    [row] = await _rows("padron_offline")
    assert row["usuario_id"] == users["plantel"]["id"] and row["plantel_id"] == users["plantel"]["plantel_id"]
    assert row["detalle"] == "2 alumnos" and row["ip"]


async def test_api_order_detail_is_audited(client, users):
    """GET /api/v1/ordenes/<id> (students with CURP and NSS): one row per read, by the token's user."""
    await make_student("validado")
    oid = (await orders.crear(actor(users["estatal"]), [await plantel_id("Ciudad Azteca")], True)).orden_id
    token = await api_tokens.create_token(users["empresa"]["email"])
    for _ in range(2):
        assert (await client.get(f"/api/v1/ordenes/{oid}", headers={"Authorization": f"Bearer {token}"})).status_code == 200
    assert (await client.get("/api/v1/ordenes/999", headers={"Authorization": f"Bearer {token}"})).status_code == 404
    rows = await _rows("orden_api")
    assert [(r["usuario_id"], r["detalle"]) for r in rows] == [(users["empresa"]["id"], f"orden {oid}")] * 2


async def test_consulta_full_record_is_audited(signed_in, users):
    """Viewing a student's full record: who, which student, its plantel; a search listing alone is not."""
    s = await make_student("capturado")
    other = await make_student("enrolado", plantel="Toluca")
    for who, student in (("plantel", s), ("plantel", other), ("estatal", other), ("admin", s)):
        c = await signed_in(who)
        assert (await c.get(f"/consulta/{student['id']}")).status_code == 200
    assert (await (await signed_in("estatal")).get("/consulta?q=ALBA")).status_code in (200, 302)
    rows = [(r["usuario_id"], r["alumno_id"], r["plantel_id"]) for r in await _rows("consulta_alumno")]
    assert rows[:4] == [(users["plantel"]["id"], s["id"], s["plantel_id"]),
                        (users["plantel"]["id"], other["id"], other["plantel_id"]),
                        (users["estatal"]["id"], other["id"], other["plantel_id"]),
                        (users["admin"]["id"], s["id"], s["plantel_id"])]
    assert (await (await signed_in("plantel")).get("/consulta/2147483647")).status_code == 404
