"""Administración → Planteles y catálogos: planteles, carreras and instituciones médicas (app/catalogos.py has
the rules); every change is written to cambios_admin with before → after (docs/admin.md)."""
from __future__ import annotations

from quart import abort, g, redirect, request, url_for

from ... import catalogos
from ...auth import roles
from ...queries import admin as q
from .. import render

from . import bp


async def log_change(entidad: str, clave: str, accion: str, antes: dict | None, despues: dict | None) -> None:
    """Record one administration change by the signed-in admin."""
    await q.record_change(entidad, clave, accion, antes, despues, g.user.id, request.remote_addr or "")


# ---- Planteles y catálogos ---------------------------------------------------------------------

def catalog_of(slug: str) -> catalogos.Catalog:
    """The catalog of a URL, or 404."""
    if slug not in catalogos.CATALOGS:
        abort(404)
    return catalogos.CATALOGS[slug]


async def entry_of(slug: str, clave: str) -> tuple[catalogos.Catalog, dict]:
    """(catalog, entry) of a URL, or 404."""
    c = catalog_of(slug)
    before = await q.catalog_row(c, clave)
    if before is None:
        abort(404)
    return c, before


@bp.route("/catalogos/<slug>")
@roles("admin")
async def catalogo(slug: str):
    """A catalog's entries, with their uses and state."""
    c = catalog_of(slug)
    return await render("admin/catalogo.html", c=c, rows=await q.catalog_rows(c), aviso=request.args.get("aviso", ""))


async def entry_form(c: catalogos.Catalog, key: str | None, values: dict, errors: dict, status: int = 200, **extra):
    """The new/edit form of a catalog entry (errors beside each field); a company also lists its API tokens."""
    if c.slug == "empresas" and key:
        from .empresas import tokens_of
        extra.update(await tokens_of(int(key)))
    html = await render("admin/entrada.html", c=c, key=key, values=values, errors=errors,
                        usos=await q.uses(c, key) if key else 0, **extra)
    return html, status


@bp.route("/catalogos/<slug>/nuevo", methods=["GET", "POST"])
@roles("admin")
async def nueva_entrada(slug: str):
    """Add an entry to a catalog."""
    c = catalog_of(slug)
    if request.method == "GET":
        return await entry_form(c, None, {}, {})
    values, errors = catalogos.read_form(c, await request.form, creating=True)
    errors = errors or await q.conflicts(c, values, None)
    if errors:
        return await entry_form(c, None, values, errors, 422)
    key = await q.insert_entry(c, catalogos.typed(c, values))
    await log_change(c.slug, key, "crear", None, await q.catalog_row(c, key))
    return redirect(url_for("admin.catalogo", slug=slug, aviso=f"Se agregó {values.get('nombre', key)}."), 303)


@bp.route("/catalogos/<slug>/<clave>", methods=["GET", "POST"])
@roles("admin")
async def entrada(slug: str, clave: str):
    """Edit an entry (its key stays)."""
    c, before = await entry_of(slug, clave)
    if request.method == "GET":
        return await entry_form(c, clave, before, {})
    values, errors = catalogos.read_form(c, await request.form, creating=False)
    errors = errors or await q.conflicts(c, values, clave)
    if errors:
        return await entry_form(c, clave, {**before, **values}, errors, 422)
    await q.update_entry(c, clave, catalogos.typed(c, values))
    await log_change(c.slug, clave, "editar", before, await q.catalog_row(c, clave))
    return redirect(url_for("admin.catalogo", slug=slug, aviso=f"Se guardaron los cambios de {values.get('nombre', clave)}."), 303)


@bp.route("/catalogos/<slug>/<clave>/estado", methods=["POST"])
@roles("admin")
async def estado_entrada(slug: str, clave: str):
    """Retire (activo=0) or reactivate (activo=1) an entry; retired entries stay for the records using them."""
    c, before = await entry_of(slug, clave)
    active = (await request.form).get("activo") == "1"
    await q.set_active(c, clave, active)
    await log_change(c.slug, clave, "reactivar" if active else "retirar", before, await q.catalog_row(c, clave))
    verb = "se reactivó" if active else "se retiró (ya no se ofrece para registros nuevos)"
    return redirect(url_for("admin.catalogo", slug=slug, aviso=f"{before.get('nombre', clave)} {verb}."), 303)


@bp.route("/catalogos/<slug>/<clave>/eliminar", methods=["POST"])
@roles("admin")
async def eliminar_entrada(slug: str, clave: str):
    """Delete an entry nobody uses; one in use can only be retired."""
    c, before = await entry_of(slug, clave)
    if (n := await q.uses(c, clave)) > 0:
        return await entry_form(c, clave, before, {"_": f"No se puede eliminar: {n} registros la usan. Retírela en su lugar."}, 409)
    await q.delete_entry(c, clave)
    await log_change(c.slug, clave, "eliminar", before, None)
    return redirect(url_for("admin.catalogo", slug=slug, aviso=f"Se eliminó {before.get('nombre', clave)}."), 303)
