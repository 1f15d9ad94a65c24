"""Mail through the durable job queue, against a real SMTP server (aiosmtpd): issue 11, item 3."""
from __future__ import annotations

import asyncio
import os
import signal
import statistics
import sys
import time

import pytest

from app import db
from app.mail import enqueue_mail

from .conftest import ROOT, csrf_of, post
from .mailtools import clear_queue, free_port, running_worker, smtp_server, smtp_settings, wait_for


@pytest.fixture(autouse=True)
async def empty_queue(app):
    """Each test starts with an empty queue and no recovery requests."""
    await clear_queue()


async def _timed_post(client, path: str, form: dict) -> tuple[float, int, str]:
    """(seconds, status, body) of one POST."""
    t0 = time.monotonic()
    r = await post(client, path, form)
    return time.monotonic() - t0, r.status_code, await r.get_data(as_text=True)


async def test_recovery_mail_arrives_once(app, client, users):
    """The worker delivers the recovery mail over SMTP exactly once, with a working link."""
    port = free_port()
    with smtp_server(port) as sink:
        async with running_worker(smtp_settings(app, port)):
            await post(client, "/recuperar", {"email": users["plantel"]["email"]})
            await wait_for(lambda: len(sink.messages) >= 1)
            await asyncio.sleep(1.5)  # a second delivery would have arrived by now
    assert len(sink.messages) == 1
    msg = sink.messages[0]
    assert msg["To"] == users["plantel"]["email"] and "Recuperar contraseña" in msg["Subject"]
    body = msg.get_payload(decode=True).decode()
    path = body[body.index("/restablecer/"):].split()[0]
    assert (await client.get(path)).status_code == 200
    assert await db.fetch_val("SELECT count(*) FROM pgqueuer") == 0  # done jobs leave the queue


async def test_slow_smtp_server_does_not_slow_the_request(app, client, users):
    """A mail server that stalls 3 s per message: the request answers at once; the mail still arrives."""
    port = free_port()
    with smtp_server(port, delay=3.0) as sink:
        async with running_worker(smtp_settings(app, port)):
            seconds, status, _ = await _timed_post(client, "/recuperar", {"email": users["estatal"]["email"]})
            assert status == 200 and seconds < 1.0, seconds
            waited = await wait_for(lambda: len(sink.messages) == 1, timeout=30)
    assert waited >= 2.0  # it really went through the stalling server


async def test_mail_server_down_then_back_is_retried_with_back_off(app, client, users):
    """No mail server: the request answers at once, the job is retried with growing delays, and the mail
    goes out once the server is back."""
    port = free_port()
    settings = smtp_settings(app, port, mail_retry_seconds=0.3, smtp_timeout=2)
    async with running_worker(settings):
        seconds, status, _ = await _timed_post(client, "/recuperar", {"email": users["admin"]["email"]})
        assert status == 200 and seconds < 1.0
        seen = await _attempt_times(3)  # three failed deliveries, each re-queued
        first_gap, second_gap = seen[2] - seen[1], seen[3] - seen[2]
        assert second_gap > first_gap, seen  # back-off: each wait longer than the one before
        with smtp_server(port) as sink:
            await wait_for(lambda: len(sink.messages) == 1, timeout=30)
    assert sink.messages[0]["To"] == users["admin"]["email"]
    assert await db.fetch_val("SELECT count(*) FROM pgqueuer") == 0


async def _attempt_times(n: int, timeout: float = 30) -> dict[int, float]:
    """When the queued job's attempt counter first reached 1..n (pgqueuer counts failed tries)."""
    start, seen = time.monotonic(), {}
    while len(seen) < n:
        assert time.monotonic() - start < timeout, seen
        attempts = await db.fetch_val("SELECT COALESCE(max(attempts), 0) FROM pgqueuer")
        if attempts and attempts not in seen:
            seen[attempts] = time.monotonic()
        await asyncio.sleep(0.02)
    return seen


async def test_known_and_unknown_emails_answer_identically(app, client, users, monkeypatch):
    """Status, body and timing of /recuperar are the same for existing and unknown e-mails, even with a
    mail server that stalls 2 s per message configured (the request never talks to it)."""
    port = free_port()
    for name, value in vars(smtp_settings(app, port)).items():
        monkeypatch.setattr(app.config["SETTINGS"], name, value)
    known = [u["email"] for u in users.values()]
    unknown = [f"nadie{i}@conalepmex.edu.mx" for i in range(len(known))]
    await csrf_of(client)
    results = {"known": [], "unknown": []}
    with smtp_server(port, delay=2.0):
        for k, u in zip(known, unknown):  # interleaved, so machine load hits both alike
            results["known"].append(await _timed_post(client, "/recuperar", {"email": k}))
            results["unknown"].append(await _timed_post(client, "/recuperar", {"email": u}))
    assert {(s, b) for _, s, b in results["known"]} == {(s, b) for _, s, b in results["unknown"]}
    assert len({(s, b) for _, s, b in results["known"]}) == 1
    t_known = statistics.median(t for t, _, _ in results["known"])
    t_unknown = statistics.median(t for t, _, _ in results["unknown"])
    assert t_known < 0.5 and t_unknown < 0.5
    assert abs(t_known - t_unknown) < 0.05, (t_known, t_unknown)
    assert await db.fetch_val("SELECT count(*) FROM pgqueuer") == len(known)


async def test_mail_is_queued_in_the_callers_transaction(app):
    """enqueue_mail inside a transaction that rolls back leaves no job (mail exists iff the data does)."""
    with pytest.raises(RuntimeError):
        async with db.get_db().transaction():
            await enqueue_mail("alguien@conalepmex.edu.mx", "Aviso", "texto")
            raise RuntimeError("rollback")
    assert await db.fetch_val("SELECT count(*) FROM pgqueuer") == 0
    await enqueue_mail("alguien@conalepmex.edu.mx", "Aviso", "texto")
    assert await db.fetch_val("SELECT count(*) FROM pgqueuer") == 1


async def test_generic_mail_with_html_alternative(app):
    """enqueue_mail(to, subject, text, html) sends a multipart message with both parts."""
    port = free_port()
    with smtp_server(port) as sink:
        async with running_worker(smtp_settings(app, port)):
            await enqueue_mail("plantel@conalepmex.edu.mx", "Orden enviada", "La orden 7 salió.", "<p>La orden <b>7</b> salió.</p>")
            await wait_for(lambda: len(sink.messages) == 1)
    msg = sink.messages[0]
    assert msg.is_multipart()
    parts = {p.get_content_type(): p.get_payload(decode=True).decode() for p in msg.walk() if not p.is_multipart()}
    assert "La orden 7 salió." in parts["text/plain"] and "<b>7</b>" in parts["text/html"]


async def test_worker_command_sends_and_stops_on_sigterm(app, database_url):
    """`python -m app worker` delivers queued mail and exits cleanly on SIGTERM (the Procfile's worker)."""
    port = free_port()
    await enqueue_mail("cola@conalepmex.edu.mx", "Prueba", "desde la cola")
    env = {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": "x", "PUBLIC_URL": "http://test",
           "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port), "SMTP_TLS": "none"}
    with smtp_server(port) as sink:
        proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "app", "worker", cwd=ROOT, env=env,
                                                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        try:
            await wait_for(lambda: len(sink.messages) == 1, timeout=60)
        finally:
            proc.send_signal(signal.SIGTERM)
            out, _ = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, out.decode()[-2000:]
    assert sink.messages[0]["To"] == "cola@conalepmex.edu.mx"
