"""Status counts for "Reporte de estatus por Plantel"."""
from __future__ import annotations

from .. import db
from ..status import ESTATUS


async def planteles(plantel_id: int | None = None) -> list[dict]:
    """Planteles in report order (all, or just one)."""
    return await db.fetch_all(
        "SELECT id, numero, nombre, cct FROM planteles "
        "WHERE CAST(:p AS int) IS NULL OR id = CAST(:p AS int) ORDER BY nombre",
        {"p": plantel_id},
    )


async def status_counts(plantel_id: int | None = None) -> list[dict]:
    """Rows of the report: plantel, alumnos and one count per status; scope = one plantel or all."""
    counts = await db.fetch_all(
        """SELECT plantel_id, estatus::text AS estatus, count(*) AS n FROM alumnos
           WHERE CAST(:p AS int) IS NULL OR plantel_id = CAST(:p AS int)
           GROUP BY plantel_id, estatus""",
        {"p": plantel_id},
    )
    by_plantel: dict[int, dict[str, int]] = {}
    for c in counts:
        by_plantel.setdefault(c["plantel_id"], {})[c["estatus"]] = c["n"]
    rows = []
    for p in await planteles(plantel_id):
        per = by_plantel.get(p["id"], {})
        row = {"plantel_id": p["id"], "plantel": p["nombre"], **{s: per.get(s, 0) for s in ESTATUS}}
        row["alumnos"] = sum(per.values())
        rows.append(row)
    return rows


def totals(rows: list[dict]) -> dict:
    """The Total row."""
    return {k: sum(r[k] for r in rows) for k in ("alumnos", *ESTATUS)}
