"""Toma de biométricos (manual §8): search, camera + signature, "Guardar".

POST /captura/<matrícula>/guardar is a JSON-or-HTML API (docs/capture.md): one multipart request
with `foto`, `firma` and the device's idempotency key `clave`; the offline outbox uses it too.
"""
from __future__ import annotations

import functools

from quart import Blueprint, current_app, g, jsonify, redirect, request, url_for

from ..auth import roles
from ..capture import CaptureError, Upload, lookup, save_biometrics
from .. import ajustes
from ..queries import correccion, privacidad
from ..status import CAPTURABLE, LABEL
from . import render

bp = Blueprint("captura", __name__)


def full_page_only(view):
    """Pages with their own scripts: a boosted (body-only) htmx navigation becomes a full load,
    since htmx does not run the scripts of a swapped <head>."""
    @functools.wraps(view)
    async def wrapper(*args, **kwargs):
        """Answer a boosted request with HX-Redirect to the same URL."""
        if request.headers.get("HX-Boosted"):
            return "", 200, {"HX-Redirect": request.full_path.rstrip("?")}
        return await view(*args, **kwargs)
    return wrapper


def wants_json() -> bool:
    """True when the client asked for JSON (page scripts and the outbox do)."""
    return "application/json" in request.headers.get("Accept", "") or bool(request.headers.get("X-Outbox"))


async def find(raw: str | None) -> tuple[dict | None, str]:
    """(student, error message) for a matrícula typed in a search form."""
    if raw is None:
        return None, ""
    try:
        return await lookup(g.user, raw), ""
    except CaptureError as e:
        return None, str(e)


async def read_upload(*names: str) -> Upload:
    """The multipart fields of a capture request."""
    form, files = await request.form, await request.files
    data = {n: (files[n].read() if n in files else b"") for n in names}
    return Upload(clave=form.get("clave") or None, capturado_en=form.get("capturado_en"),
                  confirmar=form.get("confirmar") in ("1", "on", "true"), motivo=form.get("motivo", ""),
                  expected=form.get("estatus") or None, extra={"capturado_por": form.get("capturado_por", ""),
                                                      "aviso_version": form.get("aviso_version", "")}, **data)


def capture_refusal(alumno: dict) -> str:
    """Why this student cannot have biometrics taken now ('' when allowed)."""
    if alumno["estatus"] in CAPTURABLE:
        return ""
    return (f"No se pueden tomar biométricos: el alumno está en estatus {LABEL[alumno['estatus']]}. "
            "Solo se capturan alumnos Enrolados, Capturados, Aplazados o en Retoma.")


def error_answer(e: CaptureError):
    """A refused capture as JSON {error, ...}."""
    return jsonify(ok=False, error=str(e), **e.data), e.status


async def search_page(template: str, refusal_of, **extra) -> str:
    """A search-by-matrícula page: the student, the lookup error, and why the action is not allowed."""
    raw = request.args.get("matricula")
    alumno, error = await find(raw)
    return await render(template, alumno=alumno, error=error, matricula=raw or "",
                        refusal=refusal_of(alumno) if alumno else "", motivo=await correccion.motivo(alumno),
                        sigweb_url=current_app.config["SETTINGS"].sigweb_url, **extra)


# The capture form for a student looked up offline: captura-offline.js fills the __FIELD__ tokens
# from the roster stored on the device ("Preparar sin conexión").
OFFLINE_PLACEHOLDER = {k: f"__{k.upper()}__" for k in (
    "matricula", "prematricula", "curp", "folio", "nombre", "primer_apellido", "segundo_apellido", "plantel",
    "grupo", "carrera", "correo", "institucion_medica", "numero_afiliacion", "estatus")}


@bp.route("/captura")
@roles("plantel")
@full_page_only
async def buscar():
    """Search by matrícula; show the student's data and the capture tools when allowed."""
    return await search_page("captura/buscar.html", capture_refusal, offline_placeholder=OFFLINE_PLACEHOLDER,
                             aviso=await privacidad.aviso())


async def answer_save(matricula: str, save, fields: tuple[str, ...], done_endpoint: str, page: str):
    """Shared POST handling of a capture: look up, read the multipart, save; answer JSON or HTML."""
    try:
        alumno = await lookup(g.user, matricula)
        result = await save(alumno, await read_upload(*fields))
    except CaptureError as e:
        if wants_json():
            return error_answer(e)
        return await render(page, alumno=None, error=str(e), matricula=matricula, refusal=""), e.status
    done = url_for(done_endpoint, matricula=result["matricula"])
    if wants_json():
        return jsonify({**result, "siguiente": done})
    return redirect(done, 303)


@bp.route("/captura/<matricula>/guardar", methods=["POST"])
@roles("plantel")
async def guardar(matricula: str):
    """Store photo + signature (idempotent by `clave`); JSON for scripts, a redirect for forms."""
    async def save(alumno, up):
        """The biometrics service with the photo thresholds of Administración → Ajustes."""
        return await save_biometrics(alumno, up, g.user, ajustes.umbrales(await ajustes.actuales()))
    return await answer_save(matricula, save, ("foto", "firma"), "captura.guardado", "captura/buscar.html")


@bp.route("/captura/<matricula>/guardado")
@roles("plantel")
async def guardado(matricula: str):
    """"Los registros se guardaron": data, photo and signature, and "Generar credencial temporal"."""
    alumno, error = await find(matricula)
    return await render("captura/guardado.html", alumno=alumno, error=error,
                        reimpresion=await correccion.reimpresion_solicitada(alumno))
