"""Sensitive reads are audited; text responses are gzipped; biometric images are never cached."""
from __future__ import annotations

import gzip

from app import db

from .conftest import make_student, plantel_id


async def test_biometric_read_is_audited_and_not_cached(signed_in, users):
    """Viewing a photo records who saw whose biometrics; the image is no-store."""
    s = await make_student("capturado")
    c = await signed_in("plantel_b")  # any signed-in user may consult any student (manual §13)
    r = await c.get(f"/biometricos/{s['foto_id']}")
    assert r.status_code == 200 and r.headers["Content-Type"] == "image/jpeg"
    assert r.headers["Cache-Control"] == "no-store"
    row = await db.fetch_one("SELECT usuario_id, recurso, alumno_id FROM accesos_sensibles")
    assert row == {"usuario_id": users["plantel_b"]["id"], "recurso": "foto", "alumno_id": s["id"]}


async def test_biometrics_need_sign_in(client):
    """Anonymous requests for an image are sent to sign in, with no image bytes."""
    s = await make_student("capturado")
    r = await client.get(f"/biometricos/{s['foto_id']}")
    assert r.status_code == 302 and b"\xff\xd8" not in await r.get_data()


async def test_excel_download_is_audited(signed_in, users):
    """Downloading a plantel's Excel leaves a row with the plantel."""
    await make_student("enrolado")
    c = await signed_in("estatal")
    pid = await plantel_id("Ciudad Azteca")
    assert (await c.get(f"/reporte/plantel/{pid}.xlsx")).status_code == 200
    assert await db.fetch_val("SELECT plantel_id FROM accesos_sensibles WHERE recurso = 'excel_plantel'") == pid


async def test_gzip_for_pages_and_scripts(client):
    """Pages and static scripts are compressed when the browser accepts gzip."""
    r = await client.get("/static/vendor/htmx-2.0.11.min.js", headers={"Accept-Encoding": "gzip, br"})
    assert r.headers.get("Content-Encoding") == "gzip"
    body = gzip.decompress(await r.get_data())
    assert b"htmx" in body
    plain = await client.get("/static/vendor/htmx-2.0.11.min.js")
    assert "Content-Encoding" not in plain.headers
