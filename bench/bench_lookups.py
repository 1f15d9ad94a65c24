"""Server time of "Consultar alumno" and "Importar alumno SAE" look-ups, and loading a 100,000-row SAE export.

    .venv/bin/python -m bench.bench_lookups [--iterations N] [--rows N] [--xlsx] [--url URL]

Needs the bench data (python -m bench.load_data: 500,000 students). Measured in-process on the
bench database, each view called as the server runs it (query + template render), random
students each time:
  - matrícula: GET /consulta?q=<matrícula> (the search that opens the student) and the record page;
  - CURP: GET /consulta?q=<CURP>;
  - name: GET /consulta?q=<start of a name> (first page of 20, accents/case folded);
  - SAE: examine() of "Importar alumno SAE" (snapshot + credential db + rules).
Targets (issue 3): matrícula/CURP median < 10 ms, name search median < 50 ms.
Then a generated CSV export of --rows rows (matrículas that exist nowhere else) is loaded with
app.sae.load_snapshot (COPY into a temporary table + upsert) and removed again. Target: 100,000 rows < 30 s.
"""
from __future__ import annotations

import argparse
import asyncio
import csv
import random
import statistics
import tempfile
import time
from pathlib import Path

from quart import g

from app import create_app, db
from app.auth import User
from app.config import Settings
from app.sae import examine, load_snapshot
from app.validation import luhn_digit

from .common import bench_url, machine, require_data

TARGETS_MS = {"matricula": 10.0, "registro": 10.0, "curp": 10.0, "sae": 10.0, "nombre": 50.0}
LOAD_TARGET_S = 30.0
BENCH_PREFIX = "77"  # matrículas of the generated export (no real plantel number starts the year 77)


async def samples(n: int) -> dict[str, list]:
    """Random students (matrícula, CURP, id, plantel) and name prefixes from the bench data."""
    rows = await db.fetch_all(
        "SELECT id, matricula, curp, busqueda, plantel_id FROM alumnos TABLESAMPLE SYSTEM (1) LIMIT :n", {"n": n})
    rng = random.Random(3)
    rng.shuffle(rows)
    names = []
    for r in rows:
        words = r["busqueda"].split()
        cut = rng.choice((1, 2, 3))  # "GARCIA", "GARCIA LOPEZ", "GARCIA LOPEZ MARIA"
        names.append(" ".join(words[:cut]).lower().replace("a", "á", 1))  # accents and case must not matter
    return {"rows": rows, "names": names}


async def plantel_user(plantel_id: int) -> User:
    """A plantel user for the SAE rules (the user's plantel = the student's)."""
    return User(id=None, rol="plantel", plantel_id=plantel_id, email="bench@conalepmex.edu.mx")


async def measure(url: str, iterations: int) -> dict:
    """Median/p95 milliseconds per look-up kind."""
    settings = Settings(database_url=url, secret_key="bench-secret")
    app = create_app(settings)
    out: dict[str, list[float]] = {k: [] for k in TARGETS_MS}
    async with app.test_app():
        data = await samples(iterations + 5)
        buscar, alumno = app.view_functions["consulta.buscar"], app.view_functions["consulta.alumno"]
        viewer = User(id=None, rol="estatal", email="bench@conalepmex.edu.mx")

        async def view(path: str, fn, q: str | None = None, **kw):
            """Run a view as the server does for this path (minus the network)."""
            async with app.test_request_context(path, query_string={"q": q} if q else None):
                g.user = viewer
                return await fn(**kw)

        for i, (row, name) in enumerate(zip(data["rows"], data["names"])):
            timings = {
                "matricula": lambda: view("/consulta", buscar, row["matricula"]),
                "registro": lambda: view(f"/consulta/{row['id']}", alumno, alumno_id=row["id"]),
                "curp": lambda: view("/consulta", buscar, row["curp"]),
                "nombre": lambda: view("/consulta", buscar, name),
                "sae": lambda: _examine(row, settings),
            }
            for kind, action in timings.items():
                t = time.perf_counter()
                result = await action()
                ms = (time.perf_counter() - t) * 1000
                _check(kind, result, row)
                if i >= 5:  # warm-up: pool, prepared statements, template cache
                    out[kind].append(ms)
    return {k: {"median": statistics.median(v), "p95": sorted(v)[int(len(v) * 0.95) - 1]} for k, v in out.items()}


async def _examine(row: dict, settings: Settings):
    """The SAE page's look-up for a user of the student's plantel."""
    return await examine(row["matricula"], await plantel_user(row["plantel_id"]), settings)


def _check(kind: str, result, row: dict) -> None:
    """Make sure each call did the real work (found the student)."""
    if kind == "matricula":
        assert result.status_code == 302 and result.headers["Location"].endswith(f"/{row['id']}"), kind
    elif kind == "registro":
        assert row["matricula"] in result, kind
    elif kind == "curp":  # one match opens the student; a CURP shared by several lists them
        found = result.headers["Location"] if hasattr(result, "headers") else result
        assert found.endswith(f"/{row['id']}") or row["matricula"] in found, kind
    elif kind == "sae":
        assert result.local is not None and result.sae is not None, result.refusal


def write_export(path: Path, rows: int) -> None:
    """A CSV export of SAE with the manual's headers and matrículas 77NNNNNNN-D."""
    planteles = ["Ciudad Azteca", "Toluca", "Ecatepec I", "Chalco", "15DPT0033E"]
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["CURP", "Matrícula", "Folio", "Prematrícula", "Nombre", "Primer apellido", "Segundo apellido",
                    "Plantel", "Grupo", "Carrera", "Correo institucional", "Institución médica", "Semestre", "Estatus"])
        for i in range(rows):
            pre = f"{BENCH_PREFIX}{i:07d}"
            w.writerow(["BEML920313HMCLNS09", f"{pre}-{luhn_digit(pre)}", f"{i:09d}", pre, "JOSÉ", "PÉREZ", "LÓPEZ",
                        planteles[i % 5], f"{1 + i % 6}0{1 + i % 9}-INFO18", "INFO18",
                        f"a{i}@conalepmex.edu.mx", "IMSS", 1 + i % 6, "INSCRITO" if i % 50 else "BAJA"])


async def load_export(url: str, rows: int, xlsx: bool) -> dict:
    """Seconds to load a generated export into the snapshot (then the rows are removed)."""
    from bench.common import connected

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sae.csv"
        write_export(path, rows)
        if xlsx:
            path = _to_xlsx(path)
        async with connected(url):
            try:
                t = time.perf_counter()
                result = await load_snapshot(path)
                seconds = time.perf_counter() - t
                stored = await db.fetch_val("SELECT count(*) FROM sae_alumnos WHERE matricula LIKE :p",
                                            {"p": BENCH_PREFIX + "%"})
            finally:
                await db.execute("DELETE FROM sae_alumnos WHERE matricula LIKE :p", {"p": BENCH_PREFIX + "%"})
    assert result.loaded == rows == stored, (result.loaded, stored)
    return {"seconds": seconds, "rows": rows, "format": path.suffix[1:]}


def _to_xlsx(csv_path: Path) -> Path:
    """The same export as XLSX (written once, not timed)."""
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet()
    with open(csv_path, encoding="utf-8") as f:
        for row in csv.reader(f):
            ws.append(row)
    out = csv_path.with_suffix(".xlsx")
    wb.save(out)
    return out


def main(argv: list[str] | None = None) -> dict:
    """Command line: print medians, the load time and whether the targets hold."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iterations", type=int, default=300)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--xlsx", action="store_true", help="also time the export as XLSX")
    ap.add_argument("--url", default=None)
    args = ap.parse_args(argv)
    url = args.url or bench_url()
    students = asyncio.run(require_data(url))
    r = asyncio.run(measure(url, args.iterations))
    print(f"bench_lookups: {students:,} alumnos, {args.iterations} random students per kind")
    labels = {"matricula": "Consultar: matrícula (search → open)", "registro": "Consultar: record page",
              "curp": "Consultar: CURP", "nombre": "Consultar: name prefix (page of 20)",
              "sae": "Importar alumno SAE: examine()"}
    for kind, label in labels.items():
        ok = r[kind]["median"] < TARGETS_MS[kind]
        print(f"  {label:40s} median {r[kind]['median']:6.2f} ms  p95 {r[kind]['p95']:6.2f} ms  "
              f"{'OK' if ok else 'MISSES'} (< {TARGETS_MS[kind]:.0f} ms)")
    loads = [asyncio.run(load_export(url, args.rows, False))]
    if args.xlsx:
        loads.append(asyncio.run(load_export(url, args.rows, True)))
    for ld in loads:
        ok = ld["seconds"] < LOAD_TARGET_S * ld["rows"] / 100_000
        print(f"  load-sae {ld['rows']:,} rows ({ld['format']}){'':14s} {ld['seconds']:6.1f} s  "
              f"{'OK' if ok else 'MISSES'} (< {LOAD_TARGET_S * ld['rows'] / 100_000:.0f} s)")
    print(f"  [{machine()}]")
    return {"lookups": r, "loads": loads}


if __name__ == "__main__":
    main()
