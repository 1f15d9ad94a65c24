"""Print orders: creation with counts, one open order per student (also concurrently), printing,
shipping, reception (all / scanned / rejected) and tracking."""
from __future__ import annotations

import asyncio

from app import db, orders
from app.status import TransitionError

from .conftest import actor, make_student, plantel_id, post, text_of


async def _status(aid: int) -> str:
    """A student's current status."""
    return await db.fetch_val("SELECT estatus::text FROM alumnos WHERE id = :id", {"id": aid})


async def _order_with(users, reimp=True) -> int:
    """Create an order for Ciudad Azteca through the service."""
    res = await orders.crear(actor(users["estatal"]), [await plantel_id("Ciudad Azteca")], reimp)
    return res.orden_id


async def _rechazado_with_reason(reason: str) -> dict:
    """A Rechazado student whose last rejection event carries reason."""
    s = await make_student("rechazado")
    await db.execute("INSERT INTO eventos (alumno_id, accion, de, a, comentario) VALUES "
                     "(:a, 'rechazar', 'recibido', 'rechazado', :c)", {"a": s["id"], "c": reason})
    return s


async def test_counts_before_confirming_then_order_created(signed_in, users):
    """Estatal sees per-plantel counts, confirms, and the students become Solicitado in order 1."""
    v1, v2 = await make_student("validado"), await make_student("validado")
    r1 = await _rechazado_with_reason("Laminado defectuoso")
    other = await make_student("capturado")
    toluca = await make_student("validado", plantel="Toluca")
    c = await signed_in("estatal")
    page = text_of(await (await c.get("/ordenes/nueva")).get_data(as_text=True))
    assert "Ciudad Azteca 2 1" in page and "Toluca 1 0" in page
    pid = await plantel_id("Ciudad Azteca")
    r = await post(c, "/ordenes/nueva/revisar", {"plantel": str(pid), "reimpresiones": "1"})
    html = await r.get_data(as_text=True)
    assert r.status_code == 200 and 'id="cifra-total">3<' in html and 'id="cifra-reimpresiones">1<' in html
    r = await post(c, "/ordenes/nueva", {"plantel": str(pid), "reimpresiones": "1", "esperados": "3"})
    assert r.status_code == 302 and r.headers["Location"].startswith("/ordenes/1")
    assert "Orden 1 creada con 3 alumnos" in text_of(await (await c.get(r.headers["Location"])).get_data(as_text=True))
    for s in (v1, v2, r1):
        assert await _status(s["id"]) == "solicitado"
    assert await _status(other["id"]) == "capturado" and await _status(toluca["id"]) == "validado"
    item = await db.fetch_one("SELECT * FROM orden_items WHERE alumno_id = :a", {"a": r1["id"]})
    assert item["reimpresion"] and item["motivo"] == "Laminado defectuoso" and item["abierto"]
    ev = await db.fetch_one("SELECT * FROM eventos WHERE alumno_id = :a AND accion = 'solicitar'", {"a": v1["id"]})
    assert ev["orden_id"] == 1 and ev["usuario_id"] == users["estatal"]["id"]
    assert await db.fetch_val("SELECT orden_id FROM alumnos WHERE id = :a", {"a": v1["id"]}) == 1


async def test_without_reprints_rechazados_stay(users):
    """Unchecking "Incluir reimpresiones" leaves Rechazado students out."""
    v = await make_student("validado")
    r = await make_student("rechazado")
    await _order_with(users, reimp=False)
    assert await _status(v["id"]) == "solicitado" and await _status(r["id"]) == "rechazado"


async def test_concurrent_orders_never_share_a_student(users):
    """Two estatal users create orders for the same plantel at once: each student lands in one."""
    students = [await make_student("validado") for _ in range(30)]
    who = actor(users["estatal"])
    pid = await plantel_id("Ciudad Azteca")
    results = await asyncio.gather(*(orders.crear(who, [pid], True) for _ in range(3)), return_exceptions=True)
    made = [r for r in results if isinstance(r, orders.Creada)]
    assert sum(r.alumnos for r in made) == 30
    assert all(isinstance(r, (orders.Creada, TransitionError)) for r in results)
    assert await db.fetch_val("SELECT count(*) FROM orden_items WHERE abierto") == 30
    assert await db.fetch_val("SELECT count(DISTINCT alumno_id) FROM orden_items") == 30
    for s in students:
        assert await _status(s["id"]) == "solicitado"
    # an order that got nothing left no empty order behind
    assert await db.fetch_val("SELECT count(*) FROM ordenes_impresion") == len(made)


async def test_empty_selection_and_nothing_left_refused(signed_in, users):
    """No plantel chosen, or a plantel with nothing to print: refused with the reason, no order made."""
    c = await signed_in("estatal")
    r = await post(c, "/ordenes/nueva/revisar", {})
    assert r.status_code == 422 and "Elija al menos un plantel" in await r.get_data(as_text=True)
    r = await post(c, "/ordenes/nueva", {"plantel": str(await plantel_id("Toluca"))})
    assert r.status_code == 409 and "No hay alumnos disponibles" in await r.get_data(as_text=True)
    assert await db.fetch_val("SELECT count(*) FROM ordenes_impresion") == 0


async def test_only_estatal_creates_orders(signed_in, users):
    """Plantel and empresa users cannot create orders."""
    await make_student("validado")
    pid = str(await plantel_id("Ciudad Azteca"))
    for key in ("plantel", "empresa"):
        c = await signed_in(key)
        assert (await post(c, "/ordenes/nueva", {"plantel": pid})).status_code == 403
    assert await db.fetch_val("SELECT count(*) FROM ordenes_impresion") == 0


async def test_empresa_prints_and_ships_then_estatal_receives_all(signed_in, users):
    """Empresa: en impresión (→ Imprimiendo), enviada; estatal: recibir todas (→ Recibido, orden Recibida)."""
    s = [await make_student("validado") for _ in range(3)]
    oid = await _order_with(users)
    e = await signed_in("empresa")
    page = text_of(await (await e.get("/ordenes")).get_data(as_text=True))
    assert f"Orden {oid}" in page and "Solicitada" in page
    assert (await post(e, f"/ordenes/{oid}/estado", {"estado": "en_impresion"})).status_code == 302
    assert [await _status(x["id"]) for x in s] == ["imprimiendo"] * 3
    r = await post(e, f"/ordenes/{oid}/estado", {"estado": "en_impresion"})
    assert r.status_code == 409 and "está «En impresión»" in await r.get_data(as_text=True)
    assert (await post(e, f"/ordenes/{oid}/estado", {"estado": "enviada"})).status_code == 302
    est = await signed_in("estatal")
    r = await post(est, f"/ordenes/{oid}/recepcion/todas")
    assert "Se recibieron 3 credenciales" in await r.get_data(as_text=True)
    assert [await _status(x["id"]) for x in s] == ["recibido"] * 3
    o = await db.fetch_one("SELECT estado::text AS estado, en_impresion_en, enviada_en, recibida_en "
                           "FROM ordenes_impresion WHERE id = :o", {"o": oid})
    assert o["estado"] == "recibida" and all(o[k] for k in ("en_impresion_en", "enviada_en", "recibida_en"))
    assert await db.fetch_val("SELECT count(*) FROM orden_items WHERE abierto") == 0


async def test_reception_card_by_card_scan_and_rejection(signed_in, users):
    """Scanned matrícula (with the scanner's apostrophe) → Recibido; defective → Rechazado with comment;
    a foreign or repeated matrícula says why not."""
    a, b, c_ = [await make_student("validado") for _ in range(3)]
    outsider = await make_student("validado", plantel="Toluca")
    oid = await _order_with(users)
    await orders.marcar(oid, "en_impresion", actor(users["empresa"]))
    est = await signed_in("estatal")
    r = await post(est, f"/ordenes/{oid}/recepcion/escanear", {"matricula": a["matricula"].replace("-", "'")},
                   headers={"HX-Request": "true"})
    html = text_of(await r.get_data(as_text=True))
    assert f"Recibida: {a['matricula']}" in html and await _status(a["id"]) == "recibido"
    r = await post(est, f"/ordenes/{oid}/recepcion/escanear", {"matricula": a["matricula"]})
    assert r.status_code == 409 and "ya fue registrada" in await r.get_data(as_text=True)
    r = await post(est, f"/ordenes/{oid}/recepcion/escanear", {"matricula": outsider["matricula"]})
    assert r.status_code == 409 and f"no pertenece a la orden {oid}" in await r.get_data(as_text=True)
    r = await post(est, f"/ordenes/{oid}/recepcion/rechazar", {"matricula": b["matricula"], "comentario": ""})
    assert r.status_code == 409 and "escriba un comentario" in await r.get_data(as_text=True)
    await post(est, f"/ordenes/{oid}/recepcion/rechazar", {"matricula": b["matricula"], "comentario": "No llegó"})
    assert await _status(b["id"]) == "rechazado"
    assert await db.fetch_val("SELECT estado::text FROM ordenes_impresion WHERE id = :o", {"o": oid}) == "en_impresion"
    await post(est, f"/ordenes/{oid}/recepcion/escanear", {"matricula": c_["matricula"]})
    assert await db.fetch_val("SELECT estado::text FROM ordenes_impresion WHERE id = :o", {"o": oid}) == "recibida"
    # the rejected card is now a reprint request the company sees, with the reason
    e = await signed_in("empresa")
    page = text_of(await (await e.get("/ordenes")).get_data(as_text=True))
    assert b["matricula"] in page and "No llegó" in page


async def test_reception_refused_before_printing(signed_in, users):
    """An order still Solicitada cannot be received."""
    s = await make_student("validado")
    oid = await _order_with(users)
    est = await signed_in("estatal")
    r = await post(est, f"/ordenes/{oid}/recepcion/escanear", {"matricula": s["matricula"]})
    assert r.status_code == 409 and "solo se reciben órdenes en impresión o enviadas" in await r.get_data(as_text=True)
    assert await _status(s["id"]) == "solicitado"


async def test_roles_on_order_actions(signed_in, users):
    """Plantel users see no orders; empresa cannot receive; estatal cannot ship an unprinted order."""
    await make_student("validado")
    oid = await _order_with(users)
    p = await signed_in("plantel")
    assert (await p.get("/ordenes")).status_code == 403
    assert (await p.get(f"/ordenes/{oid}/paquete.zip")).status_code == 403
    e = await signed_in("empresa")
    assert (await post(e, f"/ordenes/{oid}/recepcion/todas")).status_code == 403
    est = await signed_in("estatal")
    r = await post(est, f"/ordenes/{oid}/estado", {"estado": "enviada"})
    assert r.status_code == 409 and "se requiere «En impresión»" in await r.get_data(as_text=True)


async def test_company_scope(signed_in, users):
    """A company user bound to another company does not see this company's order."""
    await make_student("validado")
    oid = await _order_with(users)
    await db.execute("UPDATE ordenes_impresion SET empresa_id = 1 WHERE id = :o", {"o": oid})
    other = await db.fetch_val("INSERT INTO empresas (nombre) VALUES ('Otra') RETURNING id")
    await db.execute("UPDATE usuarios SET empresa_id = :e WHERE id = :u", {"e": other, "u": users["empresa"]["id"]})
    e = await signed_in("empresa")
    assert (await e.get(f"/ordenes/{oid}")).status_code == 404
    assert f"Orden {oid}" not in text_of(await (await e.get("/ordenes")).get_data(as_text=True))
    await db.execute("UPDATE usuarios SET empresa_id = NULL")
    await db.execute("DELETE FROM empresas WHERE id = :e", {"e": other})


async def test_seguimiento_progress_and_waiting_lists(signed_in, users):
    """Seguimiento: an order's counts per current status, and who waits in each status per plantel."""
    a, b = await make_student("validado"), await make_student("validado")
    oid = await _order_with(users)
    await orders.marcar(oid, "en_impresion", actor(users["empresa"]))
    await orders.recibir_matricula(oid, a["matricula"], actor(users["estatal"]))
    waiting = await make_student("capturado", nombre="ESPERANDO")
    est = await signed_in("estatal")
    html = await (await est.get("/ordenes/seguimiento")).get_data(as_text=True)
    row = html.split(f'data-orden="{oid}"')[1].split("</tr>")[0]
    assert 'data-estatus="recibido">1<' in row and 'data-estatus="imprimiendo">1<' in row
    azteca = html.split('data-plantel="Ciudad Azteca"')[1].split("</tr>")[0]
    assert ">1</a>" in azteca.split('data-estatus="capturado"')[1].split("</td>")[0]
    pid = await plantel_id("Ciudad Azteca")
    lst = text_of(await (await est.get(f"/ordenes/seguimiento/espera?plantel={pid}&estatus=capturado")).get_data(as_text=True))
    assert waiting["matricula"] in lst and a["matricula"] not in lst and b["matricula"] not in lst
    assert (await (await signed_in("plantel")).get("/ordenes/seguimiento")).status_code == 403
