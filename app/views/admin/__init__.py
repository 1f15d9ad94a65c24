"""Administración (role admin, UITI): one blueprint, one module per page — usuarios, catalogos (planteles y
catálogos, empresas), bitacora. docs/admin.md."""
from __future__ import annotations

from quart import Blueprint

from ...catalogos import CATALOGS
from ...auth import roles
from .. import render

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.route("")
@roles("admin")
async def inicio():
    """The sections of Administración."""
    return await render("admin/inicio.html", catalogs=CATALOGS.values())


from . import ajustes, bitacora, catalogos, diseno, empresas, usuarios, privacidad  # noqa: E402,F401 — the pages register their routes on bp
