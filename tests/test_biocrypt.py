"""Encryption at rest (issue 14): stored images are AES-GCM ciphertext, readers decrypt, a damaged or
purged image gets a Spanish answer, key rotation over 10,000 images while reading, and a server
without the key refuses to start (docs/privacy.md, «Cifrado en reposo»)."""
from __future__ import annotations

import asyncio
import hashlib
import os
import random
import subprocess
import sys

import pytest

from app import biocrypt, db
from app.biocrypt import new_key_text, seal, unseal
from app.demo import placeholder_signature
from app.queries import biometricos as bio

from .conftest import ROOT, add_image, make_student, text_of
from .test_captura import save

SIGNATURES = (b"\xff\xd8", b"\x89PNG")


@pytest.fixture
def keys(monkeypatch):
    """use(current, *old): switch this process's keys through the environment; restored afterwards."""
    def use(current: str, *old: str):
        monkeypatch.setenv("BIOMETRIC_KEY", current)
        monkeypatch.setenv("BIOMETRIC_KEYS_OLD", ",".join(old))
        return biocrypt.reload()
    yield use
    monkeypatch.undo()
    biocrypt.reload()


def test_seal_roundtrip_and_format():
    """A blob is CRB1 + key id + nonce + ciphertext; plaintext rows pass through; nonces differ."""
    data = placeholder_signature(1)
    a, b = seal(data), seal(data)
    assert a != b and a[:4] == b"CRB1" and biocrypt.blob_key_id(a) == biocrypt.keyring().current_id
    assert len(a) == len(data) + biocrypt.HEADER + biocrypt.TAG_LEN and data not in a
    assert unseal(a) == unseal(b) == data and unseal(data) == data


@pytest.mark.parametrize("cut", ["flip", "truncate", "header"])
def test_damaged_blob_is_a_clear_error(cut):
    """Any change to a sealed blob fails AES-GCM verification with a Spanish message."""
    blob = bytearray(seal(b"x" * 1000))
    if cut == "flip":
        blob[-20] ^= 1
    bad = bytes(blob[:-1] if cut == "truncate" else blob[:20] if cut == "header" else blob)
    with pytest.raises(biocrypt.DamagedBlob, match="dañada|incompleta"):
        unseal(bad)


def test_invalid_key_setting_names_the_variable(keys):
    """BIOMETRIC_KEY that is not 32 bytes of base64 is refused by name."""
    with pytest.raises(biocrypt.BiometricKeyError, match="BIOMETRIC_KEY no es una llave válida"):
        keys("no-es-base64")


async def test_capture_stores_ciphertext_that_decrypts_to_the_served_bytes(signed_in):
    """After a real capture, raw datos is no JPEG/PNG; it decrypts to what the route serves and to sha256/bytes."""
    a = await make_student("enrolado")
    c = await signed_in("plantel")
    aviso = await db.fetch_val("SELECT max(version) FROM avisos_privacidad")  # the notice acknowledged (0017)
    r = await save(c, a["matricula"], aviso_version=str(aviso))
    assert r.status_code == 200, await r.get_data(as_text=True)
    ids = await db.fetch_one("SELECT foto_id, firma_id FROM alumnos WHERE id = :id", {"id": a["id"]})
    for bio_id in ids.values():
        row = await db.fetch_one("SELECT datos, sha256, bytes FROM biometricos WHERE id = :id", {"id": bio_id})
        raw = bytes(row["datos"])
        assert not raw.startswith(SIGNATURES) and raw.startswith(biocrypt.keyring().prefix)
        served = await (await c.get(f"/biometricos/{bio_id}")).get_data()
        assert served.startswith(SIGNATURES) and unseal(raw) == served
        assert hashlib.sha256(served).hexdigest() == row["sha256"] and len(served) == row["bytes"]


async def test_damaged_purged_and_foreign_images_answer_in_spanish(signed_in, keys):
    """The image route never 500s: damaged → 409, purged → 410, another key → 503 naming BIOMETRIC_KEY."""
    s = await make_student("capturado")
    c = await signed_in("estatal")
    await db.execute("UPDATE biometricos SET datos = overlay(datos placing '\\x00'::bytea from 40) WHERE id = :i",
                     {"i": s["foto_id"]})
    r = await c.get(f"/biometricos/{s['foto_id']}")
    assert r.status_code == 409 and "dañada o fue alterada" in text_of(await r.get_data(as_text=True))
    await db.execute("UPDATE biometricos SET datos = NULL, purgado_en = now() WHERE id = :i", {"i": s["foto_id"]})
    r = await c.get(f"/biometricos/{s['foto_id']}")
    assert r.status_code == 410 and bio.PURGED_MESSAGE in text_of(await r.get_data(as_text=True))
    keys(new_key_text())
    r = await c.get(f"/biometricos/{s['firma_id']}")
    assert r.status_code == 503 and "BIOMETRIC_KEY" in text_of(await r.get_data(as_text=True))


async def copy_images(alumno_id: int, blobs: list[tuple[bytes, bytes]]) -> None:
    """COPY (stored datos, plaintext) pairs as firma rows of one student."""
    rows = [(alumno_id, "firma", "image/png", stored, hashlib.sha256(plain).hexdigest(), len(plain), 400, 100)
            for stored, plain in blobs]
    async with db.raw_connection() as conn:
        await conn.copy_records_to_table("biometricos", records=rows, columns=[
            "alumno_id", "tipo", "mime", "datos", "sha256", "bytes", "ancho", "alto"])


async def read_while(done: asyncio.Event, ids: list[int]) -> int:
    """Read random images through the app's reader until done; return how many were read."""
    n = 0
    while not done.is_set():
        assert (await bio.image(random.choice(ids)))["datos"].startswith(b"\x89PNG")
        n += 1
        await asyncio.sleep(0)
    return n


async def test_rotation_of_10000_images_while_reading(app, keys):
    """9,000 under key A and 1,000 in clear → all under B, read throughout; resumable, idempotent; A removable."""
    a, b = new_key_text(), new_key_text()
    keys(a)
    s = await make_student("enrolado")
    plains = [placeholder_signature(i) for i in range(20)]
    await copy_images(s["id"], [(seal(p), p) if i >= 1000 else (p, p) for i, p in
                                ((i, plains[i % 20]) for i in range(10_000))])
    ids = [r["id"] for r in await db.fetch_all("SELECT id FROM biometricos")]
    assert len(ids) == 10_000
    ring = keys(b, a)

    class Stop(Exception):
        """Interrupts the first run after three batches."""

    lines: list[str] = []

    def stop_after_three(line: str) -> None:
        """Progress printer that fails on the fourth batch."""
        lines.append(line)
        if len(lines) == 4:
            raise Stop
    with pytest.raises(Stop):
        await bio.rotate(500, stop_after_three)
    assert "10000" in lines[0] and "1500/10000" in lines[3]
    done = asyncio.Event()
    reader = asyncio.create_task(read_while(done, ids))
    out = await bio.rotate(500, lines.append)
    done.set()
    assert await reader > 0
    assert (out.resealed, out.pending, out.damaged) == (8500, 0, []) and "8500/8500" in lines[-1]
    assert (await bio.rotate(500, lines.append)).resealed == 0  # idempotent
    prefixes = await db.fetch_all("SELECT DISTINCT substring(datos from 1 for 12) AS p FROM biometricos")
    assert [bytes(r["p"]) for r in prefixes] == [ring.prefix]
    async with db.raw_connection() as conn:
        assert await bio.keys_in_use(conn) == [ring.current_id]
    keys(b)  # the old key removed
    rows = await db.fetch_all("SELECT datos, sha256 FROM biometricos")
    assert all(hashlib.sha256(unseal(r["datos"])).hexdigest() == r["sha256"] for r in rows)


async def test_rotation_skips_and_reports_damaged_rows(app, keys):
    """A damaged row is reported by id and left as it is; the others are re-encrypted."""
    s = await make_student("capturado")
    await db.execute("UPDATE biometricos SET datos = overlay(datos placing '\\x00'::bytea from 40) WHERE id = :i",
                     {"i": s["firma_id"]})
    current = new_key_text()
    keys(current)
    with pytest.raises(biocrypt.BiometricKeyError, match="BIOMETRIC_KEY"):
        await bio.rotate(10, lambda _l: None)  # the (development) key of the rows is not held: nothing changes
    assert await db.fetch_val("SELECT count(*) FROM biometricos WHERE datos IS NOT NULL AND "
                              "substring(datos from 1 for 4) = '\\x43524231' AND substring(datos from 5 for 8) = :k",
                              {"k": biocrypt.keyring().current_id}) == 0
    keys(current, (biocrypt.VAR / biocrypt.DEV_KEY).read_text())
    out = await bio.rotate(10, lambda _l: None)
    assert (out.resealed, out.damaged, out.pending) == (1, [s["firma_id"]], 1)


async def test_server_without_the_key_refuses_to_start(app, database_url, keys):
    """`python -m app serve` exits with the Spanish message naming BIOMETRIC_KEY; with the key as old it would read."""
    await make_student("capturado")
    env = {**os.environ, "DATABASE_URL": database_url, "PUBLIC_URL": "http://test", "SECRET_KEY": "x" * 32,
           "BIOMETRIC_KEY": new_key_text(), "BIOMETRIC_KEYS_OLD": ""}
    done = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "app", "serve", "--port", "0"], env=env,
                                   cwd=ROOT, capture_output=True, text=True, timeout=60)
    out = done.stdout + done.stderr
    assert done.returncode != 0 and "no puede leer las imágenes" in out and "BIOMETRIC_KEY" in out, out[-2000:]
    keys(env["BIOMETRIC_KEY"], (biocrypt.VAR / biocrypt.DEV_KEY).read_text())
    async with db.raw_connection() as conn:
        assert await bio.unreadable_keys(conn) == []


def test_new_dev_key_keeps_the_old_one_readable(tmp_path, monkeypatch):
    """rotate-key --new (development): the old file becomes biometric_key.old-<date>, still readable."""
    from datetime import date

    monkeypatch.setattr(biocrypt, "VAR", tmp_path)
    monkeypatch.delenv("BIOMETRIC_KEY", raising=False)
    monkeypatch.delenv("BIOMETRIC_KEYS_OLD", raising=False)
    try:
        blob = seal(b"antes") if biocrypt.reload() else b""
        assert (tmp_path / "biometric_key").stat().st_mode & 0o777 == 0o600
        ring = biocrypt.new_dev_key(date(2025, 1, 2))
        assert (tmp_path / "biometric_key.old-2025-01-02").exists() and biocrypt.blob_key_id(blob) != ring.current_id
        assert unseal(blob) == b"antes" and biocrypt.blob_key_id(seal(b"x")) == ring.current_id
        monkeypatch.setenv("BIOMETRIC_KEY", new_key_text())
        with pytest.raises(biocrypt.BiometricKeyError, match="--print-key"):
            biocrypt.new_dev_key()
    finally:
        monkeypatch.undo()
        biocrypt.reload()


async def test_rotate_key_command(app, database_url):
    """`python -m app rotate-key --batch 2` prints progress and the outcome; a second run has nothing to do."""
    s = await make_student("capturado")
    clear = unseal(await db.fetch_val("SELECT datos FROM biometricos WHERE id = :i", {"i": s["firma_id"]}))
    await db.execute("UPDATE biometricos SET datos = :d WHERE id = :i", {"d": clear, "i": s["firma_id"]})  # in clear
    env = {**os.environ, "DATABASE_URL": database_url, "PUBLIC_URL": "http://test", "SECRET_KEY": "x" * 32}
    for expected in ("Listo: 1 re-cifradas; pendientes: 0", "Listo: 0 re-cifradas; pendientes: 0"):
        done = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "app", "rotate-key", "--batch", "2"],
                                       env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0 and expected in done.stdout, done.stdout + done.stderr
    assert all(bytes(r["datos"]).startswith(biocrypt.keyring().prefix)
               for r in await db.fetch_all("SELECT datos FROM biometricos"))
