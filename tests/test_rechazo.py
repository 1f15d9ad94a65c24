"""Rechazar / reimprimir: Recibido → Rechazado (reprint) or Retoma, and every refusal."""
from __future__ import annotations

from app import db, orders

from .conftest import actor, make_student, plantel_id, post, text_of


async def _row(aid: int) -> dict:
    """The stored student with its status as text."""
    return await db.fetch_one("SELECT *, estatus::text AS estatus FROM alumnos WHERE id = :id", {"id": aid})


async def test_search_shows_data_photo_and_order(signed_in, users):
    """A Recibido student: data, photo, "Orden en que se incluye", the comment box and "Requiere retoma"."""
    s = await make_student("recibido")
    await db.execute("INSERT INTO ordenes_impresion (id, creada_por) VALUES (4, :u)", {"u": users["estatal"]["id"]})
    await db.execute("UPDATE alumnos SET orden_id = 4 WHERE id = :a", {"a": s["id"]})
    c = await signed_in("plantel")
    html = await (await c.get(f"/rechazo?matricula={s['matricula']}")).get_data(as_text=True)
    text = text_of(html)
    assert "Orden en que se incluye: 4" in text and "Recibido" in text and "YAHIR ALEXIS" in text
    assert f"/biometricos/{s['foto_id']}" in html and "Requiere retoma" in text and "Rechazar" in text


async def test_reject_without_retoma_becomes_reprint_request(signed_in, users):
    """Without retoma → Rechazado with the comment; the company sees the reprint request with it."""
    printed = await db.fetch_val("INSERT INTO ordenes_impresion (creada_por, empresa_id) VALUES (:u, 1) RETURNING id",
                                 {"u": users["estatal"]["id"]})  # the company's order that printed the card
    s = await make_student("recibido", orden_id=printed)
    c = await signed_in("plantel")
    r = await post(c, f"/rechazo/{s['matricula']}", {"comentario": "Deficiencia en color y laminado",
                                                      "expected": "recibido"})
    assert r.status_code == 200 and "la empresa está notificada" in await r.get_data(as_text=True)
    row = await _row(s["id"])
    assert row["estatus"] == "rechazado" and row["comentario"] == "Deficiencia en color y laminado"
    ev = await db.fetch_one("SELECT * FROM eventos WHERE alumno_id = :a AND accion = 'rechazar'", {"a": s["id"]})
    assert ev["usuario_id"] == users["plantel"]["id"] and ev["comentario"] == "Deficiencia en color y laminado"
    e = await signed_in("empresa")
    page = text_of(await (await e.get("/ordenes")).get_data(as_text=True))
    assert s["matricula"] in page and "Deficiencia en color y laminado" in page
    # estatal includes it in a new order as a reprint with the same reason
    res = await orders.crear(actor(users["estatal"]), [await plantel_id("Ciudad Azteca")], True)
    item = await db.fetch_one("SELECT * FROM orden_items WHERE orden_id = :o AND alumno_id = :a",
                              {"o": res.orden_id, "a": s["id"]})
    assert item["reimpresion"] and item["motivo"] == "Deficiencia en color y laminado"


async def test_reject_with_retoma_goes_to_retoma(signed_in, users):
    """"Requiere retoma" → Retoma (not yet a reprint request)."""
    s = await make_student("recibido")
    c = await signed_in("plantel")
    r = await post(c, f"/rechazo/{s['matricula']}", {"comentario": "Fotografía con manchas", "retoma": "1"})
    assert "Toma de biométricos" in await r.get_data(as_text=True)
    assert (await _row(s["id"]))["estatus"] == "retoma"
    e = await signed_in("empresa")
    assert s["matricula"] not in await (await e.get("/ordenes")).get_data(as_text=True)


async def test_comment_required(signed_in, users):
    """No comment: refused, status unchanged, the retoma choice kept."""
    s = await make_student("recibido")
    c = await signed_in("plantel")
    r = await post(c, f"/rechazo/{s['matricula']}", {"comentario": "  ", "retoma": "1"})
    html = await r.get_data(as_text=True)
    assert r.status_code == 422 and "razón del rechazo" in html and 'value="1" checked' in html
    assert (await _row(s["id"]))["estatus"] == "recibido"


async def test_other_statuses_say_why_not(signed_in, users):
    """Capturado, Entregado and Rechazado students cannot be rejected, with the reason; posting anyway is refused."""
    c = await signed_in("plantel")
    for st in ("capturado", "entregado", "rechazado"):
        s = await make_student(st)
        text = text_of(await (await c.get(f"/rechazo?matricula={s['matricula']}")).get_data(as_text=True))
        assert f"el alumno está en estatus {st.capitalize()}" in text and "Solo se rechazan credenciales" in text
        r = await post(c, f"/rechazo/{s['matricula']}", {"comentario": "x", "expected": "recibido"})
        assert r.status_code == 409
        assert (await _row(s["id"]))["estatus"] == st


async def test_other_plantel_unknown_and_bad_matricula(signed_in, users):
    """Another plantel's student is refused inline (403, search box kept); unknown, wrong-digit and
    malformed matrículas explain themselves."""
    s = await make_student("recibido", plantel="Toluca")
    c = await signed_in("plantel")
    for r in (await c.get(f"/rechazo?matricula={s['matricula']}"),
              await post(c, f"/rechazo/{s['matricula']}", {"comentario": "x"})):
        html = await r.get_data(as_text=True)
        assert r.status_code == 403 and "Acceso denegado" not in html and "pertenece a otro plantel" in html
        assert 'id="matricula"' in html and f'value="{s["matricula"]}"' in html
    assert (await _row(s["id"]))["estatus"] == "recibido"
    r = await c.get("/rechazo?matricula=999999999-9")
    assert r.status_code == 404 and "No existe un alumno" in await r.get_data(as_text=True)
    r = await c.get("/rechazo?matricula=" + s["matricula"][:-1] + str((int(s["matricula"][-1]) + 1) % 10))
    assert r.status_code == 404 and "verifique la matrícula (dígito verificador)" in await r.get_data(as_text=True)
    r = await c.get("/rechazo?matricula=12AB")
    assert "8 o 9 dígitos" in await r.get_data(as_text=True)
    e = await signed_in("estatal")
    assert (await e.get("/rechazo")).status_code == 403
