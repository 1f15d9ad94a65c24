"""Importar alumno SAE (manual §7): look a matrícula up in SAE and import or update the student."""
from __future__ import annotations

from quart import Blueprint, current_app, g, render_template, request

from ..auth import roles
from ..queries import alumnos
from ..sae import ROWS, Examen, SaeError, apply_update, examine, import_new
from ..status import TransitionError
from . import is_htmx

bp = Blueprint("sae", __name__)
SAE_ROLES = ("plantel", "admin")


def _settings():
    """The application's Settings."""
    return current_app.config["SETTINGS"]


async def _page(status: int = 200, **ctx):
    """The page, or only the result area for htmx requests from the page itself (not boosted links)."""
    ctx.setdefault("ex", None)
    ctx.setdefault("rows", ROWS)
    partial = is_htmx() and not request.headers.get("HX-Boosted")
    html = await render_template("sae/_resultado.html" if partial else "sae/buscar.html", **ctx)
    return html, status


async def _examine_or_none(matricula: str) -> Examen | None:
    """The comparison to show again after a refused action (None when SAE cannot answer)."""
    try:
        return await examine(matricula, g.user, _settings())
    except SaeError:
        return None


@bp.route("/sae")
@roles(*SAE_ROLES)
async def buscar():
    """The search form and, with ?matricula=, what SAE and the credential database hold."""
    matricula = request.args.get("matricula", "")
    if "matricula" not in request.args:
        return await _page(matricula="")
    try:
        ex = await examine(matricula, g.user, _settings())
    except SaeError as e:
        return await _page(502, matricula=matricula, error=str(e))
    return await _page(matricula=matricula, ex=ex)


@bp.route("/sae/importar", methods=["POST"])
@roles(*SAE_ROLES)
async def importar():
    """"Importar": create the student as Enrolado (every rule checked again here)."""
    matricula = (await request.form).get("matricula", "")
    try:
        ex = await import_new(matricula, g.user, _settings())
    except SaeError as e:
        return await _page(502, matricula=matricula, error=str(e))
    except TransitionError as e:
        return await _page(422, matricula=matricula, error=str(e), ex=await _examine_or_none(matricula))
    alumno = await alumnos.by_matricula(ex.matricula)
    msg = (f"El alumno {alumno['matricula']} se importó con estatus Enrolado. "
           "Ya puede continuar con la toma de biométricos.")
    return await _page(matricula=ex.matricula, mensaje=msg, importado=alumno)


@bp.route("/sae/actualizar", methods=["POST"])
@roles(*SAE_ROLES)
async def actualizar():
    """Apply one allowed update option from SAE."""
    form = await request.form
    matricula, opcion = form.get("matricula", ""), form.get("opcion", "")
    try:
        ex = await apply_update(matricula, opcion, g.user, _settings())
    except SaeError as e:
        return await _page(502, matricula=matricula, error=str(e))
    except TransitionError as e:
        return await _page(422, matricula=matricula, error=str(e), ex=await _examine_or_none(matricula))
    option = next(o for o in ex.options if o.key == opcion)
    msg = f"Se aplicó «{option.label}» con los datos de SAE. El alumno puede continuar con la toma de biométricos y la validación."
    return await _page(matricula=ex.matricula, mensaje=msg, ex=await _examine_or_none(ex.matricula))
