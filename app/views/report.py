"""Inicio: "Reporte de estatus por Plantel", its Excel per plantel and its PDF (manual §6)."""
from __future__ import annotations

import asyncio
from datetime import datetime, timezone

from quart import Blueprint, Response, abort, g, redirect, render_template, request, url_for

from ..audit import record_read
from ..auth import plantel_scope, require_plantel_access, roles
from ..exports import XLSX_MIME, download_headers, report_pdf, stream_file, students_xlsx
from ..queries import alumnos, report
from ..status import ESTATUS, LABEL

bp = Blueprint("report", __name__)
REPORT_ROLES = ("plantel", "estatal", "admin")


@bp.route("/")
@roles("*")
async def inicio():
    """The home page: status counts per plantel (own plantel for plantel users), «Buscar» filters by name;
    the box's htmx requests (HX-Target reporte-tabla) get the table alone."""
    if g.user.rol == "empresa":
        return redirect(url_for("ordenes.lista"))
    buscar = _buscar()
    rows = report.matching(await report.status_counts(plantel_scope(g.user)), buscar)
    template = "report/_tabla.html" if request.headers.get("HX-Target") == "reporte-tabla" else "report/inicio.html"
    return await render_template(template, rows=rows, total=report.totals(rows), estatus=ESTATUS, label=LABEL,
                                 buscar=buscar)


def _buscar() -> str:
    """The «Buscar» box's text (printable, at most 60 characters)."""
    return "".join(ch for ch in request.args.get("buscar", "") if ch.isprintable()).strip()[:60]


@bp.route("/reporte/plantel/<id:plantel_id>.xlsx")
@roles(*REPORT_ROLES)
async def plantel_xlsx(plantel_id: int):
    """Every student of one plantel as an Excel file, streamed."""
    require_plantel_access(g.user, plantel_id)
    plantel = (await report.planteles(plantel_id) or [None])[0]
    if plantel is None:
        abort(404)
    await record_read("excel_plantel", plantel_id=plantel_id)
    path = await students_xlsx(alumnos.export_batches(plantel_id))
    name = f"alumnos-{plantel['cct']}-{datetime.now():%Y%m%d}.xlsx"
    return Response(stream_file(path), headers=download_headers(name, XLSX_MIME))


@bp.route("/reporte.pdf")
@roles(*REPORT_ROLES)
async def report_pdf_view():
    """"Descargar a PDF": the report as the user sees it (the «Buscar» filter included)."""
    rows = report.matching(await report.status_counts(plantel_scope(g.user)), _buscar())
    pdf = await asyncio.to_thread(report_pdf, rows, report.totals(rows), "Reporte de estatus por Plantel",
                                  datetime.now(timezone.utc))
    return Response(pdf, headers=download_headers(f"reporte-estatus-{datetime.now():%Y%m%d}.pdf",
                                                  "application/pdf"))
