"""Pillow normalisation: orientation, size, metadata, and refusal of malformed uploads."""
from __future__ import annotations

import io

import pytest
from PIL import Image

from app import images

from .conftest import FIXTURES

PHOTOS = FIXTURES / "photos"


def jpeg(img: Image.Image, **kw) -> bytes:
    """img as JPEG bytes."""
    out = io.BytesIO()
    img.save(out, "JPEG", **kw)
    return out.getvalue()


def png(img: Image.Image) -> bytes:
    """img as PNG bytes."""
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def test_photo_becomes_600x800_jpeg_without_metadata():
    """A landscape camera frame with EXIF is cropped to 3:4, resized and stripped."""
    src = Image.new("RGB", (1280, 720), (200, 180, 160))
    exif = Image.Exif()
    exif[0x010F] = "Marca de cámara"   # Make
    exif[0x0132] = "2026:01:01 10:00:00"
    n = images.normalize_photo(jpeg(src, exif=exif.tobytes()))
    out = Image.open(io.BytesIO(n.data))
    assert (out.format, out.size) == ("JPEG", (600, 800))
    assert not out.getexif() and "exif" not in out.info
    assert n.mime == "image/jpeg" and len(n.sha256) == 64


def test_exif_orientation_is_applied():
    """A portrait photo stored sideways with Orientation=6 comes out upright."""
    src = Image.new("RGB", (800, 600), "white")
    src.paste((255, 0, 0), (0, 0, 800, 100))  # red band on top of the stored (sideways) image
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    n = images.normalize_photo(jpeg(src, exif=exif.tobytes(), quality=95))
    out = Image.open(io.BytesIO(n.data)).convert("RGB")
    assert out.size == (600, 800)
    r, g, b = out.getpixel((590, 400))  # the band is now on the right edge
    assert r > 200 and g < 80, (r, g, b)


def test_real_photo_keeps_its_size():
    """The shared 600×800 photo stays 600×800."""
    n = images.normalize_photo((PHOTOS / "rostro-ok-600x800.jpg").read_bytes())
    assert (n.width, n.height) == (600, 800)


@pytest.mark.parametrize("data, message", [
    (b"", "No se recibió"),
    (b"\x00\x01garbage" * 100, "no es una imagen"),
    (b"GIF89a" + b"\x00" * 50, "no es una imagen"),
    (b"<svg xmlns='http://www.w3.org/2000/svg'></svg>", "no es una imagen"),
])
def test_non_images_are_refused(data, message):
    """Empty bodies, random bytes and other formats are refused in Spanish."""
    with pytest.raises(images.ImageError, match=message):
        images.normalize_photo(data)


def test_random_bytes_refused():
    """os.urandom is not an image."""
    import os

    with pytest.raises(images.ImageError, match="no es una imagen"):
        images.normalize_photo(os.urandom(5000))


def test_truncated_jpeg_refused():
    """A JPEG cut in half is refused, never stored half grey."""
    data = (PHOTOS / "rostro-ok-600x800.jpg").read_bytes()
    with pytest.raises(images.ImageError, match="dañado o incompleto"):
        images.normalize_photo(data[: len(data) // 2])


def test_gif_refused_even_if_valid():
    """Only JPEG/PNG/WebP are accepted."""
    out = io.BytesIO()
    Image.new("RGB", (60, 80)).save(out, "GIF")
    with pytest.raises(images.ImageError, match="no permitido"):
        images.normalize_photo(out.getvalue())


def test_huge_dimensions_refused_before_decoding():
    """A tiny PNG declaring 20000×20000 pixels (a decompression bomb) is refused."""
    img = Image.new("1", (20000, 20000))
    data = png(img)
    assert len(data) < 200_000
    with pytest.raises(images.ImageError, match="dimensiones no permitidas"):
        images.normalize_photo(data)


def test_too_many_bytes_refused():
    """More than the byte limit is refused."""
    with pytest.raises(images.ImageError, match="pesa demasiado"):
        images.normalize_photo(b"\xff\xd8" + b"\x00" * (images.MAX_BYTES + 1))


def signature_png(ink: bool = True, alpha: bool = False) -> bytes:
    """A 500×100 signature canvas with (or without) a stroke."""
    from PIL import ImageDraw

    img = Image.new("RGBA" if alpha else "RGB", (500, 100), (0, 0, 0, 0) if alpha else "white")
    if ink:
        d = ImageDraw.Draw(img)
        d.line([(50, 70), (120, 20), (200, 80), (300, 30), (420, 60)], fill=(0, 0, 0, 255), width=4)
    return png(img)


def test_signature_is_trimmed_png():
    """Whitespace around the ink is cut; the result is a greyscale PNG."""
    n = images.normalize_signature(signature_png())
    out = Image.open(io.BytesIO(n.data))
    assert out.format == "PNG" and out.mode == "L"
    assert 370 + 2 * images.SIGNATURE_PAD <= out.width <= 380 + 2 * images.SIGNATURE_PAD  # ink 50–420 of 500
    assert 60 + 2 * images.SIGNATURE_PAD <= out.height <= 70 + 2 * images.SIGNATURE_PAD  # ink 20–80 of 100
    assert images.signature_warnings(n) == []


def test_transparent_signature_canvas_is_flattened():
    """signature_pad's transparent canvas becomes ink on white."""
    n = images.normalize_signature(signature_png(alpha=True))
    out = Image.open(io.BytesIO(n.data))
    assert out.getpixel((0, 0)) == 255 and min(out.getdata()) < 50


@pytest.mark.parametrize("alpha", [False, True])
def test_empty_signature_refused(alpha):
    """A blank canvas (white or transparent) is refused."""
    with pytest.raises(images.ImageError, match="vacía"):
        images.normalize_signature(signature_png(ink=False, alpha=alpha))


def test_tiny_signature_warns():
    """A dot is a soft warning."""
    from PIL import ImageDraw

    img = Image.new("RGB", (500, 100), "white")
    ImageDraw.Draw(img).point([(250, 50), (251, 50)], fill="black")
    n = images.normalize_signature(png(img))
    assert "muy pequeña" in images.signature_warnings(n)[0]
