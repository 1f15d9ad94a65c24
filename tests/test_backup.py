"""Backups: a dump restored into a fresh database holds every student, image and event."""
from __future__ import annotations

import os

import asyncpg

from app.backup import backup, restore

from .conftest import drop_database, make_student, with_database


async def test_backup_and_restore_roundtrip(app, database_url, server_url, tmp_path):
    """Dump the test database, restore into a new one, compare students, images and events."""
    from app import db
    from app.status import transition

    from .conftest import actor

    students = [await make_student(s) for s in ("enrolado", "capturado", "entregado")]
    await db.execute("INSERT INTO usuarios (email, password_hash, rol) VALUES ('x@conalepmex.edu.mx', 'h', 'estatal')")
    await transition(students[1]["id"], "aplazar",
                     actor({"id": None, "rol": "plantel", "plantel_id": students[1]["plantel_id"], "email": "t"}),
                     comment="sombra")
    dump = backup(database_url, tmp_path / "respaldo.dump")
    assert dump.stat().st_size > 1000

    name = f"credrestore_{os.getpid()}"
    target = with_database(server_url, name)
    admin = await asyncpg.connect(with_database(server_url, "postgres"))
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    try:
        restore(target, dump)
        conn = await asyncpg.connect(target)
        try:
            for table, key in (("alumnos", "matricula"), ("biometricos", "sha256"), ("eventos", "comentario")):
                src = await db.fetch_all(f"SELECT {key} FROM {table} ORDER BY 1")
                dst = [dict(r) for r in await conn.fetch(f"SELECT {key} FROM {table} ORDER BY 1")]
                assert src == dst and src, table
            same = await conn.fetchval("SELECT bool_and(sha256 = encode(sha256(datos), 'hex')) FROM biometricos")
            assert same
        finally:
            await conn.close()
    finally:
        await drop_database(server_url, target)


async def test_backup_command(app, database_url, tmp_path):
    """`python -m app backup FILE` writes a dump; a bad target gives a Spanish error."""
    import asyncio
    import sys

    async def run(*args):
        """Run the command line against the test database."""
        proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "app", *args, env={
            **os.environ, "DATABASE_URL": database_url}, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT)
        out, _ = await proc.communicate()
        return proc.returncode, out.decode()

    code, out = await run("backup", str(tmp_path / "r.dump"))
    assert code == 0 and "Respaldo escrito" in out and (tmp_path / "r.dump").stat().st_size > 1000
    code, out = await run("restore", str(tmp_path / "no-existe.dump"))
    assert code != 0 and "No existe el respaldo" in out
