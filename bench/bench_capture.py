"""Capture saves under load, photo-check time and temporary-credential PDF time (issue 4).

    .venv/bin/python -m bench.bench_capture [--clients 50] [--per-client 12] [--retry-every 4]

1. Saves: the real server (hypercorn, 2 workers, as the Procfile runs it) on a fresh database;
   --clients concurrent signed-in clients each POST /captura/<m>/guardar --per-client times
   (600×800 JPEG ≈ 80 KB + signature PNG, photo checks included), each for its own Enrolado
   student with a new idempotency key; every --retry-every-th capture is sent a second time with
   the same key (a retry) and must answer the stored result. Then the database is checked: every
   capture stored exactly once. Target: ≥ 25 saves/s, zero errors.
2. Stage costs in-process (where the time of one save goes): photo decode+normalise, signature,
   photo checks (wall and CPU ms; target < 40 ms), and the temporary PDF (target < 50 ms).
"""
from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import machine  # noqa: E402
from bench.load_test import PHOTO, SIGNATURE, served_app, sign_in  # noqa: E402

BENCH_PREFIX = "96"


async def make_students(db_url: str, n: int) -> list[str]:
    """n Enrolado students of Ciudad Azteca with fresh matrículas (inserted in one statement)."""
    from app.validation import luhn_digit

    nums = [f"{BENCH_PREFIX}{i:07d}" for i in range(n)]
    mats = [f"{x}-{luhn_digit(x)}" for x in nums]
    conn = await asyncpg.connect(db_url)
    try:
        pid = await conn.fetchval("SELECT id FROM planteles WHERE nombre = 'Ciudad Azteca'")
        await conn.execute("INSERT INTO grupos VALUES ($1, '102-ELIN18') ON CONFLICT DO NOTHING", pid)
        await conn.executemany(
            "INSERT INTO alumnos (matricula, prematricula, curp, nombre, primer_apellido, plantel_id, grupo, "
            "carrera_codigo, semestre) VALUES ($1, $2, 'AAMY021208HDFLLHA4', 'BENCH', 'CAPTURA', $3, '102-ELIN18', "
            "'ELIN', 1)", [(m, m.split("-")[0], pid) for m in mats])
    finally:
        await conn.close()
    return mats


async def signed_in_client(base: str) -> tuple[httpx.AsyncClient, str]:
    """A client signed in as the Ciudad Azteca operator, and its CSRF token (before the clock starts)."""
    c = httpx.AsyncClient(base_url=base, timeout=120)
    return c, await sign_in(c, "cdazteca@conalepmex.edu.mx")


async def client_run(c: httpx.AsyncClient, token: str, mats: list[str], retry_every: int, lat: list[float],
                     errors: list[str], keys: list[str]) -> None:
    """One operator saving each student's capture (some sent twice, as a retry would)."""
    headers = {"X-CSRF-Token": token, "Accept": "application/json"}
    files = {"foto": ("foto.jpg", PHOTO, "image/jpeg"), "firma": ("firma.png", SIGNATURE, "image/png")}
    for i, m in enumerate(mats):
        key = str(uuid.uuid4())
        for attempt in range(2 if retry_every and i % retry_every == 0 else 1):
            start = time.perf_counter()
            r = await c.post(f"/captura/{m}/guardar", headers=headers, files=files,
                             data={"clave": key, "csrf_token": token})
            lat.append(time.perf_counter() - start)
            body = r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
            if r.status_code != 200 or body.get("estatus") != "capturado" or bool(body.get("repetida")) != (attempt == 1):
                errors.append(f"{m}: {r.status_code} {str(body)[:200]}")
        keys.append(key)


async def check_stored(db_url: str, keys: list[str], mats: list[str]) -> dict:
    """Every capture stored exactly once: one capturas row per key, two images per student, one event."""
    conn = await asyncpg.connect(db_url)
    try:
        caps = await conn.fetchval("SELECT count(*) FROM capturas WHERE clave = ANY($1::uuid[])", keys)
        imgs = await conn.fetchval("SELECT count(*) FROM biometricos b JOIN alumnos a ON a.id = b.alumno_id "
                                   "WHERE a.matricula = ANY($1)", mats)
        evs = await conn.fetchval("SELECT count(*) FROM eventos e JOIN alumnos a ON a.id = e.alumno_id "
                                  "WHERE a.matricula = ANY($1) AND e.accion = 'capturar'", mats)
        capt = await conn.fetchval("SELECT count(*) FROM alumnos WHERE matricula = ANY($1) AND estatus = 'capturado'",
                                   mats)
    finally:
        await conn.close()
    n = len(mats)
    return {"capturas": caps, "imagenes": imgs, "eventos": evs, "capturados": capt,
            "exactly_once": caps == n and imgs == 2 * n and evs == n and capt == n}


async def load(clients: int, per_client: int, retry_every: int) -> dict:
    """Serve, drive the clients, verify; return the figures."""
    async with served_app("credcap") as (db_url, base, proc):
        mats = await make_students(db_url, clients * per_client)
        lat: list[float] = []
        errors: list[str] = []
        keys: list[str] = []
        sessions = await asyncio.gather(*(signed_in_client(base) for _ in range(clients)))
        pg0 = pids_cpu_seconds(await backend_pids(db_url))
        cpu0, client0 = tree_cpu_seconds(proc.pid), time.process_time()
        start = time.perf_counter()
        await asyncio.gather(*(client_run(c, tok, mats[i * per_client:(i + 1) * per_client], retry_every, lat,
                                          errors, keys) for i, (c, tok) in enumerate(sessions)))
        wall = time.perf_counter() - start
        server_cpu = tree_cpu_seconds(proc.pid) - cpu0
        client_cpu = time.process_time() - client0
        pg1 = pids_cpu_seconds(await backend_pids(db_url))
        pg_cpu = sum(v - pg0.get(p, 0.0) for p, v in pg1.items())
        stored = await check_stored(db_url, keys, mats)
        await asyncio.gather(*(c.aclose() for c, _ in sessions))
    lat.sort()
    return {"captures": len(mats), "requests": len(lat), "wall_s": wall, "saves_per_s": len(mats) / wall,
            "p50_ms": 1000 * statistics.median(lat), "p95_ms": 1000 * lat[int(0.95 * (len(lat) - 1))],
            "errors": errors, "server_cpu_ms_per_save": 1000 * server_cpu / len(mats),
            "client_cpu_ms_per_save": 1000 * client_cpu / len(mats), "pg_cpu_ms_per_save": 1000 * pg_cpu / len(mats), **stored}


def tree_cpu_seconds(pid: int) -> float:
    """User+system CPU seconds of a process and its children (the hypercorn workers), from /proc."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    pids = [pid]
    while pids:
        p = pids.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            pids += [int(c) for t in Path(f"/proc/{p}/task").iterdir()
                     for c in (t / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


async def backend_pids(db_url: str) -> list[int]:
    """PostgreSQL backends serving the bench database (the app's pooled connections)."""
    conn = await asyncpg.connect(db_url)
    try:
        rows = await conn.fetch("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                                "AND pid <> pg_backend_pid()")
    finally:
        await conn.close()
    return [r["pid"] for r in rows]


def pids_cpu_seconds(pids: list[int]) -> dict[int, float]:
    """CPU seconds of each process (0 when gone)."""
    return {p: tree_cpu_seconds(p) for p in pids}


def timed(fn, n: int) -> tuple[float, float]:
    """(median wall ms, median CPU ms) of n calls of fn."""
    walls, cpus = [], []
    for _ in range(n):
        w, c = time.perf_counter(), time.thread_time()
        fn()
        walls.append((time.perf_counter() - w) * 1000)
        cpus.append((time.thread_time() - c) * 1000)
    return statistics.median(walls), statistics.median(cpus)


def stages(n: int = 50) -> dict[str, tuple[float, float]]:
    """Per-stage cost of one save and of the temporary PDF, in this process."""
    from datetime import datetime, timezone

    from app import images, photo_checks
    from app.cards import CardData
    from app.credential import temporary_pdf

    photo = images.normalize_photo(PHOTO)
    sig = images.normalize_signature(SIGNATURE)
    card = CardData("180010051-1", "180010051", "YAHIR ALEXIS", "ALBARRAN", "MALDONADO", "Ciudad Azteca",
                    "PT-B en Electricidad Industrial", "AAMY021208HDFLLHA4", "yalbarran0818@conalepmex.edu.mx",
                    "Instituto Mexicano del Seguro Social (IMSS)", "26180366723", "2026", photo.data, sig.data,
                    "https://credencializacion.conalepmex.edu.mx/verificar/WyJ0IiwxMjM0NV0.abcdefghijklmnopqrstuvwxyz0",
                    "CREDENCIAL TEMPORAL")
    now = datetime.now(timezone.utc)
    temporary_pdf(card, now)  # warm fonts and caches
    return {
        "foto: decodificar + normalizar (Pillow)": timed(lambda: images.normalize_photo(PHOTO), n),
        "firma: decodificar + recortar PNG": timed(lambda: images.normalize_signature(SIGNATURE), n),
        "revisión de la foto (OpenCV)": timed(lambda: photo_checks.check_photo(photo.image), n),
        "credencial temporal PDF (reportlab)": timed(lambda: temporary_pdf(card, now), n),
    }


def report(fig: dict, st: dict, clients: int) -> str:
    """Markdown lines for docs/capture.md."""
    lines = [f"Measured on {machine()}.", "",
             f"- **App-server CPU per save** (hypercorn workers, from /proc; PostgreSQL not included): "
             f"{fig['server_cpu_ms_per_save']:.1f} ms → alone it would allow ≈ {2000 / fig['server_cpu_ms_per_save']:.0f} saves/s "
             "on 2 idle cores; PostgreSQL backends of the bench database: "
             f"{fig['pg_cpu_ms_per_save']:.1f} ms; the simulated clients (httpx, same machine): "
             f"{fig['client_cpu_ms_per_save']:.1f} ms. Together ≈ "
             f"{fig['server_cpu_ms_per_save'] + fig['pg_cpu_ms_per_save'] + fig['client_cpu_ms_per_save']:.0f} ms "
             "of CPU per save on this 2-core machine.",
             f"- **Saves**: {fig['captures']} captures ({fig['requests']} requests incl. retries) by {clients} "
             f"concurrent clients in {fig['wall_s']:.1f} s → **{fig['saves_per_s']:.1f} saves/s**; "
             f"p50 {fig['p50_ms']:.0f} ms, p95 {fig['p95_ms']:.0f} ms; errors: **{len(fig['errors'])}**; "
             f"stored exactly once: **{'yes' if fig['exactly_once'] else 'NO'}** "
             f"({fig['capturas']} capturas, {fig['imagenes']} images, {fig['eventos']} events, "
             f"{fig['capturados']} Capturado).", "",
             "| stage (one save, in-process) | wall ms (median) | CPU ms (median) |", "|---|---:|---:|"]
    lines += [f"| {k} | {w:.1f} | {c:.1f} |" for k, (w, c) in st.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Command line."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--per-client", type=int, default=12)
    p.add_argument("--retry-every", type=int, default=4)
    p.add_argument("--stages-only", action="store_true")
    a = p.parse_args(argv)
    st = stages()
    if a.stages_only:
        print("\n".join(f"{k}: {w:.1f} ms wall, {c:.1f} ms CPU" for k, (w, c) in st.items()))
        return
    fig = asyncio.run(load(a.clients, a.per_client, a.retry_every))
    print(report(fig, st, a.clients))
    for e in fig["errors"][:10]:
        print("error:", e)


if __name__ == "__main__":
    main()
