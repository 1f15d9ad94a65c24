"""The bench code at a tiny scale (not a timing test): loader counts, restored schema, live counts,
and the XLSX writer the Excel bench measures.

bench/load_data.py is run for real (2,000 students over 5 planteles) into a throwaway database,
so a change in the schema or the demo generator that breaks the benchmarks fails here.
"""
from __future__ import annotations

import secrets

import asyncpg
import pytest

from app.queries import report
from bench import load_data, run_all
from bench.common import BIG_PLANTEL, connected, with_database
from tests.conftest import create_database, drop_database

GROUP_BY = "SELECT plantel_id, estatus::text AS estatus, count(*) AS n FROM alumnos GROUP BY 1, 2"
CONTEO = ("SELECT plantel_id, estatus::text AS estatus, sum(n) AS n FROM conteo_estatus "
          "GROUP BY 1, 2 HAVING sum(n) <> 0")


@pytest.fixture(scope="module")
async def loaded(server_url):
    """A throwaway database filled by the bench loader at a tiny scale; its URL and the result."""
    url = with_database(server_url, f"benchsmoke_{secrets.token_hex(4)}")
    result = await load_data.load(url, students=2000, planteles=5, big=500)
    yield url, result
    await drop_database(server_url, url)


async def counts_of(conn, sql: str) -> dict:
    """{(plantel_id, estatus): n} of a counting query."""
    return {(r["plantel_id"], r["estatus"]): r["n"] for r in await conn.fetch(sql)}


async def test_loader_puts_the_planned_students_in_the_planned_planteles(loaded):
    """2,000 generated students, 500 in the big plantel, the rest spread evenly over the other 4."""
    url, result = loaded
    assert result["generated"] == 2000
    assert result["plan"][BIG_PLANTEL] == 500 and sorted(result["plan"].values()) == [375, 375, 375, 375, 500]
    conn = await asyncpg.connect(url)
    try:
        per = dict(await conn.fetch(
            "SELECT p.nombre, count(*) FROM alumnos a JOIN planteles p ON p.id = a.plantel_id GROUP BY 1"))
        statuses = await conn.fetchval("SELECT count(DISTINCT estatus) FROM alumnos")
        events = await conn.fetchval("SELECT count(*) FROM eventos")
    finally:
        await conn.close()
    # the demo's SAE snapshot may add a few students of its own to the same planteles
    assert set(per) == set(result["plan"])
    assert all(per[name] >= n for name, n in result["plan"].items())
    assert result["alumnos"] == sum(per.values()) < 2000 + 50
    assert statuses == 10 and events > result["alumnos"]  # every status, and a history for each


async def test_loader_restores_every_index_and_foreign_key(loaded, server_url):
    """The bulk load drops foreign keys and indexes for speed; the schema afterwards is complete."""
    url, _ = loaded
    sql = """SELECT array_agg(conname::text ORDER BY conname) FROM pg_constraint WHERE contype = 'f'
             UNION ALL SELECT array_agg(indexname::text ORDER BY indexname) FROM pg_indexes WHERE schemaname = 'public'"""
    fresh_url = await create_database(server_url, "benchref")
    bench, fresh = await asyncpg.connect(url), await asyncpg.connect(fresh_url)
    try:
        assert await bench.fetch(sql) == await fresh.fetch(sql)
    finally:
        await bench.close()
        await fresh.close()
        await drop_database(server_url, fresh_url)


async def test_live_counts_follow_inserts_updates_deletes_and_truncate(loaded):
    """conteo_estatus (the report's source) always equals a GROUP BY over alumnos."""
    url, result = loaded
    conn = await asyncpg.connect(url)
    try:
        assert await counts_of(conn, CONTEO) == await counts_of(conn, GROUP_BY)
        async with conn.transaction():
            await conn.execute("UPDATE alumnos SET estatus = 'aplazado' WHERE estatus = 'capturado' AND id % 2 = 0")
            await conn.execute("UPDATE alumnos SET nombre = nombre WHERE id % 3 = 0")  # no count changes
            victims = "SELECT id FROM alumnos WHERE estatus = 'enrolado' AND id % 5 = 0"
            await conn.execute(f"DELETE FROM eventos WHERE alumno_id IN ({victims})")
            deleted = await conn.execute(f"DELETE FROM alumnos WHERE id IN ({victims})")
        assert deleted != "DELETE 0"
        assert await counts_of(conn, CONTEO) == await counts_of(conn, GROUP_BY)
        await conn.execute("SELECT compactar_conteo_estatus()")
        assert await conn.fetchval("SELECT count(*) FROM conteo_estatus") == len(await counts_of(conn, GROUP_BY))
        async with connected(url):
            rows = await report.status_counts(None)
        assert sum(r["alumnos"] for r in rows) == await conn.fetchval("SELECT count(*) FROM alumnos")
        await conn.execute("TRUNCATE alumnos, eventos, orden_items, biometricos CASCADE")
        assert await conn.fetchval("SELECT count(*) FROM conteo_estatus") == 0
    finally:
        await conn.close()


def test_run_all_finds_the_benches():
    """`make bench` discovers bench_*.py modules by name and can call their main()."""
    names = run_all.bench_modules()
    assert {"bench_report", "bench_excel"} <= set(names)
    assert all(n.startswith("bench_") for n in names)
    assert run_all.callable_without_arguments(load_data.main)


def test_excel_writer_keeps_text_dates_and_gaps():
    """The fast XLSX writer (bench_excel's path) reads back exactly in openpyxl: text stays text."""
    import os
    from datetime import date, datetime, timezone

    import openpyxl

    from app.exports import XlsxSheet

    sheet = XlsxSheet(["Matrícula", "Folio", "Fecha", "Vigencia", "Vacío", "Comentario", "Orden"], 'Hoja "1"')
    sheet.write(["251340001-2", "012345678", datetime(2026, 11, 28, 18, 30, tzinfo=timezone.utc),
                 date(2028, 8, 1), None, '=HYPERLINK("x") & <b>\x01', 3])
    path = sheet.close()
    try:
        ws = openpyxl.load_workbook(path).active
        rows = list(ws.iter_rows(values_only=True))
    finally:
        os.unlink(path)
    assert ws.title == 'Hoja "1"' and ws.freeze_panes == "A2" and ws["A1"].font.b
    assert rows[1] == ("251340001-2", "012345678", datetime(2026, 11, 28, 12, 30),  # Mexico City time
                       datetime(2028, 8, 1), None, '=HYPERLINK("x") & <b>', 3)
    assert ws["C2"].number_format == "dd/mm/yyyy hh:mm" and ws["D2"].number_format == "dd/mm/yyyy"
