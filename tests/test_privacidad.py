"""Personal data (issue 14): the privacy notice and its acknowledgement at capture, the retention purge with
proof, the ARCO export and cancellation (app/privacy.py, docs/privacy.md)."""
from __future__ import annotations

import html

import hashlib
import io
import json
import zipfile
from datetime import date, datetime, timedelta, timezone

from app import db, jobs, privacy
from app.queries import report

from .conftest import add_image, csrf_of, make_student, text_of
from .test_captura import save

ESTATUS = ("enrolado", "aplazado", "capturado", "validado", "solicitado", "rechazado", "retoma", "imprimiendo",
           "recibido", "entregado")
OLD = datetime.now(timezone.utc) - timedelta(days=4000)


async def held(alumno_id: int) -> dict[int, bool]:
    """Image id → bytes still held, for one student."""
    rows = await db.fetch_all("SELECT id, datos IS NOT NULL AS held FROM biometricos WHERE alumno_id = :a", {"a": alumno_id})
    return {r["id"]: r["held"] for r in rows}


async def open_order(alumno_id: int, user_id: int) -> int:
    """Put the student in a new open print order."""
    orden = await db.fetch_val("INSERT INTO ordenes_impresion (creada_por) VALUES (:u) RETURNING id", {"u": user_id})
    await db.execute("INSERT INTO orden_items (orden_id, alumno_id) VALUES (:o, :a)", {"o": orden, "a": alumno_id})
    return orden


async def population(users) -> dict[str, dict]:
    """A student in every status (not due), plus the cases of every rule and an open order."""
    s = {e: await make_student(e) for e in ESTATUS}
    s["vencido"] = await make_student("entregado")           # vigencia + 12 months long past → everything goes
    await db.execute("UPDATE alumnos SET vigencia = :v, fecha_entrega = :f WHERE id = :id",
                     {"v": date(2015, 8, 1), "f": OLD, "id": s["vencido"]["id"]})
    s["versiones"] = await make_student("entregado")         # delivered long ago: only the replaced photo goes
    s["versiones"]["vieja"] = await add_image(s["versiones"]["id"], "foto")
    await db.execute("UPDATE alumnos SET fecha_entrega = :f WHERE id = :id", {"f": OLD, "id": s["versiones"]["id"]})
    s["baja"] = await make_student("capturado")              # withdrawn in SAE long ago
    await db.execute("UPDATE alumnos SET baja_en = :f WHERE id = :id", {"f": OLD, "id": s["baja"]["id"]})
    s["baja_en_orden"] = await make_student("solicitado")    # withdrawn too, but in an open print order
    await db.execute("UPDATE alumnos SET baja_en = :f WHERE id = :id", {"f": OLD, "id": s["baja_en_orden"]["id"]})
    await open_order(s["baja_en_orden"]["id"], users["estatal"]["id"])
    s["baja_reciente"] = await make_student("capturado")
    await db.execute("UPDATE alumnos SET baja_en = now() WHERE id = :id", {"id": s["baja_reciente"]["id"]})
    return s


async def test_purge_dry_run_then_real_run(app, users):
    """Dry run counts and changes nothing; the real run deletes exactly what is due, writes the proof, skips open
    orders, leaves the report counts alone, and a second run finds nothing."""
    s = await population(users)
    settings = app.config["SETTINGS"]
    counts = await report.status_counts()
    before = {k: await held(v["id"]) for k, v in s.items()}

    dry = await privacy.run_purge(settings, dry_run=True)
    assert dry.por_regla["entregado_vigencia"] == {"alumnos": 1, "imagenes": 3}
    assert dry.por_regla["versiones_anteriores"] == {"alumnos": 1, "imagenes": 1}
    assert dry.por_regla["baja"] == {"alumnos": 1, "imagenes": 2}
    assert {k: await held(v["id"]) for k, v in s.items()} == before
    assert await db.fetch_val("SELECT count(*) FROM purgas") == 0

    real = await privacy.run_purge(settings, origen="programada")
    assert real.por_regla == dry.por_regla and len(real.registros) == 3
    assert not any((await held(s["vencido"]["id"])).values())
    assert not any((await held(s["baja"]["id"])).values())
    versiones = await held(s["versiones"]["id"])
    assert versiones.pop(s["versiones"]["vieja"]) is False and all(versiones.values())
    for untouched in (*ESTATUS, "baja_en_orden", "baja_reciente"):
        assert all((await held(s[untouched]["id"])).values()), untouched
    rows = await db.fetch_all("SELECT * FROM purgas ORDER BY alumno_id")
    for r in rows:
        stored = await db.fetch_all("SELECT id, sha256, purgado_en FROM biometricos WHERE id = ANY(:ids) ORDER BY id",
                                    {"ids": r["biometrico_ids"]})
        assert [x["sha256"] for x in stored] == list(r["sha256"]) and r["cantidad"] == len(stored)
        assert all(x["purgado_en"] is not None for x in stored) and r["origen"] == "programada"
    assert {r["regla"] for r in rows} == {"entregado_vigencia", "versiones_anteriores", "baja"}
    assert await report.status_counts() == counts

    again = await privacy.run_purge(settings)
    assert again.imagenes == 0 and again.registros == []


async def test_purge_in_small_batches_and_the_command(app, users, capsys):
    """Batches of one student still cover everyone; `python -m app purge --dry-run` prints the report."""
    s = [await make_student("entregado") for _ in range(3)]
    await db.execute("UPDATE alumnos SET vigencia = :v WHERE id = ANY(:ids)",
                     {"v": date(2015, 8, 1), "ids": [x["id"] for x in s]})
    settings = app.config["SETTINGS"]
    settings.purga_lote, lote = 1, settings.purga_lote
    try:
        done = await privacy.run_purge(settings)
    finally:
        settings.purga_lote = lote
    assert done.por_regla["entregado_vigencia"] == {"alumnos": 3, "imagenes": 9}
    assert "Total: 9 imágenes." in done.lines()


async def test_purged_images_in_consulta_and_the_image_route(app, users, signed_in):
    """Consultar alumno says when and why the images went; the image route answers a Spanish 410."""
    a = await make_student("entregado")
    await db.execute("UPDATE alumnos SET vigencia = :v WHERE id = :id", {"v": date(2015, 8, 1), "id": a["id"]})
    await privacy.run_purge(app.config["SETTINGS"])
    c = await signed_in("estatal")
    page = text_of(await (await c.get(f"/consulta/{a['id']}")).get_data(as_text=True))
    assert "Biométricos eliminados el" in page and "política de conservación" in page
    assert f"/biometricos/{a['foto_id']}" not in page
    r = await c.get(f"/biometricos/{a['foto_id']}")
    assert r.status_code == 410 and "eliminados" in await r.get_data(as_text=True)


async def test_scheduled_purge_is_registered_and_runs(app, users):
    """The worker schedules the daily purge (pgqueuer cron) and its function purges."""
    from pgqueuer import AsyncpgDriver, Queries

    import asyncpg
    conn = await asyncpg.connect(app.config["SETTINGS"].database_url)
    try:
        sm = jobs._scheduler(Queries(AsyncpgDriver(conn)), app.config["SETTINGS"], "")
        assert [k.entrypoint for k in sm.registry] == ["purga_biometricos"]
        assert [k.expression for k in sm.registry] == ["0 9 * * *"]
    finally:
        await conn.close()
    a = await make_student("entregado")
    await db.execute("UPDATE alumnos SET vigencia = :v WHERE id = :id", {"v": date(2015, 8, 1), "id": a["id"]})
    report_ = await privacy.scheduled_purge(app.config["SETTINGS"], "")
    assert report_.imagenes == 3
    assert await db.fetch_val("SELECT origen FROM purgas WHERE alumno_id = :a", {"a": a["id"]}) == "programada"


async def test_retention_period_from_ajustes(app, users):
    """A period saved in Administración → Ajustes wins over the environment's default."""
    from app import ajustes

    a = await make_student("entregado")
    await db.execute("UPDATE alumnos SET vigencia = current_date - 40 WHERE id = :id", {"id": a["id"]})
    settings = app.config["SETTINGS"]
    assert (await privacy.run_purge(settings, dry_run=True)).imagenes == 0       # 12 months by default
    await db.execute("INSERT INTO ajustes (clave, valor) VALUES ('retencion_entregado_meses', '1')")
    ajustes.invalidate()
    try:
        assert (await privacy.run_purge(settings, dry_run=True)).imagenes == 3
    finally:
        await db.execute("DELETE FROM ajustes WHERE clave = 'retencion_entregado_meses'")
        ajustes.invalidate()


# ---- capture acknowledgement -------------------------------------------------------------------

async def test_capture_refused_without_the_acknowledgement_and_version_stored(app, users, signed_in):
    """Without «El alumno conoce el aviso de privacidad» the capture is a Spanish 422 and nothing is stored;
    with it, the capture row keeps the version and Consultar alumno shows it."""
    a = await make_student("enrolado")
    c = await signed_in("plantel")
    r = await save(c, a["matricula"], aviso_version="")
    body = await r.get_json()
    assert r.status_code == 422 and "El alumno conoce el aviso de privacidad" in body["error"]
    assert body["campo"] == "aviso_version"
    assert await db.fetch_val("SELECT count(*) FROM biometricos WHERE alumno_id = :a", {"a": a["id"]}) == 0
    r = await save(c, a["matricula"], aviso_version="999")
    assert r.status_code == 422 and "no existe" in (await r.get_json())["error"]
    r = await save(c, a["matricula"])
    assert r.status_code == 200, await r.get_data(as_text=True)
    assert await db.fetch_val("SELECT aviso_version FROM capturas WHERE alumno_id = :a", {"a": a["id"]}) == 1
    page = text_of(await (await (await signed_in("admin")).get(f"/consulta/{a['id']}")).get_data(as_text=True))
    assert "aviso de privacidad versión 1" in page


async def test_capture_page_has_the_checkbox(app, users, signed_in):
    """The sticky bar carries the checkbox with the current version."""
    a = await make_student("enrolado")
    html = await (await (await signed_in("plantel")).get(f"/captura?matricula={a['matricula']}")).get_data(as_text=True)
    version = await db.fetch_val("SELECT max(version) FROM avisos_privacidad")
    assert f'name="aviso_version" value="{version}" data-aviso-check' in html


# ---- the notice ----------------------------------------------------------------------------------

async def test_notice_pages_and_admin_publishes_a_version(app, users, signed_in, client):
    """Public simplified and integral pages with version and date; the admin publishes a new version (logged);
    the same text again is refused; older versions stay readable."""
    r = await client.get("/privacidad")
    assert r.status_code == 200 and "Versión" in text_of(await r.get_data(as_text=True))
    current = await db.fetch_one("SELECT version, integral FROM avisos_privacidad ORDER BY version DESC LIMIT 1")
    integral = text_of(await (await client.get("/privacidad/integral")).get_data(as_text=True))
    first_line = current["integral"].strip().splitlines()[0].strip()  # other tests may have published versions
    assert f"Versión {current['version']}" in integral and text_of(html.escape(first_line)) in integral
    assert "Aviso de privacidad" in await (await client.get("/login")).get_data(as_text=True)
    admin = await signed_in("admin")
    before = await db.fetch_val("SELECT max(version) FROM avisos_privacidad")
    form = {"csrf_token": await csrf_of(admin), "simplificado": f"Aviso simplificado {before + 1}.",
            "integral": "Aviso integral.\n\nSegundo párrafo.", "nota": "prueba"}
    r = await admin.post("/admin/privacidad", form=form)
    assert r.status_code == 303
    assert await db.fetch_val("SELECT max(version) FROM avisos_privacidad") == before + 1
    change = await db.fetch_one("SELECT * FROM cambios_admin WHERE entidad = 'aviso_privacidad' ORDER BY id DESC LIMIT 1")
    assert change["clave"] == str(before + 1) and change["accion"] == "publicar"
    r = await admin.post("/admin/privacidad", form=form)
    assert r.status_code == 422 and "igual" in await r.get_data(as_text=True)
    r = await admin.post("/admin/privacidad", form={"csrf_token": await csrf_of(admin), "simplificado": " "})
    assert r.status_code == 422 and "Escriba el aviso simplificado" in await r.get_data(as_text=True)
    old = text_of(await (await client.get(f"/privacidad?version={before}")).get_data(as_text=True))
    assert "no es la versión vigente" in old
    assert (await client.get("/privacidad?version=99999")).status_code == 404


# ---- ARCO ----------------------------------------------------------------------------------------

async def test_export_zip_read_back(app, users, signed_in):
    """The ZIP holds datos.json (every field, versions with sha256, history, accesses), resumen.pdf and every image
    still held, whose sha256 match; the export itself is audited; estatal may export, plantel may not."""
    a = await make_student("entregado")
    vieja = await add_image(a["id"], "foto")
    await db.execute("INSERT INTO eventos (alumno_id, accion, de, a) VALUES (:a, 'entregar', 'recibido', 'entregado')",
                     {"a": a["id"]})
    plantel = await signed_in("plantel")
    await plantel.get(f"/consulta/{a['id']}")
    await plantel.get(f"/biometricos/{a['foto_id']}")
    assert (await plantel.get(f"/privacidad/alumno/{a['id']}/datos.zip")).status_code == 403
    estatal = await signed_in("estatal")
    r = await estatal.get(f"/privacidad/alumno/{a['id']}/datos.zip")
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    z = zipfile.ZipFile(io.BytesIO(await r.get_data()))
    data = json.loads(z.read("datos.json"))
    assert data["alumno"]["curp"] == a["curp"] and data["alumno"]["numero_afiliacion"] == "72795608040"
    assert z.read("resumen.pdf").startswith(b"%PDF")
    versions = {v["id"]: v for v in data["biometricos"]}
    assert set(versions) == {a["foto_id"], a["firma_id"], a["firma_entrega_id"], vieja}
    for v in versions.values():
        assert hashlib.sha256(z.read(v["archivo"])).hexdigest() == v["sha256"]
    assert [e["accion"] for e in data["historial"]] == ["entregar"]
    seen = {(x["email"], x["recurso"]) for x in data["accesos"]}
    assert {("cdazteca@conalepmex.edu.mx", "consulta_alumno"), ("cdazteca@conalepmex.edu.mx", "foto")} <= seen
    assert await db.fetch_val("SELECT count(*) FROM accesos_sensibles WHERE recurso = 'exportar_datos_alumno' "
                              "AND alumno_id = :a", {"a": a["id"]}) == 1


async def test_export_after_a_purge_lists_the_versions_without_files(app, users, signed_in):
    """A purged image is listed (sha256, when) without a file."""
    a = await make_student("entregado")
    await db.execute("UPDATE alumnos SET vigencia = :v WHERE id = :id", {"v": date(2015, 8, 1), "id": a["id"]})
    await privacy.run_purge(app.config["SETTINGS"])
    r = await (await signed_in("admin")).get(f"/privacidad/alumno/{a['id']}/datos.zip")
    z = zipfile.ZipFile(io.BytesIO(await r.get_data()))
    data = json.loads(z.read("datos.json"))
    assert all(v["archivo"] is None and v["purgado_en"] for v in data["biometricos"])
    assert z.namelist() == ["datos.json", "resumen.pdf"] and data["purgas"][0]["cantidad"] == 3


async def cancel(client, alumno_id: int, **form):
    """POST the cancellation form."""
    data = {"csrf_token": await csrf_of(client), "motivo": "Solicitud del tutor", "folio": "UT-2026-0042",
            "aviso": "1", **form}
    return await client.post(f"/admin/privacidad/cancelacion/{alumno_id}", form=data)


async def test_cancellation_refused_in_an_open_order_then_recorded_as_a_purge(app, users, signed_in):
    """In an open print order: refused (409), nothing deleted; otherwise every image goes, one purge row with the
    reason, the folio and the notice version, a change-log row, and Consultar alumno says so."""
    admin = await signed_in("admin")
    a = await make_student("solicitado")
    orden = await open_order(a["id"], users["estatal"]["id"])
    r = await cancel(admin, a["id"])
    assert r.status_code == 409 and f"orden de impresión {orden}" in await r.get_data(as_text=True)
    assert all((await held(a["id"])).values())
    r = await cancel(admin, a["id"], motivo="", folio="", aviso="")
    assert r.status_code == 422 and "Escriba el motivo" in await r.get_data(as_text=True)

    b = await make_student("entregado")
    r = await cancel(admin, b["id"])
    assert r.status_code == 303
    assert not any((await held(b["id"])).values())
    p = await db.fetch_one("SELECT * FROM purgas WHERE alumno_id = :a", {"a": b["id"]})
    assert (p["regla"], p["origen"], p["cantidad"], p["folio_solicitud"]) == ("cancelacion", "cancelacion", 3, "UT-2026-0042")
    assert p["usuario_id"] == users["admin"]["id"] and p["aviso_version"] is not None
    assert await db.fetch_val("SELECT count(*) FROM cambios_admin WHERE accion = 'cancelar_biometricos'") == 1
    page = text_of(await (await admin.get(f"/consulta/{b['id']}")).get_data(as_text=True))
    assert "Biométricos eliminados el" in page and "UT-2026-0042" in page
    r = await cancel(admin, b["id"])
    assert r.status_code == 409 and "no hay biométricos que eliminar" in await r.get_data(as_text=True)


async def test_cancellation_refused_while_waiting_for_an_order(app, users, signed_in):
    """A Validado student would be printed without a photo: refused with the reason."""
    a = await make_student("validado")
    r = await cancel(await signed_in("admin"), a["id"])
    assert r.status_code == 409 and "siguiente orden de impresión" in await r.get_data(as_text=True)
