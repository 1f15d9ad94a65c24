"""Entregar credencial (manual §12): the student's delivery signature moves Recibido → Entregado."""
from __future__ import annotations

from quart import Blueprint, g

from ..auth import roles
from ..capture import save_delivery
from ..status import LABEL
from . import render
from .captura import answer_save, find, full_page_only, search_page

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
    return await search_page("entrega/buscar.html", delivery_refusal)


@bp.route("/entrega/<matricula>/guardar", methods=["POST"])
@roles("plantel")
async def guardar(matricula: str):
    """Store the delivery signature (idempotent by `clave`) and mark Entregado."""
    async def save(alumno, up):
        """The delivery service for the signed-in user."""
        return await save_delivery(alumno, up, g.user)
    return await answer_save(matricula, save, ("firma",), "entrega.guardado", "entrega/buscar.html")


@bp.route("/entrega/<matricula>/guardado")
@roles("plantel")
async def guardado(matricula: str):
    """Confirmation with the delivery signature and the reminder about the temporary credential."""
    alumno, error = await find(matricula)
    return await render("entrega/guardado.html", alumno=alumno, error=error)
