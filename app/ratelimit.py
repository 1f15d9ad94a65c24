"""Rate limits shared by every app server: a fixed-window counter per key in PostgreSQL.

One statement counts the request and returns the count (INSERT … ON CONFLICT DO UPDATE is atomic,
so concurrent requests on several servers never both see the last free slot). Limits are
"requests/seconds" and can be changed with environment variables (docs/security.md).
"""
from __future__ import annotations

import os
import random
from dataclasses import dataclass

from . import db
from .edge import EdgeError

# name → (environment variable, default "requests/seconds")
LIMITS = {
    "verificar": ("RATE_LIMIT_VERIFICAR", "60/60"),        # public QR page, per address
    "api_token": ("RATE_LIMIT_API_TOKEN", "300/60"),       # company API, per token
    "api_address": ("RATE_LIMIT_API_ADDRESS", "600/60"),   # company API, per address (valid token or not)
}
CLEANUP_CHANCE = 0.01  # one counted request in 100 also deletes windows older than a day


class Limited(EdgeError):
    """Too many requests; str() is the Spanish message, retry_after the seconds to wait."""

    def __init__(self, message: str, retry_after: int):
        super().__init__(message, 429)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Limit:
    """At most `requests` in each window of `seconds`."""

    requests: int
    seconds: int


def limit(name: str) -> Limit:
    """The configured limit of a kind of request ("30/60" = 30 requests per 60 s)."""
    env, default = LIMITS[name]
    requests, _, seconds = (os.environ.get(env) or default).partition("/")
    return Limit(max(1, int(requests)), max(1, int(seconds or 60)))


async def count(key: str, lim: Limit) -> tuple[int, int]:
    """Count one request of key in the current window; return (requests so far, seconds left)."""
    if random.random() < CLEANUP_CHANCE:
        await db.execute("DELETE FROM limites_uso WHERE ventana < now() - interval '1 day'")
    row = await db.fetch_one(
        """WITH w AS (SELECT to_timestamp(floor(extract(epoch FROM now()) / CAST(:s AS int)) * CAST(:s AS int)) AS inicio)
           INSERT INTO limites_uso AS l (clave, ventana, n) SELECT :k, inicio, 1 FROM w
           ON CONFLICT (clave, ventana) DO UPDATE SET n = l.n + 1
           RETURNING n, greatest(1, ceil(extract(epoch FROM l.ventana) + CAST(:s AS int) - extract(epoch FROM now())))::int
                     AS espera""", {"k": key, "s": lim.seconds})
    return row["n"], row["espera"]


async def check(name: str, who: str, message: str = "Demasiadas solicitudes. Espere un momento e intente de "
                                                     "nuevo.") -> None:
    """Count a request of kind `name` by `who`; raise Limited (429) once over the limit."""
    lim = limit(name)
    n, wait = await count(f"{name}:{who}", lim)
    if n > lim.requests:
        raise Limited(f"{message} (Intente de nuevo en {wait} s.)", wait)
