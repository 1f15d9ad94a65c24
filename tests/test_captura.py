"""Toma de biométricos over HTTP: search, save (idempotent), refusals, photo checks, scope."""
from __future__ import annotations

import asyncio
import io
import json

from PIL import Image, ImageDraw
from quart.datastructures import FileStorage

from app import db

from .conftest import FIXTURES, csrf_of, make_student, text_of, uid

PHOTOS = FIXTURES / "photos"
GOOD = (PHOTOS / "rostro-ok-600x800.jpg").read_bytes()
JSON = {"Accept": "application/json"}


def signature(seed: int = 0) -> bytes:
    """A PNG signature with ink."""
    img = Image.new("RGB", (500, 100), "white")
    ImageDraw.Draw(img).line([(40, 70), (120, 20 + seed), (220, 80), (330, 30), (450, 60)], fill="black", width=4)
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def blank_signature() -> bytes:
    """A PNG with no ink."""
    out = io.BytesIO()
    Image.new("RGB", (500, 100), "white").save(out, "PNG")
    return out.getvalue()


async def save(client, matricula: str, foto: bytes | None = GOOD, firma: bytes | None = None, clave: str | None = None,
               headers: dict | None = JSON, foto_type: str = "image/jpeg", **form):
    """POST a capture as the browser does (one multipart request)."""
    files = {}
    if foto is not None:
        files["foto"] = FileStorage(io.BytesIO(foto), filename="foto.jpg", content_type=foto_type)
    firma = signature() if firma is None else firma
    if firma:
        files["firma"] = FileStorage(io.BytesIO(firma), filename="firma.png", content_type="image/png")
    data = {"csrf_token": await csrf_of(client), "aviso_version": "1", **form}  # «El alumno conoce el aviso…»
    if clave:
        data["clave"] = clave
    return await client.post(f"/captura/{matricula}/guardar", form=data, files=files, headers=headers or {})


async def row(alumno_id: int) -> dict:
    """The student row now."""
    return await db.fetch_one("SELECT *, estatus::text AS estatus FROM alumnos WHERE id = :id", {"id": alumno_id})


async def test_search_shows_data_and_capture_tools(signed_in):
    """Matrícula → Buscar shows "Datos del alumno" and the buttons of the manual."""
    a = await make_student("enrolado")
    c = await signed_in("plantel")
    r = await c.get(f"/captura?matricula={a['matricula'].replace('-', chr(39))}")  # scanner sends ' for -
    html = await r.get_data(as_text=True)
    assert r.status_code == 200
    text = text_of(html)
    for label in ("Datos del alumno", "Estatus: Enrolado", f"Matrícula: {a['matricula']}", "Obtener fotografía",
                  "Tomar foto", "Volver a tomar foto", "Capturar foto", "Obtener firma", "Limpiar",
                  "Capturar firma", "Toma de fotografía.", "Toma de firma.", "Guardar"):
        assert label in text, label


async def test_search_errors_in_spanish(signed_in, users):
    """Bad, unknown and other-plantel matrículas each say why, keeping what was typed."""
    other = await make_student("enrolado", plantel="Toluca")
    c = await signed_in("plantel")
    html = await (await c.get("/captura?matricula=12-3")).get_data(as_text=True)
    assert "8 o 9 dígitos" in html and 'value="12-3"' in html
    html = await (await c.get("/captura?matricula=999999999-9")).get_data(as_text=True)
    assert "No existe un alumno" in html
    html = await (await c.get(f"/captura?matricula={other['matricula']}")).get_data(as_text=True)
    assert "otro plantel" in html and "Obtener fotografía" not in html


async def test_status_that_cannot_capture_says_why(signed_in):
    """A Validado student shows the reason and no capture tools."""
    a = await make_student("validado")
    c = await signed_in("plantel")
    html = text_of(await (await c.get(f"/captura?matricula={a['matricula']}")).get_data(as_text=True))
    assert "No se pueden tomar biométricos: el alumno está en estatus Validado" in html
    assert "Obtener fotografía" not in html


async def test_save_stores_normalised_images_and_moves_to_capturado(signed_in, users):
    """Guardar: two new biometric rows, pointers, date, event, Capturado."""
    a = await make_student("enrolado")
    c = await signed_in("plantel")
    r = await save(c, a["matricula"], clave=uid(), capturado_en="2026-03-01T10:00:00Z")
    body = await r.get_json()
    assert r.status_code == 200, body
    assert body["estatus"] == "capturado" and body["siguiente"].endswith("/guardado")
    s = await row(a["id"])
    assert s["estatus"] == "capturado" and s["fecha_biometricos"] is not None
    foto = await db.fetch_one("SELECT * FROM biometricos WHERE id = :id", {"id": s["foto_id"]})
    firma = await db.fetch_one("SELECT * FROM biometricos WHERE id = :id", {"id": s["firma_id"]})
    assert (foto["tipo"], foto["ancho"], foto["alto"], foto["mime"]) == ("foto", 600, 800, "image/jpeg")
    assert firma["tipo"] == "firma" and firma["mime"] == "image/png"
    rev = foto["revision"] if isinstance(foto["revision"], dict) else json.loads(foto["revision"])
    assert rev["ok"] is True and rev["medidas"]["rostros"] == 1
    ev = await db.fetch_one("SELECT * FROM eventos WHERE alumno_id = :a AND accion = 'capturar'", {"a": a["id"]})
    assert ev["usuario_id"] == users["plantel"]["id"] and ev["a"] == "capturado"
    cap = await db.fetch_one("SELECT * FROM capturas WHERE alumno_id = :a", {"a": a["id"]})
    assert cap["device_captured_at"].year == 2026 and cap["foto_id"] == s["foto_id"]


async def test_saving_twice_stores_once(signed_in):
    """Same key + same content → the same answer, one stored capture; other content → 422."""
    a = await make_student("enrolado")
    c = await signed_in("plantel")
    key = uid()
    first = await (await save(c, a["matricula"], clave=key)).get_json()
    r2 = await save(c, a["matricula"], clave=key)
    second = await r2.get_json()
    assert r2.status_code == 200 and second["repetida"] is True
    assert second["foto_id"] == first["foto_id"] and second["firma_id"] == first["firma_id"]
    assert await db.fetch_val("SELECT count(*) FROM biometricos WHERE alumno_id = :a", {"a": a["id"]}) == 2
    r3 = await save(c, a["matricula"], clave=key, firma=signature(7))
    assert r3.status_code == 422 and "otro contenido" in (await r3.get_json())["error"]


async def test_concurrent_double_submit_stores_once(signed_in):
    """A double click (two requests at once, same key) stores one capture."""
    a = await make_student("enrolado")
    c = await signed_in("plantel")
    key = uid()
    r1, r2 = await asyncio.gather(save(c, a["matricula"], clave=key), save(c, a["matricula"], clave=key))
    assert {r1.status_code, r2.status_code} == {200}
    assert await db.fetch_val("SELECT count(*) FROM biometricos WHERE alumno_id = :a", {"a": a["id"]}) == 2
    assert await db.fetch_val("SELECT count(*) FROM eventos WHERE alumno_id = :a AND accion = 'capturar'",
                              {"a": a["id"]}) == 1


async def test_recapture_keeps_every_version(signed_in):
    """A Capturado student can be captured again; the old images stay for history."""
    a = await make_student("capturado")
    old = a["foto_id"]
    c = await signed_in("plantel")
    assert (await save(c, a["matricula"], clave=uid())).status_code == 200
    s = await row(a["id"])
    assert s["foto_id"] != old
    assert await db.fetch_val("SELECT count(*) FROM biometricos WHERE alumno_id = :a AND tipo = 'foto'",
                              {"a": a["id"]}) == 2


async def test_retoma_goes_to_rechazado(signed_in):
    """From Retoma, Guardar asks for the reprint: Rechazado via 'retomar'."""
    a = await make_student("retoma")
    c = await signed_in("plantel")
    body = await (await save(c, a["matricula"], clave=uid())).get_json()
    assert body["estatus"] == "rechazado" and body["de"] == "retoma"
    assert await db.fetch_val("SELECT accion FROM eventos WHERE alumno_id = :a ORDER BY id DESC LIMIT 1",
                              {"a": a["id"]}) == "retomar"


async def test_no_face_blocks_even_when_confirmed(signed_in):
    """A photo without a face is refused and nothing changes."""
    a = await make_student("enrolado")
    c = await signed_in("plantel")
    r = await save(c, a["matricula"], foto=(PHOTOS / "sin-rostro.jpg").read_bytes(), confirmar="1", motivo="x")
    body = await r.get_json()
    assert r.status_code == 422 and "No se detectó un rostro" in body["error"] and body["bloqueos"]
    assert (await row(a["id"]))["estatus"] == "enrolado"


async def test_soft_warning_needs_confirmation_with_reason(signed_in):
    """A blurred photo asks for confirmation; with the box ticked and a reason it is stored."""
    a = await make_student("enrolado")
    c = await signed_in("plantel")
    blurred = (PHOTOS / "rostro-borroso-600x800.jpg").read_bytes()
    r = await save(c, a["matricula"], foto=blurred)
    body = await r.get_json()
    assert r.status_code == 422 and body["requiere_confirmacion"] and "borrosa" in body["advertencias"][0]
    r = await save(c, a["matricula"], foto=blurred, confirmar="1")  # no reason
    assert r.status_code == 422
    r = await save(c, a["matricula"], foto=blurred, confirmar="1", motivo="Cámara dañada, se repone mañana")
    assert r.status_code == 200
    s = await row(a["id"])
    rev = await db.fetch_val("SELECT revision FROM biometricos WHERE id = :id", {"id": s["foto_id"]})
    rev = rev if isinstance(rev, dict) else json.loads(rev)
    assert rev["confirmado"]["motivo"].startswith("Cámara dañada") and rev["advertencias"][0]["code"] == "borrosa"


async def test_malformed_uploads_refused(signed_in):
    """Random bytes, a truncated JPEG, a decompression bomb, a missing file, an empty signature."""
    a = await make_student("enrolado")
    c = await signed_in("plantel")
    bomb = io.BytesIO()
    Image.new("1", (20000, 20000)).save(bomb, "PNG")
    cases = [
        (dict(foto=b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 20), "no es una imagen"),
        (dict(foto=GOOD[: len(GOOD) // 3]), "dañado o incompleto"),
        (dict(foto=bomb.getvalue(), foto_type="image/png"), "dimensiones no permitidas"),
        (dict(foto=None), "No se recibió la fotografía"),
        (dict(firma=blank_signature()), "firma está vacía"),
        (dict(foto=b"just text", foto_type="text/plain"), "no es una imagen"),
    ]
    for kw, message in cases:
        r = await save(c, a["matricula"], clave=uid(), **kw)
        assert r.status_code == 422, (kw.keys(), r.status_code)
        assert message in (await r.get_json())["error"], message
    assert (await row(a["id"]))["estatus"] == "enrolado"
    assert await db.fetch_val("SELECT count(*) FROM capturas") == 0


async def test_bad_key_and_wrong_plantel(signed_in):
    """A malformed key is a 400; another plantel's student a 403; a Validado one a 409."""
    a = await make_student("enrolado")
    other = await make_student("enrolado", plantel="Toluca")
    done = await make_student("validado")
    c = await signed_in("plantel")
    assert (await save(c, a["matricula"], clave="no-es-uuid")).status_code == 400
    r = await save(c, other["matricula"], clave=uid())
    assert r.status_code == 403 and "otro plantel" in (await r.get_json())["error"]
    r = await save(c, done["matricula"], clave=uid())
    assert r.status_code == 409 and "Validado" in (await r.get_json())["error"]
    assert await db.fetch_val("SELECT count(*) FROM biometricos WHERE alumno_id = :a", {"a": done["id"]}) == 2
    assert await db.fetch_val("SELECT count(*) FROM capturas") == 0  # the claimed key rolled back with the refusal


async def test_retoma_requested_meanwhile_is_refused(signed_in):
    """A capture taken before the student was sent to Retoma (or after it was settled) is refused (409):
    the operator must see that a reprint is involved."""
    c = await signed_in("plantel")
    a = await make_student("retoma")
    r = await save(c, a["matricula"], clave=uid(), estatus="capturado")
    assert r.status_code == 409 and "Otra persona" in (await r.get_json())["error"]
    b = await make_student("capturado")
    r = await save(c, b["matricula"], clave=uid(), estatus="retoma")
    assert r.status_code == 409 and (await r.get_json())["codigo"] == "modificado"


async def test_later_capture_wins_whatever_arrives_first(signed_in):
    """Two captures of one student (a retake on the device): in order both are stored and the later is
    current; out of order the earlier one is refused honestly and never overwrites the later one."""
    c = await signed_in("plantel")
    for order in ("in_order", "reversed"):
        a = await make_student("enrolado")
        first = dict(clave=uid(), estatus="enrolado", capturado_en="2026-12-01T10:00:00Z", firma=signature(1))
        later = dict(clave=uid(), estatus="enrolado", capturado_en="2026-12-01T10:05:00Z", firma=signature(9))
        sends = [first, later] if order == "in_order" else [later, first]
        answers = [await save(c, a["matricula"], **kw) for kw in sends]
        bodies = [await r.get_json() for r in answers]
        later_body = bodies[1] if order == "in_order" else bodies[0]
        assert later_body["ok"] is True, (order, bodies)
        if order == "reversed":
            assert answers[1].status_code == 409 and bodies[1]["codigo"] == "captura_anterior"
            assert "Ya hay una captura más reciente de este alumno" in bodies[1]["error"]
        else:
            assert [r.status_code for r in answers] == [200, 200]
        assert (await row(a["id"]))["firma_id"] == later_body["firma_id"], order


async def test_two_devices_same_student_same_moment(signed_in):
    """Captures of one student from several devices at once: no deadlock, no 500; each answer is a 200 or the
    honest 409, and the student ends with exactly one current capture that was answered 200."""
    clients = [await signed_in("plantel") for _ in range(4)]
    for _ in range(3):
        a = await make_student("enrolado")
        answers = await asyncio.gather(*(save(cl, a["matricula"], clave=uid(), estatus="enrolado",
                                              capturado_en=f"2026-12-01T10:00:0{i}Z", firma=signature(i))
                                         for i, cl in enumerate(clients)))
        codes = [r.status_code for r in answers]
        assert set(codes) <= {200, 409} and 200 in codes, codes
        winners = {(await r.get_json())["firma_id"] for r in answers if r.status_code == 200}
        assert (await row(a["id"]))["firma_id"] in winners


async def test_send_on_behalf_of_a_colleague_is_recorded(signed_in, users):
    """«Enviar a mi nombre»: the capture is stored under the sender, the event says who took it, and an audit
    row is written; a user of another plantel cannot be named."""
    c = await signed_in("plantel")
    colleague = await db.fetch_val(
        "INSERT INTO usuarios (email, password_hash, rol, plantel_id) SELECT 'colega@conalepmex.edu.mx', password_hash, "
        "rol, plantel_id FROM usuarios WHERE id = :u RETURNING id", {"u": users["plantel"]["id"]})
    a = await make_student("enrolado")
    r = await save(c, a["matricula"], clave=uid(), capturado_por=str(colleague))
    assert r.status_code == 200, await r.get_data(as_text=True)
    event = await db.fetch_one("SELECT usuario_id, comentario FROM eventos WHERE alumno_id = :a AND accion = 'capturar'",
                               {"a": a["id"]})
    assert event["usuario_id"] == users["plantel"]["id"] and "colega@conalepmex.edu.mx" in event["comentario"]
    assert await db.fetch_val("SELECT count(*) FROM accesos_sensibles WHERE recurso = 'envio_a_nombre' AND alumno_id = :a",
                              {"a": a["id"]}) == 1
    b = await make_student("enrolado")
    r = await save(c, b["matricula"], clave=uid(), capturado_por=str(users["plantel_b"]["id"]))
    assert r.status_code == 403 and "otro plantel" in (await r.get_json())["error"]


async def test_html_form_post_redirects_to_saved_page(signed_in):
    """Without Accept: JSON the endpoint answers like a form: 303 to the saved page."""
    a = await make_student("enrolado")
    c = await signed_in("plantel")
    r = await save(c, a["matricula"], clave=uid(), headers={})
    assert r.status_code == 303
    html = text_of(await (await c.get(r.headers["Location"])).get_data(as_text=True))
    assert "Los registros se guardaron" in html and "Generar credencial temporal" in html
    assert "Estatus: Capturado" in html


async def test_other_roles_cannot_capture(signed_in):
    """Estatal has no access to the capture page or endpoint."""
    a = await make_student("enrolado")
    c = await signed_in("estatal")
    assert (await c.get("/captura")).status_code == 403
    assert (await save(c, a["matricula"], clave=uid())).status_code == 403


async def test_boosted_navigation_becomes_full_load(signed_in):
    """The page needs its scripts: an hx-boost request gets HX-Redirect."""
    c = await signed_in("plantel")
    r = await c.get("/captura", headers={"HX-Request": "true", "HX-Boosted": "true"})
    assert r.headers.get("HX-Redirect") == "/captura"
