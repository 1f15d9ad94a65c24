"""Forward-only numbered migrations from sql/migrations, under an advisory lock."""
from __future__ import annotations

import logging

import asyncpg

from . import jobs
from .config import ROOT

log = logging.getLogger(__name__)
MIGRATIONS = ROOT / "sql" / "migrations"
LOCK_KEY = 7_301_2019  # arbitrary constant shared by every app instance


async def migrate(url: str) -> list[str]:
    """Apply pending migrations in order; return the names applied."""
    conn = await asyncpg.connect(url)
    applied: list[str] = []
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", LOCK_KEY)
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {r["name"] for r in await conn.fetch("SELECT name FROM schema_migrations")}
        for path in sorted(MIGRATIONS.glob("[0-9][0-9][0-9][0-9]_*.sql")):
            if path.name in done:
                continue
            async with conn.transaction():
                await conn.execute(path.read_text())
                await conn.execute("INSERT INTO schema_migrations(name) VALUES ($1)", path.name)
            log.info("applied migration %s", path.name)
            applied.append(path.name)
        await jobs.install(conn)  # the background job queue's own tables (pgqueuer)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", LOCK_KEY)
        await conn.close()
    return applied
