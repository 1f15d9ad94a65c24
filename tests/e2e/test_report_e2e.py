"""Browser: sign in as plantel and estatal, read the report, download its Excel and PDF."""
from __future__ import annotations

import re

import openpyxl
import pytest
from pypdf import PdfReader

from app.status import ESTATUS, LABEL

from .conftest import sign_in

pytestmark = pytest.mark.e2e


def _db_counts(live_server, plantel: str | None = None) -> dict[str, dict[str, int]]:
    """Counts per plantel and status straight from the database."""
    rows = live_server.query(
        "SELECT p.nombre, a.estatus::text AS e, count(*) AS n FROM alumnos a JOIN planteles p ON p.id = a.plantel_id "
        "WHERE $1::text IS NULL OR p.nombre = $1 GROUP BY 1, 2", plantel)
    out: dict[str, dict[str, int]] = {}
    for r in rows:
        out.setdefault(r["nombre"], {s: 0 for s in ESTATUS})[r["e"]] = r["n"]
    return out


def _table(page) -> dict[str, list[int]]:
    """The report table as {plantel: [alumnos, *per status]} plus 'Total'."""
    out = {}
    for tr in page.locator("table.report tbody tr, table.report tfoot tr").all():
        cells = [c.inner_text().strip() for c in tr.locator("th, td").all()]
        name = cells[0] if cells[0] == "Total" else cells[1]
        out[name] = [int(c) for c in cells[-(len(ESTATUS) + 1):]]
    return out


def test_plantel_user_sees_own_plantel_and_downloads(page, live_server, tmp_path):
    """Ciudad Azteca's user sees one row whose numbers match the database; Excel and PDF agree."""
    sign_in(page, "cdazteca@conalepmex.edu.mx")
    assert page.get_by_role("heading", name="Reporte de estatus por Plantel").is_visible()
    headers = [h.inner_text().strip() for h in page.locator("table.report thead th").all()]
    assert headers == ["#", "Plantel", "Alumnos", *[LABEL[s] for s in ESTATUS]]
    table = _table(page)
    assert set(table) == {"Ciudad Azteca", "Total"}
    expected = _db_counts(live_server, "Ciudad Azteca")["Ciudad Azteca"]
    assert table["Ciudad Azteca"] == [sum(expected.values()), *[expected[s] for s in ESTATUS]]

    with page.expect_download() as dl:
        page.get_by_role("link", name="Ciudad Azteca").click()
    path = tmp_path / "alumnos.xlsx"
    dl.value.save_as(path)
    ws = openpyxl.load_workbook(path, read_only=True).worksheets[0]
    rows = list(ws.iter_rows(values_only=True))
    header, data = rows[0], rows[1:]
    assert len(data) == sum(expected.values())
    col = header.index("Estatus")
    for s in ESTATUS:
        assert sum(1 for r in data if r[col] == LABEL[s]) == expected[s]
    fecha = header.index("Fecha actualización estatus")
    assert all(hasattr(r[fecha], "year") for r in data)  # real Excel dates, not text

    with page.expect_download() as dl:
        page.get_by_role("link", name="Descargar a PDF").click()
    pdf_path = tmp_path / "reporte.pdf"
    dl.value.save_as(pdf_path)
    text = " ".join(p.extract_text() for p in PdfReader(pdf_path).pages)
    assert "Reporte de estatus por Plantel" in text
    assert re.search(r"Ciudad Azteca\s+" + r"\s+".join(str(n) for n in table["Ciudad Azteca"]), text)


def test_estatal_sees_all_planteles_with_totals(page, live_server, tmp_path):
    """The state office sees the 39 planteles; every row and the Total match the database."""
    sign_in(page, "estatal@conalepmex.edu.mx")
    table = _table(page)
    counts = _db_counts(live_server)
    assert len(table) == 40  # 39 planteles + Total
    for name, per in counts.items():
        assert table[name] == [sum(per.values()), *[per[s] for s in ESTATUS]], name
    total = [sum(table[n][i] for n in table if n != "Total") for i in range(len(ESTATUS) + 1)]
    assert table["Total"] == total
    with page.expect_download() as dl:
        page.get_by_role("link", name="Descargar a PDF").click()
    pdf_path = tmp_path / "reporte.pdf"
    dl.value.save_as(pdf_path)
    text = " ".join(p.extract_text() for p in PdfReader(pdf_path).pages)
    assert re.search(r"Total\s+" + r"\s+".join(str(n) for n in table["Total"]), text)
    with page.expect_download() as dl:
        page.get_by_role("link", name="Toluca").click()
    path = tmp_path / "toluca.xlsx"
    dl.value.save_as(path)
    rows = list(openpyxl.load_workbook(path, read_only=True).worksheets[0].iter_rows(values_only=True))
    assert len(rows) - 1 == sum(counts["Toluca"].values())
