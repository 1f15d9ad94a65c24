"""Background print package (issue 17): 2,000 cards ready from "Confirmar orden" with 2 workers, every RSS.

    .venv/bin/python -m bench.bench_package_jobs [--cards 2000] [--workers 2] [--keep]

A scratch database with the same data as bench/bench_package.py (each photo distinct, sealed as stored);
N `python -m app worker` processes are started first; the clock starts when `orders.crear` is called
and stops when the order's package row is 'listo' (the ZIP stored in the database). psutil samples the
RSS of this process, every worker and each worker's PDF processes every 0.2 s; the peaks are printed.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import time

import asyncpg
import psutil

from app import orders
from app.config import ROOT

from . import bench_package
from .common import machine

TARGET_S, TARGET_MB = 30.0, 300.0


class Peaks:
    """Peak RSS (MB) per sampled process, by a label."""

    def __init__(self) -> None:
        self.mb: dict[str, float] = {}

    def sample(self, label: str, proc: psutil.Process, children: bool = True) -> None:
        """Record proc's RSS (and its children's) under label."""
        try:
            kids = proc.children(recursive=True) if children else []
            procs = [(label, proc)] + [(f"{label} · PDF {c.pid}", c) for c in kids]
            for name, p in procs:
                self.mb[name] = max(self.mb.get(name, 0.0), p.memory_info().rss / 2**20)
        except psutil.Error:
            pass


def start_workers(url: str, n: int) -> list[subprocess.Popen]:
    """n `python -m app worker` processes on the bench database."""
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "bench", "PUBLIC_URL": "https://credencial.example"}
    return [subprocess.Popen([sys.executable, "-m", "app", "worker"], cwd=ROOT, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(n)]


async def sample_until_ready(url: str, workers: list[subprocess.Popen], peaks: Peaks, started: list[float]) -> float:
    """Sample RSS until the order's package is listo; return seconds since orders.crear was called."""
    me = psutil.Process()
    conn = await asyncpg.connect(url)
    try:
        while True:
            peaks.sample("bench (Confirmar orden)", me, children=False)
            for i, w in enumerate(workers, 1):
                peaks.sample(f"worker {i}", psutil.Process(w.pid))
            if started and await conn.fetchval("SELECT bool_and(estado = 'listo') FROM paquetes"):
                return time.perf_counter() - started[0]
            await asyncio.sleep(0.2)
    finally:
        await conn.close()


def timed_crear(started: list[float]):
    """orders.crear that records when it was called."""
    original = orders.crear

    async def crear(*args, **kwargs):
        """Confirmar orden, with the clock started."""
        started.append(time.perf_counter())
        return await original(*args, **kwargs)
    return crear


async def main(args) -> None:
    """Scratch database → workers → data and order → wait for listo → figures."""
    from tests.conftest import create_database, drop_database

    server = os.environ.get("BENCH_SERVER_URL")
    if not server:
        from app.pgembed import embedded_url
        server = embedded_url()
    url = await create_database(server, "benchjobs")
    workers = start_workers(url, args.workers)
    peaks, started = Peaks(), []
    orders.crear = timed_crear(started)
    try:
        sampler = asyncio.create_task(sample_until_ready(url, workers, peaks, started))
        await bench_package.load(url, args.cards)
        seconds = await asyncio.wait_for(sampler, 600)
        await report(url, args, seconds, peaks)
    finally:
        for w in workers:
            w.send_signal(signal.SIGTERM)
        for w in workers:
            w.wait(30)
        if not args.keep:
            await drop_database(server, url)


async def report(url: str, args, seconds: float, peaks: Peaks) -> None:
    """Print the figures and exit 1 when a target is missed."""
    conn = await asyncpg.connect(url)
    try:
        p = await conn.fetchrow("SELECT tamano, partes_total FROM paquetes")
    finally:
        await conn.close()
    worst = max(peaks.mb.values())
    ok = seconds < TARGET_S and worst < TARGET_MB
    print(f"{machine()}\n{args.cards} credenciales, {args.workers} workers, {p['partes_total']} partes: listo "
          f"{seconds:.1f} s después de Confirmar orden; ZIP {p['tamano'] / 2**20:.0f} MB "
          f"(metas: < {TARGET_S:.0f} s, < {TARGET_MB:.0f} MB por proceso) → {'OK' if ok else 'FUERA DE META'}")
    for name, mb in sorted(peaks.mb.items()):
        print(f"  pico RSS {name}: {mb:.0f} MB")
    print(f"carga del equipo al terminar: {os.getloadavg()[0]:.1f}")
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="no borrar la base de datos temporal")
    asyncio.run(main(parser.parse_args()))
