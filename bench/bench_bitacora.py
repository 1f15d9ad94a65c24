"""Server time of the Bitácora (Administración) on 2 million audit rows.

    .venv/bin/python -m bench.bench_bitacora [--rows 2000000] [--iterations 15] [--keep]

Builds its own database (credencializacion_bench_bitacora, embedded cluster unless BENCH_DATABASE_URL
points at a server): 20,000 students over the 39 planteles, then `--rows` status events, a tenth as many
sensitive reads and a twentieth as many sign-in attempts, all over the last year, VACUUM ANALYZE. Times
app.queries.admin.bitacora (what the page runs) for a first page, a page a million rows deep, and each
filter. Target (issue 13): every page well under 100 ms median.
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from datetime import datetime, timedelta, timezone

import asyncpg

from app.queries import admin as q

from .common import bench_url, connected, drop_database, machine, recreate_database, with_database

NAME = "credencializacion_bench_bitacora"


async def fill(url: str, rows: int) -> float:
    """Create and fill the database; seconds taken."""
    start = time.perf_counter()
    await recreate_database(url)
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("""
          INSERT INTO usuarios (email, password_hash, rol, plantel_id)
            SELECT 'plantel' || id || '@conalepmex.edu.mx', 'x', 'plantel', id FROM planteles;
          INSERT INTO usuarios (email, password_hash, rol) VALUES ('admin@conalepmex.edu.mx', 'x', 'admin');
          INSERT INTO grupos (plantel_id, clave) SELECT id, '102-ELIN18' FROM planteles;
          INSERT INTO alumnos (matricula, prematricula, curp, nombre, primer_apellido, plantel_id, grupo, carrera_codigo, semestre)
            SELECT (10000000 + g) || '-' || (g % 10), (10000000 + g)::text, 'CURP' || g, 'ALUMNO', 'BENCH',
                   (SELECT id FROM planteles ORDER BY id OFFSET g % 39 LIMIT 1), '102-ELIN18', 'ELIN', 1
            FROM generate_series(1, 20000) g;""")
        n = rows
        await conn.execute(f"""
          INSERT INTO eventos (alumno_id, en, usuario_id, accion, comentario)
            SELECT 1 + g % 20000, now() - (g * interval '1 second') * (365 * 86400.0 / {n}),
                   1 + g % 39, (ARRAY['capturar','validar','aplazar','solicitar','imprimir','recibir','entregar'])[1 + g % 7], ''
            FROM generate_series(1, {n}) g;
          INSERT INTO eventos (alumno_id, en, usuario_id, accion, comentario)
            SELECT 1 + g * 7 % 20000, now() - g * interval '3 days', 1 + g % 39, 'rechazar_retoma', 'raro'
            FROM generate_series(1, 100) g;
          INSERT INTO accesos_sensibles (usuario_id, recurso, alumno_id, en)
            SELECT 1 + g % 39, 'foto', 1 + g % 20000, now() - (g * interval '10 seconds') * (365 * 86400.0 / {n})
            FROM generate_series(1, {n // 10}) g;
          INSERT INTO intentos_acceso (email, ip, exito, en)
            SELECT 'plantel' || (1 + g % 39) || '@conalepmex.edu.mx', '10.0.0.' || g % 200, g % 9 <> 0,
                   now() - (g * interval '20 seconds') * (365 * 86400.0 / {n})
            FROM generate_series(1, {n // 20}) g;""")
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()
    return time.perf_counter() - start


async def cases() -> dict[str, dict]:
    """The filters to time, with values read from the data."""
    from app import db

    alumno = await db.fetch_val("SELECT id FROM alumnos ORDER BY id OFFSET 777 LIMIT 1")
    depth = min(1_000_000, await db.fetch_val("SELECT count(*) FROM eventos") // 2)  # smaller --rows: half-way
    deep = await db.fetch_one("SELECT en, id FROM eventos ORDER BY en DESC, id DESC OFFSET :d LIMIT 1", {"d": depth})
    now = datetime.now(timezone.utc)
    return {
        "first page, no filter": {},
        "page 1,000,000 rows deep (keyset)": {"cursor": (deep["en"], "evento", deep["id"])},
        "one user": {"usuario_id": 5},
        "one plantel": {"plantel_id": 7},
        "one student": {"alumno_id": alumno},
        "one type (sign-ins)": {"fuente": "sesion"},
        "an action (validar)": {"accion": "validar"},
        "a rare action (rechazar_retoma, 100 rows)": {"accion": "rechazar_retoma"},
        "a week, 90 days ago": {"desde": now - timedelta(days=97), "hasta": now - timedelta(days=90)},
    }


async def time_cases(iterations: int) -> dict[str, float]:
    """Median ms of q.bitacora(filters, 51) per case."""
    out = {}
    for name, filters in (await cases()).items():
        times = []
        for _ in range(iterations):
            t = time.perf_counter()
            await q.bitacora(filters, 51)
            times.append((time.perf_counter() - t) * 1000)
        out[name] = statistics.median(times)
    return out


async def main_async(rows: int, iterations: int, keep: bool) -> None:
    """Fill, time, print, drop."""
    url = with_database(bench_url(), NAME)
    seconds = await fill(url, rows)
    print(f"bench_bitacora: {rows:,} events + {rows // 10:,} reads + {rows // 20:,} sign-ins loaded in {seconds:.0f} s")
    async with connected(url):
        figures = await time_cases(iterations)
    for name, ms in figures.items():
        print(f"  {name:45s} median {ms:7.1f} ms")
    print(f"  {machine()}")
    if not keep:
        await drop_database(url)


def main(argv: list[str] | None = None) -> None:
    """Command line."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=2_000_000)
    ap.add_argument("--iterations", type=int, default=15)
    ap.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = ap.parse_args(argv)
    asyncio.run(main_async(args.rows, args.iterations, args.keep))


if __name__ == "__main__":
    main()
