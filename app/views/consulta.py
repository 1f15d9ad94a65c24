"""Consultar alumno (manual §13): school and state staff look up any student, read-only.

The printing company (empresa) is left out: it sees students only through its print orders
(least privilege; docs/security.md and domain.md's roles table).
"""
from __future__ import annotations

from quart import Blueprint, abort, redirect, render_template, request, url_for

from .. import privacy
from ..audit import record_read
from ..auth import roles
from ..formatting import ACCIONES
from ..edge import query_int
from ..queries import alumnos, consulta

bp = Blueprint("consulta", __name__)
CONSULTA_ROLES = ("plantel", "estatal", "admin")

TIPOS = {"foto": "Fotografía", "firma": "Firma", "firma_entrega": "Firma de entregado"}
MAX_PAGE = 10_000


@bp.route("/consulta")
@roles(*CONSULTA_ROLES)
async def buscar():
    """Search by matrícula, CURP or name; one match opens the student."""
    q = "".join(ch for ch in request.args.get("q", "") if ch.isprintable()).strip()[:100]
    if not q:
        return await render_template("consulta/buscar.html", q="", res=None)
    res = await consulta.search(q, query_int("pagina", 1, 1, MAX_PAGE))
    if res.single:
        return redirect(url_for("consulta.alumno", alumno_id=res.single["id"]))
    return await render_template("consulta/buscar.html", q=q, res=res)


@bp.route("/consulta/<id:alumno_id>")
@roles(*CONSULTA_ROLES)
async def alumno(alumno_id: int):
    """Every field, dates, biometrics and history of one student (each view audited: CURP, NSS, e-mail)."""
    rec = await alumnos.by_id(alumno_id)
    if rec is None:
        abort(404)
    await record_read("consulta_alumno", alumno_id=alumno_id, plantel_id=rec["plantel_id"])
    return await render_template(
        "consulta/alumno.html", a=rec, q=request.args.get("q", ""), eventos=await consulta.history(alumno_id),
        anteriores=await consulta.older_biometrics(rec), acciones=ACCIONES, tipos=TIPOS,
        privacidad=await privacy.consulta_context(rec))
