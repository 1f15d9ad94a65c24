"""Mis avisos: a staff member turns their own e-mail notices on or off; the Dirección Estatal and the
admin record students who asked for no notices (docs/avisos.md)."""
from __future__ import annotations

from quart import Blueprint, g, request

from .. import avisos
from ..auth import roles
from . import render

bp = Blueprint("avisos", __name__, url_prefix="/avisos")
GESTORES = ("estatal", "admin")  # who records students' exclusions


async def _page(code: int = 200, **ctx):
    """The Mis avisos page (exclusions listed for estatal and admin)."""
    gestiona = g.user.rol in GESTORES
    body = await render("avisos/preferencias.html", activos=await avisos.preferencia(g.user.id), gestiona=gestiona,
                        exclusiones=await avisos.exclusiones() if gestiona else [], **ctx)
    return body, code


@bp.route("")
@roles("plantel", "estatal", "admin")
async def preferencias():
    """Mis avisos."""
    return await _page()


@bp.route("", methods=["POST"])
@roles("plantel", "estatal", "admin")
async def guardar():
    """Turn one's own notices on (avisos=1) or off."""
    activos = (await request.form).get("avisos") == "1"
    await avisos.cambiar_preferencia(g.user.id, activos)
    return await _page(mensaje="Recibirá los avisos por correo." if activos else "Ya no recibirá avisos por correo.")


@bp.route("/exclusiones", methods=["POST"])
@roles(*GESTORES)
async def excluir():
    """Record a student's request to receive no notices."""
    form = await request.form
    try:
        m = await avisos.excluir(form.get("matricula", ""), form.get("motivo", ""), g.user.id)
    except avisos.AvisoError as e:
        return await _page(422, error=str(e), matricula=form.get("matricula", ""), motivo=form.get("motivo", ""))
    return await _page(mensaje=f"La matrícula {m} ya no recibirá avisos.")


@bp.route("/exclusiones/quitar", methods=["POST"])
@roles(*GESTORES)
async def quitar():
    """Lift a student's exclusion (the alumno asked for notices again)."""
    try:
        m = await avisos.quitar_exclusion((await request.form).get("matricula", ""), g.user.id)
    except avisos.AvisoError as e:
        return await _page(422, error=str(e))
    return await _page(mensaje=f"La matrícula {m} vuelve a recibir avisos.")
