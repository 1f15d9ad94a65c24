"""Imprimir temporal (manual §9): search by matrícula and "Generar credencial temporal" (PDF)."""
from __future__ import annotations

from quart import Blueprint, Response, current_app, g, request

from ..auth import roles
from ..capture import CaptureError, lookup
from ..credential import issue_temporary
from ..exports import download_headers
from . import render
from .captura import search_page

bp = Blueprint("temporal", __name__)


def temporal_refusal(alumno: dict) -> str:
    """Why no temporary credential can be printed ('' when it can)."""
    if alumno["estatus"] == "entregado":
        return "El alumno ya recibió su credencial definitiva: no se emiten credenciales temporales."
    if alumno["foto_id"] and alumno["firma_id"]:
        return ""
    return ("El alumno no tiene fotografía y firma capturadas: tome sus biométricos en "
            "«Toma de biométricos» antes de generar la credencial temporal.")


@bp.route("/temporal")
@roles("plantel")
async def buscar():
    """"Reimprimir credencial": search, data, photo, signature and the generate button."""
    return await search_page("temporal/buscar.html", temporal_refusal)


@bp.route("/temporal/<matricula>/credencial.pdf", methods=["POST"])
@roles("plantel")
async def pdf(matricula: str):
    """Record an issue and send the temporary credential PDF (shown in the tab, or as a download)."""
    try:
        alumno = await lookup(g.user, matricula)
    except CaptureError as e:
        return await render("temporal/buscar.html", alumno=None, error=str(e), matricula=matricula), e.status
    if refusal := temporal_refusal(alumno):
        return await render("temporal/buscar.html", alumno=alumno, error="", matricula=matricula,
                            refusal=refusal), 409
    issued = await issue_temporary(alumno["id"], g.user, current_app.config["SETTINGS"])
    inline = (await request.form).get("descargar") != "1"  # "Se abrirá" in a new tab; "Descargar PDF" saves it
    return Response(issued.pdf, headers=download_headers(issued.filename, "application/pdf", inline=inline))
