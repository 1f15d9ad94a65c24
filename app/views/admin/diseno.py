"""Administración → Diseño de la credencial: the versions, the form that saves the next one, and the
Vista previa (front and back of a demo student at true CR80 size, a PDF opened in a new tab). The rules are
app/disenos.py's; every new version is logged with the one it replaces (docs/admin.md)."""
from __future__ import annotations

from quart import abort, g, redirect, request, url_for

from ... import cards, db, disenos, offload
from ...auth import roles
from ...queries import disenos as q
from .. import render

from . import bp
from .catalogos import log_change


async def _page(borrador: disenos.Borrador, status: int = 200):
    """The versions and the form (the values shown: the current version's, or what was just posted)."""
    current = await q.latest()
    html = await render("admin/diseno.html", b=borrador, textos=disenos.TEXTOS, colores=disenos.COLORES,
                        actual=current["id"] if current else None, versiones=await q.versions(),
                        aviso=request.args.get("aviso", ""))
    return html, status


async def _posted() -> disenos.Borrador:
    """The posted form read on top of the current version (images not sent are kept)."""
    return await disenos.read_form(await request.form, await request.files, disenos.values_of(await q.latest()))


def _pdf(data: bytes, name: str):
    """A PDF shown in the browser (opened by the page in a new tab)."""
    return data, 200, {"Content-Type": "application/pdf", "Content-Disposition": f'inline; filename="{name}"'}


@bp.route("/diseno")
@roles("admin")
async def diseno():
    """The current design in the form, and every version with its uses."""
    return await _page(disenos.Borrador(disenos.values_of(await q.latest())))


@bp.route("/diseno", methods=["POST"])
@roles("admin")
async def guardar_diseno():
    """Guardar como nueva versión: the next order and temporary credential use it."""
    b = await _posted()
    if b.errors:
        return await _page(b, 422)
    async with db.get_db().transaction():
        before = await q.latest()
        version = await q.insert(b.values, b.nota, g.user.id)
        await log_change("disenos", str(version), "crear",
                         disenos.summary(disenos.values_of(before)) if before else None, disenos.summary(b.values, b.nota))
    aviso = f"Se guardó la versión {version}; se usará desde la próxima orden de impresión."
    return redirect(url_for("admin.diseno", aviso=aviso), 303)


@bp.route("/diseno/vista-previa", methods=["POST"])
@roles("admin")
async def vista_previa_borrador():
    """Vista previa of the form's values before saving them."""
    b = await _posted()
    if b.errors:
        return await _page(b, 422)
    pdf = await offload.cpu(disenos.preview_pdf, b.design(0), "Vista previa del diseño (sin guardar)")
    return _pdf(pdf, "vista-previa.pdf")


async def _version(version: int) -> dict:
    """A stored version, or 404."""
    row = await q.by_id(version)
    if row is None:
        abort(404)
    return row


@bp.route("/diseno/<id:version>/vista-previa.pdf")
@roles("admin")
async def vista_previa(version: int):
    """Vista previa of a saved version."""
    design = disenos.design_of(await _version(version))
    pdf = await offload.cpu(disenos.preview_pdf, design, f"Vista previa del diseño {version}")
    return _pdf(pdf, f"diseno-{version}.pdf")


@bp.route("/diseno/<id:version>/logo.png")
@roles("admin")
async def diseno_logo(version: int):
    """A version's logo (our placeholder when it has none)."""
    row = await _version(version)
    return bytes(row["logo_png"] or cards.placeholder_logo()), 200, {"Content-Type": "image/png"}


@bp.route("/diseno/<id:version>/firma.png")
@roles("admin")
async def diseno_firma(version: int):
    """A version's director signature (404 when it has none)."""
    row = await _version(version)
    if not row["firma_director_png"]:
        abort(404)
    return bytes(row["firma_director_png"]), 200, {"Content-Type": "image/png"}
