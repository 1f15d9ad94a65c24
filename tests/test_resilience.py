"""The database goes away while the app runs: clean Spanish errors, then recovery by itself."""
from __future__ import annotations

import asyncio
import os
import socket
import sys
import time
import urllib.error
import urllib.request

import asyncpg
from urllib.parse import urlsplit

from .conftest import ROOT, create_database, drop_database, with_database


def _free_port() -> int:
    """An unused loopback port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> tuple[int, str]:
    """GET url; (status, body) also for error statuses."""
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


async def _set_connections(server_url: str, name: str, allow: bool) -> None:
    """Allow or forbid connections to a database and drop the current ones (a restart, seen from the app)."""
    admin = await asyncpg.connect(with_database(server_url, "postgres"))
    try:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(allow).lower()}')
        if not allow:
            await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name)
    finally:
        await admin.close()


async def test_database_outage_and_recovery(server_url, tmp_path):
    """During the outage pages answer 503 in Spanish and the process stays up; afterwards all is well."""
    url = await create_database(server_url, "credresil")
    name = urlsplit(url).path.lstrip("/")
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "x", "PUBLIC_URL": f"http://127.0.0.1:{port}"}
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "app", "serve", "--port", str(port),
                                                cwd=ROOT, env=env, stdout=open(tmp_path / "server.log", "w"),
                                                stderr=asyncio.subprocess.STDOUT)
    log = tmp_path / "server.log"
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if (await asyncio.to_thread(_get, base + "/salud"))[0] == 200:
                    break
            except OSError:
                await asyncio.sleep(0.3)
        assert (await asyncio.to_thread(_get, base + "/salud"))[0] == 200
        await _set_connections(server_url, name, allow=False)
        status, body = await asyncio.to_thread(_get, base + "/salud")
        assert status == 503
        status, body = await asyncio.to_thread(_get, base + "/restablecer/abc")  # a page that reads the database
        assert status == 503 and "La base de datos no está disponible" in body, log.read_text()[-3000:]
        assert proc.returncode is None  # still running
        await _set_connections(server_url, name, allow=True)
        statuses = []
        for _ in range(3):  # recovers without a restart
            statuses.append((await asyncio.to_thread(_get, base + "/salud"))[0])
        assert statuses[-1] == 200, statuses
        status, body = await asyncio.to_thread(_get, base + "/restablecer/abc")
        assert status == 400 and "no es válido" in body
    finally:
        proc.terminate()
        await proc.wait()
        await _set_connections(server_url, name, allow=True)
        await drop_database(server_url, url)
