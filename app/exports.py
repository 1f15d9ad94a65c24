"""Excel and PDF documents: the per-plantel student export and the status report."""
from __future__ import annotations

import asyncio
import io
import os
import tempfile
import zipfile
from datetime import date, datetime
from decimal import Decimal
from typing import AsyncIterator, Callable, Sequence

from reportlab.lib import colors
from reportlab.lib.pagesizes import landscape, letter
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from .formatting import fecha_hora, local_naive
from .status import ESTATUS, LABEL

# (header, key) of the student export; dates become real Excel dates.
STUDENT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("Matrícula", "matricula"), ("Prematrícula", "prematricula"), ("CURP", "curp"), ("Folio", "folio"),
    ("Nombre", "nombre"), ("Primer apellido", "primer_apellido"), ("Segundo apellido", "segundo_apellido"),
    ("Plantel", "plantel"), ("Grupo", "grupo"), ("Carrera", "carrera"), ("Semestre", "semestre"),
    ("Correo institucional", "correo"), ("Institución médica", "institucion_medica"),
    ("Número de afiliación", "numero_afiliacion"), ("Vigencia credencial", "vigencia"),
    ("Estatus", "estatus"), ("Fecha toma de biométricos", "fecha_biometricos"),
    ("Fecha actualización estatus", "fecha_estatus"), ("Fecha entrega alumno", "fecha_entrega"),
    ("Fecha actualización desde SAE", "fecha_sae"), ("Comentario", "comentario"),
    ("Orden de impresión", "orden_id"),
)
CHUNK = 64 * 1024


_XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_PKG_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
_DOC_RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml"
# Cell styles (cellXfs): 0 plain, 1 date, 2 date and time, 3 bold header on green.
_STYLES = (_XML + f'<styleSheet xmlns="{_MAIN}"><numFmts count="2"><numFmt numFmtId="164" formatCode="dd/mm/yyyy"/>'
           '<numFmt numFmtId="165" formatCode="dd/mm/yyyy hh:mm"/></numFmts><fonts count="2"><font><sz val="11"/>'
           '<name val="Calibri"/></font><font><b/><sz val="11"/><name val="Calibri"/></font></fonts><fills count="3">'
           '<fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill><fill>'
           '<patternFill patternType="solid"><fgColor rgb="FFDDEBDA"/><bgColor indexed="64"/></patternFill></fill>'
           '</fills><borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
           '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
           '<cellXfs count="4"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
           '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
           '<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
           '<xf numFmtId="0" fontId="1" fillId="2" borderId="0" xfId="0" applyFont="1" applyFill="1"/></cellXfs>'
           '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>')
# One translate() per string: escape &, <, >, " and drop the control characters XML forbids.
_XML_FORBIDDEN = {c: None for c in (*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0xFFFE, 0xFFFF)}
_XML_TEXT = {ord("&"): "&amp;", ord("<"): "&lt;", ord(">"): "&gt;", ord('"'): "&quot;", **_XML_FORBIDDEN}
_EXCEL_EPOCH = datetime(1899, 12, 30)


def _column(n: int) -> str:
    """Excel column letters of a 0-based index (0 → A, 26 → AA)."""
    name = ""
    n += 1
    while n:
        n, r = divmod(n - 1, 26)
        name = chr(65 + r) + name
    return name


def _text(value: str) -> str:
    """Text escaped for XML, without the control characters XML forbids."""
    return value.translate(_XML_TEXT)


def _static_parts(sheet: str) -> dict[str, str]:
    """Every part of a one-sheet workbook except the sheet itself."""
    return {
        "[Content_Types].xml": _XML + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        f'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/xl/workbook.xml" ContentType="{_CT}.sheet.main+xml"/>'
        f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{_CT}.worksheet+xml"/>'
        f'<Override PartName="/xl/styles.xml" ContentType="{_CT}.styles+xml"/></Types>',
        "_rels/.rels": _XML + f'<Relationships xmlns="{_PKG_RELS}"><Relationship Id="rId1" '
        f'Type="{_DOC_RELS}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": _XML + f'<workbook xmlns="{_MAIN}" xmlns:r="{_DOC_RELS}"><sheets>'
        f'<sheet name="{_text(sheet[:31])}" sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": _XML + f'<Relationships xmlns="{_PKG_RELS}">'
        f'<Relationship Id="rId1" Type="{_DOC_RELS}/worksheet" Target="worksheets/sheet1.xml"/>'
        f'<Relationship Id="rId2" Type="{_DOC_RELS}/styles" Target="styles.xml"/></Relationships>',
        "xl/styles.xml": _STYLES,
    }


class XlsxSheet:
    """A one-sheet workbook written straight to a temporary file, row by row (constant memory).

    The sheet's XML goes into the zip as rows arrive, with inline strings (text stays text: leading
    zeros kept, nothing read as a formula) and real Excel dates; about 6× faster than xlsxwriter's
    per-cell calls for the 10,000-student export (docs/benchmarks.md).
    """

    FLUSH_ROWS = 500

    def __init__(self, headers: Sequence[str], sheet: str = "Alumnos") -> None:
        fd, self.path = tempfile.mkstemp(suffix=".xlsx")
        os.close(fd)
        self.zip = zipfile.ZipFile(self.path, "w", zipfile.ZIP_DEFLATED, compresslevel=1)
        for name, part in _static_parts(sheet).items():
            self.zip.writestr(name, part)
        self.out = self.zip.open("xl/worksheets/sheet1.xml", "w")
        self.out.write((_XML + f'<worksheet xmlns="{_MAIN}"><sheetViews><sheetView workbookViewId="0">'
                        '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
                        "</sheetView></sheetViews><sheetData>").encode())
        self.columns: list[str] = []
        self.pending: list[str] = []
        self.row = 0
        self._append(headers, ' s="3"')

    def write(self, values: Sequence) -> None:
        """Append one row; dates and datetimes as Excel dates (Mexico City time)."""
        self._append(values, "")

    def _append(self, values: Sequence, style: str) -> None:
        """Queue one row's XML (every cell with the given style attribute unless it is a date)."""
        self.row += 1
        while len(self.columns) < len(values):
            self.columns.append(_column(len(self.columns)))
        cells = [self._cell(f"{col}{self.row}", v, style) for col, v in zip(self.columns, values) if v is not None]
        self.pending.append(f'<row r="{self.row}">{"".join(cells)}</row>')
        if len(self.pending) >= self.FLUSH_ROWS:
            self._flush()

    @staticmethod
    def _cell(ref: str, v, style: str) -> str:
        """One cell's XML."""
        if type(v) is str or isinstance(v, str):
            return f'<c r="{ref}"{style} t="inlineStr"><is><t xml:space="preserve">{_text(v)}</t></is></c>'
        if isinstance(v, bool):
            return f'<c r="{ref}"{style} t="b"><v>{int(v)}</v></c>'
        if isinstance(v, (int, float, Decimal)):
            return f'<c r="{ref}"{style}><v>{v}</v></c>'
        if isinstance(v, datetime):
            serial = (local_naive(v) - _EXCEL_EPOCH).total_seconds() / 86400
            return f'<c r="{ref}" s="2"><v>{serial:.8f}</v></c>'
        if isinstance(v, date):
            return f'<c r="{ref}" s="1"><v>{(v - _EXCEL_EPOCH.date()).days}</v></c>'
        return XlsxSheet._cell(ref, str(v), style)

    def _flush(self) -> None:
        """Write the queued rows into the zip."""
        if self.pending:
            self.out.write("".join(self.pending).encode())
            self.pending.clear()

    def close(self) -> str:
        """Finish the file and return its path."""
        self._flush()
        self.out.write(b"</sheetData></worksheet>")
        self.out.close()
        self.zip.close()
        return self.path


class XlsxwriterSheet:
    """The same one-sheet API as XlsxSheet through xlsxwriter in constant_memory mode (measured side by side in
    bench/bench_excel.py --writers; docs/benchmarks.md §3)."""

    def __init__(self, headers: Sequence[str], sheet: str = "Alumnos") -> None:
        import xlsxwriter

        fd, self.path = tempfile.mkstemp(suffix=".xlsx")
        os.close(fd)
        self.book = xlsxwriter.Workbook(self.path, {"constant_memory": True, "strings_to_formulas": False,
                                                    "strings_to_numbers": False, "strings_to_urls": False})
        self.ws = self.book.add_worksheet(sheet[:31])
        self.date = self.book.add_format({"num_format": "dd/mm/yyyy"})
        self.stamp = self.book.add_format({"num_format": "dd/mm/yyyy hh:mm"})
        bold = self.book.add_format({"bold": True, "bg_color": "#DDEBDA"})
        self.ws.freeze_panes(1, 0)
        for col, h in enumerate(headers):
            self.ws.write_string(0, col, h, bold)
        self.row = 0

    def write(self, values: Sequence) -> None:
        """Append one row with typed calls (no per-cell type sniffing); dates in Mexico City time."""
        self.row += 1
        ws, r = self.ws, self.row
        for col, v in enumerate(values):
            if v is None:
                continue
            if isinstance(v, str):
                ws.write_string(r, col, v.translate(_XML_FORBIDDEN))
            elif isinstance(v, bool):
                ws.write_boolean(r, col, v)
            elif isinstance(v, (int, float, Decimal)):
                ws.write_number(r, col, v)
            elif isinstance(v, datetime):
                ws.write_datetime(r, col, local_naive(v), self.stamp)
            elif isinstance(v, date):
                ws.write_datetime(r, col, datetime(v.year, v.month, v.day), self.date)
            else:
                ws.write_string(r, col, str(v))

    def close(self) -> str:
        """Finish the file and return its path."""
        self.book.close()
        return self.path


def student_values(row: dict) -> list:
    """One student's export row."""
    return [LABEL[row["estatus"]] if key == "estatus" else row.get(key) for _, key in STUDENT_COLUMNS]


async def rows_xlsx(headers: Sequence[str], batches: AsyncIterator[list], values: Callable[[object], list],
                    sheet: str = "Alumnos") -> str:
    """Write batches of rows (each through values) into a one-sheet workbook off the event loop; return the
    temporary file's path (removed if writing fails)."""
    book = await asyncio.to_thread(XlsxSheet, list(headers), sheet)
    try:
        async for batch in batches:
            await asyncio.to_thread(lambda b=batch: [book.write(values(r)) for r in b])
        return await asyncio.to_thread(book.close)
    except BaseException:
        os.unlink(book.path)
        raise


async def students_xlsx(batches: AsyncIterator[list[dict]]) -> str:
    """Write the student export from batches of rows; return the temporary file's path."""
    return await rows_xlsx([h for h, _ in STUDENT_COLUMNS], batches, student_values)


async def stream_file(path: str, delete: bool = True) -> AsyncIterator[bytes]:
    """Yield a file in chunks and remove it afterwards."""
    try:
        with open(path, "rb") as f:
            while chunk := await asyncio.to_thread(f.read, CHUNK):
                yield chunk
    finally:
        if delete:
            os.unlink(path)


PDF_FONT, PDF_BOLD, PDF_SIZE, PDF_PAD = "Helvetica", "Helvetica-Bold", 7.5, 3  # report table cells


class _NumberedCanvas(Canvas):
    """A canvas that writes «Página n de N» at the foot of every page once the total is known."""

    def __init__(self, *args, **kwargs):
        """Keep each page's state until save() knows how many there are."""
        super().__init__(*args, **kwargs)
        self._pages: list[dict] = []

    def showPage(self):  # noqa: N802 (reportlab's name)
        """Hold the page instead of emitting it."""
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self):
        """Emit every held page with its number."""
        total = len(self._pages)
        for n, state in enumerate(self._pages, 1):
            self.__dict__.update(state)
            self.setFont(PDF_FONT, 8)
            self.drawRightString(self._pagesize[0] - 12 * mm, 7 * mm, f"Página {n} de {total}")
            super().showPage()
        super().save()


def _report_widths(header: list[str], page_width: float) -> list[float]:
    """Column widths: every status column as wide as its header (bold, padded), Plantel takes the rest."""
    counts = [max(stringWidth(h, PDF_BOLD, PDF_SIZE) + 2 * PDF_PAD + 2, 13 * mm) for h in header[2:]]
    number = 10 * mm
    return [number, page_width - number - sum(counts), *counts]


def report_pdf(rows: list[dict], total: dict, title: str, generated: datetime) -> bytes:
    """The status report as a landscape letter PDF table, numbered pages."""
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=landscape(letter), leftMargin=12 * mm, rightMargin=12 * mm,
                            topMargin=12 * mm, bottomMargin=14 * mm, title=title,
                            author="CONALEP Estado de México")
    styles = getSampleStyleSheet()
    header = ["#", "Plantel", "Alumnos", *[LABEL[s] for s in ESTATUS]]
    data = [header]
    for i, r in enumerate(rows, 1):
        data.append([i, r["plantel"], r["alumnos"], *[r[s] for s in ESTATUS]])
    data.append(["Total", "", total["alumnos"], *[total[s] for s in ESTATUS]])
    table = Table(data, repeatRows=1, colWidths=_report_widths(header, doc.width))
    table.setStyle(TableStyle([
        ("FONT", (0, 0), (-1, 0), PDF_BOLD, PDF_SIZE),
        ("FONT", (0, 1), (-1, -1), PDF_FONT, PDF_SIZE),
        ("FONT", (0, -1), (-1, -1), PDF_BOLD, PDF_SIZE),
        ("LEFTPADDING", (0, 0), (-1, -1), PDF_PAD), ("RIGHTPADDING", (0, 0), (-1, -1), PDF_PAD),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#DDEBDA")),
        ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
        ("ALIGN", (2, 0), (-1, -1), "RIGHT"),
        ("ROWBACKGROUNDS", (0, 1), (-1, -2), [colors.white, colors.HexColor("#F4F4F4")]),
    ]))
    story = [Paragraph("CONALEP Estado de México — Sistema de Credencialización", styles["Title"]),
             Paragraph(title, styles["Heading2"]),
             Paragraph(f"Generado: {fecha_hora(generated)}", styles["Normal"]), Spacer(1, 4 * mm), table]
    doc.build(story, canvasmaker=_NumberedCanvas)
    return buf.getvalue()


# A PDF shown in the browser's own viewer: the viewer is a plugin, which the pages' object-src 'none' blocks.
INLINE_PDF_CSP = "default-src 'none'; object-src 'self'; frame-ancestors 'none'"


def download_headers(filename: str, mime: str, inline: bool = False) -> dict[str, str]:
    """Headers for a file holding personal data (never cached): an attachment, or shown in a tab when inline."""
    headers = {"Content-Type": mime, "Content-Disposition": f'{"inline" if inline else "attachment"}; filename="{filename}"',
               "Cache-Control": "no-store"}
    if inline and mime == "application/pdf":
        headers["Content-Security-Policy"] = INLINE_PDF_CSP
    return headers


XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
