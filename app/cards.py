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
from reportlab.lib.colors import Color, HexColor, black
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase.pdfmetrics import stringWidth

from .formatting import carrera_impresa

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
MIN_PT = 6.0  # smallest text printed on a card (readable at arm's length)
LEADING = 1.18  # line height as a multiple of the font size
LEGEND = "Personal e intransferible. En caso de extravío, repórtelo a su plantel."
DIRECTOR_W = 30 * mm  # the director's signature block, bottom right of the front
BAND_TEXT_W = CARD_W - 2 * MARGIN - (BAND_H - 1.2 * mm) - 1.5 * mm  # beside the logo (shared with the plantel)
QR_SIDE = 20 * mm


@dataclass(frozen=True)
class CardDesign:
    """The printed look of a card: one version of Administración → Diseño de la credencial (app/disenos.py).
    The defaults are version 1, the design printed before designs were versioned."""

    version: int = 1
    institucion: str = INSTITUTION
    institucion_2: str = ""
    leyenda: str = LEGEND
    leyenda_qr: str = "Verificar"
    color_banda: str = "#00723F"
    color_texto: str = "#FFFFFF"
    director_nombre: str = ""
    director_cargo: str = ""
    logo_png: bytes = b""            # empty → placeholder_logo()
    firma_director_png: bytes = b""


DEFAULT_DESIGN = CardDesign()


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
    logo_png: bytes = b""  # the institution's logo; empty → the design's, else placeholder_logo()
    diseno: CardDesign = DEFAULT_DESIGN

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


# ---- text helpers (never below MIN_PT: long values wrap instead of shrinking) -----------------

def _split_word(word: str, font: str, size: float, width: float) -> list[str]:
    """A word wider than width cut into pieces that fit (long e-mails)."""
    pieces, cur = [], ""
    for ch in word:
        if cur and stringWidth(cur + ch, font, size) > width:
            pieces.append(cur)
            cur = ""
        cur += ch
    return pieces + [cur] if cur else pieces


def wrap(text: str, font: str, size: float, width: float, max_lines: int = 2, first_width: float | None = None) -> list[str]:
    """text in lines of at most width points (the first line first_width), at most max_lines ('…' ends a cut)."""
    lines, cur = [], ""
    for word in (text or "").split():
        limit = first_width if (first_width is not None and not lines) else width
        trial = f"{cur} {word}" if cur else word
        if stringWidth(trial, font, size) <= limit:
            cur = trial
            continue
        if cur:
            lines.append(cur)
        pieces = _split_word(word, font, size, width)
        lines.extend(pieces[:-1])
        cur = pieces[-1] if pieces else ""
    lines.append(cur)
    if len(lines) > max_lines:
        last = lines[max_lines - 1]
        while last and stringWidth(last + "…", font, size) > width:
            last = last[:-1]
        lines = lines[:max_lines - 1] + [last + "…"]
    return lines


def _fit(text: str, font: str, size: float, width: float, min_size: float = MIN_PT) -> float:
    """The largest font size ≤ size at which text fits in width (never below min_size)."""
    w = stringWidth(text, font, size)
    return size if w <= width else max(min_size, size * width / w)


def _text(c, x: float, y: float, text: str, font: str, size: float, width: float, color=black,
          max_lines: int = 2) -> float:
    """Draw text wrapped to width from baseline y; return the baseline after its last line."""
    c.setFillColor(color)
    c.setFont(font, size)
    for line in wrap(text, font, size, width, max_lines):
        c.drawString(x, y, line)
        y -= size * LEADING
    return y


def _field(c, x: float, y: float, label: str, value: str, width: float, size: float = MIN_PT,
           max_lines: int = 2) -> float:
    """'LABEL value' with a bold label, the value wrapped after it; return the next baseline."""
    value = value or "—"
    lw = stringWidth(label + " ", BOLD, size)
    c.setFillColor(black)
    c.setFont(BOLD, size)
    c.drawString(x, y, label)
    c.setFont(FONT, size)
    for i, line in enumerate(wrap(value, FONT, size, width, max_lines, first_width=width - lw)):
        c.drawString(x + (lw if i == 0 else 0), y, line)
        y -= size * LEADING
    return y


@functools.lru_cache(maxsize=1)
def placeholder_logo() -> bytes:
    """Our own neutral logo (PNG, drawn here: a white roundel with a green open book), until one is uploaded."""
    from PIL import ImageDraw

    side = 240
    img = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    green = (0, 0x72, 0x3F, 255)
    d.ellipse((4, 4, side - 4, side - 4), fill=(255, 255, 255, 255), outline=green, width=10)
    d.polygon([(40, 80), (118, 100), (118, 178), (40, 158)], fill=green)   # left page
    d.polygon([(122, 100), (200, 80), (200, 158), (122, 178)], fill=green)  # right page
    d.rectangle((60, 56, 180, 64), fill=green)                             # a line above: the title
    buf = io.BytesIO()
    img.save(buf, "PNG", optimize=True)
    return buf.getvalue()


def _band(c, x: float, y: float, card: CardData) -> None:
    """The top band in the design's colours: logo, institution (one or two lines), plantel and the legend
    (e.g. CREDENCIAL TEMPORAL)."""
    d = card.diseno
    c.setFillColor(HexColor(d.color_banda))
    c.rect(x, y + CARD_H - BAND_H, CARD_W, BAND_H, stroke=0, fill=1)
    logo = BAND_H - 1.2 * mm
    c.drawImage(ImageReader(io.BytesIO(card.logo_png or d.logo_png or placeholder_logo())), x + MARGIN,
                y + CARD_H - BAND_H + 0.6 * mm, logo, logo, mask="auto")
    tx = x + MARGIN + logo + 1.5 * mm
    c.setFillColor(HexColor(d.color_texto))
    c.setFont(BOLD, 7)
    c.drawString(tx, y + CARD_H - 3.3 * mm, d.institucion)
    c.setFont(FONT, MIN_PT)
    c.drawString(tx, y + CARD_H - 6.0 * mm, d.institucion_2)
    if card.leyenda:
        c.setFont(BOLD, MIN_PT)
        c.drawRightString(x + CARD_W - MARGIN, y + CARD_H - 6.0 * mm, card.leyenda)
    plantel = f"Plantel {card.plantel}" if card.plantel else ""
    c.setFont(FONT, _fit(plantel, FONT, 7, CARD_W - (tx - x) - stringWidth(d.institucion, BOLD, 7) - 3 * mm))
    c.drawRightString(x + CARD_W - MARGIN, y + CARD_H - 3.3 * mm, plantel)


def _director(c, x: float, y: float, d: CardDesign) -> None:
    """The director's signature, name and position, bottom right of the front (nothing when unset)."""
    if not (d.director_nombre or d.firma_director_png):
        return
    left = x + CARD_W - MARGIN - DIRECTOR_W
    if d.firma_director_png:
        c.drawImage(ImageReader(io.BytesIO(d.firma_director_png)), left, y + MARGIN + 5.0 * mm, DIRECTOR_W,
                    5.5 * mm, preserveAspectRatio=True, anchor="c", mask="auto")
    c.setStrokeColor(GREY)
    c.setLineWidth(0.3)
    c.line(left, y + MARGIN + 4.9 * mm, left + DIRECTOR_W, y + MARGIN + 4.9 * mm)
    c.setFillColor(black)
    c.setFont(BOLD, MIN_PT)
    c.drawCentredString(left + DIRECTOR_W / 2, y + MARGIN + 2.6 * mm, d.director_nombre)
    c.setFillColor(GREY)
    c.setFont(FONT, MIN_PT)
    c.drawCentredString(left + DIRECTOR_W / 2, y + MARGIN + 0.4 * mm, d.director_cargo)


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


# ---- the two faces (manual §8 "Generar credencial temporal") ---------------------------------

def draw_front(c, x: float, y: float, card: CardData) -> None:
    """The front as the manual shows it: plantel, name, carrera, VIGENCIA and PREMATRÍCULA, CURP, correo
    institucional, institución médica, número de afiliación; photo, signature and matrícula."""
    c.saveState()
    _outline(c, x, y)
    _band(c, x, y, card)
    top = y + CARD_H - BAND_H - 1.5 * mm
    _image(c, card.foto_jpeg, x + MARGIN, top - PHOTO_H, PHOTO_W, PHOTO_H)
    c.setFillColor(black)
    c.setFont(BOLD, 8)
    c.drawCentredString(x + MARGIN + PHOTO_W / 2, top - PHOTO_H - 3.6 * mm, card.matricula)
    tx = x + MARGIN + PHOTO_W + 2 * mm
    tw = x + CARD_W - MARGIN - tx
    ty = _text(c, tx, top - 2.6 * mm, card.nombre_completo, BOLD, 7, tw)
    ty = _text(c, tx, ty, carrera_impresa(card.carrera), FONT, MIN_PT, tw, GREY)
    ty = _field(c, tx, ty, "VIGENCIA:", f"{card.vigencia_texto}   PREMATRÍCULA: {card.prematricula}", tw, max_lines=1)
    for label, value in (("CURP:", card.curp), ("CORREO INSTITUCIONAL:", card.correo),
                         ("INSTITUCIÓN MÉDICA:", card.institucion_medica),
                         ("NÚMERO DE AFILIACIÓN:", card.numero_afiliacion)):
        ty = _field(c, tx, ty, label, value, tw)
    sig_w, sig_h = 24 * mm, 6 * mm
    sig_x = x + MARGIN
    _image(c, card.firma_png, sig_x, y + MARGIN + 3 * mm, sig_w, sig_h)
    c.setStrokeColor(GREY)
    c.setLineWidth(0.3)
    c.line(sig_x, y + MARGIN + 2.8 * mm, sig_x + sig_w, y + MARGIN + 2.8 * mm)
    c.setFillColor(GREY)
    c.setFont(FONT, MIN_PT)
    c.drawString(sig_x, y + MARGIN + 0.4 * mm, "Firma del alumno")
    _director(c, x, y, card.diseno)
    c.restoreState()


def draw_back(c, x: float, y: float, card: CardData) -> None:
    """The back as the manual shows it (plantel, name, carrera, CURP, correo, institución médica, número de
    afiliación, vigencia, prematrícula), plus the QR to the verification page and the matrícula's Code128."""
    c.saveState()
    _outline(c, x, y)
    _band(c, x, y, card)
    top = y + CARD_H - BAND_H - 1.5 * mm
    qr_side = QR_SIDE
    if card.verify_url:
        c.drawImage(_reader(qr_image(card.verify_url)), x + CARD_W - MARGIN - qr_side, top - qr_side,
                    qr_side, qr_side)
        c.setFont(FONT, MIN_PT)
        c.setFillColor(GREY)
        for i, line in enumerate(wrap(card.diseno.leyenda_qr, FONT, MIN_PT, qr_side)):
            c.drawCentredString(x + CARD_W - MARGIN - qr_side / 2, top - qr_side - (2.4 + 2.5 * i) * mm, line)
    tx, tw = x + MARGIN, CARD_W - 3 * MARGIN - qr_side
    ty = _text(c, tx, top - 2.6 * mm, card.nombre_completo, BOLD, 7, tw)
    ty = _text(c, tx, ty, carrera_impresa(card.carrera), FONT, MIN_PT, tw, GREY)
    for value in (card.curp, card.correo, card.institucion_medica, card.numero_afiliacion):
        ty = _text(c, tx, ty, value or "—", FONT, MIN_PT, tw, max_lines=1 if value == card.curp else 2)
    _field(c, tx, ty, "VIGENCIA:", f"{card.vigencia_texto}   PREMATRÍCULA: {card.prematricula}", tw, max_lines=1)
    bar = code128_image(card.matricula)
    bar_w, bar_h = min(CARD_W - 2 * MARGIN, bar.width / 3 * 0.75), 7 * mm  # 0.75 pt (0.26 mm) per module
    c.drawImage(_reader(bar), x + (CARD_W - bar_w) / 2, y + MARGIN + 5.2 * mm, bar_w, bar_h)
    c.setFillColor(black)
    c.setFont(FONT, MIN_PT)
    c.drawCentredString(x + CARD_W / 2, y + MARGIN + 2.8 * mm, card.matricula)
    c.setFillColor(GREY)
    c.drawCentredString(x + CARD_W / 2, y + MARGIN + 0.2 * mm, card.diseno.leyenda)
    c.restoreState()
