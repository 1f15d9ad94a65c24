"""Aviso de privacidad (public: simplified and integral versions, any published version) and the ARCO
export of one student's data (admin, estatal). docs/privacy.md."""
from __future__ import annotations

from quart import Blueprint, Response, abort, render_template

from .. import privacy
from ..audit import record_read
from ..auth import public, roles
from ..edge import query_int
from ..exports import download_headers
from ..queries import privacidad as q

bp = Blueprint("privacidad", __name__)


async def _notice_page(kind: str):
    """The notice page of one kind, for ?version=N or the current version."""
    version = query_int("version", 0, 0, 2**31 - 1) or None
    aviso = await q.aviso(version)
    if aviso is None:
        abort(404)
    latest = aviso if version is None else await q.aviso()
    return await render_template("privacidad/aviso.html", aviso=aviso, tipo=kind, vigente=latest["version"],
                                 parrafos=privacy.paragraphs(aviso[kind]))


@bp.route("/privacidad")
@public
async def aviso():
    """The simplified notice (current version unless ?version=N)."""
    return await _notice_page("simplificado")


@bp.route("/privacidad/integral")
@public
async def integral():
    """The integral notice (current version unless ?version=N)."""
    return await _notice_page("integral")


@bp.route("/privacidad/alumno/<id:alumno_id>/datos.zip")
@roles("admin", "estatal")
async def exportar(alumno_id: int):
    """Exportar datos del alumno (ARCO, acceso): a ZIP with datos.json, resumen.pdf and every image held; audited."""
    result = await privacy.export_zip(alumno_id)
    if result is None:
        abort(404)
    name, content = result
    await record_read("exportar_datos_alumno", alumno_id=alumno_id, detalle=f"{len(content)} bytes")
    return Response(content, headers=download_headers(name, "application/zip"))
