"""Several app servers on one PostgreSQL (issue 17): two hypercorn instances started at the same moment on a
fresh database (migrations under the advisory lock) and one separate `python -m app worker`. A session
opened on one instance works on the other (sessions, CSRF); an offline drain is sent to instance A, A is
killed in the middle, the device re-sends everything to B: every capture is stored exactly once. Mail queued
by B is sent by the worker process."""
from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
import uuid
from pathlib import Path

import asyncpg
import httpx
import pytest

from .conftest import FIXTURES, ROOT, create_database, drop_database
from .mailtools import free_port

PHOTO = (FIXTURES / "photos" / "rostro-ok-600x800.jpg").read_bytes()
CA = "cdazteca@conalepmex.edu.mx"


async def _start(args: list[str], env: dict, log: Path) -> asyncio.subprocess.Process:
    """A `python -m app …` process logging to a file."""
    return await asyncio.create_subprocess_exec(sys.executable, "-m", "app", *args, cwd=ROOT, env=env,
                                                stdout=open(log, "w"), stderr=asyncio.subprocess.STDOUT)


async def _wait_ready(base: str, proc, log: Path, timeout: float = 120) -> None:
    """Until /salud answers 200."""
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(base_url=base, timeout=5) as c:
        while True:
            try:
                if (await c.get("/salud")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline and proc.returncode is None, log.read_text()[-3000:]
            await asyncio.sleep(0.3)


@pytest.fixture(scope="module")
async def cluster(server_url, tmp_path_factory):
    """{'a', 'b': base URLs, 'procs', 'db': url, 'logs'}: A seeds the demo, B starts at the same moment."""
    url = await create_database(server_url, "credscale")
    logs = tmp_path_factory.mktemp("scale")
    ports = {"a": free_port(), "b": free_port()}
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "compartida-entre-servidores", "PUBLIC_URL": "https://credencial.example"}
    procs = {"a": await _start(["serve", "--demo", "--port", str(ports["a"])], env, logs / "a.log"),
             "b": await _start(["serve", "--port", str(ports["b"])], env, logs / "b.log")}
    try:
        for k in ("a", "b"):
            await _wait_ready(f"http://127.0.0.1:{ports[k]}", procs[k], logs / f"{k}.log")
        deadline = time.monotonic() + 120
        conn = await asyncpg.connect(url)
        while not await conn.fetchval("SELECT count(*) FROM usuarios WHERE email = $1", CA):
            assert time.monotonic() < deadline, (logs / "a.log").read_text()[-3000:]
            await asyncio.sleep(0.5)
        await conn.close()
        procs["worker"] = await _start(["worker"], env, logs / "worker.log")
        yield {"a": f"http://127.0.0.1:{ports['a']}", "b": f"http://127.0.0.1:{ports['b']}", "procs": procs, "db": url,
               "logs": logs}
    finally:
        for p in procs.values():
            if p.returncode is None:
                p.terminate()
                await p.wait()
        await drop_database(server_url, url)


async def _query(url: str, sql: str, *args):
    """Rows of one query on the cluster's database."""
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


async def _signed_in(base: str) -> httpx.AsyncClient:
    """A client signed in as the Ciudad Azteca demo user on one instance."""
    c = httpx.AsyncClient(base_url=base, timeout=60)
    await c.get("/login")
    r = await c.post("/login", data={"email": CA, "password": "demo1234", "csrf_token": c.cookies["csrf"]})
    assert r.status_code == 302, r.text[-500:]
    return c


def _signature() -> bytes:
    """A PNG signature with ink."""
    import io

    from PIL import Image, ImageDraw
    img = Image.new("L", (500, 100), 255)
    ImageDraw.Draw(img).line([(20, 60), (150, 20), (300, 80), (480, 30)], fill=0, width=4)
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


SIGNATURE = _signature()


async def _send(client: httpx.AsyncClient, base: str, matricula: str, key: str, csrf: str) -> int:
    """One outbox upload (as static/js/outbox.js sends it) to an instance; its status, 0 when the connection broke."""
    try:
        r = await client.post(f"{base}/captura/{matricula}/guardar", headers={"X-CSRF-Token": csrf, "Accept": "application/json",
                                                                         "X-Outbox": "1"},
                              data={"estatus": "enrolado", "clave": key, "aviso_version": "1",
                                    "capturado_en": "2026-12-01T10:00:00Z"},
                              files={"foto": ("foto.jpg", PHOTO, "image/jpeg"), "firma": ("firma.png", SIGNATURE, "image/png")})
    except httpx.TransportError:
        return 0
    return r.status_code


async def test_a_session_opened_on_one_instance_works_on_the_other(cluster):
    """Sign in on A; B knows the session, its CSRF token and the user (state lives in PostgreSQL only)."""
    client = await _signed_in(cluster["a"])
    try:
        on_a = (await client.get(f"{cluster['a']}/pwa/sesion")).json()
        on_b = (await client.get(f"{cluster['b']}/pwa/sesion")).json()
        assert on_a["user"] == on_b["user"] and on_a["csrf"] == on_b["csrf"] and on_b["llave"] == on_a["llave"]
        r = await client.post(f"{cluster['b']}/recuperar", data={"email": "nadie@conalepmex.edu.mx", "csrf_token": on_b["csrf"]})
        assert r.status_code == 200  # a form token issued by A accepted by B
    finally:
        await client.aclose()


async def test_drain_survives_an_instance_killed_mid_way(cluster):
    """30 captures drained to A; A is killed while uploads are in flight; the device re-sends all of them (same
    keys) to B: every student ends with exactly one capture, stored once."""
    rows = await _query(cluster["db"], """SELECT a.matricula FROM alumnos a JOIN planteles p ON p.id = a.plantel_id
                                         WHERE p.nombre = 'Ciudad Azteca' AND a.estatus = 'enrolado' ORDER BY a.matricula LIMIT 30""")
    students = [r["matricula"] for r in rows]
    assert len(students) == 30
    keys = {m: str(uuid.uuid4()) for m in students}
    client = await _signed_in(cluster["a"])
    csrf = (await client.get(f"{cluster['a']}/pwa/sesion")).json()["csrf"]
    try:
        first = [await _send(client, cluster["a"], m, keys[m], csrf) for m in students[:10]]
        assert first == [200] * 10
        in_flight = [asyncio.create_task(_send(client, cluster["a"], m, keys[m], csrf)) for m in students[10:20]]
        await asyncio.sleep(0.3)
        cluster["procs"]["a"].send_signal(signal.SIGKILL)  # the instance dies with uploads under way
        await cluster["procs"]["a"].wait()
        await asyncio.gather(*in_flight)
        again = [await _send(client, cluster["b"], m, keys[m], csrf) for m in students]  # the device re-sends all
        assert again == [200] * 30, again
    finally:
        await client.aclose()
    counts = await _query(cluster["db"], """SELECT a.matricula, count(DISTINCT c.clave) AS capturas, count(DISTINCT b.id) AS fotos
                                           FROM alumnos a LEFT JOIN capturas c ON c.alumno_id = a.id
                                           LEFT JOIN biometricos b ON b.alumno_id = a.id AND b.tipo = 'foto'
                                           WHERE a.matricula = ANY($1) GROUP BY a.matricula""", students)
    assert {r["matricula"]: (r["capturas"], r["fotos"]) for r in counts} == {m: (1, 1) for m in students}


async def test_mail_queued_by_an_instance_is_sent_by_the_worker(cluster):
    """A recovery request on B queues its mail in PostgreSQL; the separate worker process delivers it (no SMTP
    here: it writes it to its log) and the queue empties."""
    async with httpx.AsyncClient(base_url=cluster["b"], timeout=30) as c:
        await c.get("/login")
        r = await c.post("/recuperar", data={"email": CA, "csrf_token": c.cookies["csrf"]})
        assert r.status_code == 200
    log = cluster["logs"] / "worker.log"
    deadline = time.monotonic() + 60
    while CA not in log.read_text():
        assert time.monotonic() < deadline, log.read_text()[-2000:]
        await asyncio.sleep(0.5)
    assert "/restablecer/" in log.read_text()
