"""Excel and PDF documents: the per-plantel student export and the status report."""
from __future__ import annotations

import asyncio
import io
import os
import tempfile
from datetime import date, datetime
from typing import AsyncIterator, Sequence

import xlsxwriter
from reportlab.lib import colors
from reportlab.lib.pagesizes import landscape, letter
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
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


class XlsxSheet:
    """A streaming (constant_memory) one-sheet workbook written to a temporary file."""

    def __init__(self, headers: Sequence[str], sheet: str = "Alumnos") -> None:
        fd, self.path = tempfile.mkstemp(suffix=".xlsx")
        os.close(fd)
        self.book = xlsxwriter.Workbook(self.path, {"constant_memory": True, "strings_to_numbers": False,
                                                    "strings_to_formulas": False, "strings_to_urls": False})
        self.ws = self.book.add_worksheet(sheet)
        self.bold = self.book.add_format({"bold": True, "bg_color": "#DDEBDA"})
        self.date_fmt = self.book.add_format({"num_format": "dd/mm/yyyy"})
        self.datetime_fmt = self.book.add_format({"num_format": "dd/mm/yyyy hh:mm"})
        self.ws.write_row(0, 0, headers, self.bold)
        self.ws.freeze_panes(1, 0)
        self.row = 1

    def write(self, values: Sequence) -> None:
        """Append one row; dates and datetimes as Excel dates (Mexico City time)."""
        for col, v in enumerate(values):
            if isinstance(v, datetime):
                self.ws.write_datetime(self.row, col, local_naive(v), self.datetime_fmt)
            elif isinstance(v, date):
                self.ws.write_datetime(self.row, col, datetime(v.year, v.month, v.day), self.date_fmt)
            elif v is None:
                continue
            else:
                self.ws.write(self.row, col, v)
        self.row += 1

    def close(self) -> str:
        """Finish the file and return its path."""
        self.book.close()
        return self.path


def student_values(row: dict) -> list:
    """One student's export row."""
    return [LABEL[row["estatus"]] if key == "estatus" else row.get(key) for _, key in STUDENT_COLUMNS]


async def students_xlsx(batches: AsyncIterator[list[dict]]) -> str:
    """Write the student export from batches of rows; return the temporary file's path."""
    sheet = await asyncio.to_thread(XlsxSheet, [h for h, _ in STUDENT_COLUMNS])
    try:
        async for batch in batches:
            await asyncio.to_thread(lambda b=batch: [sheet.write(student_values(r)) for r in b])
        return await asyncio.to_thread(sheet.close)
    except BaseException:
        os.unlink(sheet.path)
        raise


async def stream_file(path: str, delete: bool = True) -> AsyncIterator[bytes]:
    """Yield a file in chunks and remove it afterwards."""
    try:
        with open(path, "rb") as f:
            while chunk := await asyncio.to_thread(f.read, CHUNK):
                yield chunk
    finally:
        if delete:
            os.unlink(path)


def report_pdf(rows: list[dict], total: dict, title: str, generated: datetime) -> bytes:
    """The status report as a landscape letter PDF table."""
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=landscape(letter), leftMargin=12 * mm, rightMargin=12 * mm,
                            topMargin=12 * mm, bottomMargin=12 * mm, title=title,
                            author="CONALEP Estado de México")
    styles = getSampleStyleSheet()
    header = ["#", "Plantel", "Alumnos", *[LABEL[s] for s in ESTATUS]]
    data = [header]
    for i, r in enumerate(rows, 1):
        data.append([i, r["plantel"], r["alumnos"], *[r[s] for s in ESTATUS]])
    data.append(["Total", "", total["alumnos"], *[total[s] for s in ESTATUS]])
    table = Table(data, repeatRows=1, colWidths=[10 * mm, 58 * mm] + [17 * mm] * (len(header) - 2))
    table.setStyle(TableStyle([
        ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 7.5),
        ("FONT", (0, 1), (-1, -1), "Helvetica", 7.5),
        ("FONT", (0, -1), (-1, -1), "Helvetica-Bold", 7.5),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#DDEBDA")),
        ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
        ("ALIGN", (2, 0), (-1, -1), "RIGHT"),
        ("ROWBACKGROUNDS", (0, 1), (-1, -2), [colors.white, colors.HexColor("#F4F4F4")]),
    ]))
    story = [Paragraph("CONALEP Estado de México — Sistema de Credencialización", styles["Title"]),
             Paragraph(title, styles["Heading2"]),
             Paragraph(f"Generado: {fecha_hora(generated)}", styles["Normal"]), Spacer(1, 4 * mm), table]
    doc.build(story)
    return buf.getvalue()


def download_headers(filename: str, mime: str) -> dict[str, str]:
    """Headers for an attachment holding personal data (never cached)."""
    return {"Content-Type": mime, "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store"}


XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
