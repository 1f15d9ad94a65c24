"""Administración → Aviso de privacidad (publish a new version; every version kept and logged) and the
Cancelación of one student's biometrics on request (ARCO; recorded as a purge). docs/privacy.md."""
from __future__ import annotations

from quart import abort, g, redirect, request, url_for

from ... import privacy
from ...auth import roles
from ...queries import alumnos as alumnos_q
from ...queries import privacidad as q
from .. import render
from . import bp


async def notice_form(values: dict | None = None, error: str = "", status: int = 200):
    """The notice editor (current texts or what was typed) and every published version."""
    current = await q.aviso()
    return await render("admin/privacidad.html", actual=current, values=values or current, error=error,
                        versiones=await q.avisos(), publicado=request.args.get("publicado", "")), status


@bp.route("/privacidad", methods=["GET", "POST"])
@roles("admin")
async def privacidad():
    """Edit the Aviso de privacidad: "Publicar nueva versión" (versions are immutable, each logged)."""
    if request.method == "GET":
        return await notice_form()
    form = await request.form
    try:
        version = await privacy.publish(form, g.user, request.remote_addr or "")
    except privacy.PrivacyError as e:
        return await notice_form(dict(form), str(e), e.status)
    return redirect(url_for("admin.privacidad", publicado=version), 303)


async def cancel_form(alumno: dict, values: dict, error: str = "", status: int = 200):
    """The cancellation form of one student, with what it deletes and its consequences."""
    return await render("admin/privacidad_cancelacion.html", a=alumno, values=values, error=error,
                        imagenes=[i for i in await q.images_of(alumno["id"]) if i["datos"] is not None]), status


@bp.route("/privacidad/cancelacion/<id:alumno_id>", methods=["GET", "POST"])
@roles("admin")
async def cancelacion(alumno_id: int):
    """Cancelación (ARCO): delete one student's photo and signatures with the reason and the request's folio."""
    alumno = await alumnos_q.by_id(alumno_id)
    if alumno is None:
        abort(404)
    if request.method == "GET":
        return await cancel_form(alumno, {})
    form = await request.form
    try:
        await privacy.cancel(alumno_id, form, g.user, request.remote_addr or "")
    except privacy.PrivacyError as e:
        return await cancel_form(alumno, dict(form), str(e), e.status)
    return redirect(url_for("consulta.alumno", alumno_id=alumno_id), 303)
