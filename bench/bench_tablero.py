"""Server time of the Tablero for all planteles on the 500,000-student bench data (issue 15).

    .venv/bin/python -m bench.bench_tablero [--load] [--drop] [--iterations N] [--url URL]

`--load` first (re)creates a database of its own (`credencializacion_bench_tablero` in the embedded
cluster, or --url) with bench.load_data (500,000 students, ≈1.9 M events: the trigger of
0013_tablero.sql absorbs the events during the COPY); `--drop` drops it at the end. Measured in-process
like bench_report: (1) the Tablero view's work for an estatal user — every query and the render;
(2) each query alone; (3) GET /tablero through the test client. Also the write-side price of the
trigger: one event INSERT with and without it (inside a rolled-back transaction). Target: median < 200 ms.
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg
from quart import g

from app import create_app, db
from app.config import Settings
from app.queries import report
from app.queries import tablero as q
from app.views import tablero as view_mod

from .bench_report import elapsed_ms, estatal_user
from .common import bench_url, database_name, drop_database, machine, require_data, sign_in, with_database
from .load_data import load

DB_NAME = "credencializacion_bench_tablero"
TARGET_MS = 200.0
MX = ZoneInfo("America/Mexico_City")


def default_url() -> str:
    """This bench's own database in the embedded cluster."""
    from app.pgembed import embedded_url

    return with_database(embedded_url(), DB_NAME)


def _stats(samples: list[float]) -> str:
    """'median / p95 ms'."""
    s = sorted(samples)
    return f"{statistics.median(s):7.1f} / {s[int(0.95 * (len(s) - 1))]:7.1f} ms"


async def _queries(settings: Settings) -> dict:
    """Each query of the Tablero as a zero-argument coroutine factory (all planteles, current cycle)."""
    hoy = datetime.now(MX).date()
    desde = view_mod.inicio_ciclo(hoy, settings.tablero_inicio_ciclo_mes)
    return {
        "planteles": lambda: report.planteles(None),
        "etapas": lambda: q.etapas(desde, hoy, None),
        "detenidos": lambda: q.detenidos(view_mod.cortes(settings, datetime.now(MX)), None),
        "actividad": lambda: q.actividad(hoy - timedelta(days=59), None),
        "conciliacion": lambda: q.conciliacion(MX),
    }


async def _write_price(url: str, rounds: int = 200) -> tuple[float, float]:
    """Mean ms of one single-row event INSERT with the Tablero trigger and without it (rolled back)."""
    conn = await asyncpg.connect(url)
    try:
        ids = [r["id"] for r in await conn.fetch("SELECT id FROM alumnos WHERE estatus = 'capturado' LIMIT $1", rounds)]
        out = []
        for enabled in (True, False):
            tr = conn.transaction()
            await tr.start()
            if not enabled:
                await conn.execute("ALTER TABLE eventos DISABLE TRIGGER eventos_tablero_insert")
            t = time.perf_counter()
            for aid in ids:
                await conn.execute("INSERT INTO eventos (alumno_id, accion, de, a) VALUES ($1, 'validar', 'capturado', 'validado')", aid)
            out.append((time.perf_counter() - t) * 1000 / len(ids))
            await tr.rollback()
        return out[0], out[1]
    finally:
        await conn.close()


async def measure(url: str, iterations: int) -> dict:
    """Median/p95 of the Tablero view, each query and GET /tablero; table sizes; the trigger's write price."""
    settings = Settings(database_url=url, secret_key="bench-secret")
    app = create_app(settings)
    async with app.test_app():
        user = await estatal_user()
        view = app.view_functions["tablero.tablero"]
        client = await sign_in(app, user.email)

        async def tablero_view() -> None:
            """The view's work: every query and the rendered page."""
            async with app.test_request_context("/tablero"):
                g.user = user
                body = await view()
                assert isinstance(body, str) and "Tiempo en cada etapa" in body

        async def http_get() -> None:
            """GET /tablero end to end inside the app (no network)."""
            r = await client.get("/tablero")
            assert r.status_code == 200, r.status_code

        actions = {"tablero": tablero_view, "http": http_get, **(await _queries(settings))}
        samples: dict[str, list[float]] = {k: [] for k in actions}
        for i in range(iterations + 3):
            for name, action in actions.items():
                ms = await elapsed_ms(action)
                if i >= 3:  # warm-up: pool, prepared statements, template cache
                    samples[name].append(ms)
        sizes = {t: await db.fetch_val(f"SELECT count(*) FROM {t}") for t in (
            "alumnos", "eventos", "tablero_hitos", "tablero_etapas", "tablero_actividad", "tablero_ordenes",
            "tablero_tiempos_orden")}
    return {"samples": samples, "sizes": sizes, "write": await _write_price(url)}




async def _exists(url: str) -> bool:
    """True when the database of url exists."""
    try:
        await (await asyncpg.connect(url)).close()
        return True
    except asyncpg.InvalidCatalogNameError:
        return False


async def run(args) -> dict:
    """Load (optional), measure, print, drop (optional)."""
    url = args.url or default_url()
    if not args.load and not args.url and not await _exists(url):
        url = bench_url()  # `make bench`: the shared bench database that run_all loaded
    if args.load:
        t = time.perf_counter()
        loaded = await load(url)
        print(f"bench_tablero: loaded {loaded['alumnos']:,} alumnos, {loaded['eventos']:,} eventos in "
              f"{time.perf_counter() - t:.1f} s (generate+COPY with the trigger {loaded['seed_s']:.1f} s)")
    await require_data(url)
    result = await measure(url, args.iterations)
    for name, s in result["samples"].items():
        print(f"bench_tablero: {name:13s} median / p95 {_stats(s)}")
    print("bench_tablero: rows " + ", ".join(f"{k} {v:,}" for k, v in result["sizes"].items()))
    w_on, w_off = result["write"]
    print(f"bench_tablero: one event INSERT {w_on:.2f} ms with the trigger, {w_off:.2f} ms without")
    med = statistics.median(result["samples"]["tablero"])
    print(f"bench_tablero: Tablero (all planteles) median {med:.1f} ms — target < {TARGET_MS:.0f} ms: "
          f"{'met' if med < TARGET_MS else 'MISSED'}  [{machine()}]")
    if args.drop:
        await drop_database(url)
        print(f"bench_tablero: dropped {database_name(url)}")
    return result


def main(argv: list[str] | None = None) -> dict:
    """Command line."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iterations", type=int, default=30)
    ap.add_argument("--url", default=None, help=f"database (default: {DB_NAME} in the embedded cluster)")
    ap.add_argument("--load", action="store_true", help="(re)create and fill the database first")
    ap.add_argument("--drop", action="store_true", help="drop the database at the end")
    return asyncio.run(run(ap.parse_args(argv)))


if __name__ == "__main__":
    main()
