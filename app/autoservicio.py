"""Mi credencial (issue 16): the rules of student self-service.

Sign-in: matrícula + CURP → a 6-digit code to the student's institutional e-mail (valid CODE_MINUTES,
MAX_ATTEMPTS tries, single use, stored as an HMAC with SECRET_KEY), then a short student session of its
own (table sesiones_alumno, cookie STUDENT_COOKIE). The answer and its work are the same whether or not
the data match a student. Submissions of photo + signature wait in the plantel's «Revisión de
fotografías» queue until staff approve them (they become the capture, through app/capture.py and the
status machine) or reject them with a reason (the student is told by e-mail). docs/autoservicio.md.
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import secrets
import time
import uuid
from dataclasses import dataclass

from quart import current_app, g, request

from . import biocrypt, db, images, offload, photo_checks, ratelimit, validation
from .auth import AccessDenied
from .capture import (CaptureError, Upload, acknowledged_notice, parse_key, payload_digest, prepare_biometrics,
                      review, save_biometrics)
from .formatting import fecha_hora
from .mail import enqueue_mail
from .queries import autoservicio as q
from .status import Actor, record_event

CODE_MINUTES = 10
MAX_ATTEMPTS = 5
SESSION_MINUTES = 30
PENDING_COOKIE = "mi_credencial_solicitud"
STUDENT_COOKIE = "mi_credencial_sesion"
COOKIE_PATH = "/mi-credencial"
ANSWER_FLOOR_SECONDS = 0.3  # «Enviar código» always takes at least this long (known or unknown data)
SELF_SERVICE_STATUSES = frozenset({"enrolado", "aplazado", "retoma"})
# name → (environment variable, default "requests/seconds"), counted with app/ratelimit.py's shared counter
LIMITS = {
    "codigo_alumno": ("AUTOSERVICIO_CODIGOS_ALUMNO", "3/900"),      # codes sent per student
    "codigo_ip": ("AUTOSERVICIO_CODIGOS_IP", "10/900"),             # code requests per address
    "verificar_ip": ("AUTOSERVICIO_VERIFICAR_IP", "20/900"),        # code guesses per address
}
MOTIVOS = {
    "fondo": "El fondo no es blanco o liso.",
    "rostro": "El rostro no se ve completo, de frente o centrado.",
    "imagen": "La fotografía está oscura, borrosa o con reflejos.",
    "accesorios": "Aparecen lentes oscuros, gorra u otro accesorio.",
    "firma": "La firma no es legible.",
    "otro": "Otro motivo (ver comentario).",
}


class StudentSignedOut(Exception):
    """A Mi credencial page without an open student session."""


def _limit(name: str) -> ratelimit.Limit:
    """The configured self-service limit of a kind of request."""
    env, default = LIMITS[name]
    requests, _, seconds = (os.environ.get(env) or default).partition("/")
    return ratelimit.Limit(max(1, int(requests)), max(1, int(seconds or 60)))


async def _over(name: str, who: str) -> int:
    """Count one request; the seconds to wait when it is over the limit, else 0."""
    lim = _limit(name)
    n, wait = await ratelimit.count(f"{name}:{who}", lim)
    return wait if n > lim.requests else 0


def digest(token: str) -> str:
    """sha256 of a random token (only digests of request and session ids are stored)."""
    return hashlib.sha256(token.encode()).hexdigest()


def code_hmac(solicitud: str, code: str) -> str:
    """HMAC of a code bound to its request (a stolen table does not give codes away)."""
    key = current_app.config["SETTINGS"].secret_key.encode()
    return hmac.new(key, f"{solicitud}:{code}".encode(), hashlib.sha256).hexdigest()


def client_ip() -> str:
    """The client address as the app sees it (docs/security.md on proxies)."""
    return request.remote_addr or ""


# ---- sign-in ----------------------------------------------------------------------------------

async def request_code(matricula: str, curp: str) -> str:
    """Record a code request and, for an inscribed student within the limits, queue the e-mail; return the
    random request id for the browser. Same work, answer and (floored) timing for data that match nobody."""
    started = time.monotonic()
    ip = client_ip()
    if wait := await _over("codigo_ip", ip):
        raise ratelimit.Limited(f"Demasiadas solicitudes de código desde esta red. Intente de nuevo en {wait} s.", wait)
    solicitud, code = secrets.token_urlsafe(32), f"{secrets.randbelow(10**6):06d}"
    check = validation.check_matricula(matricula or "")
    alumno = await q.inscrito(check.value, (curp or "").strip().upper()[:18]) if check.level != "error" else None
    if alumno and await _over("codigo_alumno", str(alumno["id"])):
        alumno = None  # throttled per student: nothing sent, same answer
    async with db.get_db().transaction():
        await q.insert_code(digest(solicitud), alumno["id"] if alumno else None, code_hmac(solicitud, code), ip,
                            CODE_MINUTES)
        if alumno and alumno["correo"]:
            await enqueue_mail(alumno["correo"], "Tu código para Mi credencial — CONALEP", code_mail(code))
    await asyncio.sleep(max(0.0, ANSWER_FLOOR_SECONDS - (time.monotonic() - started)))
    return solicitud


def code_mail(code: str) -> str:
    """The text of the code e-mail."""
    return (f"Tu código para entrar a Mi credencial es: {code}\n\n"
            f"Vence en {CODE_MINUTES} minutos y sirve una sola vez. Si tú no lo pediste, ignora este mensaje;"
            " nadie puede entrar sin este código.")


async def check_code(solicitud: str | None, code: str) -> int | None:
    """The student id when the code of this request is right (then it is used up), else None."""
    if wait := await _over("verificar_ip", client_ip()):
        raise ratelimit.Limited(f"Demasiados intentos desde esta red. Intente de nuevo en {wait} s.", wait)
    code = (code or "").strip()
    if not solicitud or len(solicitud) > 100 or not (code.isdigit() and len(code) == 6):
        return None
    row = await q.spend_attempt(digest(solicitud), MAX_ATTEMPTS)
    if row is None or row["alumno_id"] is None:
        return None
    if not hmac.compare_digest(row["codigo_hmac"], code_hmac(solicitud, code)):
        return None
    return row["alumno_id"] if await q.use_code(row["id"]) else None


async def start_student_session(alumno_id: int) -> str:
    """Open a student session; the cookie value (only its digest is stored)."""
    token = secrets.token_urlsafe(32)
    await q.open_session(digest(token), alumno_id, SESSION_MINUTES)
    return token


async def end_student_session() -> None:
    """Close the current student session server-side."""
    if token := request.cookies.get(STUDENT_COOKIE):
        await q.close_session(digest(token))


def set_cookie(response, name: str, value: str, minutes: int) -> None:
    """A Mi credencial cookie: HttpOnly, SameSite=Strict, Secure behind HTTPS, limited to its pages."""
    response.set_cookie(name, value, max_age=minutes * 60, path=COOKIE_PATH, httponly=True, samesite="Strict",
                        secure=current_app.config["SETTINGS"].secure_cookies)


async def require_student() -> None:
    """The access check of `alumno` routes: an open student session sets g.alumno_id; a staff user gets 403."""
    token = request.cookies.get(STUDENT_COOKIE, "")
    alumno_id = await q.session_student(digest(token)) if token and len(token) < 100 else None
    if alumno_id is not None:
        g.alumno_id = alumno_id
        return
    if getattr(g, "user", None) is not None:
        raise AccessDenied("Esta sección es para alumnos: entre con su matrícula y CURP en «Mi credencial».")
    raise StudentSignedOut()


def student_actor(alumno: dict) -> Actor:
    """The Actor of a student (no user id: records show the student's matrícula)."""
    return Actor(id=None, rol="alumno", plantel_id=alumno["plantel_id"], email=f"alumno {alumno['matricula']}")


# ---- what the student sees ---------------------------------------------------------------------

STEP_TEXT = {
    "enrolado": "Quedaste inscrito para tu credencial.",
    "capturado": "Tu fotografía fue aceptada.",
    "validado": "Tu plantel validó tus datos.",
    "aplazado": "Tu plantel aplazó tu credencial.",
    "solicitado": "Tu credencial se pidió a impresión.",
    "imprimiendo": "Tu credencial está en impresión.",
    "rechazado": "Tu credencial se volverá a imprimir.",
    "retoma": "Tu plantel pide tomar de nuevo tu fotografía y firma.",
    "recibido": "Tu credencial llegó a tu plantel. Pasa a recogerla a tu plantel con tu credencial temporal.",
    "entregado": "Recibiste tu credencial.",
}
ACTION_TEXT = {"credencial_temporal": "Se emitió tu credencial temporal.",
               "autoservicio_aprobado": "Tu plantel aprobó la fotografía y firma que enviaste."}
WHAT_TO_DO = {
    "aplazado": "Revisa el motivo, corrige lo que se indica con tu plantel o envía de nuevo tu fotografía y firma.",
    "retoma": "Envía de nuevo tu fotografía y firma (si tu plantel lo permite) o acude a tu plantel a tomarlas.",
}


@dataclass(frozen=True)
class Step:
    """One line of the student's timeline."""

    cuando: str
    texto: str
    motivo: str = ""


def timeline(events: list[dict]) -> list[Step]:
    """The status events as plain-Spanish steps, newest first (reasons shown for Aplazado and Retoma)."""
    steps = []
    for e in events:
        text = ACTION_TEXT.get(e["accion"]) or (STEP_TEXT.get(e["a"]) if e["a"] != e["de"] or e["accion"] == "aplazar" else None)
        if text:
            reason = e["comentario"] if e["a"] in WHAT_TO_DO and e["accion"] not in ACTION_TEXT else ""
            steps.append(Step(fecha_hora(e["en"]), text, reason))
    return steps[::-1]


def can_submit(alumno: dict) -> str:
    """Why the student cannot send a photo now ('' when they can)."""
    if not alumno["autoservicio"]:
        return "Tu plantel aún no recibe fotografías en línea: acude a tu plantel para tomarlas."
    if alumno["estatus"] not in SELF_SERVICE_STATUSES:
        return "En este momento no necesitas enviar fotografía y firma."
    return ""


# ---- submissions ---------------------------------------------------------------------------------

async def submit(alumno: dict, up: Upload, thresholds: photo_checks.Thresholds) -> dict:
    """Check and store the student's photo + signature for review (idempotent by `clave`)."""
    if refusal := can_submit(alumno):
        raise CaptureError(refusal, 409)
    clave = parse_key(up.clave) or uuid.uuid4()
    payload = payload_digest("autoservicio", alumno["id"], up.foto, up.firma)
    if (old := await q.submission_by_key(str(clave))) is not None:
        return _replayed(old, alumno, payload)
    try:
        prep = await offload.cpu(prepare_biometrics, up.foto, up.firma, thresholds)
    except images.ImageError as e:
        raise CaptureError(str(e), 422) from None
    revision = review(prep, up)
    aviso = await acknowledged_notice(up)
    envio_id = await q.insert_submission({
        "alumno_id": alumno["id"], "plantel_id": alumno["plantel_id"], "clave": str(clave), "payload_sha256": payload,
        "foto": biocrypt.seal(prep.foto.data), "firma": biocrypt.seal(prep.firma.data),
        "revision": json.dumps(revision), "aviso_version": aviso})
    if envio_id is None:  # a concurrent twin under the same key
        return _replayed(await q.submission_by_key(str(clave)), alumno, payload)
    return {"ok": True, "envio_id": envio_id, "clave": str(clave)}


def _replayed(old: dict, alumno: dict, payload: str) -> dict:
    """The answer for a key already used: the same submission again, other content refused."""
    if old["alumno_id"] != alumno["id"] or old["payload_sha256"] != payload:
        raise CaptureError("Este envío ya se usó con otro contenido; toma de nuevo la fotografía.", 422)
    return {"ok": True, "envio_id": old["id"], "repetida": True}


async def approve(envio_id: int, user, thresholds: photo_checks.Thresholds) -> dict:
    """Turn a pending submission into the capture (one reviewer wins); the capture's answer."""
    async with db.get_db().transaction():
        env = await _pending(envio_id, user)
        if not await q.resolve(envio_id, user.plantel_id, "aprobado", user.id):
            raise CaptureError("Otra persona ya resolvió este envío.", 409)
        up = Upload(foto=biocrypt.unseal(env["foto"]), firma=biocrypt.unseal(env["firma"]), clave=str(env["clave"]),
                    confirmar=True, motivo=f"Enviada por el alumno (Mi credencial); revisada por {user.email}.",
                    extra={"aviso_version": str(env["aviso_version"])})
        result = await save_biometrics({"id": env["alumno_id"], "matricula": env["matricula"]}, up, user, thresholds)
        await record_event(env["alumno_id"], "autoservicio_aprobado", user, de=result["estatus"], a=result["estatus"],
                           comment=f"Fotografía y firma enviadas por el alumno desde Mi credencial (envío {envio_id}) "
                                   f"el {fecha_hora(env['enviado_en'])}; aprobadas por {user.email}.")
    return result


async def reject(envio_id: int, user, motivo: str, comentario: str) -> None:
    """Reject a pending submission with a reason from MOTIVOS and tell the student by e-mail."""
    if motivo not in MOTIVOS:
        raise CaptureError("Elija el motivo del rechazo.", 422)
    comentario = (comentario or "").strip()[:500]
    if motivo == "otro" and not comentario:
        raise CaptureError("Escriba un comentario para el alumno.", 422)
    async with db.get_db().transaction():
        env = await _pending(envio_id, user)
        if not await q.resolve(envio_id, user.plantel_id, "rechazado", user.id, motivo, comentario):
            raise CaptureError("Otra persona ya resolvió este envío.", 409)
        if env["correo"]:
            await enqueue_mail(env["correo"], "Tu fotografía necesita corregirse — Mi credencial",
                               rejection_mail(MOTIVOS[motivo], comentario))


def rejection_mail(motivo: str, comentario: str) -> str:
    """The text of the rejection e-mail."""
    extra = f"\nComentario de tu plantel: {comentario}\n" if comentario else ""
    return (f"Tu plantel revisó la fotografía y firma que enviaste y no pudo aceptarlas.\n\nMotivo: {motivo}\n{extra}\n"
            "Entra de nuevo a Mi credencial y envíalas otra vez.")


async def _pending(envio_id: int, user) -> dict:
    """A submission of the user's plantel (404 otherwise)."""
    env = await q.submission(envio_id, user.plantel_id)
    if env is None:
        raise CaptureError("No se encontró el envío.", 404)
    return env
