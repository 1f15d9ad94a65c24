"""Tablero (issue 15): where time is lost — stage times, alumnos detenidos, daily activity, groups and
the reconciliation of print orders (docs/tablero.md)."""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import AsyncIterator
from zoneinfo import ZoneInfo

from quart import Blueprint, Response, current_app, g, render_template, request, url_for

from ..audit import record_read
from ..auth import AccessDenied, roles
from ..edge import EdgeError, query_int
from ..exports import XLSX_MIME, download_headers, rows_xlsx, stream_file
from ..orders import ESTADO_LABEL
from ..queries import report
from ..queries import tablero as q
from ..status import LABEL

bp = Blueprint("tablero", __name__, url_prefix="/tablero")
TABLERO_ROLES = ("plantel", "estatal", "admin")
MAX_DIAS = 731          # the longest period the form accepts (two years)
DIAS_ACTIVIDAD = 60     # days drawn by the activity charts
FECHA_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MESES = ("ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sep", "oct", "nov", "dic")


class PeriodoError(Exception):
    """A refused date range; str() is the Spanish message."""


def _settings():
    """The app's Settings."""
    return current_app.config["SETTINGS"]


def _tz() -> ZoneInfo:
    """Mexico City."""
    return ZoneInfo(_settings().timezone)


def inicio_ciclo(hoy: date, mes: int) -> date:
    """The first day of the school cycle containing hoy (cycles start on day 1 of month `mes`)."""
    return date(hoy.year if hoy.month >= mes else hoy.year - 1, mes, 1)


def _fecha(raw: str, campo: str) -> date:
    """An ISO date typed in field campo, or PeriodoError."""
    raw = raw.strip()
    try:
        if not FECHA_RE.match(raw):
            raise ValueError
        return date.fromisoformat(raw)
    except ValueError:
        raise PeriodoError(f"La fecha «{campo}» no es válida: escríbala como AAAA-MM-DD (por ejemplo 2026-08-01).") from None


def periodo(args, hoy: date, mes: int) -> tuple[date, date]:
    """(desde, hasta) from the query string (default: the current cycle up to today); PeriodoError when refused."""
    desde = _fecha(args["desde"], "Desde") if args.get("desde", "").strip() else inicio_ciclo(hoy, mes)
    hasta = _fecha(args["hasta"], "Hasta") if args.get("hasta", "").strip() else hoy
    if desde.year < 2000 or hasta.year > hoy.year + 1:
        raise PeriodoError("Las fechas deben estar entre el año 2000 y el próximo año.")
    if desde > hasta:
        raise PeriodoError("La fecha «Desde» debe ser anterior o igual a la fecha «Hasta».")
    if (hasta - desde).days + 1 > MAX_DIAS:
        raise PeriodoError(f"El periodo puede abarcar a lo más {MAX_DIAS} días (dos años); acórtelo.")
    return desde, hasta


def cortes(settings, ahora: datetime) -> dict[str, datetime]:
    """Per detenido status: students whose status dates from this moment or earlier count."""
    return {est: ahora - timedelta(days=getattr(settings, campo)) for est, (_, campo) in q.DETENIDOS.items()}


def umbrales(settings) -> dict[str, int]:
    """Per detenido status: its threshold in days."""
    return {est: getattr(settings, campo) for est, (_, campo) in q.DETENIDOS.items()}


async def _plantel() -> int | None:
    """The plantel in view: a plantel user's own; for estatal/admin ?plantel= (or None: all planteles)."""
    pedido = query_int("plantel")
    if g.user.rol == "plantel":
        if pedido is not None and pedido != g.user.plantel_id:
            raise AccessDenied("Solo puede consultar el tablero de su plantel.")
        return g.user.plantel_id
    if "plantel" in request.args and not (pedido and await report.planteles(pedido)):
        raise EdgeError("No existe el plantel elegido.", 400)
    return pedido


def _estatus_detenido() -> str:
    """The ?estatus= of a detenidos request, or a Spanish 400."""
    est = request.args.get("estatus", "")
    if est not in q.DETENIDOS:
        raise EdgeError("Elija un grupo de alumnos detenidos: Capturado, Aplazado, Retoma o Recibido.", 400)
    return est


# ---- charts ------------------------------------------------------------------------------------

def _tope(maximo: int) -> int:
    """A round top for a chart's axis (≥ maximo, ≥ 1)."""
    if maximo <= 5:
        return max(1, maximo)
    step = 10 ** (len(str(maximo)) - 1)
    return -(-maximo // step) * step if maximo > step else maximo


def dia_corto(d: date) -> str:
    """'3 nov'."""
    return f"{d.day} {MESES[d.month - 1]}"


def grafica(clave: str, titulo: str, serie: dict[date, int], dias: list[date]) -> dict:
    """The geometry of one bar chart (viewBox 640×220, bars in a 580×170 plot) and its data."""
    valores = [serie.get(d, 0) for d in dias]
    tope = _tope(max(valores, default=0))
    ancho, alto, x0, y0 = 580, 170, 50, 15
    paso = ancho / max(1, len(dias))
    barras = [{"x": round(x0 + i * paso + paso * 0.15, 2), "w": round(paso * 0.7, 2),
               "h": round(alto * v / tope, 2), "y": round(y0 + alto - alto * v / tope, 2), "v": v, "dia": d}
              for i, (d, v) in enumerate(zip(dias, valores))]
    marcas = [{"x": round(x0 + i * paso + paso / 2, 2), "texto": dia_corto(d),
               "ancla": "end" if i == len(dias) - 1 else "middle"}
              for i, d in enumerate(dias) if i % 10 == 0 or i == len(dias) - 1]
    lineas = [{"y": round(y0 + alto - alto * f, 2), "texto": f"{round(tope * f):,}"} for f in (0, 0.5, 1)]
    pico = max(range(len(valores)), key=valores.__getitem__) if valores else None
    return {"clave": clave, "titulo": titulo, "barras": barras, "marcas": marcas, "lineas": lineas,
            "total": sum(valores), "pico": barras[pico] if pico is not None and valores[pico] else None,
            "x0": x0, "x1": x0 + ancho, "y_base": y0 + alto}


def graficas(actividad: dict[str, dict[date, int]], hoy: date) -> list[dict]:
    """The four activity charts for the last DIAS_ACTIVIDAD days."""
    dias = [hoy - timedelta(days=DIAS_ACTIVIDAD - 1 - i) for i in range(DIAS_ACTIVIDAD)]
    return [grafica(k, titulo, actividad.get(k, {}), dias) for k, (titulo, _) in q.ACTIVIDAD.items()]


# ---- pages -------------------------------------------------------------------------------------

def dias(horas: int | None) -> str:
    """Whole hours shown as days with one decimal ('2.5'), '—' without data."""
    return "—" if horas is None else f"{horas / 24:.1f}"


async def _datos(plantel_id: int | None, desde: date, hasta: date, hoy: date) -> dict:
    """Everything the Tablero shows for a scope and period."""
    s = _settings()
    await q.compactar_si_hace_falta(hoy)
    estatal = g.user.rol in ("estatal", "admin") and plantel_id is None
    detenidos = await q.detenidos(cortes(s, datetime.now(_tz())), plantel_id)
    return {
        "planteles": await report.planteles(plantel_id),
        "etapas": await q.etapas(desde, hasta, plantel_id),
        "detenidos": detenidos,
        "detenidos_total": {est: sum(d.get(est, 0) for d in detenidos.values()) for est in q.DETENIDOS},
        "graficas": graficas(await q.actividad(hoy - timedelta(days=DIAS_ACTIVIDAD - 1), plantel_id), hoy),
        "grupos": await q.grupos(plantel_id) if plantel_id is not None else [],
        "conciliacion": await q.conciliacion(_tz()) if estatal else None,
    }


@bp.route("")
@roles(*TABLERO_ROLES)
async def tablero():
    """The Tablero: all planteles (estatal, admin) or one (a plantel user's own, or ?plantel=)."""
    plantel_id = await _plantel()
    hoy = datetime.now(_tz()).date()
    ctx = {"plantel_id": plantel_id, "etiquetas": q.ETAPAS, "detenidos_def": q.DETENIDOS, "umbrales":
           umbrales(_settings()), "dias": dias, "label": LABEL, "error": "", "hoy": hoy,
           "desde_txt": request.args.get("desde", "")[:40], "hasta_txt": request.args.get("hasta", "")[:40],
           "url_tablero": url_for("tablero.tablero"), "url_detenidos": url_for("tablero.detenidos"), "en_tablero": True}
    try:
        desde, hasta = periodo(request.args, hoy, _settings().tablero_inicio_ciclo_mes)
    except PeriodoError as e:
        ctx["error"] = str(e)
        return await render_template("tablero/inicio.html", **ctx, datos=None), 400
    ctx.update(desde=desde, hasta=hasta, desde_txt=desde.isoformat(), hasta_txt=hasta.isoformat(),
               ciclo=desde == inicio_ciclo(hoy, _settings().tablero_inicio_ciclo_mes) and hasta == hoy)
    return await render_template("tablero/inicio.html", **ctx, datos=await _datos(plantel_id, desde, hasta, hoy))


@bp.route("/detenidos")
@roles(*TABLERO_ROLES)
async def detenidos():
    """Drill-down: the detenidos of one status in one plantel, per group, and the list (longest waiting first)."""
    est, plantel_id = _estatus_detenido(), await _plantel()
    if plantel_id is None:
        raise EdgeError("Elija un plantel para ver sus alumnos detenidos.", 400)
    grupo = request.args.get("grupo", "").strip()[:20] or None
    corte = cortes(_settings(), datetime.now(_tz()))[est]
    nombre = (await report.planteles(plantel_id))[0]["nombre"]
    return await render_template(
        "tablero/detenidos.html", est=est, que=q.DETENIDOS[est][0], umbral=umbrales(_settings())[est],
        plantel_id=plantel_id, plantel=nombre, grupo=grupo, grupos=await q.detenidos_por_grupo(plantel_id, est, corte),
        rows=await q.detenidos_lista(est, corte, plantel_id, grupo), ahora=datetime.now(_tz()), limite=200, label=LABEL)


DETENIDOS_COLUMNAS = ("Matrícula", "Nombre", "Primer apellido", "Segundo apellido", "Plantel", "CCT", "Grupo",
                      "Estatus", "En el estatus desde", "Días en el estatus", "Comentario", "Orden de impresión")


@bp.route("/detenidos.xlsx")
@roles(*TABLERO_ROLES)
async def detenidos_xlsx():
    """Every detenido of one status as Excel (one plantel, or all for estatal/admin); audited."""
    est, plantel_id = _estatus_detenido(), await _plantel()
    ahora = datetime.now(_tz())
    await record_read("excel_detenidos", plantel_id=plantel_id, detalle=est)

    def values(r: dict) -> list:
        """One student's row."""
        return [r["matricula"], r["nombre"], r["primer_apellido"], r["segundo_apellido"], r["plantel"], r["cct"],
                r["grupo"], LABEL[r["estatus"]], r["fecha_estatus"], (ahora - r["fecha_estatus"]).days,
                r["comentario"], r["orden_id"]]
    path = await rows_xlsx(DETENIDOS_COLUMNAS,
                           q.detenidos_lotes(est, cortes(_settings(), ahora)[est], plantel_id), values, "Detenidos")
    return Response(stream_file(path), headers=download_headers(f"detenidos-{est}-{ahora:%Y%m%d}.xlsx", XLSX_MIME))


CONCILIACION_COLUMNAS = ("Orden / periodo", "Empresa", "Estado", "Enviadas", "Recibidas",
                         "Rechazadas en recepción (faltante/defecto)", "Rechazadas por planteles", "Reimpresas",
                         "Entregadas", "Tasa de defectos (%)", "Días Solicitado → Recibido (mediana)",
                         "Días Solicitado → Recibido (p90)")


def _fila_conciliacion(nombre, r: dict, estado: str = "") -> list:
    """One reconciliation row for the Excel file."""
    t = r["tiempo"]
    return [nombre, r["empresa"], estado, *(r[c] for c in q.CONCEPTOS), r["tasa_defectos"],
            None if t["mediana"] is None else round(t["mediana"] / 24, 1),
            None if t["p90"] is None else round(t["p90"] / 24, 1)]


async def _conciliacion_lotes() -> AsyncIterator[list]:
    """The reconciliation as sections of rows: per order, per company, per company and month."""
    c = await q.conciliacion(_tz())
    yield [_fila_conciliacion(f"Orden {o['id']}", o, ESTADO_LABEL.get(o["estado"], o["estado"])) for o in c["ordenes"]]
    yield [[], ["Por empresa"]] + [_fila_conciliacion("Todas las órdenes", e) for e in c["empresas"]]
    yield [[], ["Por empresa y mes"]] + [_fila_conciliacion(m["mes"], m) for m in c["meses"]]


@bp.route("/conciliacion.xlsx")
@roles("estatal", "admin")
async def conciliacion_xlsx():
    """Conciliación de órdenes as Excel: per order, per company and per company and month."""
    path = await rows_xlsx(CONCILIACION_COLUMNAS, _conciliacion_lotes(), lambda r: r, "Conciliación")
    return Response(stream_file(path), headers=download_headers(
        f"conciliacion-ordenes-{datetime.now(_tz()):%Y%m%d}.xlsx", XLSX_MIME))
