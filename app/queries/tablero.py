"""Tablero: time in each stage, alumnos detenidos, daily activity, group progress and order reconciliation.

Stage times, activity and order counts come from the tables kept by 0013_tablero.sql's trigger on
eventos (append-only deltas, summed here); the detenidos and groups come from alumnos through indexes.
As in app/queries/report.py there is one statement per scope (never `:p IS NULL OR plantel_id = :p`).
"""
from __future__ import annotations

import math
from collections import defaultdict
from datetime import date, datetime, timedelta, timezone
from typing import AsyncIterator

from .. import db

ETAPAS: tuple[tuple[int, str], ...] = (
    (1, "Enrolado → Capturado"), (2, "Capturado → Validado"), (3, "Validado → Solicitado"),
    (4, "Solicitado → Recibido"), (5, "Recibido → Entregado"), (6, "Enrolado → Entregado"),
)
# estatus → (what the group means, the Settings field holding its threshold in days)
DETENIDOS: dict[str, tuple[str, str]] = {
    "capturado": ("En Capturado sin validar", "detenido_capturado_dias"),
    "aplazado": ("En Aplazado sin nueva captura", "detenido_aplazado_dias"),
    "retoma": ("En Retoma", "detenido_retoma_dias"),
    "recibido": ("En Recibido sin entregar", "detenido_recibido_dias"),
}
# chart series → (title, the actions it counts)
ACTIVIDAD: dict[str, tuple[str, tuple[str, ...]]] = {
    "capturas": ("Capturas de biométricos", ("capturar", "retomar")),
    "validaciones": ("Validaciones", ("validar",)),
    "recibidas": ("Credenciales recibidas", ("recibir",)),
    "entregas": ("Entregas", ("entregar",)),
}
CONCEPTOS = ("enviadas", "recibidas", "rechazadas_recepcion", "rechazadas_plantel", "reimpresas", "entregadas")
COMPACT_AFTER = 5_000  # duplicate delta rows before a Tablero load folds the tables


def _scoped(sql: str, plantel_id: int | None, column: str = "plantel_id") -> tuple[str, dict]:
    """sql with {where} = nothing (all planteles) or `AND <column> = :p` (one plantel)."""
    if plantel_id is None:
        return sql.format(where=""), {}
    return sql.format(where=f"AND {column} = CAST(:p AS int)"), {"p": plantel_id}


def percentil(hist: list[tuple[int, int]], p: float) -> int | None:
    """percentile_disc(p) of a histogram [(value, count)] sorted by value (PostgreSQL's rule: the first
    value whose cumulative count reaches ceil(p·N))."""
    total = sum(n for _, n in hist)
    if not total:
        return None
    rank, seen = max(1, math.ceil(p * total)), 0
    for value, n in hist:
        seen += n
        if seen >= rank:
            return value
    return hist[-1][0]


def resumen(hist: list[tuple[int, int]]) -> dict:
    """n, median and 90th percentile (whole hours) of a histogram in any order."""
    hist = sorted(hist)
    return {"n": sum(n for _, n in hist), "mediana": percentil(hist, 0.5), "p90": percentil(hist, 0.9)}


# Duplicate keys among the deltas: live events land on today's rows (a batch load arrives grouped), so
# counting recent days is enough for the daily tables; the per-order tables are small.
DUPLICADOS_SQL = """
SELECT (SELECT count(*) - count(DISTINCT (plantel_id, etapa, dia, horas)) FROM tablero_etapas
        WHERE dia >= CAST(:d AS date))
     + (SELECT count(*) - count(DISTINCT (plantel_id, dia, accion)) FROM tablero_actividad WHERE dia >= CAST(:d AS date))
     + (SELECT count(*) - count(DISTINCT (orden_id, concepto)) FROM tablero_ordenes)
     + (SELECT count(*) - count(DISTINCT (orden_id, horas)) FROM tablero_tiempos_orden)"""


async def compactar_si_hace_falta(hoy: date) -> bool:
    """Fold the delta tables when more than COMPACT_AFTER duplicate rows accumulated; True when it did."""
    if await db.fetch_val(DUPLICADOS_SQL, {"d": hoy - timedelta(days=2)}) > COMPACT_AFTER:
        await db.execute("SELECT compactar_tablero()")
        return True
    return False


# Percentiles in SQL (only 6 rows per plantel leave the database): per (plantel, stage) — and per stage
# for the state (plantel_id NULL) — the first whole-hour value whose running count reaches
# ceil(p·N), computed in float8 exactly as PostgreSQL's percentile_disc does.
ETAPAS_SQL = """
WITH h AS (
  SELECT plantel_id, etapa, horas, sum(n) AS n FROM tablero_etapas
  WHERE dia BETWEEN CAST(:desde AS date) AND CAST(:hasta AS date) {where}
  GROUP BY GROUPING SETS ((plantel_id, etapa, horas), (etapa, horas)) HAVING sum(n) <> 0
), c AS (
  SELECT plantel_id, etapa, horas,
         sum(n) OVER (PARTITION BY plantel_id, etapa ORDER BY horas) AS acumulado,
         sum(n) OVER (PARTITION BY plantel_id, etapa) AS total
  FROM h
)
SELECT plantel_id, etapa, max(total)::int AS n,
       min(horas) FILTER (WHERE acumulado >= greatest(1, ceil(CAST(0.5 AS float8) * total))) AS mediana,
       min(horas) FILTER (WHERE acumulado >= greatest(1, ceil(CAST(0.9 AS float8) * total))) AS p90
FROM c GROUP BY plantel_id, etapa"""


async def etapas(desde: date, hasta: date, plantel_id: int | None = None) -> dict:
    """Stage times for stages ending in [desde, hasta]: {'planteles': {id: {etapa: resumen}}, 'estatal': {etapa: resumen}}."""
    sql, params = _scoped(ETAPAS_SQL, plantel_id)
    rows = await db.fetch_all(sql, {**params, "desde": desde, "hasta": hasta})
    out: dict = {"planteles": defaultdict(dict), "estatal": {}}
    for r in rows:
        fig = {"n": r["n"], "mediana": r["mediana"], "p90": r["p90"]}
        if r["plantel_id"] is None:
            out["estatal"][r["etapa"]] = fig
        else:
            out["planteles"][r["plantel_id"]][r["etapa"]] = fig
    return out


DETENIDOS_SQL = """
SELECT plantel_id, estatus::text AS estatus, count(*)::int AS n FROM alumnos
WHERE estatus = CAST(:e AS estatus) AND fecha_estatus <= :corte {where}
GROUP BY plantel_id, estatus"""


async def detenidos(cortes: dict[str, datetime], plantel_id: int | None = None) -> dict[int, dict[str, int]]:
    """Students waiting since at or before each status's cutoff: {plantel_id: {estatus: n}}."""
    sql, params = _scoped(DETENIDOS_SQL, plantel_id)
    out: dict[int, dict[str, int]] = defaultdict(dict)
    for est, corte in cortes.items():
        for r in await db.fetch_all(sql, {**params, "e": est, "corte": corte}):
            out[r["plantel_id"]][r["estatus"]] = r["n"]
    return out


async def detenidos_por_grupo(plantel_id: int, estatus: str, corte: datetime) -> list[dict]:
    """Per group of one plantel: how many students wait in estatus since the cutoff, and since when."""
    return await db.fetch_all(
        """SELECT grupo, count(*)::int AS n, min(fecha_estatus) AS desde FROM alumnos
           WHERE plantel_id = :p AND estatus = CAST(:e AS estatus) AND fecha_estatus <= :corte
           GROUP BY grupo ORDER BY grupo""", {"p": plantel_id, "e": estatus, "corte": corte})


LISTA_SQL = """
SELECT a.id, a.matricula, a.nombre, a.primer_apellido, a.segundo_apellido, p.nombre AS plantel, p.cct,
       a.grupo, a.estatus::text AS estatus, a.fecha_estatus, a.comentario, a.orden_id
FROM alumnos a JOIN planteles p ON p.id = a.plantel_id
WHERE a.estatus = CAST(:e AS estatus) AND a.fecha_estatus <= :corte {where} {grupo}
  AND (a.fecha_estatus, a.id) > (:tras_f, CAST(:tras_id AS bigint))
ORDER BY a.fecha_estatus, a.id LIMIT :l"""
EPOCH = datetime(1900, 1, 1, tzinfo=timezone.utc)


async def detenidos_lista(estatus: str, corte: datetime, plantel_id: int | None = None, grupo: str | None = None,
                          limit: int = 200, tras: tuple[datetime, int] = (EPOCH, 0)) -> list[dict]:
    """The detenidos of one status (longest waiting first) for all planteles, a plantel or a group,
    after the (fecha_estatus, id) key `tras` (keyset paging)."""
    sql, params = _scoped(LISTA_SQL.replace("{grupo}", "AND a.grupo = :g" if grupo else ""), plantel_id, "a.plantel_id")
    params.update({"g": grupo} if grupo else {})
    return await db.fetch_all(sql, {**params, "e": estatus, "corte": corte, "l": limit,
                                    "tras_f": tras[0], "tras_id": tras[1]})


async def detenidos_lotes(estatus: str, corte: datetime, plantel_id: int | None,
                          batch: int = 2000) -> AsyncIterator[list[dict]]:
    """Every detenido of one status in batches (the Excel download)."""
    tras = (EPOCH, 0)
    while rows := await detenidos_lista(estatus, corte, plantel_id, limit=batch, tras=tras):
        yield rows
        tras = (rows[-1]["fecha_estatus"], rows[-1]["id"])


ACTIVIDAD_SQL = """
SELECT dia, accion, sum(n)::int AS n FROM tablero_actividad
WHERE dia >= CAST(:desde AS date) {where} GROUP BY dia, accion"""


async def actividad(desde: date, plantel_id: int | None = None) -> dict[str, dict[date, int]]:
    """Events per series and local day since desde: {'capturas': {day: n}, …}."""
    sql, params = _scoped(ACTIVIDAD_SQL, plantel_id)
    rows = await db.fetch_all(sql, {**params, "desde": desde})
    serie_of = {a: s for s, (_, acciones) in ACTIVIDAD.items() for a in acciones}
    out: dict[str, dict[date, int]] = {s: defaultdict(int) for s in ACTIVIDAD}
    for r in rows:
        if r["accion"] in serie_of:
            out[serie_of[r["accion"]]][r["dia"]] += r["n"]
    return out


async def grupos(plantel_id: int) -> list[dict]:
    """Per group of a plantel: alumnos, capturados (past Enrolado), validados (past validation), entregados."""
    return await db.fetch_all(
        """SELECT grupo, count(*)::int AS alumnos,
                  count(*) FILTER (WHERE estatus <> 'enrolado')::int AS capturados,
                  count(*) FILTER (WHERE estatus NOT IN ('enrolado', 'capturado', 'aplazado'))::int AS validados,
                  count(*) FILTER (WHERE estatus = 'entregado')::int AS entregados
           FROM alumnos WHERE plantel_id = :p GROUP BY grupo ORDER BY grupo""", {"p": plantel_id})


# ---- conciliación de órdenes ---------------------------------------------------------------

ORDENES_SQL = """
SELECT o.id, o.estado::text AS estado, o.creada_en, o.recibida_en, o.empresa_id,
       coalesce(e.nombre, 'Sin empresa') AS empresa, {sums}
FROM ordenes_impresion o LEFT JOIN empresas e ON e.id = o.empresa_id
LEFT JOIN tablero_ordenes c ON c.orden_id = o.id {where}
GROUP BY o.id, e.nombre ORDER BY o.id DESC""".format(
    sums=", ".join(f"coalesce(sum(c.n) FILTER (WHERE c.concepto = '{k}'), 0)::int AS {k}" for k in CONCEPTOS),
    where="{where}")


def _tasa(rechazadas: int, enviadas: int) -> float | None:
    """Defect rate in percent (rejected at reception or by planteles over cards sent)."""
    return round(100 * rechazadas / enviadas, 1) if enviadas else None


def _con_tasa(row: dict) -> dict:
    """row plus rechazadas and tasa_defectos."""
    row["rechazadas"] = row["rechazadas_recepcion"] + row["rechazadas_plantel"]
    row["tasa_defectos"] = _tasa(row["rechazadas"], row["enviadas"])
    return row


async def _tiempos(orden_ids: list[int]) -> dict[int, list[tuple[int, int]]]:
    """Lead-time histograms (hours Solicitado → Recibido) per order."""
    rows = await db.fetch_all(
        """SELECT orden_id, horas, sum(n)::int AS n FROM tablero_tiempos_orden
           WHERE orden_id = ANY(CAST(:o AS int[])) GROUP BY orden_id, horas HAVING sum(n) <> 0""", {"o": orden_ids})
    out: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for r in rows:
        out[r["orden_id"]].append((r["horas"], r["n"]))
    return out


async def conciliacion_ordenes(orden_id: int | None = None) -> list[dict]:
    """Per order (newest first, or just one): the counts, rates and lead time."""
    where = "WHERE o.id = CAST(:o AS int)" if orden_id is not None else ""
    rows = await db.fetch_all(ORDENES_SQL.replace("{where}", where), {"o": orden_id} if orden_id is not None else {})
    tiempos = await _tiempos([r["id"] for r in rows])
    for r in rows:
        _con_tasa(r)
        r["hist"] = tiempos.get(r["id"], [])
        r["tiempo"] = resumen(r["hist"])
    return rows


def _sumar(rows: list[dict], key) -> list[dict]:
    """Rows summed by key(row): counts, lead-time histogram, rates."""
    out: dict = {}
    for r in rows:
        k = key(r)
        acc = out.setdefault(k, {"clave": k, "empresa": r["empresa"], "ordenes": 0, "hist": [],
                                 **{c: 0 for c in CONCEPTOS}})
        acc["ordenes"] += 1
        acc["hist"] = acc["hist"] + r["hist"]
        for c in CONCEPTOS:
            acc[c] += r[c]
    for acc in out.values():
        _con_tasa(acc)
        acc["tiempo"] = resumen(acc["hist"])
    return list(out.values())


def por_empresa(rows: list[dict]) -> list[dict]:
    """The orders summed per company."""
    return sorted(_sumar(rows, lambda r: r["empresa"]), key=lambda a: a["empresa"])


def por_empresa_mes(rows: list[dict], tz) -> list[dict]:
    """The orders summed per company and month of creation (local time), oldest month first."""
    out = _sumar(rows, lambda r: (r["empresa"], r["creada_en"].astimezone(tz).strftime("%Y-%m")))
    for acc in out:
        acc["mes"] = acc["clave"][1]
    return sorted(out, key=lambda a: (a["empresa"], a["mes"]))


async def conciliacion(tz, orden_id: int | None = None) -> dict:
    """What the _conciliacion partial shows: per order, and (all orders) per company and per company-month."""
    rows = await conciliacion_ordenes(orden_id)
    if orden_id is not None:
        return {"ordenes": rows, "empresas": [], "meses": [], "una": True}
    return {"ordenes": rows, "empresas": por_empresa(rows), "meses": por_empresa_mes(rows, tz), "una": False}
