"""Test helpers for mail: a real in-process SMTP server (aiosmtpd) and the job worker run in-process."""
from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import email
import email.policy
import socket
import time
from email.message import Message

from aiosmtpd.controller import Controller

from app import db, jobs


def free_port() -> int:
    """An unused loopback port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Sink:
    """aiosmtpd handler keeping every message received; `delay` seconds of stalling before accepting each."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.messages: list[Message] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        """Accept a message (after the configured stall)."""
        await asyncio.sleep(self.delay)
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"


@contextlib.contextmanager
def smtp_server(port: int, delay: float = 0.0):
    """A real SMTP server on 127.0.0.1:port for the duration of the block (its own thread and loop)."""
    sink = Sink(delay)
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


async def wait_for(predicate, timeout: float = 30.0, step: float = 0.1) -> float:
    """Poll predicate() until true; return the seconds waited (AssertionError on timeout)."""
    start = time.monotonic()
    while not predicate():
        assert time.monotonic() - start < timeout, "timed out waiting"
        await asyncio.sleep(step)
    return time.monotonic() - start


async def clear_queue() -> None:
    """Empty the job queue and the recovery-request log (other tests leave rows behind)."""
    await db.execute("TRUNCATE pgqueuer, pgqueuer_log, solicitudes_recuperacion")


async def drain(app) -> None:
    """Run the worker until the queue is empty (jobs run in this process: their logs reach caplog)."""
    settings = app.config["SETTINGS"]
    await asyncio.wait_for(jobs.run_worker(settings, settings.database_url, drain=True), 60)


@contextlib.asynccontextmanager
async def running_worker(settings):
    """A continuous worker for the duration of the block."""
    stop = asyncio.Event()
    task = asyncio.create_task(jobs.run_worker(settings, settings.database_url, stop))
    try:
        yield task
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


def smtp_settings(app, port: int, **overrides):
    """A copy of the app's settings that sends to a local SMTP server without TLS."""
    return dataclasses.replace(app.config["SETTINGS"], smtp_host="127.0.0.1", smtp_port=port, smtp_tls="none",
                               **overrides)
