"""Stored biometric images: the one reader of `biometricos.datos` (decrypted by app/biocrypt.py), the
start-up check that this server holds every key in use, and the key rotation (docs/privacy.md,
«Cifrado en reposo»). A purged image (`datos` NULL, migration 0017) reads as PurgedImage."""
from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass, field
from typing import Callable

from .. import biocrypt, db
from ..biocrypt import BiometricKeyError, DamagedBlob
from ..urls import is_production

log = logging.getLogger(__name__)
PURGED_MESSAGE = "Biométricos eliminados (política de conservación)."


class PurgedImage(LookupError):
    """An image whose bytes were deleted by the retention policy or an ARCO cancellation."""

    status = 410

    def __init__(self) -> None:
        """The Spanish message is fixed."""
        super().__init__(PURGED_MESSAGE)


def plain(datos) -> bytes:
    """The image bytes of a stored `datos` value (PurgedImage for NULL, BiometricKeyError when unreadable)."""
    if datos is None:
        raise PurgedImage()
    return biocrypt.unseal(datos)


def plain_or_empty(datos) -> bytes:
    """As plain(), but b'' for a missing or purged image (packages and cards draw without it)."""
    return b"" if datos is None else biocrypt.unseal(datos)


def open_row(row, *columns: str) -> dict:
    """A copy of a row with these `datos` columns decrypted (plain())."""
    out = dict(row)
    for col in columns:
        out[col] = plain(out[col])
    return out


async def image(bio_id: int) -> dict | None:
    """mime, alumno_id, tipo and the decrypted `datos` of one image version (None: no such id)."""
    row = await db.fetch_one("SELECT mime, datos, alumno_id, tipo::text AS tipo FROM biometricos WHERE id = :id",
                             {"id": bio_id})
    return None if row is None else open_row(row, "datos")


# ---- keys in use (migration 0016) ------------------------------------------------------------

HAS_ROWS = "SELECT EXISTS (SELECT 1 FROM biometricos WHERE biometrico_llave(datos) = $1)"


async def keys_in_use(conn) -> list[bytes]:
    """Key ids that some stored image is sealed with (b'' = images in clear), from biometricos_llaves."""
    listed = [bytes(r["llave"]) for r in await conn.fetch("SELECT llave FROM biometricos_llaves ORDER BY desde")]
    return [k for k in listed if await conn.fetchval(HAS_ROWS, k)]


async def unreadable_keys(conn) -> list[bytes]:
    """Key ids in use that this server's keyring lacks (BiometricKeyError for an invalid key setting)."""
    ring = biocrypt.keyring()
    listed = [bytes(r["llave"]) for r in await conn.fetch("SELECT llave FROM biometricos_llaves")]
    return [k for k in listed if k and k not in ring.keys and await conn.fetchval(HAS_ROWS, k)]


async def plaintext_count(conn) -> int:
    """How many stored images are still in clear (0 at once when none was ever stored in clear)."""
    if not await conn.fetchval("SELECT EXISTS (SELECT 1 FROM biometricos_llaves WHERE llave = '')"):
        return 0
    return await conn.fetchval("SELECT count(*) FROM biometricos WHERE biometrico_llave(datos) = ''")


async def check_keys(conn) -> None:
    """Start-up: refuse (BiometricKeyError) when the database holds images under a key this server lacks."""
    if missing := await unreadable_keys(conn):
        raise BiometricKeyError(missing_message(missing))
    if n := await plaintext_count(conn):
        log.warning("%s imágenes biométricas siguen sin cifrar: ejecute «python -m app rotate-key».", n)


async def startup_check() -> None:
    """before_serving: warn in production without BIOMETRIC_KEY; refuse to start without a key in use."""
    if is_production() and not biocrypt.from_environment():
        log.warning("¡ATENCIÓN! Producción sin BIOMETRIC_KEY: las imágenes se cifran con var/biometric_key de este "
                    "servidor; configure la misma BIOMETRIC_KEY en todos los servidores (docs/privacy.md).")
    try:
        async with db.raw_connection() as conn:
            await check_keys(conn)
    except BiometricKeyError as e:
        log.critical("%s", e)
        raise


def missing_message(ids: list[bytes]) -> str:
    """The refusal of a server (or a restore) without a key in use."""
    return "Este servidor no puede leer las imágenes de la base de datos. " + biocrypt.missing_key_message(ids)


# ---- rotation ----------------------------------------------------------------------------------

PENDING = "SELECT count(*) FROM biometricos WHERE datos IS NOT NULL AND substring(datos from 1 for 12) <> $1"
NEXT_BATCH = """
SELECT id, datos, sha256 FROM biometricos
WHERE id > $1 AND datos IS NOT NULL AND substring(datos from 1 for 12) <> $2
ORDER BY id LIMIT $3 FOR UPDATE"""
STORE_BATCH = """
UPDATE biometricos b SET datos = v.datos
FROM unnest($1::bigint[], $2::bytea[]) AS v(id, datos) WHERE b.id = v.id"""
FORGET_UNUSED = """
DELETE FROM biometricos_llaves l
WHERE l.llave <> $1 AND NOT EXISTS (SELECT 1 FROM biometricos b WHERE biometrico_llave(b.datos) = l.llave)"""


@dataclass
class Rotation:
    """The outcome of rotate(): rows re-encrypted, ids that could not be (damaged), rows left."""

    resealed: int = 0
    damaged: list[int] = field(default_factory=list)
    pending: int = 0


def reseal(rows: list, damaged: list[int]) -> tuple[list[int], list[bytes]]:
    """(ids, blobs) of rows re-encrypted under the current key; damaged or mismatching ids go to `damaged`."""
    ids, blobs = [], []
    for r in rows:
        try:
            data = biocrypt.unseal(r["datos"])
        except DamagedBlob:
            damaged.append(r["id"])
            continue
        if hashlib.sha256(data).hexdigest() != r["sha256"]:
            damaged.append(r["id"])
            continue
        ids.append(r["id"])
        blobs.append(biocrypt.seal(data))
    return ids, blobs


async def rotate(batch: int = 500, progress: Callable[[str], None] = print) -> Rotation:
    """Re-encrypt every image not under the current key, `batch` rows per short transaction (resumable)."""
    ring = biocrypt.keyring()
    out, last = Rotation(), 0
    async with db.raw_connection() as conn:
        total = await conn.fetchval(PENDING, ring.prefix)
        progress(f"Imágenes por re-cifrar con la llave {ring.current_id.hex()}: {total}.")
        while True:
            async with conn.transaction():
                rows = await conn.fetch(NEXT_BATCH, last, ring.prefix, batch)
                if not rows:
                    break
                ids, blobs = await asyncio.to_thread(reseal, rows, out.damaged)
                await conn.execute(STORE_BATCH, ids, blobs)
            last, out.resealed = rows[-1]["id"], out.resealed + len(ids)
            progress(f"  {out.resealed + len(out.damaged)}/{total} revisadas, {out.resealed} re-cifradas"
                     + (f", {len(out.damaged)} dañadas" if out.damaged else "") + ".")
        await conn.execute(FORGET_UNUSED, ring.current_id)
        out.pending = await conn.fetchval(PENDING, ring.prefix)
    return out
