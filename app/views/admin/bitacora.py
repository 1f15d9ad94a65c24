"""Administración → Bitácora: the audit trail of every source (status events, sensitive reads, sign-ins,
administration changes), filtered, keyset-paged, exported as CSV (docs/admin.md)."""
from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta, timezone

from quart import Response, request

from ... import catalogos
from ...audit import record_read
from ...auth import roles
from ...edge import bounded_int
from ...package import csv_cell
from ...queries import admin as q
from .. import render
from . import bp

PAGE = 50


class FilterError(ValueError):
    """A Bitácora filter the user must correct (Spanish message)."""


def _day(raw: str, label: str) -> date | None:
    """A yyyy-mm-dd date filter, or None."""
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise FilterError(f"La fecha «{label}» no es válida (use aaaa-mm-dd).") from None


def _cursor(raw: str) -> tuple[datetime, str, int] | None:
    """The keyset cursor 'en|fuente|id' of the next page."""
    if not raw:
        return None
    try:
        en, fuente, ident = raw.split("|")
        when = datetime.fromisoformat(en)
        if fuente not in q.SOURCES or not ident.isdigit() or len(ident) > 18 or when.tzinfo is None:
            raise ValueError
        return when, fuente, int(ident)
    except ValueError:
        raise FilterError("El enlace de la página siguiente no es válido; vuelva a buscar.") from None


async def read_filters(args) -> dict:
    """The Bitácora filters of the query string, checked (FilterError with the reason)."""
    f = {k: catalogos.clean(args.get(k, ""))[:80] for k in ("usuario", "plantel", "accion", "matricula", "orden", "fuente",
                                                            "desde", "hasta")}
    out = {"accion": f["accion"].lower(), "fuente": f["fuente"] if f["fuente"] in q.SOURCES else ""}
    desde, hasta = _day(f["desde"], "desde"), _day(f["hasta"], "hasta")
    out["desde"] = datetime.combine(desde, datetime.min.time(), timezone.utc) if desde else None
    out["hasta"] = datetime.combine(hasta + timedelta(days=1), datetime.min.time(), timezone.utc) if hasta else None
    if f["usuario"]:
        out["usuario_id"] = await q.user_id_of(f["usuario"])
        if out["usuario_id"] is None:
            raise FilterError(f"No hay un usuario con el correo {f['usuario']}.")
    if f["matricula"]:
        out["alumno_id"] = await q.alumno_id_of(f["matricula"].replace("'", "-"))
        if out["alumno_id"] is None:
            raise FilterError(f"No hay un alumno con la matrícula {f['matricula']}.")
    for name, key in (("plantel", "plantel_id"), ("orden", "orden_id")):
        if f[name]:
            try:
                out[key] = bounded_int(f[name], 1)
            except ValueError:
                raise FilterError(f"El filtro «{name}» debe ser un número.") from None
    out["cursor"] = _cursor(catalogos.clean(args.get("despues", "")))
    return out


@bp.route("/bitacora")
@roles("admin")
async def bitacora():
    """The audit trail, filtered, newest first, 50 per page (keyset: "Más antiguos")."""
    error, rows, nxt = "", [], ""
    try:
        f = await read_filters(request.args)
        rows = await q.bitacora(f, PAGE + 1)
    except FilterError as e:
        error = str(e)
    if len(rows) > PAGE:
        last = rows[PAGE - 1]
        nxt = f"{last['en'].isoformat()}|{last['fuente']}|{last['id']}"
        rows = rows[:PAGE]
    args = {k: v for k, v in request.args.items() if k != "despues"}
    return await render("admin/bitacora.html", rows=rows, error=error, siguiente=nxt, args=args,
                        fuentes=q.FUENTES, acciones=q.ACCIONES, planteles=await q.planteles()), 400 if error else 200


@bp.route("/bitacora.csv")
@roles("admin")
async def bitacora_csv():
    """The filtered audit trail as CSV (up to 100,000 rows), streamed page by page; the export is audited."""
    try:
        f = await read_filters(request.args)
    except FilterError as e:
        return Response(str(e), status=400, mimetype="text/plain")
    await record_read("bitacora_csv", detalle=request.query_string.decode()[:500])

    async def rows():
        """CSV lines, fetched 2,000 at a time along the keyset."""
        yield "\ufeff" + _csv_line(["fecha", "fuente", "usuario", "accion", "matricula", "plantel", "orden", "detalle", "ip"])
        cursor, sent = f.get("cursor"), 0
        while sent < 100_000:
            page = await q.bitacora({**f, "cursor": cursor}, 2000)
            for r in page:
                yield _csv_line([r["en"].isoformat(), q.FUENTES[r["fuente"]], r["email"] or "", r["accion"],
                                 r["matricula"] or "", r["plantel"] or "", r["orden_id"] or "", r["detalle"] or "", r["ip"] or ""])
            sent += len(page)
            if len(page) < 2000:
                return
            cursor = (page[-1]["en"], page[-1]["fuente"], page[-1]["id"])
    return Response(rows(), mimetype="text/csv", headers={
        "Content-Disposition": "attachment; filename=bitacora.csv", "Cache-Control": "no-store"})


def _csv_line(values: list) -> str:
    """One CSV line; free text never starts a spreadsheet formula."""
    out = io.StringIO()
    csv.writer(out).writerow([csv_cell(v) for v in values])
    return out.getvalue()
