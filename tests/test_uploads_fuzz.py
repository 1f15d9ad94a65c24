"""Property-based upload tests: whatever bytes arrive, the answer is a clean refusal or a normalised
image — never a crash — and memory stays bounded (decompression bombs are refused before decoding)."""
from __future__ import annotations

import io
import resource
import struct
import zlib

from hypothesis import HealthCheck, given, settings, strategies as st
from PIL import Image

from app.images import ImageError, normalize_photo, normalize_signature

from .conftest import FIXTURES

GOOD_JPEG = (FIXTURES / "photos" / "rostro-ok-600x800.jpg").read_bytes()


def _png(width: int, height: int) -> bytes:
    """A valid PNG header declaring width×height with a tiny (highly compressed) body."""
    raw = zlib.compress(b"\x00" * (min(width, 4096) + 1) * min(height, 16), 9)
    chunk = lambda kind, data: (struct.pack(">I", len(data)) + kind + data  # noqa: E731
                                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", raw) + chunk(b"IEND", b""))


def _refused_or_normalised(fn, data: bytes) -> None:
    """fn(data) either returns a sane normalised image or raises ImageError with Spanish text."""
    try:
        out = fn(data)
    except ImageError as e:
        assert str(e) and str(e)[0].isupper()
        return
    img = Image.open(io.BytesIO(out.data))
    assert img.format in ("JPEG", "PNG") and img.width <= 1200 and img.height <= 1200


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4096))
def test_random_bytes(data):
    """Random bytes never crash either normaliser."""
    _refused_or_normalised(normalize_photo, data)
    _refused_or_normalised(normalize_signature, data)


@settings(max_examples=60, deadline=None)
@given(cut=st.integers(min_value=1, max_value=len(GOOD_JPEG) - 1), flips=st.lists(
    st.tuples(st.integers(min_value=0, max_value=len(GOOD_JPEG) - 1), st.integers(1, 255)), max_size=8))
def test_truncated_and_corrupted_jpeg(cut, flips):
    """A real photo cut short or with flipped bytes: refused clearly or decoded, never a crash."""
    data = bytearray(GOOD_JPEG[:cut] if flips == [] else GOOD_JPEG)
    for pos, xor in flips:
        if pos < len(data):
            data[pos] ^= xor
    _refused_or_normalised(normalize_photo, bytes(data))


def test_extreme_sizes_and_bombs():
    """1×1 is refused or handled; 30,000×30,000 and a decompression bomb are refused without decoding."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    one = io.BytesIO()
    Image.new("RGB", (1, 1), "white").save(one, "PNG")
    _refused_or_normalised(normalize_photo, one.getvalue())
    for w, h in ((30_000, 30_000), (100_000, 100_000), (60_000, 1)):
        try:
            normalize_photo(_png(w, h))
        except ImageError as e:
            assert "dimensiones" in str(e) or "dañado" in str(e)
        else:
            raise AssertionError(f"{w}×{h} accepted")
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 100, grown_mb


async def test_oversized_body_refused(signed_in):
    """A body over the request limit gets a Spanish 413, and the app keeps answering."""
    from .conftest import csrf_of, make_student

    s = await make_student("enrolado")
    c = await signed_in("plantel")
    token = await csrf_of(c)
    big = b"\xff\xd8" + b"0" * (9 * 1024 * 1024)
    r = await c.post(f"/captura/{s['matricula']}/guardar", data=big, headers={
        "X-CSRF-Token": token, "Content-Type": "multipart/form-data; boundary=x"})
    assert r.status_code == 413 and "demasiado grande" in await r.get_data(as_text=True)
    assert (await c.get("/")).status_code == 200
