"""The order package read back: manifest CSV and XLSX, images and the CR80 PDF match the database."""
from __future__ import annotations

import csv
import io
import os
import zipfile

import openpyxl
from pypdf import PdfReader

from app import db, orders, package
from app.biocrypt import unseal
from app.formatting import fecha

from .conftest import actor, make_student, plantel_id
from .mailtools import drain

MM = 72 / 25.4


async def _order(users) -> tuple[int, list[dict]]:
    """An order with two new cards and one reprint."""
    students = [await make_student("validado", nombre=f"ALUMNA {i}", primer_apellido="PEÑA") for i in range(2)]
    rej = await make_student("rechazado", nombre="REIMPRESA")
    await db.execute("INSERT INTO eventos (alumno_id, accion, de, a, comentario) VALUES "
                     "(:a, 'rechazar', 'recibido', 'rechazado', 'Laminado despegado')", {"a": rej["id"]})
    res = await orders.crear(actor(users["estatal"]), [await plantel_id("Ciudad Azteca")], True)
    return res.orden_id, students + [rej]


async def _zip(client, oid: int) -> zipfile.ZipFile:
    """Download the package through the page's link, once the background build is done."""
    await drain(client.app)
    r = await client.get(f"/ordenes/{oid}/paquete.zip")
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/zip"
    assert f"orden-{oid:05d}.zip" in r.headers["Content-Disposition"]
    return zipfile.ZipFile(io.BytesIO(await r.get_data()))


async def test_manifest_images_and_pdf_match_database(signed_in, users):
    """Each student: a manifest row (CSV = XLSX) with every printed field, its photo and signature bytes,
    and a front+back pair of CR80 pages whose text carries the matrícula and name."""
    oid, students = await _order(users)
    z = await _zip(await signed_in("empresa"), oid)
    raw = z.read("manifiesto.csv")
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert len(rows) == 3
    by_m = {r["Matrícula"]: r for r in rows}
    book = openpyxl.load_workbook(io.BytesIO(z.read("manifiesto.xlsx")), read_only=True)
    xrows = list(book.worksheets[0].iter_rows(values_only=True))
    header = list(xrows[0])
    assert header == list(rows[0].keys())
    pdf = PdfReader(io.BytesIO(z.read("credenciales-001.pdf")))
    assert len(pdf.pages) == 6
    w, h = float(pdf.pages[0].mediabox.width), float(pdf.pages[0].mediabox.height)
    assert abs(w - 85.60 * MM) < 0.5 and abs(h - 53.98 * MM) < 0.5
    for s in students:
        db_row = await db.fetch_one(
            """SELECT a.*, p.nombre AS plantel, f.datos AS foto, fi.datos AS firma FROM alumnos a
               JOIN planteles p ON p.id = a.plantel_id JOIN biometricos f ON f.id = a.foto_id
               JOIN biometricos fi ON fi.id = a.firma_id WHERE a.id = :id""", {"id": s["id"]})
        m = db_row["matricula"]
        r = by_m[m]
        assert r["Orden"] == str(oid) and r["CURP"] == db_row["curp"] and r["Nombre"] == db_row["nombre"]
        assert r["Primer apellido"] == "PEÑA" or s["nombre"] == "REIMPRESA"
        assert r["Número de afiliación"] == db_row["numero_afiliacion"]
        assert r["Institución médica"] == db_row["institucion_medica"] and r["Plantel"] == db_row["plantel"]
        assert r["Vigencia"] == fecha(db_row["vigencia"])
        assert r["Reimpresión"] == ("Sí" if s["nombre"] == "REIMPRESA" else "No")
        assert r["Motivo"] == ("Laminado despegado" if s["nombre"] == "REIMPRESA" else "")
        assert z.read(f"fotos/{m}.jpg") == unseal(db_row["foto"])
        assert z.read(f"firmas/{m}.png") == unseal(db_row["firma"])
        xr = next(x for x in xrows[1:] if x[header.index("Matrícula")] == m)
        assert xr[header.index("Número de afiliación")] == db_row["numero_afiliacion"]
        assert r["PDF"] == "credenciales-001.pdf"
        page = int(r["Página frente"])
        front = pdf.pages[page - 1].extract_text()
        back = pdf.pages[page].extract_text()
        assert db_row["prematricula"] in front and db_row["nombre"] in front and db_row["curp"] in front
        assert m in back


async def test_pdf_split_into_parts_for_large_orders(users, monkeypatch):
    """Orders above PDF_PART cards get numbered PDF files; the manifest says where each card is."""
    monkeypatch.setattr(package, "PDF_PART", 2)
    oid, students = await _order(users)
    path = await package.build_package(oid)
    try:
        z = zipfile.ZipFile(path)
        assert {"credenciales-001.pdf", "credenciales-002.pdf"} <= set(z.namelist())
        assert len(PdfReader(io.BytesIO(z.read("credenciales-002.pdf"))).pages) == 2
        rows = list(csv.DictReader(io.StringIO(z.read("manifiesto.csv").decode("utf-8-sig"))))
        assert [(r["PDF"], r["Página frente"]) for r in rows] == [
            ("credenciales-001.pdf", "1"), ("credenciales-001.pdf", "3"), ("credenciales-002.pdf", "1")]
    finally:
        os.unlink(path)


async def test_package_refused_to_plantel_and_unknown_order(signed_in, users):
    """Plantel users cannot download packages; an unknown order is 404."""
    oid, _ = await _order(users)
    assert (await (await signed_in("plantel")).get(f"/ordenes/{oid}/paquete.zip")).status_code == 403
    assert (await (await signed_in("estatal")).get("/ordenes/999/paquete.zip")).status_code == 404


async def test_free_text_cannot_become_a_spreadsheet_formula(users):
    """A rejection reason typed as a formula is written as text in the CSV and the XLSX."""
    s = await make_student("rechazado")
    await db.execute("INSERT INTO eventos (alumno_id, accion, de, a, comentario) VALUES "
                     "(:a, 'rechazar', 'recibido', 'rechazado', '=HYPERLINK(\"http://x\")')", {"a": s["id"]})
    res = await orders.crear(actor(users["estatal"]), [await plantel_id("Ciudad Azteca")], True)
    path = await package.build_package(res.orden_id)
    try:
        z = zipfile.ZipFile(path)
        row = next(csv.DictReader(io.StringIO(z.read("manifiesto.csv").decode("utf-8-sig"))))
        assert row["Motivo"] == "'=HYPERLINK(\"http://x\")"
        ws = openpyxl.load_workbook(io.BytesIO(z.read("manifiesto.xlsx"))).worksheets[0]
        header = [c.value for c in ws[1]]
        cell = ws.cell(row=2, column=header.index("Motivo") + 1)
        assert cell.data_type == "s" and cell.value == "=HYPERLINK(\"http://x\")"
    finally:
        os.unlink(path)


def test_print_photo_is_print_resolution_and_keeps_small_or_odd_images():
    """A 600×800 photo goes into the PDF at 300×400; small photos and non-JPEG bytes pass unchanged."""
    from PIL import Image

    from app.demo import placeholder_photo, placeholder_signature

    big = placeholder_photo(1)
    assert Image.open(io.BytesIO(big)).size == (600, 800)
    assert Image.open(io.BytesIO(package.print_photo(big))).size == (300, 400)
    small = io.BytesIO()
    Image.new("RGB", (240, 320), "white").save(small, "JPEG")
    assert package.print_photo(small.getvalue()) == small.getvalue()
    png = placeholder_signature(1)
    assert package.print_photo(png) == png and package.print_photo(b"not an image") == b"not an image"


async def test_package_download_is_audited(signed_in, users):
    """Who downloaded which order's package (photos and signatures) is recorded."""
    oid, _ = await _order(users)
    await _zip(await signed_in("empresa"), oid)
    row = await db.fetch_one("SELECT usuario_id, recurso, detalle FROM accesos_sensibles WHERE recurso = 'paquete_orden'")
    assert row == {"usuario_id": users["empresa"]["id"], "recurso": "paquete_orden", "detalle": f"orden {oid}"}
