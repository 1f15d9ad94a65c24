"""Server time of "Reporte de estatus por Plantel" (all planteles) vs the bare GROUP BY.

    .venv/bin/python -m bench.bench_report [--iterations N] [--url URL]

Needs the bench data (python -m bench.load_data). Measured in-process, interleaved, on the same
database: (1) the home view's work for an estatal user — report.status_counts(None), totals and
the template render — (2) the bare `SELECT plantel_id, estatus, count(*) FROM alumnos GROUP BY 1,2`
through the same driver, and (3) for reference the whole GET / through the test client (sign-in
cookie, session check, headers). Targets (issue 2): report median < 50 ms and ≤ 1.5× the bare query.
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from quart import g

from app import create_app, db
from app.auth import User
from app.config import Settings

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

        async def bare() -> None:
            """The bare GROUP BY through the same driver."""
            await db.fetch_all(BARE)

        async def http_get() -> None:
            """GET / end to end inside the app (no network)."""
            r = await client.get("/")
            assert r.status_code == 200, r.status_code

        samples: dict[str, list[float]] = {"report": [], "bare": [], "http": []}
        for i in range(iterations + 5):
            for name, action in (("report", report_view), ("bare", bare), ("http", http_get)):
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
    for name, label in (("report", "report view (counts + render)"), ("bare", "bare GROUP BY"),
                        ("http", "GET / via test client")):
        print(f"  {label:32s} median {r[name]['median']:7.2f} ms   p95 {r[name]['p95']:7.2f} ms")
    print(f"  report / bare = {r['ratio']:.2f}×  → {'OK' if ok else 'MISSES'} "
          f"(< {TARGET_MS:.0f} ms and ≤ {TARGET_RATIO}×)  [{machine()}]")
    return r


if __name__ == "__main__":
    main()
