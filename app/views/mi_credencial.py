"""Mi credencial (issue 16): a student signs in with matrícula + CURP + a code by e-mail, sees the status
of their credential, downloads the temporary credential and sends photo + signature for review.

Every `alumno` route acts on the session's own student only (g.alumno_id): no route takes a student id.
"""
from __future__ import annotations

from quart import Blueprint, Response, current_app, g, jsonify, make_response, redirect, request, url_for

from .. import ajustes, autoservicio as rules
from ..audit import record_read
from ..auth import public, student
from ..capture import CaptureError, Upload
from ..credential import issue_temporary
from ..exports import download_headers
from ..queries import autoservicio as q
from ..queries import privacidad
from . import render
from .captura import wants_json

bp = Blueprint("mi_credencial", __name__)


@bp.errorhandler(rules.StudentSignedOut)
async def signed_out(_e):
    """No (or an expired) student session: back to the sign-in form."""
    if wants_json():
        return jsonify(ok=False, error="Tu sesión terminó. Entra de nuevo a Mi credencial."), 401
    return redirect(url_for("mi_credencial.entrar"))


@bp.after_request
async def no_store(response):
    """Nothing personal stays in the phone's cache."""
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/mi-credencial")
@public
async def entrar():
    """Matrícula and CURP."""
    return await render("mi_credencial/entrar.html", matricula="", curp="", error="")


@bp.route("/mi-credencial", methods=["POST"])
@public
async def pedir_codigo():
    """Queue a code when the data match an inscribed student; the same answer either way."""
    form = await request.form
    solicitud = await rules.request_code(form.get("matricula", "")[:20], form.get("curp", "")[:30])
    response = redirect(url_for("mi_credencial.codigo"), 303)
    rules.set_cookie(response, rules.PENDING_COOKIE, solicitud, rules.CODE_MINUTES)
    return response


@bp.route("/mi-credencial/codigo")
@public
async def codigo():
    """The 6-digit code form."""
    return await render("mi_credencial/codigo.html", error="")


@bp.route("/mi-credencial/codigo", methods=["POST"])
@public
async def verificar_codigo():
    """A right code opens the student session (the code is used up); otherwise the same refusal."""
    form = await request.form
    alumno_id = await rules.check_code(request.cookies.get(rules.PENDING_COOKIE), form.get("codigo", "")[:12])
    if alumno_id is None:
        error = ("El código no es correcto, ya se usó o venció. Revisa tu correo institucional o pide uno nuevo "
                 f"(cada código admite {rules.MAX_ATTEMPTS} intentos y vence en {rules.CODE_MINUTES} minutos).")
        return await render("mi_credencial/codigo.html", error=error), 422
    response = redirect(url_for("mi_credencial.estado"), 303)
    rules.set_cookie(response, rules.STUDENT_COOKIE, await rules.start_student_session(alumno_id), rules.SESSION_MINUTES)
    response.delete_cookie(rules.PENDING_COOKIE, path=rules.COOKIE_PATH)
    return response


async def own() -> dict:
    """The signed-in student's own record."""
    alumno = await q.student(g.alumno_id)
    if alumno is None:
        raise rules.StudentSignedOut()
    return alumno


@bp.route("/mi-credencial/estado")
@student
async def estado():
    """The status timeline, the reason when Aplazado or Retoma, and what can be done now."""
    alumno = await own()
    return await render("mi_credencial/estado.html", alumno=alumno, pasos=rules.timeline(await q.events(alumno["id"])),
                        que_hacer=rules.WHAT_TO_DO.get(alumno["estatus"], ""), envios=await q.submissions(alumno["id"]),
                        motivos=rules.MOTIVOS, refusal=rules.can_submit(alumno))


@bp.route("/mi-credencial/credencial.pdf", methods=["POST"])
@student
async def temporal():
    """The temporary credential (the same document as Imprimir temporal), audited."""
    alumno = await own()
    if not (alumno["foto_id"] and alumno["firma_id"]) or alumno["estatus"] in ("enrolado", "entregado"):
        return await render("errors/error.html", code=409, message="Tu credencial temporal estará disponible cuando "
                            "tu fotografía y firma sean aceptadas."), 409
    issued = await issue_temporary(alumno["id"], rules.student_actor(alumno), current_app.config["SETTINGS"])
    await record_read("credencial_temporal_alumno", alumno_id=alumno["id"], plantel_id=alumno["plantel_id"],
                      detalle=f"descargada por el alumno en Mi credencial (núm. {issued.id})")
    return Response(issued.pdf, headers=download_headers(issued.filename, "application/pdf", inline=False))


@bp.route("/mi-credencial/enviar")
@student
async def enviar():
    """Photo (front camera or a file) and a finger signature."""
    alumno = await own()
    return await render("mi_credencial/enviar.html", alumno=alumno, refusal=rules.can_submit(alumno),
                        aviso=await privacidad.aviso())


async def read_submission() -> Upload:
    """The multipart fields of a student's submission."""
    form, files = await request.form, await request.files
    data = {n: (files[n].read() if n in files else b"") for n in ("foto", "firma")}
    confirmar = form.get("confirmar") in ("1", "on", "true")
    return Upload(clave=form.get("clave") or None, confirmar=confirmar,
                  motivo="El alumno revisó las advertencias y envió así." if confirmar else "",
                  extra={"aviso_version": form.get("aviso_version", "")}, **data)


@bp.route("/mi-credencial/enviar", methods=["POST"])
@student
async def guardar_envio():
    """Check and store the submission for the plantel's review (idempotent by `clave`)."""
    alumno = await own()
    try:
        result = await rules.submit(alumno, await read_submission(), ajustes.umbrales(await ajustes.actuales()))
    except CaptureError as e:
        if wants_json():
            return jsonify(ok=False, error=str(e), **e.data), e.status
        return await render("mi_credencial/enviar.html", alumno=alumno, refusal="", error=str(e),
                            aviso=await privacidad.aviso()), e.status
    if wants_json():
        return jsonify({**result, "siguiente": url_for("mi_credencial.estado")})
    return redirect(url_for("mi_credencial.estado"), 303)


@bp.route("/mi-credencial/salir", methods=["POST"])
@student
async def salir():
    """End the student session and delete its cookie."""
    await rules.end_student_session()
    response = await make_response(redirect(url_for("mi_credencial.entrar"), 303))
    response.delete_cookie(rules.STUDENT_COOKIE, path=rules.COOKIE_PATH)
    response.headers["Clear-Site-Data"] = '"cache"'  # not "storage": a shared device keeps staff's outbox
    return response
