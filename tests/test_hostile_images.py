"""Hostile images (issue 11 #7, #9, #10): PNG ancillary-chunk bombs are refused cleanly; decoded memory is
capped before decoding (measured: peak RSS of a fresh process); at most DECODE_SLOTS images decode at
once; and what is stored is always the re-encoded image, never bytes the client appended."""
from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
import threading
import time
import zlib

import pytest
from PIL import Image

from app import db, images
from app.biocrypt import unseal

from .conftest import FIXTURES, ROOT, csrf_of, make_student, uid

GOOD = (FIXTURES / "photos" / "rostro-ok-600x800.jpg").read_bytes()
TRAILER = b"<html><script>alert(1)</script></html>" + os.urandom(64 * 1024)


def _chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk with its CRC."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _png_with(width: int, height: int, before_idat: bytes = b"", after_idat: bytes = b"", color_type: int = 0,
              body: bool = True) -> bytes:
    """A PNG declaring width×height (greyscale or RGBA) with extra chunks around a tiny, highly compressed body."""
    bands = {0: 1, 6: 4}[color_type]
    row = b"\x00" + b"\x00" * (width * bands)
    raw = zlib.compress(row * height, 9) if body else zlib.compress(row, 9)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0))
            + before_idat + _chunk(b"IDAT", raw) + after_idat + _chunk(b"IEND", b""))


def _bomb(size: int = 64 * 1024 * 1024) -> bytes:
    """zlib data that inflates to `size` zero bytes (a few tens of KB)."""
    z = zlib.compressobj(9)
    return z.compress(b"\x00" * size) + z.flush()


@pytest.mark.parametrize("where, chunk", [
    ("before", _chunk(b"iCCP", b"icc\x00\x00" + _bomb())),           # ICC profile bomb
    ("before", _chunk(b"zTXt", b"Comment\x00\x00" + _bomb())),        # compressed text bomb before the pixels
    ("after", _chunk(b"zTXt", b"Comment\x00\x00" + _bomb())),         # … and after them
    ("before", _chunk(b"iTXt", b"XML\x00\x01\x00\x00\x00" + _bomb())),  # compressed international text
    ("before", _chunk(b"iCCP", b"icc\x00\x00" + b"not zlib at all")),  # undecodable profile
    ("before", _chunk(b"zTXt", b"Comment\x00\x07" + b"x")),            # unknown compression method
])
def test_png_ancillary_chunk_bombs_are_refused(where, chunk):
    """iCCP/zTXt/iTXt chunks that fail to decode (or inflate beyond Pillow's limit) are a Spanish refusal,
    for photos and signatures alike, never an unhandled exception (a 500)."""
    data = _png_with(600, 800, **({"before_idat": chunk} if where == "before" else {"after_idat": chunk}))
    for fn in (images.normalize_photo, images.normalize_signature):
        try:
            out = fn(data)
        except images.ImageError as e:
            assert str(e)[0].isupper()
        else:
            assert b"icc" not in out.data and b"Comment" not in out.data  # decoded anyway: metadata dropped


HOSTILE = """
import resource, sys, time
from app import images
data = open(sys.argv[1], "rb").read()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.process_time()
try:
    getattr(images, sys.argv[2])(data)
    verdict = "accepted"
except images.ImageError as e:
    verdict = str(e)
grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
print(__import__("json").dumps({"mb": grown, "verdict": verdict, "cpu_ms": (time.process_time() - t) * 1000}))
"""


def _peak_mb(tmp_path, data: bytes, fn: str = "normalize_photo") -> dict:
    """Decode data in a fresh Python process; its peak-RSS growth in MB and the verdict."""
    path = tmp_path / "hostile.png"
    path.write_bytes(data)
    out = subprocess.run([sys.executable, "-c", HOSTILE, str(path), fn], cwd=ROOT, capture_output=True, text=True,
                         timeout=120, check=True)
    return json.loads(out.stdout)


def test_memory_is_capped_before_decoding(tmp_path):
    """A 98 KB 6000×4000 RGBA PNG (≈ 400 MB per request before the cap) is refused with a Spanish message
    before its pixels are decoded: the process grows by a few MB, not hundreds. A legitimate image just under
    the cap decodes within ≈ 4 M pixels × 4 B × a few copies."""
    hostile = _png_with(6000, 4000, color_type=6)
    assert len(hostile) < 150_000
    for fn in ("normalize_photo", "normalize_signature"):
        res = _peak_mb(tmp_path, hostile, fn)
        assert "demasiado grande" in res["verdict"], res
        assert res["mb"] < 15, res
    big_ok = _png_with(1600, 2400, color_type=6)  # 3.84 MP: the largest a photo may need
    res = _peak_mb(tmp_path, big_ok)
    assert res["verdict"] == "accepted" and res["mb"] < 120, res


def test_big_camera_jpeg_is_decoded_at_reduced_scale():
    """A 12-megapixel camera JPEG still works: DCT scaling decodes it below the cap."""
    out = io.BytesIO()
    Image.new("RGB", (4000, 3000), (180, 150, 120)).save(out, "JPEG", quality=80)
    n = images.normalize_photo(out.getvalue())
    assert (n.width, n.height) == images.PHOTO_SIZE


def test_decoding_concurrency_is_bounded(monkeypatch):
    """However many threads decode at once, at most DECODE_SLOTS are inside the decoder at a time."""
    inside, peak, lock = [0], [0], threading.Lock()
    real_load = images._load

    def slow_load(img, what):
        """Count the threads decoding now."""
        with lock:
            inside[0] += 1
            peak[0] = max(peak[0], inside[0])
        time.sleep(0.05)
        try:
            return real_load(img, what)
        finally:
            with lock:
                inside[0] -= 1

    monkeypatch.setattr(images, "_load", slow_load)
    threads = [threading.Thread(target=images.normalize_photo, args=(GOOD,)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak[0] == images.DECODE_SLOTS


@pytest.mark.parametrize("fn, data", [
    ("normalize_photo", GOOD + TRAILER),      # the capture page's clean canvas JPEG, with a payload appended
    ("normalize_photo", GOOD),                # even an untouched canvas JPEG is re-encoded
    ("normalize_signature", None),
])
def test_what_is_stored_is_always_re_encoded(fn, data):
    """Bytes appended after the JPEG end marker (or PNG IEND) never survive: the stored bytes are Pillow's
    own encoding of the decoded pixels."""
    if data is None:
        from .test_images import signature_png
        data = signature_png() + TRAILER
    n = getattr(images, fn)(data)
    assert TRAILER[:20] not in n.data and n.data != data
    assert n.data.endswith(b"\xff\xd9" if n.mime == "image/jpeg" else b"IEND\xaeB`\x82")
    assert len(n.data) < 200_000


async def test_capture_stores_and_serves_re_encoded_photo(signed_in):
    """End to end: a capture whose photo carries an HTML payload after the end marker stores and serves
    only the re-encoded JPEG."""
    from quart.datastructures import FileStorage

    from .test_images import signature_png

    a = await make_student("enrolado")
    c = await signed_in("plantel")
    files = {"foto": FileStorage(io.BytesIO(GOOD + TRAILER), filename="foto.jpg", content_type="image/jpeg"),
             "firma": FileStorage(io.BytesIO(signature_png()), filename="firma.png", content_type="image/png")}
    r = await c.post(f"/captura/{a['matricula']}/guardar", form={"csrf_token": await csrf_of(c), "clave": uid(), "aviso_version": "1"},
                     files=files, headers={"Accept": "application/json"})
    assert r.status_code == 200, await r.get_data(as_text=True)
    foto_id = await db.fetch_val("SELECT foto_id FROM alumnos WHERE id = :id", {"id": a["id"]})
    stored = unseal(await db.fetch_val("SELECT datos FROM biometricos WHERE id = :id", {"id": foto_id}))
    assert b"<html>" not in stored and stored.endswith(b"\xff\xd9") and stored != GOOD
    served = await (await c.get(f"/biometricos/{foto_id}")).get_data()
    assert served == stored
