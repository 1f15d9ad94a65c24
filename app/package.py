"""The print-order package for the company: a ZIP built streaming into a temporary file.

Contents: manifiesto.csv and manifiesto.xlsx (order, matrícula, every printed field, reprint
flag and reason, and where each card is in the PDF), fotos/<matrícula>.jpg, firmas/<matrícula>.png
and the print-ready CR80 PDF: one card face per page at card size (page 2n-1 front, 2n back,
for duplex card printers), drawn by app/cards.py. Rows come from a server-side cursor in
batches; each batch is written in a worker thread, and the PDF is drawn in parts of at most
PDF_PART cards (credenciales-001.pdf, -002.pdf, …) by worker processes, so memory holds one batch
plus the parts in flight, whatever the order's size.
"""
from __future__ import annotations

import asyncio
import csv
import dataclasses
import io
import multiprocessing
import os
import tempfile
import zipfile
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from typing import AsyncIterator, Callable

from PIL import Image
from reportlab import rl_config
from reportlab.pdfgen.canvas import Canvas

from . import cards, db, disenos
from .exports import XlsxSheet
from .formatting import fecha
from .queries.biometricos import plain_or_empty

BATCH = 100
PDF_PART = 250
PRINT_PHOTO = (300, 400)
MANIFEST = (("Orden", "orden"), ("Matrícula", "matricula"), ("Prematrícula", "prematricula"),
            ("CURP", "curp"), ("Nombre", "nombre"), ("Primer apellido", "primer_apellido"),
            ("Segundo apellido", "segundo_apellido"), ("Plantel", "plantel"), ("CCT", "cct"),
            ("Grupo", "grupo"), ("Carrera", "carrera"), ("Correo institucional", "correo"),
            ("Institución médica", "institucion_medica"), ("Número de afiliación", "numero_afiliacion"),
            ("Vigencia", "vigencia_texto"), ("Reimpresión", "reimpresion_texto"), ("Motivo", "motivo"),
            ("Fotografía", "foto"), ("Firma", "firma"), ("PDF", "pdf"), ("Página frente", "pagina"),
            ("Diseño de credencial", "diseno"))
CARDS_SQL = """
SELECT a.id, a.matricula, a.prematricula, a.curp, a.nombre, a.primer_apellido, a.segundo_apellido,
       p.nombre AS plantel, p.cct, a.grupo, c.nombre AS carrera, coalesce(a.correo, '') AS correo,
       a.institucion_medica, a.numero_afiliacion, a.vigencia, i.orden_id AS orden, i.reimpresion, i.motivo,
       f.datos AS foto_jpeg, s.datos AS firma_png
FROM orden_items i JOIN alumnos a ON a.id = i.alumno_id JOIN planteles p ON p.id = a.plantel_id
JOIN carreras c ON c.codigo = a.carrera_codigo
LEFT JOIN biometricos f ON f.id = a.foto_id LEFT JOIN biometricos s ON s.id = a.firma_id
WHERE i.orden_id = $1
ORDER BY p.nombre, a.grupo, a.busqueda, a.matricula
"""


def package_name(orden: dict) -> str:
    """The download's file name."""
    return f"orden-{orden['id']:05d}.zip"


def csv_cell(value) -> object:
    """A CSV cell that a spreadsheet will not run as a formula (free text such as a rejection reason)."""
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def card_of(row: dict) -> cards.CardData:
    """The printed fields of one manifest row."""
    return cards.CardData(
        matricula=row["matricula"], prematricula=row["prematricula"], nombre=row["nombre"],
        primer_apellido=row["primer_apellido"], segundo_apellido=row["segundo_apellido"], plantel=row["plantel"],
        carrera=row["carrera"], curp=row["curp"], correo=row["correo"], institucion_medica=row["institucion_medica"],
        numero_afiliacion=row["numero_afiliacion"], vigencia_texto=row["vigencia_texto"],
        foto_jpeg=row["foto_jpeg"] or b"", firma_png=row["firma_png"] or b"", verify_url=row.get("verify_url"))


def prepare_row(row: dict, index: int, verify_url: Callable[[int], str] | None, diseno: cards.CardDesign) -> dict:
    """Fill a cursor row (the index-th card of the order) with its printed texts, plain images and PDF place."""
    m = row["matricula"]
    row["vigencia_texto"] = fecha(row["vigencia"], "")
    row["reimpresion_texto"] = "Sí" if row["reimpresion"] else "No"
    row["foto"], row["firma"] = f"fotos/{m}.jpg", f"firmas/{m}.png"
    row["verify_url"] = verify_url(row["id"]) if verify_url else None
    row["foto_jpeg"], row["firma_png"] = plain_or_empty(row["foto_jpeg"]), plain_or_empty(row["firma_png"])
    row["pdf"] = f"credenciales-{index // PDF_PART + 1:03d}.pdf"
    row["pagina"] = 2 * (index % PDF_PART) + 1
    row["diseno"] = diseno.version
    return row


def _done(value) -> Future:
    """A future already holding value."""
    future: Future = Future()
    future.set_result(value)
    return future


class PackageWriter:
    """Writes one order's ZIP incrementally: add(batch) as rows arrive, close() at the end.

    Images and manifests are written here; the PDF parts are drawn by worker processes (both
    cores, and reportlab's pure-Python paths off the server's process), at most `pool_size()`
    parts in flight, each written into the ZIP as soon as it is ready.
    """

    def __init__(self, orden_id: int, verify_url: Callable[[int], str] | None = None,
                 diseno: cards.CardDesign = cards.DEFAULT_DESIGN,
                 part_source: Callable[[str], str] | None = None) -> None:
        """Open the temporary ZIP, CSV and XLSX; verify_url(alumno_id) gives each card's QR link; diseno is the
        design version the order was created with (app/disenos.py); part_source(name) gives the path of a part
        already drawn (background builds, app/paquetes.py) instead of drawing it here."""
        fd, self.path = tempfile.mkstemp(suffix=".zip")
        os.close(fd)
        self.orden_id = orden_id
        self.verify_url = verify_url
        self.diseno = diseno
        self.part_source = part_source
        self.zip = zipfile.ZipFile(self.path, "w", zipfile.ZIP_DEFLATED, allowZip64=True)
        self.csv_buf = tempfile.TemporaryFile("w+", encoding="utf-8", newline="")
        self.csv = csv.writer(self.csv_buf)
        self.csv.writerow([h for h, _ in MANIFEST])
        self.xlsx = XlsxSheet([h for h, _ in MANIFEST], "Manifiesto")
        self.count = 0
        self.part: list[cards.CardData] = []
        self.inflight: list[tuple[str, Future]] = []

    def add(self, rows: list[dict]) -> None:
        """Write a batch: images into the ZIP, manifest rows, and cards queued for the PDF."""
        for row in rows:
            self._add_one(dict(row))

    def _add_one(self, row: dict) -> None:
        """One student: images, manifest row and its card in the current PDF part."""
        row = prepare_row(row, self.count, self.verify_url, self.diseno)
        if row["foto_jpeg"]:
            self.zip.writestr(zipfile.ZipInfo(row["foto"], _now()), row["foto_jpeg"], zipfile.ZIP_STORED)
        if row["firma_png"]:
            self.zip.writestr(zipfile.ZipInfo(row["firma"], _now()), row["firma_png"], zipfile.ZIP_STORED)
        self.part.append(dataclasses.replace(card_of(row), diseno=self.diseno))
        values = [row[k] for _, k in MANIFEST]
        self.csv.writerow([csv_cell(v) for v in values])
        self.xlsx.write(values)
        self.count += 1
        if len(self.part) == PDF_PART:
            self._submit(row["pdf"])

    def _submit(self, name: str) -> None:
        """Send the current part to a worker process; wait for the oldest when the pool is busy."""
        while len(self.inflight) >= pool_size():
            self._collect_oldest()
        if self.part_source:
            self.inflight.append((name, _done(self.part_source(name))))
            self.part = []
            return
        fd, part_path = tempfile.mkstemp(suffix=".pdf")
        os.close(fd)
        self.inflight.append((name, _pool().submit(draw_part, part_path, self.orden_id, self.part)))
        self.part = []

    def _collect_oldest(self) -> None:
        """Wait for the oldest PDF part and store it in the ZIP."""
        name, future = self.inflight.pop(0)
        part_path = future.result()
        try:
            self.zip.write(part_path, name)
        finally:
            os.unlink(part_path)

    def close(self) -> str:
        """Finish the PDF parts and manifests; return the ZIP's path."""
        if self.part:
            self._submit(f"credenciales-{(self.count - 1) // PDF_PART + 1:03d}.pdf")
        while self.inflight:
            self._collect_oldest()
        self.csv_buf.seek(0)
        info = zipfile.ZipInfo("manifiesto.csv", _now())
        info.compress_type = zipfile.ZIP_DEFLATED
        with self.zip.open(info, "w") as out:
            out.write("\ufeff".encode("utf-8"))  # BOM: Excel opens the CSV as UTF-8
            while chunk := self.csv_buf.read(64 * 1024):
                out.write(chunk.encode("utf-8"))
        self.csv_buf.close()
        xlsx_path = self.xlsx.close()
        self.zip.write(xlsx_path, "manifiesto.xlsx", zipfile.ZIP_STORED)
        os.unlink(xlsx_path)
        self.zip.close()
        return self.path

    def discard(self) -> None:
        """Remove every temporary file after a failure."""
        for _name, future in self.inflight:
            try:
                os.unlink(future.result())
            except Exception:  # noqa: BLE001 - cleaning up after another error
                pass
        for closer in (self.zip.close, self.csv_buf.close):
            try:
                closer()
            except Exception:  # noqa: BLE001 - cleaning up after another error
                pass
        for p in (self.path, self.xlsx.path):
            if p and os.path.exists(p):
                os.unlink(p)


# ---- PDF parts in worker processes ------------------------------------------------------

_POOL: Executor | None = None


def pool_size() -> int:
    """How many PDF parts are drawn at once (one per core, at most 2 to bound memory)."""
    return max(1, min(2, os.cpu_count() or 1))


def _pool() -> Executor:
    """The shared worker pool (spawned, so no database connection or thread is inherited); threads inside
    a daemonic process (hypercorn --workers, the Procfile), which may not start child processes."""
    global _POOL
    if _POOL is None and multiprocessing.current_process().daemon:
        _POOL = ThreadPoolExecutor(pool_size(), thread_name_prefix="pdf")
    if _POOL is None:
        _POOL = ProcessPoolExecutor(pool_size(), mp_context=multiprocessing.get_context("spawn"))
    return _POOL


def print_photo(jpeg: bytes) -> bytes:
    """The photo at print resolution for the PDF (≤ PRINT_PHOTO px, ~360 dpi in the card's 21 × 28 mm box).

    JPEG DCT scaling makes this cheap, and it saves reportlab decoding the full photo to name it;
    the ZIP's fotos/ keep the original. Anything unexpected keeps the original bytes.
    """
    try:
        img = Image.open(io.BytesIO(jpeg))
        if img.format != "JPEG" or (img.width <= PRINT_PHOTO[0] and img.height <= PRINT_PHOTO[1]):
            return jpeg
        img.draft("RGB", PRINT_PHOTO)
        img = img.convert("RGB")
        img.thumbnail(PRINT_PHOTO, Image.LANCZOS)
        out = io.BytesIO()
        img.save(out, "JPEG", quality=90)
        return out.getvalue()
    except (OSError, ValueError, Image.DecompressionBombError):
        return jpeg


def draw_part(path: str, orden_id: int, part: list[cards.CardData]) -> str:
    """(Worker) Draw cards as CR80 pages, front then back, into the PDF at path; return path."""
    rl_config.useA85 = 0  # binary image streams: smaller, and no pure-Python ASCII85 pass
    c = Canvas(path, pagesize=cards.card_size(), pageCompression=1)
    c.setTitle(f"Orden de impresión {orden_id}")
    c.setAuthor("CONALEP Estado de México")
    for card in part:
        card = dataclasses.replace(card, foto_jpeg=print_photo(card.foto_jpeg))
        cards.draw_front(c, 0, 0, card)
        c.showPage()
        cards.draw_back(c, 0, 0, card)
        c.showPage()
    c.save()
    return path


def _now() -> tuple:
    """A ZIP entry timestamp (local time of the build)."""
    import time

    return time.localtime()[:6]


async def rows_of(orden_id: int) -> AsyncIterator[list[dict]]:
    """The order's cards with their images, in batches, from a server-side cursor."""
    async with db.raw_connection() as conn:
        async with conn.transaction():
            cur = await conn.cursor(CARDS_SQL, orden_id)
            while batch := await cur.fetch(BATCH):
                yield [dict(r) for r in batch]


async def build_package(orden_id: int, settings=None) -> str:
    """Build the order's ZIP into a temporary file and return its path (the caller deletes it)."""
    diseno = await disenos.of_order(orden_id)  # the order keeps its version when the package is rebuilt
    writer = await asyncio.to_thread(PackageWriter, orden_id, _verify_url_builder(settings), diseno)
    try:
        async for batch in rows_of(orden_id):
            await asyncio.to_thread(writer.add, batch)
        return await asyncio.to_thread(writer.close)
    except BaseException:
        await asyncio.to_thread(writer.discard)
        raise


def _verify_url_builder(settings) -> Callable[[int], str] | None:
    """alumno_id → the signed verification URL printed in the card's QR code (needs the settings)."""
    if settings is None:
        return None
    try:
        from .credential import definitive_verify_url
    except ImportError:  # the credential module ships separately; cards then print without QR
        return None
    return lambda alumno_id: definitive_verify_url(settings, alumno_id)
