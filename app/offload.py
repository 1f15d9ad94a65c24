"""CPU-heavy work off the event loop, with a bounded queue.

`await offload.cpu(fn, *args)` runs fn in a thread pool sized to the cores. At most
`queue_limit()` calls wait for a thread; one more raises `Busy` at once (the app answers a
Spanish 503 "Demasiadas solicitudes…") instead of piling up requests and memory. The threads run
at a lower CPU priority than the event loop. Use it for every step that holds the CPU for
milliseconds: argon2, image decoding and checks, PDF drawing.
"""
from __future__ import annotations

import asyncio
import functools
import os
import threading
import weakref
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, TypeVar

T = TypeVar("T")
BUSY_MESSAGE = "Demasiadas solicitudes, intente en unos segundos."


class Busy(Exception):
    """Every thread is busy and the waiting line is full: answer 503 and let the client retry."""


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def threads() -> int:
    """Threads of the pool (OFFLOAD_THREADS, default one per core)."""
    return int(os.environ.get("OFFLOAD_THREADS") or cores())


def queue_limit() -> int:
    """Calls allowed to wait for a thread (OFFLOAD_QUEUE, default 8 per thread)."""
    return int(os.environ.get("OFFLOAD_QUEUE") or 8 * threads())


class _Gate:
    """Per event loop: a semaphore for the threads and a count of the calls waiting for one."""

    def __init__(self) -> None:
        self.running = asyncio.Semaphore(threads())
        self.waiting = 0


def _lower_priority() -> None:
    """Pool threads run niced (OFFLOAD_NICE, default 10; threads they start inherit it), so the event
    loop thread, which answers every request, is never starved by hashing or image work."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), int(os.environ.get("OFFLOAD_NICE") or 10))
    except (AttributeError, OSError):  # not Linux, or not allowed: run at normal priority
        pass


_pool = ThreadPoolExecutor(max_workers=threads(), thread_name_prefix="offload", initializer=_lower_priority)
_gates: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Gate]" = weakref.WeakKeyDictionary()


def _gate() -> _Gate:
    """The gate of the running loop (tests and the CLI may run several loops in one process)."""
    loop = asyncio.get_running_loop()
    gate = _gates.get(loop)
    if gate is None:
        gate = _gates[loop] = _Gate()
    return gate


async def cpu(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run fn(*args, **kwargs) in the pool; raise Busy when the waiting line is full."""
    gate = _gate()
    if gate.running.locked() and gate.waiting >= queue_limit():
        raise Busy(BUSY_MESSAGE)
    gate.waiting += 1
    try:
        await gate.running.acquire()
    finally:
        gate.waiting -= 1
    try:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(_pool, functools.partial(fn, *args, **kwargs))
    finally:
        gate.running.release()
