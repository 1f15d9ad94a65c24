"""Event-to-mail latency of the Avisos (issue 15) with the worker running: from the commit of a status change
to the message accepted by a real SMTP server (aiosmtpd on loopback).

    .venv/bin/python -m bench.bench_avisos [--singles 50] [--burst 500] [--keep]

Creates a database of its own (`credencializacion_bench_avisos` in the embedded cluster), migrates it and
inserts Imprimiendo students with an e-mail. Then, with one worker (app.jobs.run_worker, as `python -m app
worker` runs it) sending to the local SMTP server: `--singles` students received one at a time, 0.2 s apart
(latency of each: commit → message accepted), and a burst of `--burst` students received in ONE transaction,
as «Recibir todas» does (time until the last of their mails is accepted: the worker's throughput).
Target: each single change's mail within 10 s.
The database is dropped unless --keep.
"""
from __future__ import annotations

import argparse
import asyncio
import dataclasses
import statistics
import time

from aiosmtpd.controller import Controller

from app import db, jobs, status
from app.config import Settings

from .common import connected, drop_database, machine, recreate_database, with_database

DB_NAME = "credencializacion_bench_avisos"
TARGET_S = 10.0
STUDENTS_SQL = """
WITH p AS (SELECT min(id) AS id FROM planteles),
     grp AS (INSERT INTO grupos (plantel_id, clave) SELECT id, '102-ELIN18' FROM p ON CONFLICT DO NOTHING)
INSERT INTO alumnos (matricula, prematricula, curp, nombre, primer_apellido, plantel_id, grupo, carrera_codigo,
                     semestre, correo)
SELECT '8' || lpad(i::text, 8, '0') || '-0', '8' || lpad(i::text, 8, '0'), 'BEML920313HMCLNS09', 'JOSE', 'PEREZ',
       p.id, '102-ELIN18', 'ELIN', 1, 'b' || i || '@conalepmex.edu.mx'
FROM generate_series(1, :n) i, p"""
# Every student Imprimiendo, sharing one placeholder image row (nothing reads it here).
PRINTING_SQL = [
    """INSERT INTO biometricos (alumno_id, tipo, mime, datos, sha256, bytes, ancho, alto)
       VALUES ((SELECT min(id) FROM alumnos), 'foto', 'image/jpeg', '\\x00', repeat('0', 64), 1, 1, 1)""",
    """UPDATE alumnos SET foto_id = b.id, firma_id = b.id, estatus = 'imprimiendo', vigencia = date '2028-08-01',
              institucion_medica = (SELECT nombre FROM instituciones_medicas ORDER BY nombre LIMIT 1),
              numero_afiliacion = '72795608040'
       FROM (SELECT min(id) AS id FROM biometricos) b""",
]


class TimedSink:
    """aiosmtpd handler: when each recipient's message was accepted (time.monotonic())."""

    def __init__(self) -> None:
        self.accepted: dict[str, float] = {}

    async def handle_DATA(self, server, session, envelope) -> str:
        """Accept and time a message."""
        for rcpt in envelope.rcpt_tos:
            self.accepted.setdefault(rcpt, time.monotonic())
        return "250 OK"






async def _until(sink: TimedSink, emails: list[str], timeout: float = 120) -> None:
    """Wait until every address has a message."""
    start = time.monotonic()
    while any(e not in sink.accepted for e in emails):
        if time.monotonic() - start > timeout:
            raise SystemExit(f"bench_avisos: mails missing after {timeout} s")
        await asyncio.sleep(0.01)


async def _singles(sink: TimedSink, students: list[dict]) -> list[float]:
    """Receive students one at a time; the commit → accepted latency of each."""
    latencies = []
    for s in students:
        await status.transition(s["id"], "recibir", status.SYSTEM, expected="imprimiendo")
        committed = time.monotonic()
        await _until(sink, [s["correo"]])
        latencies.append(sink.accepted[s["correo"]] - committed)
        await asyncio.sleep(0.2)
    return latencies


async def _burst(sink: TimedSink, students: list[dict]) -> tuple[float, float]:
    """Receive students in one transaction; (seconds of the transaction, seconds from commit to the last mail)."""
    t0 = time.monotonic()
    async with db.get_db().transaction():
        for s in students:
            await status.transition(s["id"], "recibir", status.SYSTEM, expected="imprimiendo")
    committed = time.monotonic()
    await _until(sink, [s["correo"] for s in students])
    return committed - t0, max(sink.accepted[s["correo"]] for s in students) - committed


async def run(args) -> dict:
    """Build the database, run the worker and time singles and the burst."""
    from app.pgembed import embedded_url

    url = args.url or with_database(embedded_url(), DB_NAME)
    await recreate_database(url)
    sink, port = TimedSink(), args.port
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    settings = dataclasses.replace(Settings(database_url=url), smtp_host="127.0.0.1", smtp_port=port, smtp_tls="none")
    stop = asyncio.Event()
    try:
        async with connected(url):
            await db.execute(STUDENTS_SQL, {"n": args.singles + args.burst})
            for sql in PRINTING_SQL:
                await db.execute(sql)
            students = await db.fetch_all("SELECT id, correo FROM alumnos ORDER BY id")
            worker = asyncio.create_task(jobs.run_worker(settings, url, stop))
            await asyncio.sleep(1.0)  # the worker is listening
            singles = await _singles(sink, students[:args.singles])
            tx_s, burst_s = await _burst(sink, students[args.singles:])
            stop.set()
            await asyncio.wait_for(worker, 30)
    finally:
        controller.stop()
        if not args.keep:
            await drop_database(url)
    q = statistics.quantiles(singles, n=10)
    return {"singles": len(singles), "median_s": statistics.median(singles), "p90_s": q[-1], "max_s": max(singles),
            "burst": args.burst, "burst_tx_s": tx_s, "burst_last_s": burst_s, "machine": machine()}


def main(argv: list[str] | None = None) -> dict:
    """Command line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--singles", type=int, default=50)
    ap.add_argument("--burst", type=int, default=500)
    ap.add_argument("--port", type=int, default=18025)
    ap.add_argument("--url", help="a database URL to (re)create instead of the embedded bench database")
    ap.add_argument("--keep", action="store_true", help="keep the database afterwards")
    out = asyncio.run(run(ap.parse_args(argv)))
    ok = out["max_s"] < TARGET_S
    print(f"bench_avisos · {out['machine']}")
    print(f"  one status change → mail accepted by SMTP ({out['singles']} changes, 0.2 s apart): median "
          f"{out['median_s'] * 1000:.0f} ms, p90 {out['p90_s'] * 1000:.0f} ms, max {out['max_s'] * 1000:.0f} ms")
    print(f"  «Recibir todas» of {out['burst']} cards in one transaction ({out['burst_tx_s']:.2f} s): last mail "
          f"{out['burst_last_s']:.2f} s after the commit ({out['burst'] / out['burst_last_s']:.0f} mails/s, one worker)")
    print(f"  target (each status change's mail < {TARGET_S:.0f} s): {'met' if ok else 'NOT met'}")
    return out


if __name__ == "__main__":
    main()
