"""A served app (hypercorn subprocess, as in production): the event loop stays free during a sign-in
burst (argon2 runs in app/offload.py's bounded pool), and `serve --worker` sends queued mail."""
from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time

import asyncpg
import httpx
import pytest

from app.auth import hash_password

from .conftest import PASSWORD, ROOT, create_database, drop_database
from .mailtools import free_port, smtp_server, wait_for

USER = "toluca@conalepmex.edu.mx"


@pytest.fixture(scope="module")
async def served(server_url, tmp_path_factory):
    """(base URL, SMTP sink): `python -m app serve --worker` on a fresh database, mail to a local SMTP server."""
    url = await create_database(server_url, "credserved")
    conn = await asyncpg.connect(url)
    await conn.execute("INSERT INTO usuarios (email, password_hash, rol) VALUES ($1, $2, 'estatal')",
                       USER, hash_password(PASSWORD))
    await conn.close()
    port, smtp_port = free_port(), free_port()
    log = tmp_path_factory.mktemp("served") / "server.log"
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "x", "PUBLIC_URL": f"http://127.0.0.1:{port}",
           "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp_port), "SMTP_TLS": "none",
           # the burst must reach argon2, not the throttle: that is what this file measures
           "LOGIN_MAX_FAILURES_ADDRESS": "10000", "LOGIN_MAX_FAILURES_ACCOUNT": "10000"}
    with smtp_server(smtp_port) as sink:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "app", "serve", "--worker", "--port", str(port), cwd=ROOT, env=env,
            stdout=open(log, "w"), stderr=asyncio.subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            async with httpx.AsyncClient(base_url=base, timeout=30) as c:
                deadline = time.monotonic() + 90
                while True:
                    try:
                        if (await c.get("/salud")).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    assert time.monotonic() < deadline and proc.returncode is None, log.read_text()[-3000:]
                    await asyncio.sleep(0.3)
            yield base, sink
        finally:
            proc.terminate()
            await proc.wait()
            await drop_database(server_url, url)


async def _anonymous_client(base: str) -> tuple[httpx.AsyncClient, str]:
    """A client holding the login page's CSRF cookie, and the token."""
    client = httpx.AsyncClient(base_url=base, timeout=60, limits=httpx.Limits(max_connections=100))
    await client.get("/login")
    return client, client.cookies["csrf"]


async def test_health_stays_fast_during_sign_in_burst(served):
    """60 simultaneous sign-ins with unknown e-mails (argon2 each) while /salud is polled: every health
    check answers in under a second; overflow gets the Spanish 503, never a 500."""
    base, _sink = served
    client, token = await _anonymous_client(base)
    latencies: list[float] = []
    try:
        async def burst():
            """The 60 sign-ins at once."""
            return await asyncio.gather(*(client.post("/login", data={
                "email": f"nadie{i}@conalepmex.edu.mx", "password": "incorrecta", "csrf_token": token})
                for i in range(60)))

        started = time.monotonic()
        task = asyncio.create_task(burst())
        async with httpx.AsyncClient(base_url=base, timeout=30) as probe:
            while not task.done():
                t0 = time.monotonic()
                assert (await probe.get("/salud")).status_code == 200
                latencies.append(time.monotonic() - t0)
                await asyncio.sleep(0.05)
        responses = await task
        elapsed = time.monotonic() - started
    finally:
        await client.aclose()
    codes = [r.status_code for r in responses]
    print(f"\nburst {elapsed:.2f} s: {codes.count(401)} evaluated (401), {codes.count(503)} busy (503); "
          f"/salud n={len(latencies)} median {statistics.median(latencies) * 1000:.0f} ms max {max(latencies) * 1000:.0f} ms")
    assert set(codes) <= {401, 503}, codes
    assert codes.count(401) >= 2  # the burst really reached argon2
    assert all("Demasiadas solicitudes" in r.text for r in responses if r.status_code == 503)
    assert len(latencies) >= 2 and max(latencies) < 1.0, latencies


async def test_served_worker_sends_recovery_mail(served):
    """`serve --worker` (what `make run` starts, via --demo) delivers the queued recovery mail by SMTP."""
    base, sink = served
    client, token = await _anonymous_client(base)
    try:
        r = await client.post("/recuperar", data={"email": USER, "csrf_token": token})
    finally:
        await client.aclose()
    assert r.status_code == 200 and "Si el correo corresponde" in r.text
    await wait_for(lambda: any(m["To"] == USER for m in sink.messages), timeout=30)
    body = next(m for m in sink.messages if m["To"] == USER).get_payload(decode=True).decode()
    assert f"{base}/restablecer/" in body
