"""Validar datos alumno (manual §10): pick the group, review each student, Validado / Aplazado."""
from __future__ import annotations

from quart import Blueprint, abort, g, redirect, request, url_for

from .. import ajustes, validacion as service
from ..auth import require_plantel_access, roles
from ..queries import alumnos, validacion as q
from ..status import LABEL, TransitionError
from ..validation import check_matricula, matricula_not_found, normalize_matricula
from . import is_htmx, render

bp = Blueprint("validacion", __name__, url_prefix="/validacion")


def _list_args() -> dict:
    """grupo, search, page size and page from the query string (bad values fall back)."""
    a = request.args
    n = a.get("n", type=int)
    return {"grupo": (a.get("grupo") or "").strip().upper(), "q": (a.get("q") or "").strip(),
            "n": n if n in q.PAGE_SIZES else 10, "pagina": max(1, a.get("pagina", 1, type=int) or 1)}


async def _scanned(q: str) -> tuple[str | None, str]:
    """(the student's validation page, '') for a whole matrícula typed or scanned in «Buscar», whatever
    group is chosen; (None, why) when it names nobody here; (None, '') when q only filters the list."""
    check = check_matricula(q)
    if not q or check.level == "error":
        return None, ""
    alumno = await alumnos.by_matricula(check.value)
    if alumno is None:
        return None, matricula_not_found(check)
    if alumno["plantel_id"] != g.user.plantel_id:
        return None, "El alumno pertenece a otro plantel; solo puede validar alumnos de su plantel."
    return url_for("validacion.alumno", matricula=alumno["matricula"], grupo=alumno["grupo"]), ""


async def _list_context(aviso: str = "") -> dict:
    """Everything the group picker and the pending list show."""
    args = _list_args()
    grupos = await q.grupos(g.user.plantel_id)
    rows, total = [], 0
    if args["grupo"]:
        rows, total = await q.pendientes(g.user.plantel_id, args["grupo"], args["q"], args["n"],
                                         (args["pagina"] - 1) * args["n"])
    paginas = max(1, -(-total // args["n"]))
    return {**args, "grupos": grupos, "grupo_existe": any(x["clave"] == args["grupo"] for x in grupos), "rows": rows, "total": total, "paginas": paginas,
            "page_sizes": q.PAGE_SIZES, "label": LABEL, "aviso": aviso,
            "guardado": request.args.get("guardado", ""), "ev": request.args.get("ev", "")}


@bp.route("")
@roles("plantel")
async def grupos():
    """Plantel (fixed) and grupo; with a grupo chosen, its pending students (a scanned matrícula opens its student)."""
    target, aviso = await _scanned(_list_args()["q"])
    if target:
        return redirect(target, 303)
    return await render("validacion/grupos.html", **await _list_context(aviso))


@bp.route("/lista")
@roles("plantel")
async def lista():
    """The pending list alone (htmx: search, page size, paging); a scanned matrícula opens its student."""
    target, aviso = await _scanned(_list_args()["q"])
    if target:
        return ("", 200, {"HX-Redirect": target}) if is_htmx() else redirect(target, 303)
    ctx = await _list_context(aviso)
    if is_htmx() and not request.headers.get("HX-Boosted"):
        return await render("validacion/grupos.html", "validacion/_lista.html", **ctx)
    return await render("validacion/grupos.html", **ctx)


async def _student(matricula: str) -> dict:
    """The student of a matrícula in the user's plantel (404 / 403 otherwise)."""
    alumno = await alumnos.by_matricula(normalize_matricula(matricula))
    if alumno is None:
        abort(404)
    require_plantel_access(g.user, alumno["plantel_id"])
    return alumno


async def _form_page(alumno: dict, form: service.Form, code: int = 200, message: str = ""):
    """The validation form of one student (with the user's values and problems)."""
    ctx = {"a": alumno, "form": form, "message": message, "grupo": request.args.get("grupo") or alumno["grupo"],
           "instituciones": await q.instituciones(form.institucion_medica or None),
           "revision": service.revision_items(await q.revision_foto(alumno["foto_id"])),
           "editable": alumno["estatus"] in q.PENDING, "label": LABEL,
           "guardado": request.args.get("guardado", ""), "ev": request.args.get("ev", "")}
    return await render("validacion/alumno.html", **ctx), code


@bp.route("/alumno/<matricula>")
@roles("plantel")
async def alumno(matricula: str):
    """"Validar alumno": data, photo, signature, checks and the evaluation form."""
    a = await _student(matricula)
    sugerida = ajustes.vigencia_sugerida(a["semestre"], await ajustes.actuales())  # Administración → Ajustes
    return await _form_page(a, service.Form.for_student(a, sugerida=sugerida))


@bp.route("/alumno/<matricula>", methods=["POST"])
@roles("plantel")
async def guardar(matricula: str):
    """Guardar: validate or postpone, then open the group's next pending student."""
    a = await _student(matricula)
    form = await service.check(service.Form.from_form(await request.form))
    if form.errors:
        return await _form_page(a, form, 422)
    try:
        await service.guardar(a["id"], form, g.user)
    except TransitionError as e:
        fresh = await alumnos.by_id(a["id"])
        form.expected = fresh["estatus"]  # the page now shows the current record: judge that one
        form.seen = {"foto_id": fresh["foto_id"], "firma_id": fresh["firma_id"]}
        return await _form_page(fresh, form, 409, str(e))
    grupo = (await request.form).get("grupo") or a["grupo"]
    nxt = await q.siguiente(g.user.plantel_id, a["grupo"], a["matricula"])
    done = {"guardado": a["matricula"], "ev": form.evaluacion, "grupo": grupo}
    if nxt:
        return redirect(url_for("validacion.alumno", matricula=nxt, **done))
    return redirect(url_for("validacion.grupos", **done))
