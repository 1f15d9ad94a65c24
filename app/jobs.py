"""The durable background job queue: pgqueuer on the app's own PostgreSQL database.

`await enqueue(name, payload)` adds a job on the caller's connection, so inside
`db.get_db().transaction()` the job commits or rolls back with the caller's data. A worker
(`python -m app worker`, or the one `serve --demo` starts) runs the handlers registered with
`@handler(name)`; a handler that raises is retried with exponential back-off, and after
`MAIL_MAX_ATTEMPTS` tries the job is kept with status 'failed' (table `pgqueuer`) for a person to see.
Choice of engine and why: docs/architecture.md ("Background jobs").
"""
from __future__ import annotations

import asyncio
import json
import logging
from datetime import timedelta
from typing import Any, Awaitable, Callable

import asyncpg
from pgqueuer import AsyncpgDriver, DatabaseRetryEntrypointExecutor, Job, QueueManager, Queries, SchedulerManager
from pgqueuer.types import QueueExecutionMode

from . import db

log = logging.getLogger(__name__)
Handler = Callable[[Any, dict], Awaitable[None]]  # (settings, payload)
HANDLERS: dict[str, Handler] = {}
CONCURRENCY: dict[str, int] = {}  # name → jobs of that name one worker runs at once (default 4)
Scheduled = Callable[[Any, str], Awaitable[Any]]  # (settings, database url)
SCHEDULES: dict[str, tuple[Callable[[Any], str], Scheduled]] = {}  # name → (settings → UTC cron expression, fn)
RECONNECT_SECONDS = 5


def handler(name: str, concurrency: int = 4) -> Callable[[Handler], Handler]:
    """Register an async handler(settings, payload) for the jobs called name (at most concurrency at once per worker)."""
    def register(fn: Handler) -> Handler:
        """Add fn to the registry."""
        HANDLERS[name] = fn
        CONCURRENCY[name] = concurrency
        return fn
    return register


def scheduled(name: str, cron: Callable[[Any], str]) -> Callable[[Scheduled], Scheduled]:
    """Register an async fn(settings, url) that the worker runs at cron(settings) (a UTC cron expression;
    pgqueuer's scheduler: one run per due time whatever the number of workers)."""
    def register(fn: Scheduled) -> Scheduled:
        """Add fn to the schedule registry."""
        SCHEDULES[name] = (cron, fn)
        return fn
    return register


def _scheduler(queries: Queries, settings, url: str) -> SchedulerManager | None:
    """pgqueuer's cron scheduler with every registered schedule (None when there is none)."""
    from . import privacy  # noqa: F401 — registers the daily purge of biometrics (docs/privacy.md)

    if not SCHEDULES:
        return None
    sm = SchedulerManager(queries)
    for name, (cron, fn) in SCHEDULES.items():
        async def run(_schedule, fn: Scheduled = fn) -> None:
            """Call the scheduled function."""
            await fn(settings, url)
        sm.schedule(name, cron(settings), clean_old=True)(run)
    return sm


async def _run_with_scheduler(qm: QueueManager, sm: SchedulerManager | None, **options) -> None:
    """Run the queue manager and, beside it, the scheduler; the scheduler stops when the queue does."""
    task = asyncio.create_task(sm.run()) if sm else None
    try:
        await qm.run(**options)
    finally:
        if task:
            sm.shutdown.set()
            for outcome in await asyncio.gather(task, return_exceptions=True):
                if isinstance(outcome, Exception):
                    log.error("programador de trabajos: %s", outcome)


async def install(conn: asyncpg.Connection) -> None:
    """Create pgqueuer's tables on first use, bring them up to this pgqueuer version afterwards."""
    queries = Queries(AsyncpgDriver(conn))
    if await queries.schema_is_installed():
        await queries.upgrade()
    else:
        await queries.install()


async def enqueue(name: str, payload: dict) -> int:
    """Queue a job on the current connection (inside the caller's transaction, if any); return its id."""
    async with db.raw_connection() as conn:
        ids = await Queries(AsyncpgDriver(conn)).enqueue(name, json.dumps(payload).encode())
    return int(ids[0])


def _executor(settings) -> Callable:
    """pgqueuer's retrying executor with our back-off settings."""
    def make(parameters) -> DatabaseRetryEntrypointExecutor:
        """One executor per entrypoint."""
        return DatabaseRetryEntrypointExecutor(
            parameters=parameters, max_attempts=settings.mail_max_attempts,
            initial_delay=timedelta(seconds=settings.mail_retry_seconds), max_delay=timedelta(minutes=10))
    return make


def _register(qm: QueueManager, settings) -> None:
    """Bind every registered handler to the queue manager."""
    from . import mail  # noqa: F401 — registers the mail handler
    from . import paquetes  # noqa: F401 — registers the print-package builds

    for name, fn in HANDLERS.items():
        async def run(job: Job, fn: Handler = fn) -> None:
            """Decode the payload and call the handler."""
            await fn(settings, json.loads(job.payload or b"{}"))
        qm.entrypoint(name, concurrency_limit=CONCURRENCY.get(name, 4), on_failure="hold", executor_factory=_executor(settings))(run)


async def run_worker(settings, url: str, stop: asyncio.Event | None = None, drain: bool = False) -> None:
    """Process jobs until stop is set (drain=True: until the queue is empty)."""
    conn = await asyncpg.connect(url)
    try:
        queries = Queries(AsyncpgDriver(conn))  # one driver (and its lock) for the queue and the scheduler
        qm = QueueManager(queries)
        _register(qm, settings)
        watcher = asyncio.create_task(_stop_when(stop, qm)) if stop else None
        mode = QueueExecutionMode.drain if drain else QueueExecutionMode.continuous
        try:
            await _run_with_scheduler(qm, None if drain else _scheduler(queries, settings, url),
                                      dequeue_timeout=timedelta(seconds=10), batch_size=4, mode=mode)
        finally:
            if watcher:
                watcher.cancel()
    finally:
        await conn.close()


async def _stop_when(stop: asyncio.Event, qm: QueueManager) -> None:
    """Ask the queue manager to stop once stop is set."""
    await stop.wait()
    qm.shutdown.set()


async def run_forever(settings, url: str, stop: asyncio.Event | None = None) -> None:
    """The worker process: run, and reconnect after a database outage, until stop is set."""
    stop = stop or asyncio.Event()
    while not stop.is_set():
        try:
            await run_worker(settings, url, stop)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as e:
            log.warning("cola de trabajos: sin base de datos (%s); reintento en %s s", e, RECONNECT_SECONDS)
            try:
                await asyncio.wait_for(stop.wait(), RECONNECT_SECONDS)
            except asyncio.TimeoutError:
                pass
