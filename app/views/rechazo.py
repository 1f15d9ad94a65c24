"""Rechazar / reimprimir (manual §11): a received card goes back for reprint, with or without retoma."""
from __future__ import annotations

from quart import Blueprint, g, request

from .. import status
from ..auth import plantel_scope, roles
from ..queries import alumnos
from ..status import LABEL, TransitionError
from ..validation import check_matricula
from . import render

bp = Blueprint("rechazo", __name__, url_prefix="/rechazo")


OTRO_PLANTEL = "El alumno pertenece a otro plantel; solo puede atender alumnos de su plantel."


async def _find(raw: str) -> tuple[dict | None, str, int]:
    """The student of a typed matrícula in the user's plantel, or a Spanish message and its HTTP code."""
    check = check_matricula(raw)
    alumno, message = await alumnos.find(check)
    if alumno is None:
        return None, message, 400 if check.level == "error" else 404
    scope = plantel_scope(g.user)
    if scope is not None and alumno["plantel_id"] != scope:
        return None, OTRO_PLANTEL, 403
    return alumno, "", 200


def why_not(estatus: str) -> str:
    """Why a student in this status cannot be rejected here ('' when it can)."""
    if estatus == "recibido":
        return ""
    return (f"No se puede rechazar: el alumno está en estatus {LABEL[estatus]}. Solo se rechazan credenciales "
            "en estatus Recibido (ya recibidas por el plantel y aún no entregadas).")


async def _page(matricula: str = "", alumno: dict | None = None, message: str = "", ok: str = "",
                comentario: str = "", retoma: bool = False, code: int = 200):
    """The search box, and the student with the rejection form when one was found."""
    return await render("rechazo/buscar.html", matricula=matricula, a=alumno, message=message, ok=ok,
                        comentario=comentario, retoma=retoma,
                        no_permitido=why_not(alumno["estatus"]) if alumno and not ok else ""), code


@bp.route("")
@roles("plantel")
async def buscar():
    """Control de rechazo de impresión: search a matrícula."""
    raw = (request.args.get("matricula") or "").strip()
    if not raw:
        return await _page()
    alumno, message, code = await _find(raw)
    return await _page(raw, alumno, message, code=code)


@bp.route("/<matricula>", methods=["POST"])
@roles("plantel")
async def rechazar(matricula: str):
    """Rechazar: → Rechazado (reprint with the same data) or, with "Requiere retoma", → Retoma."""
    alumno, message, code = await _find(matricula)
    if alumno is None:
        return await _page(matricula, None, message, code=code)
    form = await request.form
    comentario = (form.get("comentario") or "").strip()
    retoma = form.get("retoma") == "1"
    if not comentario:
        return await _page(matricula, alumno, "Escriba en «Comentario» la razón del rechazo.", comentario=comentario,
                           retoma=retoma, code=422)
    try:
        await status.transition(alumno["id"], "rechazar_retoma" if retoma else "rechazar", g.user, comment=comentario,
                                orden_id=alumno["orden_id"], changes={"comentario": comentario},
                                expected=form.get("expected") or "recibido")
    except TransitionError as e:
        return await _page(matricula, await alumnos.by_id(alumno["id"]), str(e), comentario=comentario,
                           retoma=retoma, code=409)
    ok = (f"La credencial de {alumno['matricula']} quedó en estatus Retoma: realice la retoma de foto y firma en "
          "«Toma de biométricos»; al guardarla se genera la solicitud de reimpresión." if retoma else
          f"La credencial de {alumno['matricula']} quedó en estatus Rechazado: la empresa está notificada para "
          "realizar la reimpresión.")
    return await _page(matricula, await alumnos.by_id(alumno["id"]), ok=ok)
