"""Load test: simulated plantel staff mixing report views, look-ups, captures and validations.

Runs the real server (hypercorn, 2 workers) on loopback against a fresh database with demo data,
drives it with N asyncio clients (httpx) for a bounded time and prints p50/p95/p99 per action and
the count of server errors (5xx). Business refusals (409/422, e.g. a student someone else already
validated) are counted separately: they are correct answers, not errors.

    .venv/bin/python -m bench.load_test --users 100 --seconds 300
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from pathlib import Path

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parent.parent
PHOTO = (ROOT / "tests" / "data" / "photos" / "rostro-ok-600x800.jpg").read_bytes()
PLANTELES = {"cdazteca@conalepmex.edu.mx": "Ciudad Azteca", "toluca@conalepmex.edu.mx": "Toluca"}


def signature_png() -> bytes:
    """A small drawn signature."""
    import io

    from PIL import Image, ImageDraw

    img = Image.new("L", (400, 120), 255)
    ImageDraw.Draw(img).line([(10, 60), (100, 20), (200, 100), (390, 40)], fill=0, width=4)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


SIGNATURE = signature_png()


def free_port() -> int:
    """An unused loopback port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Stats:
    """Latencies and outcomes per action."""

    def __init__(self) -> None:
        self.times: dict[str, list[float]] = defaultdict(list)
        self.server_errors: dict[str, int] = defaultdict(int)
        self.refusals: dict[str, int] = defaultdict(int)

    def add(self, action: str, seconds: float, status: int) -> None:
        """Record one request."""
        self.times[action].append(seconds)
        if status >= 500:
            self.server_errors[action] += 1
        elif status in (409, 422):
            self.refusals[action] += 1

    def report(self) -> str:
        """A Markdown table of the figures."""
        lines = ["| action | requests | p50 ms | p95 ms | p99 ms | 5xx | refusals |", "|---|---|---|---|---|---|---|"]
        for action, t in sorted(self.times.items()):
            q = statistics.quantiles(t, n=100) if len(t) > 1 else [t[0]] * 99
            lines.append(f"| {action} | {len(t)} | {q[49] * 1000:.0f} | {q[94] * 1000:.0f} | {q[98] * 1000:.0f} | "
                         f"{self.server_errors[action]} | {self.refusals[action]} |")
        return "\n".join(lines)


async def sign_in(client: httpx.AsyncClient, email: str) -> str:
    """Sign in; return the CSRF token."""
    await client.get("/login")
    token = client.cookies.get("csrf")
    r = await client.post("/login", data={"email": email, "password": "demo1234", "csrf_token": token})
    assert r.status_code == 302, r.text[:200]
    return token


async def timed(stats: Stats, action: str, coro) -> httpx.Response:
    """Await a request and record it."""
    start = time.perf_counter()
    r = await coro
    stats.add(action, time.perf_counter() - start, r.status_code)
    return r


async def staff(base: str, email: str, pools: dict, stats: Stats, until: float, rng: random.Random) -> None:
    """One simulated staff member until the deadline."""
    async with httpx.AsyncClient(base_url=base, timeout=60, follow_redirects=False) as c:
        token = await sign_in(c, email)
        headers = {"X-CSRF-Token": token, "Accept": "application/json"}
        plantel = PLANTELES[email]
        while time.time() < until:
            pick = rng.random()
            if pick < 0.40:
                await timed(stats, "reporte (Inicio)", c.get("/"))
            elif pick < 0.65:
                m = rng.choice(pools["all"])
                await timed(stats, "consultar alumno", c.get("/consulta", params={"q": m}))
            elif pick < 0.85 and pools["capturable"][plantel]:
                m = pools["capturable"][plantel].pop()
                files = {"foto": ("foto.jpg", PHOTO, "image/jpeg"), "firma": ("firma.png", SIGNATURE, "image/png")}
                r = await timed(stats, "captura (guardar)", c.post(
                    f"/captura/{m}/guardar", headers=headers, files=files,
                    data={"clave": str(uuid.uuid4()), "csrf_token": token}))
                if r.status_code == 200:
                    pools["validable"][plantel].append(m)
            elif pools["validable"][plantel]:
                m = pools["validable"][plantel].pop()
                await timed(stats, "validar alumno", c.post(f"/validacion/alumno/{m}", headers=headers, data={
                    "csrf_token": token, "evaluacion": "validado", "expected": "capturado",
                    "institucion_medica": "Instituto Mexicano del Seguro Social (IMSS)",
                    "numero_afiliacion": "72795608040", "vigencia": "2029-08-01"}))
            await asyncio.sleep(rng.uniform(0.5, 2.0))  # think time


async def pools_from(db_url: str) -> dict:
    """Students to look up, capture and validate, per plantel."""
    conn = await asyncpg.connect(db_url)
    try:
        rows = await conn.fetch("SELECT a.matricula, a.estatus::text AS e, p.nombre AS plantel FROM alumnos a "
                                "JOIN planteles p ON p.id = a.plantel_id")
    finally:
        await conn.close()
    pools = {"all": [r["matricula"] for r in rows], "capturable": defaultdict(list), "validable": defaultdict(list)}
    for r in rows:
        if r["e"] == "enrolado":
            pools["capturable"][r["plantel"]].append(r["matricula"])
        elif r["e"] == "capturado":
            pools["validable"][r["plantel"]].append(r["matricula"])
    return pools


def start_server(db_url: str, port: int) -> subprocess.Popen:
    """hypercorn with two workers on loopback (as the Procfile runs it)."""
    env = {**os.environ, "DATABASE_URL": db_url, "SECRET_KEY": "bench", "DB_POOL_MAX": "10",
           "PUBLIC_URL": f"http://127.0.0.1:{port}"}
    subprocess.run([sys.executable, "-m", "app", "seed-demo"], env=env, cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return subprocess.Popen([sys.executable, "-m", "hypercorn", "--workers", "2", "--bind", f"127.0.0.1:{port}",
                             "app.asgi:app"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def wait_up(base: str) -> None:
    """Wait for /salud."""
    async with httpx.AsyncClient(base_url=base) as c:
        for _ in range(200):
            try:
                if (await c.get("/salud")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.3)
    raise RuntimeError("server did not start")


@contextlib.asynccontextmanager
async def served_app(prefix: str):
    """A fresh database with demo data served by hypercorn; yields (db_url, base URL, process)."""
    sys.path.insert(0, str(ROOT))
    from app.pgembed import embedded_url
    from tests.conftest import create_database, drop_database

    server = os.environ.get("BENCH_DATABASE_URL") or embedded_url()
    db_url = await create_database(server, prefix)
    port = free_port()
    proc = start_server(db_url, port)
    base = f"http://127.0.0.1:{port}"
    try:
        await wait_up(base)
        yield db_url, base, proc
    finally:
        proc.terminate()
        proc.wait(20)
        await drop_database(server, db_url)


async def main_async(users: int, seconds: int) -> str:
    """Create the database, serve, load, report."""
    async with served_app("credload") as (db_url, base, _proc):
        pools = await pools_from(db_url)
        stats = Stats()
        rng = random.Random(7)
        until = time.time() + seconds
        emails = list(PLANTELES)
        await asyncio.gather(*(staff(base, emails[i % 2], pools, stats, until, random.Random(rng.random()))
                               for i in range(users)))
        total_5xx = sum(stats.server_errors.values())
        return (f"{users} simulated staff, {seconds} s, hypercorn 2 workers, 2 cores; server errors: {total_5xx}\n\n"
                + stats.report())


def main(argv: list[str] | None = None) -> None:
    """Command line."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--users", type=int, default=100)
    p.add_argument("--seconds", type=int, default=300)
    args = p.parse_args(argv)
    print(asyncio.run(main_async(args.users, args.seconds)))


if __name__ == "__main__":
    main()
