"""Load the bench data: 500,000 students over 300 planteles (the real 39 + synthetic ones), by COPY.

    .venv/bin/python -m bench.load_data [--students N] [--planteles P] [--big N] [--url URL]

Drops and recreates the bench database (BENCH_DATABASE_URL, or `credencializacion_bench` in the
embedded cluster), migrates it, loads app.demo's generator with shared images, then VACUUM ANALYZE.
One plantel (bench.common.BIG_PLANTEL) gets `--big` students for the Excel bench.
"""
from __future__ import annotations

import argparse
import asyncio
import time

import asyncpg

from app import db
from app.demo import Plan, extra_plantel_name, seed_demo

from .common import BIG_PLANTEL, bench_url, connected, machine, recreate_database

STUDENTS, PLANTELES, BIG = 500_000, 300, 10_000


def distribution(real: list[str], students: int, planteles: int, big: int) -> dict[str, int]:
    """Students per plantel name: `big` for BIG_PLANTEL, the rest spread evenly (sums to students)."""
    names = [BIG_PLANTEL] + [n for n in real if n != BIG_PLANTEL]
    names += [extra_plantel_name(i) for i in range(max(0, planteles - len(real)))]
    names = names[:planteles]
    big = min(big, students)
    others = names[1:]
    base, extra = divmod(students - big, len(others)) if others else (0, 0)
    plan = {name: base + (1 if i < extra else 0) for i, name in enumerate(others)}
    plan[BIG_PLANTEL] = big if others else students
    return plan


async def deferred_schema(conn) -> list[str]:
    """Drop every foreign key and non-unique index of the schema; return the statements restoring them.

    PostgreSQL's advice for bulk loads ("Populating a Database"): checking a foreign key per row
    and growing each index row by row is far slower than one validating join and one sorted build.
    Unique indexes (ON CONFLICT needs them), primary keys and CHECKs stay, so bad rows still fail.
    Read from the catalog, so indexes added by later migrations are covered too.
    """
    fks = await conn.fetch(
        """SELECT conrelid::regclass::text AS t, conname, pg_get_constraintdef(oid) AS d FROM pg_constraint
           WHERE contype = 'f' AND connamespace = 'public'::regnamespace""")
    idx = await conn.fetch(
        """SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS d
           FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
           WHERE c.relnamespace = 'public'::regnamespace AND NOT i.indisunique""")
    for fk in fks:
        await conn.execute(f'ALTER TABLE {fk["t"]} DROP CONSTRAINT "{fk["conname"]}"')
    for ix in idx:
        await conn.execute(f"DROP INDEX {ix['name']}")
    return ([ix["d"] for ix in idx]
            + [f'ALTER TABLE {fk["t"]} ADD CONSTRAINT "{fk["conname"]}" {fk["d"]}' for fk in fks])


async def restore_schema(url: str, statements: list[str]) -> None:
    """Rebuild the indexes (two at a time: 2 cores) then re-add and validate the foreign keys."""
    indexes = [s for s in statements if s.startswith("CREATE")]
    async def run(chunk: list[str]) -> None:
        conn = await asyncpg.connect(url)
        try:
            await conn.execute("SET maintenance_work_mem = '256MB'")
            for stmt in chunk:
                await conn.execute(stmt)
        finally:
            await conn.close()
    await asyncio.gather(run(indexes[0::2]), run(indexes[1::2]))
    await run([s for s in statements if not s.startswith("CREATE")])


async def load(url: str, students: int = STUDENTS, planteles: int = PLANTELES, big: int = BIG) -> dict:
    """Recreate the database at url and fill it; return counts and seconds per phase."""
    t0 = time.perf_counter()
    await recreate_database(url)
    async with connected(url):
        real = [r["nombre"] for r in await db.fetch_all("SELECT nombre FROM planteles ORDER BY id")]
        per = distribution(real, students, planteles, big)
        plan = Plan(per_plantel=per, default_per_plantel=0, images="shared",
                    extra_planteles=max(0, planteles - len(real)))
        conn = await asyncpg.connect(url)
        try:
            restore = await deferred_schema(conn)
            t1 = time.perf_counter()
            seeded = await seed_demo(plan)
            t2 = time.perf_counter()
            await restore_schema(url, restore)
            t3 = time.perf_counter()
            await conn.execute("VACUUM (ANALYZE)")
        finally:
            await conn.close()
        t4 = time.perf_counter()
        counts = {t: await db.fetch_val(f"SELECT count(*) FROM {t}") for t in ("alumnos", "eventos", "planteles")}
        counts["generated"], counts["plan"] = seeded["alumnos"], per
        counts["planteles_con_alumnos"] = await db.fetch_val("SELECT count(DISTINCT plantel_id) FROM alumnos")
        counts["big"] = await db.fetch_val(
            "SELECT count(*) FROM alumnos a JOIN planteles p ON p.id = a.plantel_id WHERE p.nombre = :n",
            {"n": BIG_PLANTEL})
    return {**counts, "create_s": t1 - t0, "seed_s": t2 - t1, "restore_s": t3 - t2, "vacuum_s": t4 - t3,
            "total_s": t4 - t0}


def main(argv: list[str] | None = None) -> dict:
    """Command line: load the bench data and print what was loaded and how long it took."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--students", type=int, default=STUDENTS)
    ap.add_argument("--planteles", type=int, default=PLANTELES)
    ap.add_argument("--big", type=int, default=BIG)
    ap.add_argument("--url", default=None, help="database to (re)create; default: bench database")
    args = ap.parse_args(argv)
    result = asyncio.run(load(args.url or bench_url(), args.students, args.planteles, args.big))
    print(f"load_data: {result['alumnos']:,} alumnos, {result['eventos']:,} eventos, "
          f"{result['planteles_con_alumnos']} planteles with students, {BIG_PLANTEL}: {result['big']:,}")
    print(f"load_data: create+migrate {result['create_s']:.1f} s, generate+COPY {result['seed_s']:.1f} s, "
          f"indexes+FKs {result['restore_s']:.1f} s, VACUUM ANALYZE {result['vacuum_s']:.1f} s, total {result['total_s']:.1f} s  [{machine()}]")
    return result


if __name__ == "__main__":
    main()
