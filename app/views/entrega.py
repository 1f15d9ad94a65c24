"""Entregar credencial (manual §12): the student's delivery signature moves Recibido → Entregado."""
from __future__ import annotations

from quart import Blueprint, current_app, g, jsonify, redirect, request, url_for

from ..auth import roles
from ..capture import CaptureError, lookup, save_delivery
from ..status import LABEL
from . import render
from .captura import error_answer, find, full_page_only, read_upload, wants_json

bp = Blueprint("entrega", __name__)


def delivery_refusal(alumno: dict) -> str:
    """Why the credential cannot be delivered now ('' when it can)."""
    if alumno["estatus"] == "recibido":
        return ""
    if alumno["estatus"] == "entregado":
        return "La credencial de este alumno ya se entregó."
    return (f"No se puede entregar la credencial: el alumno está en estatus {LABEL[alumno['estatus']]} "
            "(se requiere Recibido).")


@bp.route("/entrega")
@roles("plantel")
@full_page_only
async def buscar():
    """Search by matrícula; data, photo and the delivery signature when Recibido."""
    raw = request.args.get("matricula")
    alumno, error = await find(raw)
    return await render("entrega/buscar.html", alumno=alumno, error=error, matricula=raw or "",
                        refusal=delivery_refusal(alumno) if alumno else "",
                        sigweb_url=current_app.config["SETTINGS"].sigweb_url)


@bp.route("/entrega/<matricula>/guardar", methods=["POST"])
@roles("plantel")
async def guardar(matricula: str):
    """Store the delivery signature (idempotent by `clave`) and mark Entregado."""
    try:
        alumno = await lookup(g.user, matricula)
        result = await save_delivery(alumno, await read_upload("firma"), g.user)
    except CaptureError as e:
        if wants_json():
            return error_answer(e)
        return await render("entrega/buscar.html", alumno=None, error=str(e), matricula=matricula), e.status
    if wants_json():
        result["siguiente"] = url_for("entrega.guardado", matricula=result["matricula"])
        return jsonify(result)
    return redirect(url_for("entrega.guardado", matricula=result["matricula"]), 303)


@bp.route("/entrega/<matricula>/guardado")
@roles("plantel")
async def guardado(matricula: str):
    """Confirmation with the delivery signature and the reminder about the temporary credential."""
    alumno, error = await find(matricula)
    return await render("entrega/guardado.html", alumno=alumno, error=error)
