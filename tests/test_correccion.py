"""The correction loop over HTTP (issue 12): the reason of an Aplazado or Retoma student where it gets
fixed, "reprint requested" after a Retoma capture, and the photo first on Entregar credencial."""
from __future__ import annotations

from app import db

from .conftest import make_student, post, text_of, uid
from .test_captura import save


async def _page(client, path: str) -> tuple[str, str]:
    """(html, visible text) of a page."""
    html = await (await client.get(path)).get_data(as_text=True)
    return html, text_of(html)


async def _retoma(client, users, reason: str = "Fotografía con manchas") -> dict:
    """A Recibido student (printed by company 1) sent back to Retoma through «Rechazar / reimprimir»."""
    printed = await db.fetch_val("INSERT INTO ordenes_impresion (creada_por, empresa_id) VALUES (:u, 1) RETURNING id",
                                 {"u": users["estatal"]["id"]})
    s = await make_student("recibido", orden_id=printed)
    r = await post(client, f"/rechazo/{s['matricula']}", {"comentario": reason, "retoma": "1", "expected": "recibido"})
    assert r.status_code == 200
    return s


async def test_aplazado_reason_on_capture_and_temporal(signed_in):
    """The validator's comment is shown on Toma de biométricos and on Imprimir temporal."""
    s = await make_student("capturado")
    c = await signed_in("plantel")
    r = await post(c, f"/validacion/alumno/{s['matricula']}", {"evaluacion": "aplazado", "comentario": "Foto borrosa: repetir toma",
                                                               "expected": "capturado"})
    assert r.status_code == 302
    for path in ("/captura", "/temporal"):
        html, text = await _page(c, f"{path}?matricula={s['matricula']}")
        assert 'id="motivo-correccion"' in html, path
        assert "Aplazado en validación" in text and "Foto borrosa: repetir toma" in text, path


async def test_retoma_reason_then_reprint_requested(signed_in, users):
    """Retoma: the rejecter's comment on the station; after the capture the saved page says the reprint
    was requested (Rechazado, in the company's reprint list)."""
    c = await signed_in("plantel")
    s = await _retoma(c, users)
    html, text = await _page(c, f"/captura?matricula={s['matricula']}")
    assert "Retoma solicitada" in text and "Fotografía con manchas" in text and "se solicita su reimpresión" in text
    body = await (await save(c, s["matricula"], clave=uid(), estatus="retoma")).get_json()
    assert body["estatus"] == "rechazado"
    html, text = await _page(c, body["siguiente"])
    assert 'id="reimpresion-solicitada"' in html and "Reimpresión solicitada" in text and "Rechazado" in text
    e = await signed_in("empresa")
    assert s["matricula"] in text_of(await (await e.get("/ordenes")).get_data(as_text=True))


async def test_no_reason_or_reprint_notice_for_ordinary_students(signed_in):
    """Enrolado and Capturado students have no reason box; an ordinary capture requests no reprint."""
    s = await make_student("enrolado")
    c = await signed_in("plantel")
    html, _ = await _page(c, f"/captura?matricula={s['matricula']}")
    assert "motivo-correccion" not in html
    body = await (await save(c, s["matricula"], clave=uid())).get_json()
    html, text = await _page(c, body["siguiente"])
    assert "Los registros se guardaron" in text and "reimpresion-solicitada" not in html


async def test_reason_without_event_falls_back_to_the_stored_comment(signed_in):
    """A student moved to Aplazado without an event row (imported history) shows the stored comment."""
    s = await make_student("aplazado", comentario="Falta firma legible")
    c = await signed_in("plantel")
    _, text = await _page(c, f"/captura?matricula={s['matricula']}")
    assert "Falta firma legible" in text
    await db.execute("UPDATE alumnos SET comentario = '' WHERE id = :a", {"a": s["id"]})
    _, text = await _page(c, f"/captura?matricula={s['matricula']}")
    assert "No se registró el motivo" in text


async def test_delivery_shows_the_photo_before_the_signature_pad(signed_in):
    """Entregar credencial: the identity photo comes first (beside the pad), with the stored signature."""
    s = await make_student("recibido")
    c = await signed_in("plantel")
    html, text = await _page(c, f"/entrega?matricula={s['matricula']}")
    photo = html.index(f"/biometricos/{s['foto_id']}")
    assert photo < html.index("data-firma-canvas") and "identidad-grande" in html
    assert "Compare el rostro con el alumno" in text and f"/biometricos/{s['firma_id']}" in html
