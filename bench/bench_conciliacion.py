"""Conciliación SAE on a 100,000-row SAE snapshot (issue 14).

    .venv/bin/python -m bench.bench_conciliacion [--students 103000] [--keep]

Creates a database of its own (`credencializacion_bench_conciliacion` in the embedded cluster), migrates it,
generates the students in SQL (103,000 by default, 39 planteles, statuses Enrolado/Capturado/Validado) and a
100,000-row snapshot of them with changes (every 20th group, every 50th career, every 100th plantel, every
40th BAJA, 2,000 new, 5,000 students absent). Then times app.conciliacion.compute() — the set-based diff — for a
partial export and for a full one (absentees are bajas), and one plantel's "Aplicar" (per finding).
Target: the diff of a 100,000-row snapshot in seconds (< 5 s). The database is dropped unless --keep.
"""
from __future__ import annotations

import argparse
import asyncio
import time


from app import conciliacion, db
from app.status import SYSTEM

from .common import connected, drop_database, machine, recreate_database, with_database

DB_NAME = "credencializacion_bench_conciliacion"

STUDENTS_SQL = """
WITH c AS (SELECT array_agg(codigo ORDER BY codigo) AS cs FROM carreras WHERE codigo ~ '^[A-Z]{4}$'),
     p AS (SELECT array_agg(id ORDER BY id) AS ps FROM planteles),
     g AS (SELECT i, p.ps[1 + i % array_length(p.ps, 1)] AS plantel_id,
                  (1 + i % 6)::text || '0' || (1 + i % 9)::text || '-' || c.cs[1 + (i / 7) % array_length(c.cs, 1)] || '18' AS grupo
           FROM generate_series(1, :n) i, c, p),
     grp AS (INSERT INTO grupos (plantel_id, clave) SELECT DISTINCT plantel_id, grupo FROM g ON CONFLICT DO NOTHING)
INSERT INTO alumnos (matricula, prematricula, curp, folio, nombre, primer_apellido, segundo_apellido, plantel_id, grupo,
                     carrera_codigo, semestre, correo)
SELECT '7' || lpad(i::text, 8, '0') || '-0', '7' || lpad(i::text, 8, '0'), 'BEML920313HMCLNS09', lpad(i::text, 9, '0'), 'JOSE', 'PEREZ',
       'LOPEZ', plantel_id, grupo, substr(grupo, 5, 4), (1 + i % 6), 'a' || i || '@conalepmex.edu.mx'
FROM g"""
# 30 % Capturado and 10 % Validado (sharing one placeholder image row: nothing reads it here).
STATUSES_SQL = [
    """INSERT INTO biometricos (alumno_id, tipo, mime, datos, sha256, bytes, ancho, alto)
       VALUES (1, 'foto', 'image/jpeg', '\\x00', repeat('0', 64), 1, 1, 1)""",
    """UPDATE alumnos SET foto_id = b.id, firma_id = b.id,
              estatus = CAST(CASE WHEN alumnos.id % 10 = 9 THEN 'validado' ELSE 'capturado' END AS estatus),
              institucion_medica = CASE WHEN alumnos.id % 10 = 9 THEN
                (SELECT nombre FROM instituciones_medicas ORDER BY nombre LIMIT 1) END,
              numero_afiliacion = CASE WHEN alumnos.id % 10 = 9 THEN '72795608040' END,
              vigencia = CASE WHEN alumnos.id % 10 = 9 THEN date '2028-08-01' END
       FROM (SELECT min(id) AS id FROM biometricos) b WHERE alumnos.id % 10 >= 6""",
]

SNAPSHOT_SQL = """
INSERT INTO sae_alumnos (matricula, prematricula, curp, folio, nombre, primer_apellido, segundo_apellido, plantel, grupo,
                         carrera, correo, semestre, inscrito, estatus_sae)
SELECT a.matricula, a.prematricula, a.curp, a.folio, a.nombre, a.primer_apellido, a.segundo_apellido,
       CASE WHEN n % 100 = 2 THEN (SELECT nombre FROM planteles WHERE id <> a.plantel_id ORDER BY id LIMIT 1) ELSE p.nombre END,
       CASE WHEN n % 20 = 0 AND a.semestre < 6 THEN (a.semestre + 1)::text || substr(a.grupo, 2)
            WHEN n % 50 = 1 THEN substr(a.grupo, 1, 4) || (CASE WHEN a.carrera_codigo = 'INFO' THEN 'ELIN' ELSE 'INFO' END) || '18'
            ELSE a.grupo END,
       '', a.correo, a.semestre, n % 40 <> 3, CASE WHEN n % 40 = 3 THEN 'BAJA' ELSE 'INSCRITO' END
FROM (SELECT a.*, row_number() OVER (ORDER BY a.id) AS n FROM alumnos a) a JOIN planteles p ON p.id = a.plantel_id
WHERE a.n <= :existing
UNION ALL
SELECT '66' || lpad(i::text, 7, '0') || '-0', '66' || lpad(i::text, 7, '0'), 'BEML920313HMCLNS09', '000000001', 'ANA',
       'RUIZ', 'DIAZ', 'Toluca', '101-INFO18', 'INFO18', 'ana' || i || '@conalepmex.edu.mx', 1, true, 'INSCRITO'
FROM generate_series(1, :new) i"""






async def _timed(coro) -> tuple[object, float]:
    """(result, seconds)."""
    t = time.perf_counter()
    out = await coro
    return out, time.perf_counter() - t


async def run(args) -> dict:
    """Generate, reconcile, apply one plantel; the figures."""
    from app.config import Settings
    from app.pgembed import embedded_url

    url = args.url or with_database(embedded_url(), DB_NAME)
    await recreate_database(url)
    try:
        async with connected(url):
            _, gen_s = await _timed(db.execute(STUDENTS_SQL, {"n": args.students}))
            for sql in STATUSES_SQL:
                await db.execute(sql)
            await db.execute(SNAPSHOT_SQL, {"existing": args.snapshot - args.new, "new": args.new})
            await db.execute("ANALYZE")
            rows = await db.fetch_val("SELECT count(*) FROM sae_alumnos")
            partial, partial_s = await _timed(conciliacion.compute(SYSTEM, "bench parcial", completa=False))
            full, full_s = await _timed(conciliacion.compute(SYSTEM, "bench completa", completa=True))
            plantel = await db.fetch_val(
                "SELECT plantel_id FROM conciliacion_alumnos WHERE conciliacion_id = :r AND plantel_id IS NOT NULL "
                "GROUP BY 1 ORDER BY count(*) LIMIT 1", {"r": full.id})
            applied, apply_s = await _timed(conciliacion.apply(full.id, SYSTEM, Settings(), plantel))
    finally:
        if not args.keep:
            await drop_database(url)
    n_applied = applied.aplicados + applied.no_aplicables
    return {"students": args.students, "snapshot": rows, "generate_s": gen_s, "partial_s": partial_s,
            "partial": partial.totals, "full_s": full_s, "full": full.totals, "apply_items": n_applied,
            "apply_s": apply_s, "apply_ms_per_item": 1000 * apply_s / max(1, n_applied), "machine": machine()}


def main(argv: list[str] | None = None) -> dict:
    """Command line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--students", type=int, default=103_000)
    ap.add_argument("--snapshot", type=int, default=100_000)
    ap.add_argument("--new", type=int, default=2_000)
    ap.add_argument("--url", help="a database URL to (re)create instead of the embedded bench database")
    ap.add_argument("--keep", action="store_true", help="keep the database afterwards")
    out = asyncio.run(run(ap.parse_args(argv)))
    print(f"bench_conciliacion: {out['snapshot']:,} SAE rows vs {out['students']:,} students · {out['machine']}")
    print(f"  diff, partial export: {out['partial_s']:.2f} s  {out['partial']}")
    print(f"  diff, full export (absentees are bajas): {out['full_s']:.2f} s  {out['full']}")
    print(f"  Aplicar one plantel: {out['apply_items']} findings in {out['apply_s']:.2f} s "
          f"({out['apply_ms_per_item']:.1f} ms each)")
    return out


if __name__ == "__main__":
    main()
