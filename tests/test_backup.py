"""Backups: a dump restored into a fresh database holds every student, image and event."""
from __future__ import annotations

import os

import hashlib
import subprocess

import asyncpg
import pytest

from app.backup import BackupError, backup, pg_bin, restore
from app.biocrypt import is_sealed, unseal

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
            await assert_same_images_sealed(conn)
        finally:
            await conn.close()
        dump_sql = subprocess.run([pg_bin("pg_restore"), "--data-only", "-f", "-", str(dump)], capture_output=True,
                                  check=True).stdout
        assert b"\\x43524231" in dump_sql and not any(sig in dump_sql for sig in HEX_SIGNATURES + RAW_SIGNATURES)
    finally:
        await drop_database(server_url, target)


RAW_SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG")
HEX_SIGNATURES = (b"\\xffd8ff", b"\\x89504e47")  # bytea as pg_restore writes it in COPY text


async def assert_same_images_sealed(conn) -> None:
    """Restored datos are ciphertext only, and decrypt byte-for-byte to the source's images and their sha256."""
    from app import db

    src = {r["id"]: unseal(r["datos"]) for r in await db.fetch_all("SELECT id, datos FROM biometricos")}
    rows = await conn.fetch("SELECT id, datos, sha256 FROM biometricos ORDER BY id")
    assert rows and len(rows) == len(src)
    for r in rows:
        raw = bytes(r["datos"])
        assert not raw.startswith(RAW_SIGNATURES) and is_sealed(raw)
        plain = unseal(raw)
        assert plain == src[r["id"]] and hashlib.sha256(plain).hexdigest() == r["sha256"]


async def test_restore_without_the_key_is_a_clear_error(app, database_url, server_url, tmp_path, monkeypatch):
    """A server whose BIOMETRIC_KEY is another key restores the rows but refuses with the Spanish message."""
    from app import biocrypt

    await make_student("capturado")
    dump = backup(database_url, tmp_path / "respaldo.dump")
    name = f"credrestore_nokey_{os.getpid()}"
    target = with_database(server_url, name)
    admin = await asyncpg.connect(with_database(server_url, "postgres"))
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    monkeypatch.setenv("BIOMETRIC_KEY", biocrypt.new_key_text())
    biocrypt.reload()
    try:
        with pytest.raises(BackupError, match="no puede leer sus imágenes.*BIOMETRIC_KEY"):
            restore(target, dump)
    finally:
        monkeypatch.undo()
        biocrypt.reload()
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
