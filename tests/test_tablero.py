"""Tablero (issue 15): stage times recomputed independently from eventos, detenido thresholds at their
edges, role and plantel scope, hostile query parameters, Excel downloads, charts and order reconciliation."""
from __future__ import annotations

import io
import random
import re
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from app import db, orders
from app.queries import tablero as q
from app.status import transition
from app.views.tablero import cortes

from .conftest import actor, make_student, plantel_id, post, text_of

MX = ZoneInfo("America/Mexico_City")
# stage → (start milestone status, end milestone status)
STAGES = {1: ("enrolado", "capturado"), 2: ("capturado", "validado"), 3: ("validado", "solicitado"),
          4: ("solicitado", "recibido"), 5: ("recibido", "entregado"), 6: ("enrolado", "entregado")}
PATH = (("importar", None, "enrolado"), ("capturar", "enrolado", "capturado"), ("validar", "capturado", "validado"),
        ("solicitar", "validado", "solicitado"), ("imprimir", "solicitado", "imprimiendo"),
        ("recibir", "imprimiendo", "recibido"), ("entregar", "recibido", "entregado"))

# The independent computation: first arrival in each milestone status, straight from eventos.
INDEPENDENT_SQL = """
WITH h AS (
  SELECT e.alumno_id, a.plantel_id,
         min(e.en) FILTER (WHERE e.a = 'enrolado') AS enrolado, min(e.en) FILTER (WHERE e.a = 'capturado') AS capturado,
         min(e.en) FILTER (WHERE e.a = 'validado') AS validado, min(e.en) FILTER (WHERE e.a = 'solicitado') AS solicitado,
         min(e.en) FILTER (WHERE e.a = 'recibido') AS recibido, min(e.en) FILTER (WHERE e.a = 'entregado') AS entregado
  FROM eventos e JOIN alumnos a ON a.id = e.alumno_id GROUP BY e.alumno_id, a.plantel_id
), s AS (
  SELECT plantel_id, etapa, fin, floor(extract(epoch FROM fin - ini) / 3600)::int AS horas
  FROM h CROSS JOIN LATERAL (VALUES (1, enrolado, capturado), (2, capturado, validado), (3, validado, solicitado),
                                    (4, solicitado, recibido), (5, recibido, entregado), (6, enrolado, entregado)) v(etapa, ini, fin)
  WHERE ini IS NOT NULL AND fin IS NOT NULL
)
SELECT coalesce(plantel_id, 0) AS plantel_id, etapa, count(*)::int AS n,
       percentile_disc(0.5) WITHIN GROUP (ORDER BY horas) AS mediana,
       percentile_disc(0.9) WITHIN GROUP (ORDER BY horas) AS p90
FROM s WHERE (fin AT TIME ZONE 'America/Mexico_City')::date BETWEEN :d1 AND :d2
GROUP BY GROUPING SETS ((plantel_id, etapa), (etapa))"""


async def _event(alumno_id: int, accion: str, de: str | None, a: str, en: datetime, orden_id: int | None = None):
    """One eventos row (the trigger absorbs it as the status machine's insert would)."""
    await db.execute(
        """INSERT INTO eventos (alumno_id, en, accion, de, a, orden_id)
           VALUES (:al, :en, :ac, CAST(:de AS estatus), CAST(:a AS estatus), :o)""",
        {"al": alumno_id, "en": en, "ac": accion, "de": de, "a": a, "o": orden_id})


async def _history(rng: random.Random, start: datetime, plantel: str, steps: int, batch: bool) -> None:
    """A student whose first `steps` actions of PATH happen after random known gaps (hours and minutes)."""
    s = await make_student("enrolado", plantel=plantel)
    t, rows = start, []
    for accion, de, a in PATH[:steps]:
        rows.append((s["id"], accion, de, a, t))
        t += timedelta(hours=rng.randint(0, 24 * 12), minutes=rng.randint(0, 59), seconds=rng.randint(0, 59))
    if batch:  # one INSERT of many rows: the trigger sees them all at once (as the demo's COPY)
        await db.execute("INSERT INTO eventos (alumno_id, accion, de, a, en) SELECT * FROM unnest("
                         "CAST(:i AS bigint[]), CAST(:ac AS text[]), CAST(:de AS estatus[]), CAST(:a AS estatus[]),"
                         " CAST(:en AS timestamptz[]))",
                         {"i": [r[0] for r in rows], "ac": [r[1] for r in rows], "de": [r[2] for r in rows],
                          "a": [r[3] for r in rows], "en": [r[4] for r in rows]})
    else:
        for r in rows:
            await _event(*r)


async def _independent(d1: date, d2: date) -> dict:
    """{(plantel_id or 0 for the state, etapa): (n, mediana, p90)} from eventos alone."""
    rows = await db.fetch_all(INDEPENDENT_SQL, {"d1": d1, "d2": d2})
    return {(r["plantel_id"], r["etapa"]): (r["n"], r["mediana"], r["p90"]) for r in rows}


def _tablero_figures(result: dict) -> dict:
    """The same shape from app.queries.tablero.etapas()."""
    out = {(0, e): (r["n"], r["mediana"], r["p90"]) for e, r in result["estatal"].items()}
    for pid, et in result["planteles"].items():
        out.update({(pid, e): (r["n"], r["mediana"], r["p90"]) for e, r in et.items()})
    return out


async def _generated(users, n: int = 60) -> datetime:
    """n students over two planteles with random known durations, one event per statement or in batches."""
    rng = random.Random(15)
    base = datetime(2026, 9, 1, 8, 0, tzinfo=timezone.utc)
    for i in range(n):
        await _history(rng, base + timedelta(hours=rng.randint(0, 24 * 30)), ("Ciudad Azteca", "Toluca")[i % 2],
                       rng.randint(1, len(PATH)), batch=i % 3 == 0)
    return base


async def test_stage_times_equal_an_independent_computation(app, users):
    """Median, p90 and counts per plantel and statewide equal percentile_disc over eventos, for several periods."""
    await _generated(users)
    for d1, d2 in ((date(2026, 9, 1), date(2026, 12, 31)), (date(2026, 9, 10), date(2026, 10, 5)),
                   (date(2026, 10, 1), date(2026, 10, 1)), (date(2025, 1, 1), date(2025, 12, 31))):
        expected = await _independent(d1, d2)
        assert _tablero_figures(await q.etapas(d1, d2)) == expected, (d1, d2)
        one = await plantel_id("Toluca")
        mine = _tablero_figures(await q.etapas(d1, d2, one))
        assert {k: v for k, v in mine.items() if k[0] == one} == {k: v for k, v in expected.items() if k[0] == one}
    assert len(await _independent(date(2026, 9, 1), date(2026, 12, 31))) == 3 * 6  # 2 planteles + state, 6 stages


async def test_detours_and_reprints_count_first_arrivals(app, users):
    """Aplazado, a retake and a reprint cycle: the Tablero still equals first arrivals computed from eventos."""
    s = await make_student("enrolado")
    t = datetime(2026, 9, 2, 15, 0, tzinfo=timezone.utc)
    story = [("importar", None, "enrolado"), ("capturar", "enrolado", "capturado"), ("aplazar", "capturado", "aplazado"),
             ("capturar", "aplazado", "capturado"), ("validar", "capturado", "validado"),
             ("solicitar", "validado", "solicitado"), ("imprimir", "solicitado", "imprimiendo"),
             ("recibir", "imprimiendo", "recibido"), ("rechazar_retoma", "recibido", "retoma"),
             ("retomar", "retoma", "rechazado"), ("solicitar", "rechazado", "solicitado"),
             ("imprimir", "solicitado", "imprimiendo"), ("recibir", "imprimiendo", "recibido"),
             ("entregar", "recibido", "entregado")]
    for i, (accion, de, a) in enumerate(story):
        await _event(s["id"], accion, de, a, t + timedelta(hours=7 * i + i * i))
    d1, d2 = date(2026, 9, 1), date(2026, 9, 30)
    assert _tablero_figures(await q.etapas(d1, d2)) == await _independent(d1, d2)


async def test_backfill_equals_the_trigger(app, users):
    """The migration's backfill (the trigger function over every existing event) gives the same tables."""
    await _generated(users, 30)
    tables = ("tablero_etapas", "tablero_actividad", "tablero_ordenes", "tablero_tiempos_orden")
    before = {t: await db.fetch_all(f"SELECT * FROM {t}") for t in tables}
    for t in (*tables, "tablero_hitos"):
        await db.execute(f"DELETE FROM {t}")
    migration = (__import__("pathlib").Path(__file__).parents[1] / "sql/migrations/0013_tablero.sql").read_text()
    backfill = migration[migration.index("CREATE TEMP TABLE tablero_relleno"):]
    async with db.get_db().transaction():
        for stmt in [s for s in backfill.split(";") if s.strip()]:
            await db.execute(stmt)
    await db.execute("SELECT compactar_tablero()")
    for t in tables:
        key = lambda r: tuple(str(v) for v in r.values())  # noqa: E731
        after = await db.fetch_all(f"SELECT * FROM {t}")
        assert _folded(after) == _folded(before[t]), t


def _folded(rows: list[dict]) -> dict:
    """Rows summed by every column but n."""
    out: dict = {}
    for r in rows:
        k = tuple((c, v) for c, v in r.items() if c != "n")
        out[k] = out.get(k, 0) + r["n"]
    return {k: v for k, v in out.items() if v}


async def test_page_shows_the_figures(app, users, signed_in):
    """The estatal page shows the statewide median and p90 of each stage in days."""
    await _generated(users, 40)
    c = await signed_in("estatal")
    r = await c.get("/tablero?desde=2026-09-01&hasta=2026-12-31")
    assert r.status_code == 200
    html = await r.get_data(as_text=True)
    state = (await q.etapas(date(2026, 9, 1), date(2026, 12, 31)))["estatal"]
    row = re.search(r'<tr class="estatal" data-plantel="estatal">(.*?)</tr>', html, re.S).group(1)
    for e, fig in state.items():
        cell = re.search(rf'data-etapa="{e}">(.*?)</td>', row, re.S).group(1)
        assert f"{fig['mediana'] / 24:.1f}" in cell and f"{fig['p90'] / 24:.1f}" in cell and f"({fig['n']})" in cell
