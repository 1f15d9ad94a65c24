"""Inicio: the status report, its per-plantel Excel and its PDF, with scope checks."""
from __future__ import annotations

import io

import openpyxl
from pypdf import PdfReader

from app.status import ESTATUS, LABEL

from .conftest import make_student, plantel_id, text_of

MIX = {"Ciudad Azteca": {"enrolado": 3, "capturado": 2, "validado": 1, "entregado": 1, "retoma": 1},
       "Toluca": {"aplazado": 1, "recibido": 2}}
TOTAL = sum(n for per in MIX.values() for n in per.values())


async def _load_mix():
    """Students in several statuses in two planteles."""
    for plantel, per in MIX.items():
        for status, n in per.items():
            for _ in range(n):
                await make_student(status, plantel=plantel)


def _row(html: str, plantel: str) -> list[str]:
    """The cells after the plantel name in the report's text."""
    text = text_of(html)
    text = text[text.index("Reporte de estatus por Plantel"):]
    start = text.index(plantel) + len(plantel)
    return text[start:].split()[: 1 + len(ESTATUS)]


async def test_plantel_user_sees_only_its_plantel(signed_in):
    """A plantel user gets one row with its own counts and a Total row."""
    await _load_mix()
    html = await (await (await signed_in("plantel")).get("/")).get_data(as_text=True)
    assert "Reporte de estatus por Plantel" in html and "Toluca" not in html
    per = MIX["Ciudad Azteca"]
    assert _row(html, "Ciudad Azteca") == [str(sum(per.values()))] + [str(per.get(s, 0)) for s in ESTATUS]
    header = text_of(html)
    assert " ".join(LABEL[s] for s in ESTATUS) in header  # the column order of domain.md


async def test_estatal_sees_all_39_with_total(signed_in):
    """Estatal sees every plantel (zeros included) and the Total."""
    await _load_mix()
    html = await (await (await signed_in("estatal")).get("/")).get_data(as_text=True)
    assert html.count("/reporte/plantel/") == 39
    assert _row(html, "Total") == [str(TOTAL)] + [str(sum(m.get(s, 0) for m in MIX.values())) for s in ESTATUS]


async def test_excel_has_every_field_and_real_dates(signed_in):
    """The Excel of a plantel holds all its students, every field, statuses and real dates."""
    await _load_mix()
    c = await signed_in("plantel")
    pid = await plantel_id("Ciudad Azteca")
    r = await c.get(f"/reporte/plantel/{pid}.xlsx")
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    ws = openpyxl.load_workbook(io.BytesIO(await r.get_data())).worksheets[0]
    rows = list(ws.iter_rows(values_only=True))
    header, data = rows[0], rows[1:]
    for col in ("Matrícula", "CURP", "Folio", "Grupo", "Carrera", "Estatus", "Vigencia credencial",
                "Fecha toma de biométricos", "Fecha actualización estatus", "Fecha entrega alumno",
                "Orden de impresión"):
        assert col in header
    assert len(data) == sum(MIX["Ciudad Azteca"].values())
    est = header.index("Estatus")
    assert sorted(r[est] for r in data) == sorted(LABEL[s] for s, n in MIX["Ciudad Azteca"].items() for _ in range(n))
    fecha = header.index("Fecha actualización estatus")
    assert all(hasattr(r[fecha], "year") for r in data)
    assert all(isinstance(r[header.index("Folio")], str) for r in data)  # leading zeros kept as text


async def test_excel_of_other_plantel_forbidden(signed_in):
    """A plantel user cannot download another plantel's students."""
    c = await signed_in("plantel")
    r = await c.get(f"/reporte/plantel/{await plantel_id('Toluca')}.xlsx")
    assert r.status_code == 403


async def test_empresa_cannot_download_students(signed_in):
    """The printing company has no access to the student export or the report PDF."""
    c = await signed_in("empresa")
    assert (await c.get(f"/reporte/plantel/{await plantel_id('Toluca')}.xlsx")).status_code == 403
    assert (await c.get("/reporte.pdf")).status_code == 403


async def test_unknown_plantel_404(signed_in):
    """A plantel that does not exist answers 404."""
    assert (await (await signed_in("estatal")).get("/reporte/plantel/99999.xlsx")).status_code == 404


async def test_pdf_matches_report(signed_in):
    """'Descargar a PDF' holds the same numbers as the page."""
    await _load_mix()
    c = await signed_in("estatal")
    r = await c.get("/reporte.pdf")
    assert r.headers["Content-Type"] == "application/pdf"
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(await r.get_data())).pages)
    assert "Reporte de estatus por Plantel" in text
    assert "Toluca 3 0 1 0 0 0 0 0 0 2 0" in " ".join(text.split())
    assert f"Total {TOTAL}" in " ".join(text.split())


async def test_buscar_filters_planteles_by_name(signed_in):
    """Issue 12 item 13: the manual's «Buscar» box filters planteles by name (accents/case ignored); the box's
    htmx request gets the table alone; the PDF follows the filter."""
    await _load_mix()
    c = await signed_in("estatal")
    html = await (await c.get("/")).get_data(as_text=True)
    assert 'id="buscar"' in html and 'role="search"' in html
    html = await (await c.get("/", query_string={"buscar": "tolúca"})).get_data(as_text=True)
    assert html.count("/reporte/plantel/") == 1 and "Toluca" in html and "Ciudad Azteca" not in html
    assert _row(html, "Total") == ["3", "0", "1", "0", "0", "0", "0", "0", "0", "2", "0"]
    part = await (await c.get("/?buscar=azteca", headers={"HX-Request": "true", "HX-Target": "reporte-tabla"})
                  ).get_data(as_text=True)
    assert "<html" not in part and "Ciudad Azteca" in part and "Toluca" not in part
    assert "Ningún plantel coincide" in await (await c.get("/?buscar=zzz")).get_data(as_text=True)
    pdf = PdfReader(io.BytesIO(await (await c.get("/reporte.pdf?buscar=toluca")).get_data()))
    assert "Ciudad Azteca" not in pdf.pages[0].extract_text()


def _header_runs(pdf: bytes) -> list[tuple[float, str]]:
    """(x, text) of the report table's header cells on the first page, left to right."""
    from app.status import LABEL as L
    names = {"#", "Plantel", "Alumnos", *L.values()}
    runs = []

    def visit(text, cm, tm, font, size):
        """Header cells are the bold runs naming a column."""
        if text.strip() in names and "Bold" in str(font.get("/BaseFont", "")):
            runs.append((tm[4] * cm[0] + cm[4], text.strip()))
    PdfReader(io.BytesIO(pdf)).pages[0].extract_text(visitor_text=visit)
    return sorted(runs)


async def test_pdf_headers_fit_and_pages_are_numbered(signed_in):
    """Issue 12 item 13: no header spills into the next cell («Imprimiendo»); every page says «Página n de N»."""
    from reportlab.pdfbase.pdfmetrics import stringWidth

    await _load_mix()
    c = await signed_in("estatal")
    pdf = await (await c.get("/reporte.pdf")).get_data()
    runs = _header_runs(pdf)
    assert [t for _, t in runs][:3] == ["#", "Plantel", "Alumnos"] and len(runs) == 3 + len(ESTATUS)
    for (x, text), (next_x, nxt) in zip(runs, runs[1:]):
        assert x + stringWidth(text, "Helvetica-Bold", 7.5) < next_x - 4, (text, nxt)  # its padding, no overlap
    pages = PdfReader(io.BytesIO(pdf)).pages
    assert len(pages) >= 2  # 39 planteles
    for n, page in enumerate(pages, 1):
        assert f"Página {n} de {len(pages)}" in page.extract_text()


def test_both_xlsx_writers_read_back_alike(tmp_path):
    """The hand-written writer and xlsxwriter (bench_excel --writers) produce the same cells."""
    from datetime import date, datetime, timezone

    from app.exports import XlsxSheet, XlsxwriterSheet

    row = ["180010051-1", "000123", "=1+1", 3, date(2028, 8, 1), datetime(2026, 1, 31, 2, 11, tzinfo=timezone.utc),
           None, "texto\x01 con control"]
    read = []
    for cls in (XlsxSheet, XlsxwriterSheet):
        sheet = cls(["a", "b", "c", "d", "e", "f", "g", "h"])
        sheet.write(row)
        path = sheet.close()
        read.append(list(openpyxl.load_workbook(path).active.iter_rows(values_only=True)))
    assert read[0] == read[1]
    assert read[0][1][:4] == ("180010051-1", "000123", "=1+1", 3) and read[0][1][5] == datetime(2026, 1, 30, 20, 11)
