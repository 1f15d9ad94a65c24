"""Diseño de la credencial: versioned designs (texts, colours, logo, director's name and signature) that the
temporary credential (app/credential.py) and the print-order PDF (app/package.py) draw with app/cards.py.

A version is immutable (the table's trigger refuses updates); saving inserts the next version, which the next
order and the next temporary credential use; each order keeps the version it was created with
(ordenes_impresion.diseno_id). Every rule answers a Spanish message for its field. docs/admin.md.
"""
from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass, field, fields
from datetime import date

from PIL import Image
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from . import cards, images, offload
from .cards import BOLD, FONT, MIN_PT, CardData, CardDesign
from .catalogos import clean
from .formatting import fecha
from .queries import disenos as q

HEX = re.compile(r"#?([0-9A-Fa-f]{6})")
MIN_CONTRAST = 4.5  # WCAG AA for small text: the band's text is 6–7 pt
UPLOAD_MAX_BYTES = 1024 * 1024
NOTA_MAX = 200


@dataclass(frozen=True)
class Texto:
    """A printed text of the design: where it goes decides its font and the width it must fit."""

    name: str
    label: str
    required: bool
    font: str
    size: float
    width: float
    lines: int = 1
    hint: str = ""


TEXTOS = (
    Texto("institucion", "Nombre de la institución (línea 1)", True, BOLD, 7, cards.BAND_TEXT_W - 22 * mm,
          hint="En la banda superior, junto al logotipo."),
    Texto("institucion_2", "Nombre de la institución (línea 2)", False, FONT, MIN_PT, cards.BAND_TEXT_W - 26 * mm,
          hint="Opcional, en letra menor bajo la línea 1."),
    Texto("leyenda", "Leyenda del reverso", True, FONT, MIN_PT, cards.CARD_W - 2 * cards.MARGIN,
          hint="Una línea al pie del reverso."),
    Texto("leyenda_qr", "Leyenda bajo el código QR", False, FONT, MIN_PT, cards.QR_SIDE, lines=2,
          hint="Hasta dos renglones cortos, p. ej. «Verificar»."),
    Texto("director_nombre", "Nombre del director(a)", False, BOLD, MIN_PT, cards.DIRECTOR_W,
          hint="Bajo su firma, al pie del frente."),
    Texto("director_cargo", "Cargo del director(a)", False, FONT, MIN_PT, cards.DIRECTOR_W,
          hint="p. ej. Director General"),
)
COLORES = (("color_banda", "Color de la banda"), ("color_texto", "Color del texto de la banda"))
# Uploaded images: form field, label (for messages), the box it is reduced into, the smallest size accepted.
IMAGENES = (("logo_png", "imagen del logotipo", (600, 600), (32, 32)),
            ("firma_director_png", "imagen de la firma del director(a)", (1200, 400), (40, 12)))


# ---- rules ----------------------------------------------------------------------------------------

def check_text(t: Texto, value: str) -> str | None:
    """A Spanish complaint when value is missing, too long or does not fit its place on the card."""
    if not value:
        return f"Escriba {t.label[0].lower() + t.label[1:]}." if t.required else None
    if len(value) > 120:
        return "Admite a lo más 120 caracteres."
    if t.lines == 1 and stringWidth(value, t.font, t.size) > t.width:
        return (f"No cabe en la credencial: mide {stringWidth(value, t.font, t.size) / mm:.0f} mm y el espacio es de "
                f"{t.width / mm:.0f} mm. Acórtelo.")
    if t.lines > 1 and len(cards.wrap(value, t.font, t.size, t.width, max_lines=99)) > t.lines:
        return f"No cabe en {t.lines} renglones de {t.width / mm:.0f} mm. Acórtelo."
    return None


def parse_hex(raw: str) -> str | None:
    """'#00723f' or '00723F' → '#00723F'; None when it is not a colour."""
    m = HEX.fullmatch((raw or "").strip())
    return "#" + m.group(1).upper() if m else None


def _luminance(color: str) -> float:
    """Relative luminance of '#RRGGBB' (WCAG 2)."""
    def channel(v: int) -> float:
        """One sRGB channel, linearised."""
        s = v / 255
        return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4
    r, g, b = (int(color[i:i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str) -> float:
    """WCAG contrast ratio of two colours (1 to 21)."""
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def normalize_image(data: bytes, what: str, box: tuple[int, int], smallest: tuple[int, int]) -> bytes:
    """A PNG/JPEG upload decoded by Pillow within app/images.py's limits and re-encoded as PNG (transparency
    kept, metadata dropped, reduced into box); images.ImageError with a Spanish message otherwise."""
    if len(data) > UPLOAD_MAX_BYTES:
        raise images.ImageError(f"La {what} pesa demasiado ({len(data) // 1024} KB; máximo 1 MB).")
    img = images._within_budget(images._open(data, what), what, box)
    if img.format not in ("PNG", "JPEG"):
        raise images.ImageError(f"Formato de {what} no permitido ({img.format}); se aceptan PNG y JPEG.")
    with images._decoding(what):
        img = images._upright(images._load(img, what)).convert("RGBA")
        if img.width < smallest[0] or img.height < smallest[1]:
            raise images.ImageError(f"La {what} es demasiado pequeña ({img.width}×{img.height} píxeles; mínimo "
                                    f"{smallest[0]}×{smallest[1]}).")
        img.thumbnail(box, Image.Resampling.LANCZOS)
        out = io.BytesIO()
        img.save(out, "PNG", optimize=False)
        return out.getvalue()


# ---- the form -----------------------------------------------------------------------------------

@dataclass
class Borrador:
    """A design being edited: the values (images as bytes), the note, and the problems per field."""

    values: dict
    nota: str = ""
    errors: dict = field(default_factory=dict)

    def design(self, version: int = 0) -> CardDesign:
        """The CardDesign these values draw."""
        return CardDesign(version=version, **{f.name: self.values[f.name] for f in fields(CardDesign)
                                              if f.name != "version"})


def values_of(row: dict | None) -> dict:
    """The editable values of a stored version (the built-in version 1 when there is none)."""
    base = {f.name: getattr(cards.DEFAULT_DESIGN, f.name) for f in fields(CardDesign) if f.name != "version"}
    if row:
        base.update({k: row[k] for k in q.COLUMNS})
    base["logo_png"] = bytes(base["logo_png"] or b"")
    base["firma_director_png"] = bytes(base["firma_director_png"] or b"")
    return base


async def read_form(form, files, base: dict) -> Borrador:
    """The design posted by the form on top of base (images not sent are kept; «Quitar» removes them)."""
    values, errors = dict(base), {}
    for t in TEXTOS:
        values[t.name] = clean(form.get(t.name, ""))
        if (problem := check_text(t, values[t.name])) is not None:
            errors[t.name] = problem
    for name, label in COLORES:
        values[name] = parse_hex(form.get(name, "")) or clean(form.get(name, ""))
        if parse_hex(values[name]) is None:
            errors[name] = f"{label}: escriba un color hexadecimal de 6 cifras, p. ej. #00723F."
    if not errors.keys() & {"color_banda", "color_texto"}:
        ratio = contrast(values["color_banda"], values["color_texto"])
        if ratio < MIN_CONTRAST:
            errors["color_texto"] = (f"El texto de la banda no se distingue de su color (contraste {ratio:.1f}:1; "
                                     f"mínimo {MIN_CONTRAST}:1). Elija colores más distintos.")
    for name, what, box, smallest in IMAGENES:
        await _read_image(form, files, values, errors, name, what, box, smallest)
    nota = clean(form.get("nota", ""))
    if len(nota) > NOTA_MAX:
        errors["nota"] = f"La nota admite a lo más {NOTA_MAX} caracteres."
    return Borrador(values, nota, errors)


async def _read_image(form, files, values: dict, errors: dict, name: str, what: str, box, smallest) -> None:
    """One image field: a new upload (checked and re-encoded), «Quitar», or the base's image kept."""
    upload = files.get(name)
    data = upload.read() if upload is not None else b""
    if data:
        try:
            values[name] = await offload.cpu(normalize_image, data, what, box, smallest)
        except images.ImageError as e:
            errors[name] = str(e)
    elif form.get(f"quitar_{name}") == "1":
        values[name] = b""


def summary(values: dict, nota: str = "") -> dict:
    """What the change log records of a version: its texts and colours, images by sha256 (not their bytes)."""
    out = {k: v for k, v in values.items() if not isinstance(v, (bytes, bytearray, memoryview))}
    for name, *_ in IMAGENES:
        data = bytes(values.get(name) or b"")
        out[name] = hashlib.sha256(data).hexdigest()[:16] if data else "predeterminado" if name == "logo_png" else ""
    if nota:
        out["nota"] = nota
    return out


# ---- reading versions -----------------------------------------------------------------------------

def design_of(row: dict | None) -> CardDesign:
    """The CardDesign of a stored version (version 1's built-in defaults when there is none)."""
    return Borrador(values_of(row)).design(row["id"] if row else 1)


async def current() -> CardDesign:
    """The design the next order and temporary credential use: the newest version."""
    return design_of(await q.latest())


async def of_order(orden_id: int) -> CardDesign:
    """The design an order was printed with (and keeps when its package is rebuilt)."""
    return design_of(await q.of_order(orden_id) or await q.latest())


# ---- preview --------------------------------------------------------------------------------------

def demo_card(design: CardDesign) -> CardData:
    """A fictitious student printed with design (placeholder photo and signature drawn by app/demo.py)."""
    from .demo import placeholder_photo, placeholder_signature

    return CardData(matricula="250010051-1", prematricula="250010051", nombre="ALUMNA",
                    primer_apellido="DE MUESTRA", segundo_apellido="EJEMPLO", plantel="Ciudad Azteca",
                    carrera="Electricidad Industrial", curp="MUEA080101MMCXXXA1",
                    correo="alumna.muestra@conalepmex.edu.mx",
                    institucion_medica="Instituto Mexicano del Seguro Social (IMSS)",
                    numero_afiliacion="72795608040", vigencia_texto=fecha(date(date.today().year + 3, 8, 1)),
                    foto_jpeg=placeholder_photo(3), firma_png=placeholder_signature(3),
                    verify_url="https://credencial.example/verificar/muestra", diseno=design)


def preview_pdf(design: CardDesign, title: str) -> bytes:
    """Front and back of the demo student, one CR80 page each (85.60 × 53.98 mm: true size at 100 %)."""
    buf = io.BytesIO()
    c = Canvas(buf, pagesize=cards.card_size(), pageCompression=1)
    c.setTitle(title)
    c.setAuthor("CONALEP Estado de México")
    card = demo_card(design)
    for draw in (cards.draw_front, cards.draw_back):
        draw(c, 0, 0, card)
        c.showPage()
    c.save()
    return buf.getvalue()

