"""Server time of "Reporte de estatus por Plantel" (all planteles) vs the bare GROUP BY.

    .venv/bin/python -m bench.bench_report [--iterations N] [--url URL]

Needs the bench data (python -m bench.load_data). Measured in-process, interleaved, on the same
database: (1) the home view's work for an estatal user — report.status_counts(None), totals and
the template render — and status_counts alone; (2) the bare
`SELECT plantel_id, estatus, count(*) FROM alumnos GROUP BY 1,2` through the same driver; (3) for
reference the whole GET / through the test client (session check, headers). Also the write-side
price of the live counts (0006_report.sql): a one-student status UPDATE with and without its
trigger. Targets (issue 2): report median < 50 ms and ≤ 1.5× the bare query.
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import asyncpg
from quart import g

from app import create_app, db
from app.auth import User
from app.config import Settings
from app.queries import report

from .common import bench_url, machine, require_data, sign_in

BARE = "SELECT plantel_id, estatus, count(*) FROM alumnos GROUP BY 1,2"
TARGET_MS, TARGET_RATIO = 50.0, 1.5


async def estatal_user() -> User:
    """The demo's Dirección Estatal user (sees every plantel)."""
    row = await db.fetch_one(
        "SELECT id, email, nombre FROM usuarios WHERE rol = 'estatal' ORDER BY id LIMIT 1")
    return User(id=row["id"], rol="estatal", email=row["email"], nombre=row["nombre"])


async def elapsed_ms(action) -> float:
    """Milliseconds one awaited call takes."""
    t = time.perf_counter()
    await action()
    return (time.perf_counter() - t) * 1000


async def measure(url: str, iterations: int) -> dict:
    """Median/p95 milliseconds of the report view, the bare GROUP BY and the full GET /."""
    app = create_app(Settings(database_url=url, secret_key="bench-secret"))
    async with app.test_app():
        user = await estatal_user()
        view = app.view_functions["report.inicio"]
        client = await sign_in(app, user.email)
        pages: list[str] = []

        async def report_view() -> None:
            """The home view's work: counts for every plantel and the rendered page."""
            async with app.test_request_context("/"):
                g.user = user
                pages.append(await view())

        async def counts() -> None:
            """Only the counts (no render)."""
            await report.status_counts(None)

        async def bare() -> None:
            """The bare GROUP BY through the same driver."""
            await db.fetch_all(BARE)

        async def http_get() -> None:
            """GET / end to end inside the app (no network)."""
            r = await client.get("/")
            assert r.status_code == 200, r.status_code

        samples: dict[str, list[float]] = {"report": [], "counts": [], "bare": [], "http": []}
        for i in range(iterations + 5):
            for name, action in (("report", report_view), ("counts", counts), ("bare", bare), ("http", http_get)):
                ms = await elapsed_ms(action)
                if i >= 5:  # warm-up: pool connections, prepared statements, template cache
                    samples[name].append(ms)
        assert "Reporte de estatus por Plantel" in pages[-1]
        rows = pages[-1].count('data-estatus="entregado"') - 1  # minus the Total row
    out = {name: {"median": statistics.median(v), "p95": sorted(v)[int(len(v) * 0.95) - 1]}
           for name, v in samples.items()}
    out["rows"], out["iterations"] = rows, iterations
    out["ratio"] = out["report"]["median"] / out["bare"]["median"]
    return out


async def write_overhead(url: str, students: int = 300, rounds: int = 3) -> dict:
    """Median ms of a one-student status UPDATE with and without the counts trigger (rolled back)."""
    conn = await asyncpg.connect(url)
    try:
        ids = [r[0] for r in await conn.fetch(
            "SELECT id FROM alumnos WHERE estatus = 'capturado' ORDER BY random() LIMIT $1", students)]
        samples: dict[str, list[float]] = {"with": [], "without": []}
        for _ in range(rounds):
            for name in samples:
                tr = conn.transaction()
                await tr.start()
                if name == "without":
                    await conn.execute("ALTER TABLE alumnos DISABLE TRIGGER alumnos_conteo_update")
                for i in ids:
                    for estatus in ("aplazado", "capturado"):
                        t = time.perf_counter()
                        await conn.execute("UPDATE alumnos SET estatus = $2 WHERE id = $1", i, estatus)
                        samples[name].append((time.perf_counter() - t) * 1000)
                await tr.rollback()
    finally:
        await conn.close()
    return {name: statistics.median(v) for name, v in samples.items()}


def main(argv: list[str] | None = None) -> dict:
    """Command line: print the medians and whether the targets hold."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iterations", type=int, default=200)
    ap.add_argument("--url", default=None)
    args = ap.parse_args(argv)
    url = args.url or bench_url()
    students = asyncio.run(require_data(url))
    r = asyncio.run(measure(url, args.iterations))
    ok = r["report"]["median"] < TARGET_MS and r["ratio"] <= TARGET_RATIO
    print(f"bench_report: {students:,} alumnos, {r['rows']} planteles in the table, {r['iterations']} iterations")
    for name, label in (("report", "report view (counts + render)"), ("counts", "  of which status_counts(None)"),
                        ("bare", "bare GROUP BY"),
                        ("http", "GET / via test client")):
        print(f"  {label:32s} median {r[name]['median']:7.2f} ms   p95 {r[name]['p95']:7.2f} ms")
    w = asyncio.run(write_overhead(url))
    r["write"] = w
    print(f"  a one-student status UPDATE: median {w['with']:.3f} ms with the counts trigger, "
          f"{w['without']:.3f} ms without (rolled back)")
    print(f"  report / bare = {r['ratio']:.2f}×  → {'OK' if ok else 'MISSES'} "
          f"(< {TARGET_MS:.0f} ms and ≤ {TARGET_RATIO}×)  [{machine()}]")
    return r


if __name__ == "__main__":
    main()
