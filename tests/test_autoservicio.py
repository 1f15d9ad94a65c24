"""Mi credencial (issue 16): student sign-in by code, own-record scope, status timeline, temporary credential,
submissions and the plantel's Revisión de fotografías queue (approve / reject, one reviewer wins)."""
from __future__ import annotations

import asyncio
import io
import json
import re

from werkzeug.datastructures import FileStorage

from app import db

from .conftest import csrf_of, make_student, text_of, uid
from .mailtools import clear_queue, drain, free_port, smtp_server, smtp_settings
from .test_captura import GOOD, PHOTOS, signature

_n = iter(range(1, 10**6))


async def student(estatus: str = "enrolado", autoservicio: bool = True, **kw) -> dict:
    """A student with a unique e-mail; its plantel's self-service switched as asked."""
    s = await make_student(estatus, correo=f"alumno{next(_n)}@conalepmex.edu.mx", **kw)
    await db.execute("UPDATE planteles SET autoservicio = :on WHERE id = :p", {"on": autoservicio, "p": s["plantel_id"]})
    return s


async def queued_code(to: str) -> str | None:
    """The 6-digit code of the latest mail queued for `to` (the code is nowhere else in clear)."""
    for r in await db.fetch_all("SELECT payload FROM pgqueuer WHERE entrypoint = 'correo' ORDER BY id DESC"):
        p = json.loads(bytes(r["payload"]))
        if p["to"] == to:
            return re.search(r"\b(\d{6})\b", p["text"]).group(1)
    return None


async def ask_code(c, matricula: str, curp: str = "AAMY021208HDFLLHA4"):
    """POST matrícula + CURP as the form does."""
    return await c.post("/mi-credencial", form={"matricula": matricula, "curp": curp, "csrf_token": await csrf_of(c)})


async def send_code(c, code: str):
    """POST the code as the form does."""
    return await c.post("/mi-credencial/codigo", form={"codigo": code, "csrf_token": await csrf_of(c)})


async def sign_in(app, s: dict):
    """A client signed in to Mi credencial as student s through the real code flow."""
    c = app.test_client()
    await ask_code(c, s["matricula"], s["curp"])
    r = await send_code(c, await queued_code(s["correo"]))
    assert r.status_code == 303 and r.headers["Location"].endswith("/mi-credencial/estado"), r.status_code
    return c


async def student_client(app):
    """A Mi credencial session of a Capturado student (used by the permission matrix)."""
    await clear_queue()
    return await sign_in(app, await student("capturado"))


async def submit(c, foto: bytes = GOOD, clave: str | None = None, **form):
    """POST photo + signature from Mi credencial (JSON, as the page script does)."""
    files = {"foto": FileStorage(io.BytesIO(foto), filename="foto.jpg", content_type="image/jpeg"),
             "firma": FileStorage(io.BytesIO(signature()), filename="firma.png", content_type="image/png")}
    data = {"csrf_token": await csrf_of(c), "aviso_version": "1", "clave": clave or uid(), **form}
    return await c.post("/mi-credencial/enviar", form=data, files=files, headers={"Accept": "application/json"})


async def test_code_by_mail_opens_own_record_and_is_single_use(app):
    """The code is mailed, opens the student's own page once; a reused code and a closed session are refused."""
    await clear_queue()
    s = await student("aplazado", comentario="Falta tu número de afiliación del IMSS")
    c = app.test_client()
    await ask_code(c, s["matricula"].replace("-", "'"), s["curp"].lower())  # scanner quote, lower-case CURP
    code = await queued_code(s["correo"])
    stored = await db.fetch_one("SELECT codigo_hmac, alumno_id FROM codigos_alumno")
    assert code and code not in stored["codigo_hmac"] and stored["alumno_id"] == s["id"]
    assert (await send_code(c, code)).status_code == 303
    page = text_of(await (await c.get("/mi-credencial/estado")).get_data(as_text=True))
    assert s["matricula"] in page and "Falta tu número de afiliación" in page and "Aplazado" in page
    other = app.test_client()
    for cookie in c.cookie_jar:  # the same pending request id, the same (used) code
        if cookie.name == "mi_credencial_solicitud":
            other.cookie_jar.set_cookie(cookie)
    assert (await send_code(other, code)).status_code == 422
    assert (await c.post("/mi-credencial/salir", form={"csrf_token": await csrf_of(c)})).status_code == 303
    assert (await c.get("/mi-credencial/estado")).status_code == 302


async def test_unknown_data_get_the_same_answer_and_no_mail(app):
    """Unknown matrícula, wrong CURP, a baja: same status and page as a real student; no mail queued."""
    await clear_queue()
    s = await student()
    baja = await student(baja_en=None)
    await db.execute("UPDATE alumnos SET baja_en = now() WHERE id = :id", {"id": baja["id"]})
    answers = []
    for matricula, curp in ((s["matricula"], s["curp"]), ("99999999-9", s["curp"]), (s["matricula"], "BEML920313HMCLNS09"),
                            (baja["matricula"], baja["curp"]), ("basura", "")):
        c = app.test_client()
        r = await ask_code(c, matricula, curp)
        page = await (await c.get(r.headers["Location"])).get_data(as_text=True)
        answers.append((r.status_code, r.headers["Location"], page.replace(await csrf_of(c), "")))
    assert len(set(answers)) == 1
    assert await db.fetch_val("SELECT count(*) FROM pgqueuer WHERE entrypoint = 'correo'") == 1
    assert await db.fetch_val("SELECT count(*) FROM codigos_alumno") == 5  # the same row written every time


async def test_wrong_codes_burn_the_code_and_expired_codes_fail(app):
    """5 wrong guesses use the code up (the right one is then refused); an expired code is refused."""
    await clear_queue()
    s = await student()
    c = app.test_client()
    await ask_code(c, s["matricula"], s["curp"])
    code = await queued_code(s["correo"])
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for _ in range(5):
        assert (await send_code(c, wrong)).status_code == 422
    assert (await send_code(c, code)).status_code == 422
    await clear_queue()
    c2 = app.test_client()
    await ask_code(c2, s["matricula"], s["curp"])
    await db.execute("UPDATE codigos_alumno SET expira_en = now() - interval '1 second'")
    assert (await send_code(c2, await queued_code(s["correo"]))).status_code == 422


async def test_code_requests_and_guesses_are_throttled(app):
    """At most 3 codes per student per window (later ones send nothing, same answer); guesses per address → 429."""
    await clear_queue()
    s = await student()
    for _ in range(5):
        assert (await ask_code(app.test_client(), s["matricula"], s["curp"])).status_code == 303
    assert await db.fetch_val("SELECT count(*) FROM pgqueuer WHERE entrypoint = 'correo'") == 3
    c = app.test_client()
    statuses = [(await send_code(c, "000000")).status_code for _ in range(21)]
    assert statuses[:20] == [422] * 20 and statuses[20] == 429


async def test_student_session_reaches_only_its_own_record(app, users):
    """Ids of another student typed in URLs or forms change nothing; staff routes send to the staff sign-in."""
    await clear_queue()
    a, b = await student("enrolado"), await student("capturado", nombre="OTRA PERSONA")
    c = await sign_in(app, a)
    for url in (f"/consulta/{b['id']}", f"/captura?matricula={b['matricula']}", f"/biometricos/{b['foto_id']}",
                "/revision", "/", f"/reporte/plantel/{b['plantel_id']}.xlsx"):
        r = await c.get(url)
        assert r.status_code == 302 and "/login" in r.headers["Location"], url
    page = await (await c.get(f"/mi-credencial/estado?alumno_id={b['id']}&matricula={b['matricula']}")).get_data(as_text=True)
    assert a["matricula"] in page and b["matricula"] not in page and "OTRA PERSONA" not in page
    r = await submit(c, alumno_id=str(b["id"]), matricula=b["matricula"])
    assert r.status_code == 200, await r.get_data(as_text=True)
    assert await db.fetch_val("SELECT alumno_id FROM envios_alumno") == a["id"]
    r = await c.post("/mi-credencial/credencial.pdf", form={"csrf_token": await csrf_of(c), "alumno_id": str(b["id"])})
    assert r.status_code == 409  # a (Enrolado) has none; b's is never produced


async def test_staff_session_cannot_use_student_pages(signed_in):
    """A staff session is not a student session."""
    c = await signed_in("plantel")
    assert (await c.get("/mi-credencial/estado")).status_code == 403


async def test_temporary_credential_once_capturado_is_audited(app):
    """A Capturado student downloads the same temporary credential; the issue and the read are recorded."""
    await clear_queue()
    s = await student("capturado")
    c = await sign_in(app, s)
    r = await c.post("/mi-credencial/credencial.pdf", form={"csrf_token": await csrf_of(c)})
    assert r.status_code == 200 and (await r.get_data()).startswith(b"%PDF") and r.headers["Cache-Control"] == "no-store"
    assert await db.fetch_val("SELECT count(*) FROM accesos_sensibles WHERE recurso = 'credencial_temporal_alumno' "
                              "AND alumno_id = :a", {"a": s["id"]}) == 1
    assert await db.fetch_val("SELECT count(*) FROM credenciales_temporales WHERE alumno_id = :a", {"a": s["id"]}) == 1


async def test_self_service_off_refuses_and_photo_checks_answer_at_once(app):
    """Plantel switched off → 409; a photo without a face → 422 with the reason; nothing stored."""
    await clear_queue()
    s = await student("enrolado", autoservicio=False)
    c = await sign_in(app, s)
    assert (await submit(c)).status_code == 409
    await db.execute("UPDATE planteles SET autoservicio = true WHERE id = :p", {"p": s["plantel_id"]})
    r = await submit(c, foto=(PHOTOS / "sin-rostro.jpg").read_bytes())
    assert r.status_code == 422 and "No se detectó un rostro" in (await r.get_json())["error"]
    r = await submit(c, aviso_version="")
    assert r.status_code == 422 and "aviso de privacidad" in (await r.get_json())["error"]
    assert await db.fetch_val("SELECT count(*) FROM envios_alumno") == 0


async def test_submission_retried_stores_once_then_approval_makes_the_capture(app, signed_in, users):
    """Same key twice → one submission; the queue shows it with a count; Aprobar → Capturado with both images,
    recorded as sent by the student and approved by staff; two reviewers at once → one wins."""
    await clear_queue()
    s = await student("enrolado")
    c = await sign_in(app, s)
    key = uid()
    assert (await submit(c, clave=key)).status_code == 200
    r = await submit(c, clave=key)
    assert (await r.get_json())["repetida"] is True
    envio = await db.fetch_val("SELECT id FROM envios_alumno")
    staff = await signed_in("plantel")
    menu = text_of(await (await staff.get("/revision")).get_data(as_text=True))
    assert "Revisión de fotografías 1" in menu and s["matricula"] in menu
    assert (await staff.get(f"/revision/{envio}/foto.jpg")).status_code == 200
    other_plantel = await signed_in("plantel_b")
    assert (await other_plantel.get(f"/revision/{envio}")).status_code == 404
    token = await csrf_of(staff)
    staff2 = await signed_in("plantel")
    token2 = await csrf_of(staff2)
    r1, r2 = await asyncio.gather(staff.post(f"/revision/{envio}/aprobar", form={"csrf_token": token}),
                                  staff2.post(f"/revision/{envio}/aprobar", form={"csrf_token": token2}))
    assert sorted([r1.status_code, r2.status_code]) == [303, 409]
    row = await db.fetch_one("SELECT estatus::text AS e, foto_id, firma_id FROM alumnos WHERE id = :id", {"id": s["id"]})
    assert row["e"] == "capturado" and row["foto_id"] and row["firma_id"]
    assert await db.fetch_val("SELECT count(*) FROM eventos WHERE alumno_id = :a AND accion = 'capturar'", {"a": s["id"]}) == 1
    note = await db.fetch_val("SELECT comentario FROM eventos WHERE alumno_id = :a AND accion = 'autoservicio_aprobado'",
                              {"a": s["id"]})
    assert "enviadas por el alumno" in note and users["plantel"]["email"] in note
    page = text_of(await (await c.get("/mi-credencial/estado")).get_data(as_text=True))
    assert "Tu fotografía fue aceptada" in page and "Descargar mi credencial temporal" in page


async def test_rejection_mails_the_student_who_sends_again(app, signed_in):
    """Rechazar with a reason: the student gets the mail (real SMTP server), sees the reason and can send again."""
    await clear_queue()
    s = await student("retoma")
    c = await sign_in(app, s)
    assert (await submit(c)).status_code == 200
    envio = await db.fetch_val("SELECT id FROM envios_alumno")
    staff = await signed_in("plantel")
    r = await staff.post(f"/revision/{envio}/rechazar", form={"csrf_token": await csrf_of(staff), "motivo": "fondo",
                                                              "comentario": "Usa una pared blanca"})
    assert r.status_code == 303
    port = free_port()
    saved = app.config["SETTINGS"]
    with smtp_server(port) as sink:
        app.config["SETTINGS"] = smtp_settings(app, port)
        try:
            await drain(app)
        finally:
            app.config["SETTINGS"] = saved
    mails = [m for m in sink.messages if m["To"] == s["correo"]]
    assert any("El fondo no es blanco" in m.get_content() and "pared blanca" in m.get_content() for m in mails)
    page = text_of(await (await c.get("/mi-credencial/estado")).get_data(as_text=True))
    assert "rechazada" in page and "pared blanca" in page and "Enviar mi fotografía y firma" in page
    assert (await submit(c)).status_code == 200
    assert await db.fetch_val("SELECT count(*) FROM envios_alumno WHERE estado = 'pendiente'") == 1


async def test_command_line_switch(app, database_url):
    """`python -m app autoservicio PLANTEL --activar/--desactivar` flips the plantel's switch; unknown → exit 1."""
    import os
    import sys

    async def run(*args) -> int:
        """Run the command against the test database."""
        p = await asyncio.create_subprocess_exec(sys.executable, "-m", "app", "autoservicio", *args,
                                                 env={**os.environ, "DATABASE_URL": database_url},
                                                 stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        return await p.wait()
    assert await run("Toluca", "--activar") == 0
    assert await db.fetch_val("SELECT autoservicio FROM planteles WHERE nombre = 'Toluca'") is True
    assert await run("Toluca", "--desactivar") == 0
    assert await db.fetch_val("SELECT autoservicio FROM planteles WHERE nombre = 'Toluca'") is False
    assert await run("No existe", "--activar") == 1
