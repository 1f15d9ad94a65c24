"""CR80 ID-card drawing (85.60 × 53.98 mm) shared by the temporary credential and print orders.

Stable API (used by app/credential.py and the print-order package):
    CardData(...)                      the printed fields, photo JPEG and signature PNG bytes
    card_size() -> (w, h)              the card in points
    draw_front(canvas, x, y, card)     one card face, lower-left corner at (x, y) in points
    draw_back(canvas, x, y, card)

Barcodes are encoded by reportlab.graphics.barcode (Code128 and QR) and placed as one-bit
images with whole pixels per module (no grey edges, so viewers that smooth scaled images still
print crisp modules), small in the file, and readable back from the PDF by tests (pypdf image
extraction + zxing-cpp) without a PDF rasteriser.
"""
from __future__ import annotations

import functools
import io
from dataclasses import dataclass

from PIL import Image
from reportlab import rl_config
from reportlab.graphics.barcode import qrencoder
from reportlab.graphics.barcode.code128 import Code128
from reportlab.lib.colors import Color, black, white
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase.pdfmetrics import stringWidth

# Binary image streams: ASCII85 makes files 25 % larger and, without reportlab's C accelerator,
# costs ~60 ms per photo in pure Python (set once for the process; the PDFs stay standard).
rl_config.useA85 = 0

CARD_W, CARD_H = 85.60 * mm, 53.98 * mm
GREEN = Color(0, 0x72 / 255, 0x3F / 255)
GREY = Color(0.35, 0.35, 0.35)
MARGIN = 2.5 * mm
BAND_H = 7 * mm
PHOTO_W, PHOTO_H = 21 * mm, 28 * mm
FONT, BOLD = "Helvetica", "Helvetica-Bold"
INSTITUTION = "CONALEP Estado de México"


@dataclass
class CardData:
    """Everything printed on one credential (empty strings print as a dash)."""

    matricula: str
    prematricula: str
    nombre: str
    primer_apellido: str
    segundo_apellido: str
    plantel: str
    carrera: str
    curp: str
    correo: str
    institucion_medica: str
    numero_afiliacion: str
    vigencia_texto: str
    foto_jpeg: bytes
    firma_png: bytes
    verify_url: str | None = None
    leyenda: str = ""  # e.g. "CREDENCIAL TEMPORAL"

    @property
    def nombre_completo(self) -> str:
        """Apellidos first, as on the manual's credential."""
        return " ".join(p for p in (self.primer_apellido, self.segundo_apellido, self.nombre) if p)


def card_size() -> tuple[float, float]:
    """(width, height) of a CR80 card in points."""
    return CARD_W, CARD_H


# ---- barcodes as one-bit images ------------------------------------------------------------

def code128_modules(value: str) -> list[bool]:
    """The bars (True) and spaces (False) of value's Code128 symbol, one entry per module."""
    bc = Code128(value, quiet=0)
    bc.validate()
    bc.encode()
    bc.decompose()
    out: list[bool] = []
    for ch in bc.decomposed:
        if ch.isalpha():
            out.extend([ch.isupper()] * (ord(ch.lower()) - ord("a") + 1))
    return out


@functools.lru_cache(maxsize=256)
def code128_image(value: str, module_px: int = 3, height_px: int = 40, quiet: int = 10) -> Image.Image:
    """Code128 of value as a 1-bit image, module_px pixels per module (whole pixels: no grey edges
    however a viewer or printer scales it)."""
    mods = [False] * quiet + code128_modules(value) + [False] * quiet
    row = Image.new("1", (len(mods), 1), 1)
    row.putdata([0 if m else 1 for m in mods])
    return row.resize((len(mods) * module_px, height_px), Image.Resampling.NEAREST)


@functools.lru_cache(maxsize=256)
def qr_image(text: str, module_px: int = 8, quiet: int = 4) -> Image.Image:
    """QR (error correction M) of text as a 1-bit image, module_px pixels per module, quiet zone included."""
    qr = qrencoder.QRCode(None, qrencoder.QRErrorCorrectLevel.M)
    qr.addData(text)
    qr.make()
    n = qr.getModuleCount()
    side = n + 2 * quiet
    img = Image.new("1", (side, side), 1)
    img.putdata([0 if (quiet <= r < n + quiet and quiet <= c < n + quiet and qr.isDark(r - quiet, c - quiet)) else 1
                 for r in range(side) for c in range(side)])
    return img.resize((side * module_px, side * module_px), Image.Resampling.NEAREST)


def _reader(img: Image.Image) -> ImageReader:
    """An ImageReader for a PIL image (grayscale keeps 1-bit images exact)."""
    return ImageReader(img.convert("L"))


# ---- text helpers --------------------------------------------------------------------------

def _fit(text: str, font: str, size: float, width: float, min_size: float = 4.0) -> float:
    """The largest font size ≤ size at which text fits in width (never below min_size)."""
    w = stringWidth(text, font, size)
    return size if w <= width else max(min_size, size * width / w)


def _text(c, x: float, y: float, text: str, font: str, size: float, width: float, color=black) -> None:
    """Draw one line, shrunk to fit width."""
    c.setFillColor(color)
    c.setFont(font, _fit(text, font, size, width))
    c.drawString(x, y, text)


def _field(c, x: float, y: float, label: str, value: str, width: float, size: float = 5.2) -> None:
    """'LABEL: value' with a bold label, shrunk to fit."""
    value = value or "—"
    lw = stringWidth(label + " ", BOLD, size)
    total = lw + stringWidth(value, FONT, size)
    scale = min(1.0, width / total) if total else 1.0
    c.setFillColor(black)
    c.setFont(BOLD, size * scale)
    c.drawString(x, y, label)
    c.setFont(FONT, size * scale)
    c.drawString(x + lw * scale, y, value)


def _band(c, x: float, y: float, card: CardData) -> None:
    """The green top band with the institution and the plantel."""
    c.setFillColor(GREEN)
    c.rect(x, y + CARD_H - BAND_H, CARD_W, BAND_H, stroke=0, fill=1)
    _text(c, x + MARGIN, y + CARD_H - 3.4 * mm, INSTITUTION, BOLD, 7.5, CARD_W / 2, white)
    plantel = f"Plantel {card.plantel}" if card.plantel else ""
    size = _fit(plantel, FONT, 6.5, CARD_W / 2 - 2 * MARGIN)
    c.setFont(FONT, size)
    c.drawRightString(x + CARD_W - MARGIN, y + CARD_H - 3.4 * mm, plantel)
    if card.leyenda:
        c.setFont(BOLD, 5)
        c.drawString(x + MARGIN, y + CARD_H - 6.0 * mm, card.leyenda)


def _outline(c, x: float, y: float) -> None:
    """A thin cut line around the card."""
    c.setStrokeColor(GREY)
    c.setLineWidth(0.25)
    c.rect(x, y, CARD_W, CARD_H, stroke=1, fill=0)


def _image(c, data: bytes, x: float, y: float, w: float, h: float) -> None:
    """Draw stored image bytes (JPEG passes through undecoded) into the box, keeping its ratio."""
    if not data:
        c.setStrokeColor(GREY)
        c.rect(x, y, w, h, stroke=1, fill=0)
        return
    c.drawImage(ImageReader(io.BytesIO(data)), x, y, w, h, preserveAspectRatio=True, anchor="c")


# ---- the two faces -------------------------------------------------------------------------

def draw_front(c, x: float, y: float, card: CardData) -> None:
    """The front: band, photo, name, carrera, VIGENCIA, PREMATRÍCULA, CURP, correo, medical data,
    signature and matrícula."""
    c.saveState()
    _outline(c, x, y)
    _band(c, x, y, card)
    top = y + CARD_H - BAND_H - 1.5 * mm
    _image(c, card.foto_jpeg, x + MARGIN, top - PHOTO_H, PHOTO_W, PHOTO_H)
    tx = x + MARGIN + PHOTO_W + 2.5 * mm
    tw = x + CARD_W - MARGIN - tx
    _text(c, tx, top - 3 * mm, card.nombre_completo, BOLD, 7, tw)
    _text(c, tx, top - 6.2 * mm, card.carrera, FONT, 5.6, tw, GREY)
    rows = (("VIGENCIA:", card.vigencia_texto), ("PREMATRÍCULA:", card.prematricula), ("CURP:", card.curp),
            ("CORREO INSTITUCIONAL:", card.correo), ("INSTITUCIÓN MÉDICA:", card.institucion_medica),
            ("NÚMERO DE AFILIACIÓN:", card.numero_afiliacion))
    for i, (label, value) in enumerate(rows):
        _field(c, tx, top - (10 + 3.1 * i) * mm, label, value, tw)
    sig_y = y + MARGIN + 1 * mm
    _image(c, card.firma_png, tx, sig_y + 2 * mm, 30 * mm, 7.5 * mm)
    c.setStrokeColor(GREY)
    c.setLineWidth(0.3)
    c.line(tx, sig_y + 1.8 * mm, tx + 30 * mm, sig_y + 1.8 * mm)
    c.setFillColor(GREY)
    c.setFont(FONT, 4)
    c.drawString(tx, sig_y, "Firma del alumno")
    c.setFillColor(black)
    c.setFont(BOLD, 8)
    c.drawCentredString(x + MARGIN + PHOTO_W / 2, y + MARGIN + 3 * mm, card.matricula)
    c.restoreState()


def draw_back(c, x: float, y: float, card: CardData) -> None:
    """The back: Code128 of the matrícula, QR to the verification page, legends."""
    c.saveState()
    _outline(c, x, y)
    _band(c, x, y, card)
    top = y + CARD_H - BAND_H - 2 * mm
    qr_side = 24 * mm
    if card.verify_url:
        c.drawImage(_reader(qr_image(card.verify_url)), x + CARD_W - MARGIN - qr_side, top - qr_side,
                    qr_side, qr_side)
        c.setFont(FONT, 4)
        c.setFillColor(GREY)
        c.drawCentredString(x + CARD_W - MARGIN - qr_side / 2, top - qr_side - 2.5 * mm, "Verifique la credencial")
    tw = CARD_W - 3 * MARGIN - qr_side
    _text(c, x + MARGIN, top - 3 * mm, card.nombre_completo, BOLD, 6.2, tw)
    _field(c, x + MARGIN, top - 6.5 * mm, "MATRÍCULA:", card.matricula, tw, 6)
    _field(c, x + MARGIN, top - 9.5 * mm, "PLANTEL:", card.plantel, tw, 5.2)
    c.setFont(FONT, 4.6)
    c.setFillColor(GREY)
    for i, line in enumerate(("Esta credencial es personal e intransferible y acredita",
                              "al portador como alumno del CONALEP Estado de México.",
                              "En caso de extravío, repórtelo a su plantel.")):
        c.drawString(x + MARGIN, top - (14 + 2.4 * i) * mm, line)
    bar = code128_image(card.matricula)
    bar_w, bar_h = min(CARD_W - 2 * MARGIN, bar.width / 3 * 0.75), 9 * mm  # 0.75 pt (0.26 mm) per module
    bx = x + (CARD_W - bar_w) / 2
    c.drawImage(_reader(bar), bx, y + MARGIN + 3 * mm, bar_w, bar_h)
    c.setFillColor(black)
    c.setFont(FONT, 6)
    c.drawCentredString(x + CARD_W / 2, y + MARGIN + 0.5 * mm, card.matricula)
    c.restoreState()
