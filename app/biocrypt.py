"""Photo and signature bytes at rest: AES-256-GCM under a key that is not in the database.

A stored blob is `CRB1 | key id (8 bytes) | nonce (12) | ciphertext + tag`. The key comes from
BIOMETRIC_KEY (base64 of 32 bytes; required to be the same on every app server) or, in development,
a generated file var/biometric_key (like the session secret). Older keys stay readable from
BIOMETRIC_KEYS_OLD (comma-separated) or var/biometric_key.old-*, so `python -m app rotate-key` can
re-encrypt in batches while the app keeps serving. Rows stored before encryption (no CRB1 header)
are read as they are until rotate-key encrypts them. docs/privacy.md, "Cifrado en reposo".

The associated data is a constant, not the row id: a blob may be copied to another row (a new
version of the same image) and COPY writers need no id first; the reader checks the row's sha256.
"""
from __future__ import annotations

import base64
import functools
import hashlib
import os
import secrets
from dataclasses import dataclass
from datetime import date

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .config import VAR

MAGIC = b"CRB1"
AAD = b"credencializacion:biometricos:v1"
ID_LEN, NONCE_LEN, TAG_LEN = 8, 12, 16
HEADER = len(MAGIC) + ID_LEN + NONCE_LEN
DEV_KEY = "biometric_key"
DOCS = "docs/privacy.md, «Cifrado en reposo»"


class BiometricKeyError(RuntimeError):
    """An image this server cannot read: a key it does not hold or an invalid key setting (Spanish message)."""

    status = 503  # the server's configuration, not the request


class DamagedBlob(BiometricKeyError):
    """A sealed blob that fails AES-GCM verification (altered or truncated)."""

    status = 409


@dataclass(frozen=True)
class Keyring:
    """The current key (new blobs) and every key that may still be read, by key id."""

    current_id: bytes
    keys: dict[bytes, AESGCM]

    @property
    def prefix(self) -> bytes:
        """The first bytes of every blob sealed under the current key (rotate-key's SQL filter)."""
        return MAGIC + self.current_id


def key_id(raw: bytes) -> bytes:
    """The 8-byte id of a key (a hash: the key itself is never stored)."""
    return hashlib.sha256(b"biometric-key-id:" + raw).digest()[:ID_LEN]


def _decode(text: str, where: str) -> bytes:
    """A base64 key of 32 bytes."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise BiometricKeyError(f"{where} no es una llave válida: se esperan 32 bytes en base64 "
                                f"(genere una con «python -m app rotate-key --print-key»).")
    return raw


def write_key_file(path, text: str) -> None:
    """Create a complete key file readable only by its owner, atomically (FileExistsError: never overwrite)."""
    VAR.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(text)
        os.link(tmp, path)  # appears whole or not at all: a racing process never reads half a key
    finally:
        tmp.unlink()


def _dev_key() -> bytes:
    """var/biometric_key, created on first use (development; processes racing keep the first one)."""
    path = VAR / DEV_KEY
    try:
        write_key_file(path, new_key_text())
    except FileExistsError:
        pass
    return _decode(path.read_text(), str(path))


def _old_keys() -> list[bytes]:
    """Keys still to be read: BIOMETRIC_KEYS_OLD, and in development var/biometric_key.old-* files."""
    raws = [_decode(t, "BIOMETRIC_KEYS_OLD") for t in os.environ.get("BIOMETRIC_KEYS_OLD", "").split(",") if t.strip()]
    if not from_environment():  # production keys come from the environment only, never mixed with var/
        raws += [_decode(p.read_text(), str(p)) for p in sorted(VAR.glob(DEV_KEY + ".old-*"))]
    return raws


def from_environment() -> bool:
    """True when the current key is BIOMETRIC_KEY (not the development file)."""
    return bool(os.environ.get("BIOMETRIC_KEY", "").strip())


@functools.lru_cache(maxsize=1)
def keyring() -> Keyring:
    """The keys of this process (read once; `reload()` after a rotation)."""
    current = _decode(os.environ["BIOMETRIC_KEY"], "BIOMETRIC_KEY") if from_environment() else _dev_key()
    keys = {key_id(raw): AESGCM(raw) for raw in [*_old_keys(), current]}
    return Keyring(key_id(current), keys)


def reload() -> Keyring:
    """Forget the cached keyring and read the keys again."""
    keyring.cache_clear()
    return keyring()


def seal(plain: bytes) -> bytes:
    """Encrypt image bytes under the current key."""
    ring = keyring()
    nonce = secrets.token_bytes(NONCE_LEN)
    return ring.prefix + nonce + ring.keys[ring.current_id].encrypt(nonce, bytes(plain), AAD)


def is_sealed(blob: bytes) -> bool:
    """True for a blob written by seal()."""
    return bytes(blob[:4]) == MAGIC


def blob_key_id(blob: bytes) -> bytes | None:
    """The key id of a sealed blob (None for a plaintext row)."""
    return bytes(blob[4:4 + ID_LEN]) if is_sealed(blob) else None


def missing_key_message(ids=()) -> str:
    """The Spanish sentence for images under a key this server lacks."""
    which = f" (id {', '.join(bytes(i).hex() for i in ids)})" if ids else ""
    return ("Las fotografías y firmas están cifradas con una llave que este servidor no tiene" + which +
            ": configure BIOMETRIC_KEY con la misma llave que los demás servidores (y BIOMETRIC_KEYS_OLD con las "
            f"anteriores durante una rotación). Vea {DOCS}.")


def unseal(blob: bytes) -> bytes:
    """The image bytes of a stored blob (plaintext rows from before encryption pass through)."""
    blob = bytes(blob)
    if not is_sealed(blob):
        return blob
    aes = keyring().keys.get(blob_key_id(blob))
    if aes is None:
        raise BiometricKeyError(missing_key_message([blob_key_id(blob)]))
    if len(blob) < HEADER + TAG_LEN:
        raise DamagedBlob("Una imagen cifrada está incompleta (dañada o alterada); avise a la UITI.")
    try:
        return aes.decrypt(blob[HEADER - NONCE_LEN:HEADER], blob[HEADER:], AAD)
    except InvalidTag:
        raise DamagedBlob("Una imagen cifrada está dañada o fue alterada (no pasa la verificación AES-GCM); "
                          "avise a la UITI.") from None


def new_key_text() -> str:
    """A fresh key as base64 (for BIOMETRIC_KEY)."""
    return base64.b64encode(secrets.token_bytes(32)).decode()


def new_dev_key(today: date | None = None) -> Keyring:
    """Development rotation: keep var/biometric_key as .old-<date> and write a new one; return the new ring."""
    if from_environment():
        raise BiometricKeyError("La llave viene de BIOMETRIC_KEY: genere una con «rotate-key --print-key», "
                                f"configúrela en todos los servidores y ejecute rotate-key sin --new. Vea {DOCS}.")
    path = VAR / DEV_KEY
    if path.exists():
        stamp, n = (today or date.today()).isoformat(), 1
        old = VAR / f"{DEV_KEY}.old-{stamp}"
        while old.exists():
            n += 1
            old = VAR / f"{DEV_KEY}.old-{stamp}.{n}"
        os.link(path, old)  # the old key stays readable before the new one replaces it
        path.unlink()
    return reload()
