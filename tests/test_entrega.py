"""Entregar credencial: delivery signature → Entregado, idempotent, with the reminder."""
from __future__ import annotations

import io

from quart.datastructures import FileStorage

from app import db

from .conftest import csrf_of, make_student, text_of, uid
from .test_captura import blank_signature, signature


async def deliver(client, matricula: str, firma: bytes | None = None, clave: str | None = None, json: bool = True):
    """POST the delivery signature."""
    firma = signature() if firma is None else firma
    files = {"firma": FileStorage(io.BytesIO(firma), filename="firma.png", content_type="image/png")} if firma else {}
    form = {"csrf_token": await csrf_of(client), "estatus": "recibido"}
    if clave:
        form["clave"] = clave
    headers = {"Accept": "application/json"} if json else {}
    return await client.post(f"/entrega/{matricula}/guardar", form=form, files=files, headers=headers)


async def test_search_recibido_shows_signature_and_reminder(signed_in):
    """A Recibido student: data, photo, the signature component and the temporary-credential reminder."""
    a = await make_student("recibido")
    c = await signed_in("plantel")
    text = text_of(await (await c.get(f"/entrega?matricula={a['matricula']}")).get_data(as_text=True))
    assert "Estatus: Recibido" in text and "Obtener firma" in text and "Capturar firma" in text
    assert "credencial temporal" in text and "reposición" in text


async def test_other_status_says_why(signed_in):
    """Capturado and Entregado students cannot be delivered; the page says why."""
    a = await make_student("capturado")
    b = await make_student("entregado")
    c = await signed_in("plantel")
    text = text_of(await (await c.get(f"/entrega?matricula={a['matricula']}")).get_data(as_text=True))
    assert "estatus Capturado (se requiere Recibido)" in text and "Obtener firma" not in text
    text = text_of(await (await c.get(f"/entrega?matricula={b['matricula']}")).get_data(as_text=True))
    assert "ya se entregó" in text
    r = await deliver(c, a["matricula"], clave=uid())
    assert r.status_code == 409 and "Capturado" in (await r.get_json())["error"]


async def test_delivery_marks_entregado_once(signed_in, users):
    """Guardar stores the signature, sets date and user, Entregado; a retry stores nothing new."""
    a = await make_student("recibido")
    c = await signed_in("plantel")
    key = uid()
    r = await deliver(c, a["matricula"], clave=key)
    body = await r.get_json()
    assert r.status_code == 200 and body["estatus"] == "entregado"
    row = await db.fetch_one("SELECT estatus::text AS e, firma_entrega_id, fecha_entrega FROM alumnos WHERE id = :a",
                             {"a": a["id"]})
    assert row["e"] == "entregado" and row["fecha_entrega"] is not None
    assert await db.fetch_val("SELECT tipo::text FROM biometricos WHERE id = :i", {"i": row["firma_entrega_id"]}) \
        == "firma_entrega"
    ev = await db.fetch_one("SELECT usuario_id, de, a FROM eventos WHERE alumno_id = :a AND accion = 'entregar'",
                            {"a": a["id"]})
    assert (ev["usuario_id"], ev["de"], ev["a"]) == (users["plantel"]["id"], "recibido", "entregado")
    again = await deliver(c, a["matricula"], clave=key)
    assert again.status_code == 200 and (await again.get_json())["repetida"] is True
    assert await db.fetch_val("SELECT count(*) FROM biometricos WHERE alumno_id = :a AND tipo = 'firma_entrega'",
                              {"a": a["id"]}) == 1
    page = text_of(await (await c.get(body["siguiente"])).get_data(as_text=True))
    assert "Entrega registrada" in page and "reposición" in page


async def test_empty_or_missing_signature_refused(signed_in):
    """No ink, or no file, is refused and the status stays Recibido."""
    a = await make_student("recibido")
    c = await signed_in("plantel")
    r = await deliver(c, a["matricula"], firma=blank_signature(), clave=uid())
    assert r.status_code == 422 and "vacía" in (await r.get_json())["error"]
    r = await deliver(c, a["matricula"], firma=b"", clave=uid())
    assert r.status_code == 422 and "No se recibió" in (await r.get_json())["error"]
    assert await db.fetch_val("SELECT estatus::text FROM alumnos WHERE id = :a", {"a": a["id"]}) == "recibido"


async def test_other_plantel_refused(signed_in):
    """Toluca's student cannot be delivered by Ciudad Azteca."""
    a = await make_student("recibido", plantel="Toluca")
    c = await signed_in("plantel")
    assert (await deliver(c, a["matricula"], clave=uid())).status_code == 403


async def test_equipo_and_ayuda_pages(signed_in, monkeypatch):
    """Prueba de equipo lists each check with its remedy; Ayuda shows the configurable contacts."""
    c = await signed_in("plantel")
    text = text_of(await (await c.get("/equipo")).get_data(as_text=True))
    for label in ("Conexión segura", "Cámara", "SigWeb instalado", "Versión de SigWeb", "Certificado de SigWeb",
                  "PAD de firma conectado", "Ejecutar como administrador", "Typical", "Finish",
                  "LocalNetworkAccessAllowedForUrls", "T-LBK460-HSB"):
        assert label in text, label
    text = text_of(await (await c.get("/ayuda")).get_data(as_text=True))
    assert "cita@conalepmex.edu.mx" in text and "55 5817 1619 ext. 1252" in text and "Telegram" in text
    monkeypatch.setenv("SOPORTE_CORREOS", "mesa@conalepmex.edu.mx")
    assert "mesa@conalepmex.edu.mx" in await (await c.get("/ayuda")).get_data(as_text=True)
