"""Conciliación SAE (issue 14): what the latest SAE snapshot changes, per plantel, its lists and Excel, and
"Aplicar" (admin only; docs/sae.md)."""
from __future__ import annotations


from quart import Blueprint, Response, abort, current_app, g, render_template, request

from .. import conciliacion as rules
from ..audit import record_read
from ..auth import roles
from ..edge import EdgeError, query_int
from ..exports import XLSX_MIME, download_headers, rows_xlsx, stream_file
from ..queries import conciliacion as q
from ..queries import report
from ..status import LABEL, TransitionError

bp = Blueprint("conciliacion", __name__, url_prefix="/conciliacion")
VIEW_ROLES = ("estatal", "admin")
RESULTADOS = {"pendiente": "Pendiente", "aplicado": "Aplicado", "no_aplicable": "No aplicable"}
COLUMNAS = ("Matrícula", "Nombre", "Plantel", "Hallazgo", "Base de credencialización", "SAE",
            "Estatus (al conciliar)", "Resultado", "Motivo", "Aplicado el")


async def _run_or_404(corrida_id: int) -> dict:
    """The run, or the Spanish 404."""
    run = await q.run(corrida_id)
    if run is None:
        abort(404)
    return run


async def _plantel_arg(source) -> int | None:
    """?plantel= / form plantel: an existing plantel's id, None when absent; a Spanish 400 otherwise."""
    raw = (source.get("plantel") or "").strip()
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 9 or not await report.planteles(int(raw)):
        raise EdgeError("No existe el plantel elegido.", 400)
    return int(raw)


def _choice(name: str, allowed) -> str | None:
    """?name= among allowed values (None when absent), or a Spanish 400."""
    raw = request.args.get(name, "")
    if raw and raw not in allowed:
        raise EdgeError("Elija una lista válida de la conciliación (nuevos, cambios, bajas, reaparecidos).", 400)
    return raw or None


def summary(counts: list[dict]) -> tuple[list[dict], dict]:
    """Rows per plantel (findings per kind, applied, not applicable) and the totals row."""
    by_plantel: dict = {}
    total = {"n": {t: 0 for t in q.TIPOS}, "aplicados": 0, "no_aplicables": 0, "hallazgos": 0}
    for r in counts:
        row = by_plantel.setdefault(r["plantel_id"], {"plantel_id": r["plantel_id"], "plantel": r["plantel"],
                                                       "n": {t: 0 for t in q.TIPOS}, "aplicados": 0,
                                                       "no_aplicables": 0, "hallazgos": 0})
        for target in (row, total):
            target["n"][r["tipo"]] += r["n"]
            target["aplicados"] += r["aplicados"]
            target["no_aplicables"] += r["no_aplicables"]
            target["hallazgos"] += r["n"]
    return list(by_plantel.values()), total


async def _run_page(run: dict, status: int = 200, **ctx):
    """The run's page: counts per plantel, applications, runs."""
    filas, total = summary(await q.counts(run["id"]))
    html = await render_template(
        "conciliacion/corrida.html", run=run, filas=filas, total=total, tipos=rules.TIPO_LABEL,
        aplicaciones=await q.applications(run["id"]), corridas=await q.runs(),
        puede_aplicar=g.user.rol in rules.APPLY_ROLES and run["ultima"], **ctx)
    return html, status


@bp.route("")
@roles(*VIEW_ROLES)
async def inicio():
    """The latest run (or a notice when SAE was never loaded)."""
    run_id = await q.latest_run_id()
    if run_id is None:
        return await render_template("conciliacion/corrida.html", run=None, corridas=[], tipos=rules.TIPO_LABEL)
    return await _run_page(await _run_or_404(run_id))


@bp.route("/<id:corrida_id>")
@roles(*VIEW_ROLES)
async def corrida(corrida_id: int):
    """One run's counts per plantel."""
    return await _run_page(await _run_or_404(corrida_id))


async def _list_args(corrida_id: int) -> tuple[dict, str | None, int | None, str | None]:
    """The run and the list's filters (kind, plantel, result), each checked."""
    run = await _run_or_404(corrida_id)
    return run, _choice("tipo", q.TIPOS), await _plantel_arg(request.args), _choice("resultado", RESULTADOS)


@bp.route("/<id:corrida_id>/lista")
@roles(*VIEW_ROLES)
async def lista(corrida_id: int):
    """One list of a run (a kind, optionally one plantel or result), 50 per page."""
    run, tipo, plantel_id, resultado = await _list_args(corrida_id)
    pagina = query_int("pagina", 1, 1, 100_000)
    rows, total = await q.items(run["id"], tipo, plantel_id, (pagina - 1) * q.PAGE, q.PAGE, resultado)
    plantel = (await report.planteles(plantel_id))[0]["nombre"] if plantel_id else None
    return await render_template(
        "conciliacion/lista.html", run=run, rows=rows, total=total, pagina=pagina, tipo=tipo, plantel_id=plantel_id,
        plantel=plantel, resultado=resultado, tipos=rules.TIPO_LABEL, resultados=RESULTADOS, label=LABEL,
        has_next=pagina * q.PAGE < total)


def _values(r: dict) -> list:
    """One Excel row."""
    return [r["matricula"], r["nombre"], r["plantel"], rules.TIPO_LABEL[r["tipo"]], r["antes"], r["despues"],
            LABEL.get(r["estatus"] or "", ""), RESULTADOS[r["resultado"]], r["motivo"], r["aplicado_en"]]


@bp.route("/<id:corrida_id>/lista.xlsx")
@roles(*VIEW_ROLES)
async def lista_xlsx(corrida_id: int):
    """The whole list as Excel; audited (it lists students)."""
    run, tipo, plantel_id, _ = await _list_args(corrida_id)
    await record_read("excel_conciliacion_sae", plantel_id=plantel_id, detalle=f"conciliación {run['id']}: {tipo or 'todas'}")
    path = await rows_xlsx(COLUMNAS, q.items_batches(run["id"], tipo, plantel_id), _values, "Conciliación SAE")
    name = f"conciliacion-sae-{run['id']}-{tipo or 'todas'}{f'-plantel{plantel_id}' if plantel_id else ''}.xlsx"
    return Response(stream_file(path), headers=download_headers(name, XLSX_MIME))


@bp.route("/<id:corrida_id>/aplicar", methods=["POST"])
@roles("admin")
async def aplicar(corrida_id: int):
    """"Aplicar": the pending findings of one plantel (form plantel) or all, under the status rules."""
    run = await _run_or_404(corrida_id)
    plantel_id = await _plantel_arg(await request.form)
    try:
        out = await rules.apply(run["id"], g.user, current_app.config["SETTINGS"], plantel_id, request.remote_addr or "")
    except TransitionError as e:
        return await _run_page(run, 409, error=str(e))
    return await _run_page(await _run_or_404(corrida_id), aplicado=out, plantel_aplicado=plantel_id)
