"""Revisión de fotografías (issue 16): the plantel's queue of photos and signatures sent by students
from Mi credencial — Aprobar (they become the capture) or Rechazar with a reason (the student is mailed).
"""
from __future__ import annotations

import json

from quart import Blueprint, Response, g, redirect, request, url_for

from .. import ajustes, autoservicio as rules, biocrypt
from ..audit import record_read
from ..auth import roles
from ..capture import CaptureError
from ..queries import autoservicio as q
from . import render

bp = Blueprint("revision", __name__)


@bp.app_context_processor
async def pending_for_menu() -> dict:
    """The count next to «Revisión de fotografías» in a plantel user's menu."""
    user = getattr(g, "user", None)
    if user is None or user.rol != "plantel" or not user.plantel_id:
        return {}
    return {"revision_pendientes": await q.pending_count(user.plantel_id)}


@bp.route("/revision")
@roles("plantel")
async def cola():
    """The plantel's pending submissions, oldest first."""
    return await render("revision/cola.html", envios=await q.queue(g.user.plantel_id), aviso=request.args.get("hecho", ""))


async def submission_or_404(envio_id: int) -> dict | None:
    """A submission of the user's own plantel (None for another plantel's or an unknown id)."""
    return await q.submission(envio_id, g.user.plantel_id)


@bp.route("/revision/<id:envio_id>")
@roles("plantel")
async def detalle(envio_id: int, error: str = "", status: int = 200):
    """Photo, signature, checks and the student's data, with Aprobar and Rechazar."""
    env = await submission_or_404(envio_id)
    if env is None:
        return await render("errors/error.html", code=404, message="No se encontró el envío."), 404
    revision = env["revision"] if isinstance(env["revision"], dict) else json.loads(env["revision"] or "{}")
    return await render("revision/detalle.html", env=env, revision=revision, motivos=rules.MOTIVOS, error=error), status


async def image(envio_id: int, column: str, mime: str):
    """One sealed image of a submission, audited, never cached."""
    env = await submission_or_404(envio_id)
    if env is None:
        return await render("errors/error.html", code=404, message="No se encontró el envío."), 404
    await record_read(f"envio_{column}", alumno_id=env["alumno_id"], plantel_id=env["plantel_id"], detalle=f"envío {envio_id}")
    return Response(biocrypt.unseal(env[column]), headers={"Content-Type": mime, "Cache-Control": "no-store"})


@bp.route("/revision/<id:envio_id>/foto.jpg")
@roles("plantel")
async def foto(envio_id: int):
    """The submitted photo."""
    return await image(envio_id, "foto", "image/jpeg")


@bp.route("/revision/<id:envio_id>/firma.png")
@roles("plantel")
async def firma(envio_id: int):
    """The submitted signature."""
    return await image(envio_id, "firma", "image/png")


@bp.route("/revision/<id:envio_id>/aprobar", methods=["POST"])
@roles("plantel")
async def aprobar(envio_id: int):
    """The submission becomes the student's capture (one reviewer wins)."""
    try:
        result = await rules.approve(envio_id, g.user, ajustes.umbrales(await ajustes.actuales()))
    except CaptureError as e:
        return await detalle(envio_id, str(e), e.status)
    return redirect(url_for("revision.cola", hecho=f"Aprobado: {result['matricula']} quedó en estatus "
                                                  f"{result['estatus'].capitalize()}."), 303)


@bp.route("/revision/<id:envio_id>/rechazar", methods=["POST"])
@roles("plantel")
async def rechazar(envio_id: int):
    """Reject with a reason and a comment; the student is told by e-mail."""
    form = await request.form
    try:
        await rules.reject(envio_id, g.user, form.get("motivo", ""), form.get("comentario", ""))
    except CaptureError as e:
        return await detalle(envio_id, str(e), e.status)
    return redirect(url_for("revision.cola", hecho="Envío rechazado; se avisó al alumno por correo."), 303)
