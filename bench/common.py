"""What the bench scripts share: the bench database's URL and how to open it."""
from __future__ import annotations

import contextlib
import os
import platform
from datetime import datetime, timezone
from typing import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from app import db

BENCH_DB = "credencializacion_bench"
BIG_PLANTEL = "Toluca"  # the plantel that gets 10,000 students (the Excel bench)


def with_database(url: str, name: str) -> str:
    """url pointing at another database name (works for socket URLs with ?host=)."""
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


def database_name(url: str) -> str:
    """The database name of a URL."""
    return urlsplit(url).path.lstrip("/")


async def drop_database(url: str) -> None:
    """Drop the database of url, terminating its connections."""
    admin = await asyncpg.connect(with_database(url, "postgres"))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{database_name(url)}" WITH (FORCE)')
    finally:
        await admin.close()


async def recreate_database(url: str) -> None:
    """Drop and create the database of url, then migrate it."""
    from app.migrate import migrate

    await drop_database(url)
    admin = await asyncpg.connect(with_database(url, "postgres"))
    try:
        await admin.execute(f'CREATE DATABASE "{database_name(url)}"')
    finally:
        await admin.close()
    await migrate(url)


def bench_url() -> str:
    """BENCH_DATABASE_URL, else the bench database in the embedded cluster."""
    if os.environ.get("BENCH_DATABASE_URL"):
        return os.environ["BENCH_DATABASE_URL"]
    from app.pgembed import embedded_url

    return with_database(embedded_url(), BENCH_DB)


@contextlib.asynccontextmanager
async def connected(url: str, pool_max: int = 4) -> AsyncIterator[None]:
    """Install a Database for url as the app's db while the block runs."""
    previous = db.db
    database = db.make_database(url, pool_max)
    await database.connect()
    db.set_db(database)
    try:
        yield
    finally:
        await database.disconnect()
        db.set_db(previous)


def machine() -> str:
    """One line describing where a figure was measured."""
    load = os.getloadavg()[0]
    return (f"{platform.node()} · {os.cpu_count()} cores · load {load:.1f} · Python {platform.python_version()} · "
            f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC")


async def require_data(url: str) -> int:
    """The number of students in the bench database; exit with a hint when it is not loaded."""
    import asyncpg

    try:
        conn = await asyncpg.connect(url)
    except asyncpg.InvalidCatalogNameError:
        raise SystemExit("No bench database: run `.venv/bin/python -m bench.load_data` first.")
    try:
        n = await conn.fetchval("SELECT count(*) FROM alumnos")
    finally:
        await conn.close()
    if not n:
        raise SystemExit("The bench database is empty: run `.venv/bin/python -m bench.load_data` first.")
    return n


async def sign_in(app, email: str, password: str = "demo1234"):
    """A test client of app signed in through the real login form (demo password)."""
    client = app.test_client()
    await client.get("/login")
    token = next(c.value for c in client.cookie_jar if c.name == "csrf")
    r = await client.post("/login", form={"email": email, "password": password, "csrf_token": token})
    assert r.status_code == 302, f"sign-in failed for {email}: {r.status_code}"
    return client
