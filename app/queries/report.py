"""Status counts for "Reporte de estatus por Plantel"."""
from __future__ import annotations

from .. import db
from ..status import ESTATUS
from .consulta import fold


# Counts come from conteo_estatus, deltas kept by triggers on alumnos (0006_report.sql): ≈2 ms
# instead of a GROUP BY over every student (docs/benchmarks.md). One statement per scope, never
# `:p IS NULL OR plantel_id = :p`: asyncpg prepares statements and a generic plan would test that
# OR on every row.
PLANTELES_SQL = "SELECT p.id, p.numero, p.nombre, p.cct FROM planteles p {where_p} ORDER BY p.nombre"
# One row per plantel (in report order) with one column per status, plus how many delta rows
# were summed (filas). Status names are the enum's own constants, never user input.
COUNTS_SQL = """
SELECT p.id AS plantel_id, p.nombre AS plantel, {columns}, coalesce(c.filas, 0) AS filas
FROM planteles p LEFT JOIN (
  SELECT plantel_id, {sums}, count(*) AS filas FROM conteo_estatus {{where}} GROUP BY plantel_id
) c ON c.plantel_id = p.id {{where_p}}
ORDER BY p.nombre""".format(
    columns=", ".join(f"coalesce(c.{s}, 0) AS {s}" for s in ESTATUS),
    sums=", ".join(f"sum(n) FILTER (WHERE estatus = '{s}') AS {s}" for s in ESTATUS))
COMPACT_AFTER = 5000  # delta rows beyond one per (plantel, estatus) before the report folds them


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
    rows = await db.fetch_all(*_scoped(COUNTS_SQL, plantel_id))
    if sum(r.pop("filas") for r in rows) - len(rows) * len(ESTATUS) > COMPACT_AFTER:
        await db.execute("SELECT compactar_conteo_estatus()")
    for r in rows:
        r["alumnos"] = sum(r[s] for s in ESTATUS)
    return rows


def matching(rows: list[dict], text: str) -> list[dict]:
    """The rows whose plantel name contains text (accents and case ignored); all when text is empty."""
    needle = fold(text)
    return [r for r in rows if needle in fold(r["plantel"])] if needle else rows


def totals(rows: list[dict]) -> dict:
    """The Total row."""
    return {k: sum(r[k] for r in rows) for k in ("alumnos", *ESTATUS)}
