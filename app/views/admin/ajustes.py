"""Administración → Ajustes del ciclo escolar: the business settings of app/ajustes.py, edited on one page
with the error beside each field; every changed setting is logged before → after (docs/admin.md)."""
from __future__ import annotations

from quart import g, redirect, request, url_for

from ... import ajustes, db
from ...auth import roles
from .. import render

from . import bp
from .catalogos import log_change


async def _page(texts: dict[str, str], errors: dict[str, str], status: int = 200):
    """The settings form, grouped by section, with who saved each value and when."""
    html = await render("admin/ajustes.html", secciones=ajustes.SECCIONES, ajustes=ajustes.AJUSTES, texts=texts,
                        errors=errors, origen=await ajustes.origen(), aviso=request.args.get("aviso", ""))
    return html, status


@bp.route("/ajustes")
@roles("admin")
async def ajustes_ciclo():
    """The current values (saved, or the environment's defaults)."""
    valores = await ajustes.actuales()
    return await _page({a.name: a.show(valores[a.name]) for a in ajustes.AJUSTES}, {})


@bp.route("/ajustes", methods=["POST"])
@roles("admin")
async def guardar_ajustes():
    """Save the changed settings; nothing is saved while any field is refused."""
    texts, values, errors = ajustes.read_form(await request.form)
    if errors:
        return await _page(texts, errors, 422)
    cambios = ajustes.changes(values, await ajustes.actuales())
    async with db.get_db().transaction():
        await ajustes.guardar(cambios, g.user.id)
        for name, old, new in cambios:
            await log_change("ajustes", name, "editar", {"valor": old}, {"valor": new})
    ajustes.invalidate()  # after the commit, so no request of this process caches the old rows again
    aviso = f"Se guardaron {len(cambios)} ajustes." if cambios else "No hubo cambios."
    return redirect(url_for("admin.ajustes_ciclo", aviso=aviso), 303)
