"""Status counts for "Reporte de estatus por Plantel"."""
from __future__ import annotations

from .. import db
from ..status import ESTATUS


# Counts come from conteo_estatus, deltas kept by triggers on alumnos (0006_report.sql): ≈1 ms
# instead of a GROUP BY over every student (docs/benchmarks.md). One statement per scope, never
# `:p IS NULL OR plantel_id = :p`: asyncpg prepares statements and a generic plan would test that
# OR on every row.
PLANTELES_SQL = "SELECT p.id, p.numero, p.nombre, p.cct FROM planteles p {where_p} ORDER BY p.nombre"
# One row per plantel (in report order) with its non-zero counts as parallel arrays, plus how many
# delta rows were summed (filas) and how many groups they make (grupos).
COUNTS_SQL = """
WITH g AS (SELECT plantel_id, estatus::text AS estatus, sum(n) AS n, count(*) AS filas
           FROM conteo_estatus {where} GROUP BY plantel_id, estatus)
SELECT p.id AS plantel_id, p.nombre AS plantel,
       array_agg(g.estatus) FILTER (WHERE g.n <> 0) AS estatus, array_agg(g.n) FILTER (WHERE g.n <> 0) AS n,
       coalesce(sum(g.filas), 0) AS filas, count(g.plantel_id) AS grupos
FROM planteles p LEFT JOIN g ON g.plantel_id = p.id {where_p}
GROUP BY p.id, p.nombre ORDER BY p.nombre"""
COMPACT_AFTER = 5000  # delta rows beyond one per group before the report folds them


def _scoped(sql: str, plantel_id: int | None) -> tuple[str, dict]:
    """sql for every plantel, or restricted to one ({where}: conteo_estatus, {where_p}: planteles p)."""
    if plantel_id is None:
        return sql.format(where="", where_p=""), {}
    return (sql.format(where="WHERE plantel_id = CAST(:p AS int)", where_p="WHERE p.id = CAST(:p AS int)"),
            {"p": plantel_id})


async def planteles(plantel_id: int | None = None) -> list[dict]:
    """Planteles in report order (all, or just one)."""
    return await db.fetch_all(*_scoped(PLANTELES_SQL, plantel_id))


async def status_counts(plantel_id: int | None = None) -> list[dict]:
    """Rows of the report: plantel, alumnos and one count per status; scope = one plantel or all."""
    counts = await db.fetch_all(*_scoped(COUNTS_SQL, plantel_id))
    if sum(c["filas"] - c["grupos"] for c in counts) > COMPACT_AFTER:
        await db.execute("SELECT compactar_conteo_estatus()")
    rows = []
    for c in counts:
        per = dict(zip(c["estatus"] or (), c["n"] or ()))
        row = {"plantel_id": c["plantel_id"], "plantel": c["plantel"], **{s: per.get(s, 0) for s in ESTATUS}}
        row["alumnos"] = sum(per.values())
        rows.append(row)
    return rows


def totals(rows: list[dict]) -> dict:
    """The Total row."""
    return {k: sum(r[k] for r in rows) for k in ("alumnos", *ESTATUS)}
