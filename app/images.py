"""Decode and normalise every uploaded biometric image with Pillow.

Photos become 600×800 JPEG (EXIF orientation applied, centre-cropped to 3:4, metadata dropped);
signatures become trimmed greyscale PNG on white. What is stored is always this re-encoded image,
never the upload as sent (bytes after a JPEG's end marker, metadata or anything else hidden in the
file never reach the database, the package or a browser). Anything that is not a sane JPEG/PNG/WebP
image is refused with a Spanish message (ImageError) before its pixels are decoded: the header's
size, after JPEG's DCT scaling, must fit the memory a photo or a signature can ever need, and at
most DECODE_SLOTS images are decoded at once per process (memory stays bounded under a burst).
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import os
import struct
import threading
import warnings
from dataclasses import dataclass

from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

ImageFile.LOAD_TRUNCATED_IMAGES = False  # a truncated upload is an error, never a grey half-photo

PHOTO_SIZE = (600, 800)
CHECK_SIZE = (300, 400)          # the photo checks look at a half-size grey copy
PHOTO_QUALITY = 90
MAX_BYTES = 6 * 1024 * 1024
MAX_PIXELS = 24_000_000          # 6000×4000 as declared in the header; anything larger is refused at once
MAX_SIDE = 10_000
# Pixels actually decoded (after JPEG DCT scaling), per image: 8× a 600×800 photo, or a 2600×1500
# signature canvas (a 3× screen). Pillow keeps 4 bytes per RGB(A) pixel and the normalisation makes
# a few copies, so one image costs at most ≈ 4 M × 4 B × 3 ≈ 50 MB, whatever its file size.
MAX_DECODED_PIXELS = 4_000_000
DECODE_SLOTS = int(os.environ.get("IMAGE_DECODE_SLOTS") or 2)  # images decoded at once per process
ACCEPTED_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "MPO"})  # MPO: phones' multi-picture JPEG
INK_THRESHOLD = 200              # grey level below which a signature pixel counts as ink
SIGNATURE_PAD = 8
SIGNATURE_MAX = (1200, 400)
# What Pillow raises on hostile files (broken chunks, iCCP/zTXt bombs, bad EXIF, truncation…).
DECODE_ERRORS = (OSError, ValueError, SyntaxError, struct.error, EOFError, IndexError, KeyError, TypeError,
                 ZeroDivisionError, Image.DecompressionBombError, Image.DecompressionBombWarning)
_slots = threading.BoundedSemaphore(DECODE_SLOTS)


class ImageError(ValueError):
    """An upload that cannot be used; str() is the Spanish message."""


@dataclass(frozen=True)
class Normalized:
    """A stored-ready image."""

    data: bytes
    mime: str
    width: int
    height: int
    sha256: str
    image: Image.Image  # photos: the CHECK_SIZE grey copy for the checks; signatures: the stored pixels


def _open(data: bytes, what: str) -> Image.Image:
    """Open data as an image after checking size, format and dimensions (pixels not decoded yet)."""
    if not data:
        raise ImageError(f"No se recibió la {what}.")
    if len(data) > MAX_BYTES:
        raise ImageError(f"La {what} pesa demasiado ({len(data) // 1024} KB; máximo {MAX_BYTES // 1024 // 1024} MB).")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(f"La {what} tiene dimensiones no permitidas (demasiados píxeles).") from None
    except UnidentifiedImageError:
        raise ImageError(f"El archivo de la {what} no es una imagen válida (se aceptan JPEG y PNG).") from None
    except DECODE_ERRORS:
        raise ImageError(f"El archivo de la {what} está dañado o incompleto.") from None
    if img.format not in ACCEPTED_FORMATS:
        raise ImageError(f"Formato de {what} no permitido ({img.format}); se aceptan JPEG y PNG.")
    w, h = img.size
    if w < 1 or h < 1 or w > MAX_SIDE or h > MAX_SIDE or w * h > MAX_PIXELS:
        raise ImageError(f"La {what} tiene dimensiones no permitidas ({w}×{h} píxeles).")
    return img


def _within_budget(img: Image.Image, what: str, target: tuple[int, int] | None = None) -> Image.Image:
    """Let JPEG decode at the smallest DCT scale still covering target, then refuse (before any pixel is
    decoded) an image that would need more than MAX_DECODED_PIXELS."""
    if target and img.format in ("JPEG", "MPO"):
        img.draft("RGB", target)
    w, h = img.size
    if w * h > MAX_DECODED_PIXELS:
        raise ImageError(f"La {what} es demasiado grande para procesarla ({w}×{h} píxeles; máximo "
                         f"{MAX_DECODED_PIXELS // 1_000_000} megapíxeles). Envíe una imagen más pequeña.")
    return img


def _load(img: Image.Image, what: str) -> Image.Image:
    """Decode the pixels; a truncated or corrupt file becomes an ImageError."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img.load()
    except DECODE_ERRORS:
        raise ImageError(f"El archivo de la {what} está dañado o incompleto.") from None
    return img


@contextlib.contextmanager
def _decoding(what: str):
    """Hold one of the DECODE_SLOTS while decoding; Pillow failures inside become an ImageError."""
    with _slots:
        try:
            yield
        except ImageError:
            raise
        except DECODE_ERRORS:
            raise ImageError(f"El archivo de la {what} está dañado o incompleto.") from None


def _digest(data: bytes) -> str:
    """Hex sha256."""
    return hashlib.sha256(data).hexdigest()


def crop_to_ratio(img: Image.Image, ratio: float) -> Image.Image:
    """Centre-crop img to width/height == ratio."""
    w, h = img.size
    if abs(w / h - ratio) < 0.005:
        return img
    if w / h > ratio:
        nw = round(h * ratio)
        left = (w - nw) // 2
        return img.crop((left, 0, left + nw, h))
    nh = round(w / ratio)
    top = (h - nh) // 2
    return img.crop((0, top, w, top + nh))


def _flatten(img: Image.Image) -> Image.Image:
    """RGB on a white background (transparency and palettes resolved)."""
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        base = Image.new("RGB", rgba.size, (255, 255, 255))
        base.paste(rgba, mask=rgba.getchannel("A"))
        return base
    return img.convert("RGB") if img.mode != "RGB" else img


def _check_copy(img: Image.Image) -> Image.Image:
    """The half-size grey copy the photo checks use (a box reduction: 2×2 pixels averaged)."""
    grey = img.convert("L")
    k = grey.width // CHECK_SIZE[0]
    if k >= 1 and grey.size == (CHECK_SIZE[0] * k, CHECK_SIZE[1] * k):
        return grey.reduce(k) if k > 1 else grey
    return grey.resize(CHECK_SIZE, Image.Resampling.BOX)


def _upright(img: Image.Image) -> Image.Image:
    """img turned as its EXIF orientation says (in place: no copy when there is nothing to turn)."""
    ImageOps.exif_transpose(img, in_place=True)
    return img


def normalize_photo(data: bytes) -> Normalized:
    """600×800 JPEG of an uploaded photo (orientation applied, metadata stripped), always re-encoded."""
    img = _within_budget(_open(data, "fotografía"), "fotografía", (max(PHOTO_SIZE), max(PHOTO_SIZE)))
    with _decoding("fotografía"):
        img = _flatten(_upright(_load(img, "fotografía")))
        img = crop_to_ratio(img, PHOTO_SIZE[0] / PHOTO_SIZE[1])
        if img.size != PHOTO_SIZE:
            img = img.resize(PHOTO_SIZE, Image.Resampling.LANCZOS)
        out = io.BytesIO()
        img.save(out, "JPEG", quality=PHOTO_QUALITY, optimize=False)  # no exif=, no icc: metadata dropped
        jpeg = out.getvalue()
        return Normalized(jpeg, "image/jpeg", *PHOTO_SIZE, _digest(jpeg), _check_copy(img))


def ink_box(grey: Image.Image) -> tuple[int, int, int, int] | None:
    """Bounding box of the ink (pixels darker than INK_THRESHOLD), or None when blank."""
    mask = grey.point(lambda v: 255 if v < INK_THRESHOLD else 0)
    return mask.getbbox()


def normalize_signature(data: bytes, what: str = "firma") -> Normalized:
    """Trimmed greyscale PNG of a signature; refuses an empty one (no ink)."""
    img = _within_budget(_open(data, what), what)
    with _decoding(what):
        grey = _flatten(_upright(_load(img, what))).convert("L")
        box = ink_box(grey)
        if box is None:
            raise ImageError(f"La {what} está vacía: pida al alumno que firme y elija «Capturar firma».")
        left, top, right, bottom = box
        w, h = grey.size
        grey = grey.crop((max(0, left - SIGNATURE_PAD), max(0, top - SIGNATURE_PAD),
                          min(w, right + SIGNATURE_PAD), min(h, bottom + SIGNATURE_PAD)))
        grey.thumbnail(SIGNATURE_MAX, Image.Resampling.LANCZOS)
        out = io.BytesIO()
        grey.save(out, "PNG", optimize=False)
        png = out.getvalue()
        return Normalized(png, "image/png", grey.width, grey.height, _digest(png), grey)


def signature_warnings(sig: Normalized) -> list[str]:
    """Soft problems of a signature: a tiny scribble."""
    ink = sum(sig.image.histogram()[:INK_THRESHOLD])
    if sig.width < 40 or sig.height < 12 or ink < 60:
        return ["La firma es muy pequeña o tiene muy pocos trazos: verifique que esté completa."]
    return []
