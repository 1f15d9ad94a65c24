"""The database handle: `databases` over asyncpg, plus helpers for raw asyncpg work.

Query convention: raw SQL with named parameters (`:name`). Write casts as
`CAST(:x AS int)`, never `:x::int` (the parameter parser would misread it).
"""
from __future__ import annotations

import contextlib
from typing import Any, AsyncIterator

from databases import Database

db: Database | None = None


def get_db() -> Database:
    """The application's Database (connected in create_app's startup)."""
    assert db is not None, "database not configured"
    return db


def set_db(database: Database | None) -> None:
    """Install the Database used by query modules."""
    global db
    db = database


def make_database(url: str, pool_max: int = 10) -> Database:
    """A Database for url with a bounded asyncpg pool."""
    return Database(url, min_size=1, max_size=pool_max)


async def fetch_all(query: str, values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Run query and return rows as dicts."""
    rows = await get_db().fetch_all(query, values)
    return [dict(r._mapping) for r in rows]


async def fetch_one(query: str, values: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """Run query and return the first row as a dict, or None."""
    row = await get_db().fetch_one(query, values)
    return dict(row._mapping) if row is not None else None


async def fetch_val(query: str, values: dict[str, Any] | None = None) -> Any:
    """Run query and return the first column of the first row."""
    return await get_db().fetch_val(query, values)


async def execute(query: str, values: dict[str, Any] | None = None) -> Any:
    """Run a statement."""
    return await get_db().execute(query, values)


@contextlib.asynccontextmanager
async def raw_connection() -> AsyncIterator[Any]:
    """The asyncpg connection under `databases` (COPY, cursors, binary data)."""
    async with get_db().connection() as conn:
        yield conn.raw_connection
