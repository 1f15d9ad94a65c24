"""Imprimir temporal: the PDF (fields, Code128, QR), each issue recorded, the public verification page."""
from __future__ import annotations

import io
from datetime import datetime
from urllib.parse import urlsplit

import pytest
import zxingcpp
from pypdf import PdfReader

from app import db
from app.cards import CardData, card_size, code128_image, qr_image
from app.credential import make_token, mask_matricula, read_token
from app.formatting import TZ

from .conftest import make_student, post, text_of


def barcodes(pdf: bytes) -> dict[str, str]:
    """Decode every barcode image embedded in the PDF as stored: {format name: text}."""
    found = {}
    for page in PdfReader(io.BytesIO(pdf)).pages:
        for im in page.images:
            for r in zxingcpp.read_barcodes(im.image.convert("L")):
                found[r.format.name] = r.text
    return found


async def generate(client, matricula: str):
    """POST "Generar credencial temporal"."""
    return await post(client, f"/temporal/{matricula}/credencial.pdf")


async def test_search_shows_data_photo_and_button(signed_in):
    """Matrícula → Buscar: data, photo, signature and "Generar credencial temporal"."""
    a = await make_student("validado")
    c = await signed_in("plantel")
    html = await (await c.get(f"/temporal?matricula={a['matricula']}")).get_data(as_text=True)
    text = text_of(html)
    assert "Reimprimir credencial" in text and "Estatus: Validado" in text
    assert "Generar credencial temporal" in text and f"/biometricos/{a['foto_id']}" in html


async def test_student_without_biometrics_is_refused(signed_in):
    """An Enrolado student has no photo: the page says so and the PDF is refused."""
    a = await make_student("enrolado")
    c = await signed_in("plantel")
    text = text_of(await (await c.get(f"/temporal?matricula={a['matricula']}")).get_data(as_text=True))
    assert "no tiene fotografía y firma" in text
    r = await generate(c, a["matricula"])
    assert r.status_code == 409
    assert await db.fetch_val("SELECT count(*) FROM credenciales_temporales") == 0


async def test_pdf_fields_barcode_and_qr(signed_in, users, app):
    """The PDF holds the manual's fields, a Code128 of the matrícula and a QR to a valid verification page."""
    a = await make_student("validado")
    c = await signed_in("plantel")
    r = await generate(c, a["matricula"])
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/pdf"
    assert r.headers["Content-Disposition"].startswith("inline") and a["matricula"] in r.headers["Content-Disposition"]
    pdf = await r.get_data()
    reader = PdfReader(io.BytesIO(pdf))
    text = reader.pages[0].extract_text()
    year = str(datetime.now(TZ).year)
    for expected in ("Ciudad Azteca", "ALBARRAN MALDONADO YAHIR ALEXIS", "VIGENCIA:", year, "PREMATRÍCULA:",
                     a["prematricula"], "CURP:", "AAMY021208HDFLLHA4", "CORREO INSTITUCIONAL:",
                     "yalbarran0818@conalepmex.edu.mx", "INSTITUCIÓN MÉDICA:", "Instituto Mexicano del Seguro Social",
                     "NÚMERO DE AFILIACIÓN:", "72795608040", a["matricula"], "CREDENCIAL TEMPORAL"):
        assert expected in text, expected
    # true card size on a letter page: the photo is drawn, letter is 612×792 pt
    assert [float(v) for v in reader.pages[0].mediabox[2:]] == [612, 792]
    codes = barcodes(pdf)
    assert codes["Code128"] == a["matricula"]
    url = codes["QRCode"]
    assert url.startswith("http://test/verificar/")
    issue = await db.fetch_one("SELECT * FROM credenciales_temporales WHERE alumno_id = :a", {"a": a["id"]})
    assert issue["emitida_por"] == users["plantel"]["id"] and issue["vigencia"] == int(year)
    assert await db.fetch_val("SELECT count(*) FROM eventos WHERE alumno_id = :a AND accion = 'credencial_temporal'",
                              {"a": a["id"]}) == 1
    # the QR's page, for anyone (a fresh client, not signed in)
    page = await app.test_client().get(urlsplit(url).path)
    html = await page.get_data(as_text=True)
    assert page.status_code == 200 and "VÁLIDA" in html and "NO VÁLIDA" not in html
    assert "YAHIR ALEXIS ALBARRAN MALDONADO" in html and "Ciudad Azteca" in html
    assert mask_matricula(a["matricula"]) in html and a["matricula"] not in html
    assert "/biometricos/" not in html and "AAMY021208HDFLLHA4" not in html  # no photo, no CURP
    assert page.headers["Cache-Control"] == "no-store"


async def test_every_issue_is_recorded(signed_in):
    """Two reprints → two recorded issues with distinct QR links."""
    a = await make_student("capturado")
    c = await signed_in("plantel")
    q1 = barcodes(await (await generate(c, a["matricula"])).get_data())["QRCode"]
    q2 = barcodes(await (await generate(c, a["matricula"])).get_data())["QRCode"]
    assert q1 != q2
    assert await db.fetch_val("SELECT count(*) FROM credenciales_temporales WHERE alumno_id = :a", {"a": a["id"]}) == 2


async def test_verification_turns_invalid(signed_in, app):
    """After delivery of the definitive card, or a new photo, the temporary one no longer verifies."""
    a = await make_student("recibido")
    c = await signed_in("plantel")
    path = urlsplit(barcodes(await (await generate(c, a["matricula"])).get_data())["QRCode"]).path
    anon = app.test_client()
    assert "Credencial temporal vigente" in await (await anon.get(path)).get_data(as_text=True)
    foto = await db.fetch_val("INSERT INTO biometricos (alumno_id, tipo, mime, datos, sha256, bytes, ancho, alto) "
                              "SELECT alumno_id, tipo, mime, datos, sha256, bytes, ancho, alto FROM biometricos "
                              "WHERE id = :f RETURNING id", {"f": a["foto_id"]})
    await db.execute("UPDATE alumnos SET foto_id = :f WHERE id = :a", {"f": foto, "a": a["id"]})
    assert "reemplazada" in await (await anon.get(path)).get_data(as_text=True)
    await db.execute("UPDATE alumnos SET foto_id = :f WHERE id = :a", {"f": a["foto_id"], "a": a["id"]})
    e = await db.fetch_val("INSERT INTO biometricos (alumno_id, tipo, mime, datos, sha256, bytes, ancho, alto) "
                           "SELECT alumno_id, 'firma_entrega', mime, datos, sha256, bytes, ancho, alto FROM biometricos "
                           "WHERE id = :f RETURNING id", {"f": a["firma_id"]})
    await db.execute("UPDATE alumnos SET estatus = 'entregado', firma_entrega_id = :e, fecha_entrega = now() "
                     "WHERE id = :a", {"e": e, "a": a["id"]})
    html = await (await anon.get(path)).get_data(as_text=True)
    assert "NO VÁLIDA" in html and "ya recibió su credencial definitiva" in html


async def test_forged_or_altered_tokens_are_refused(app):
    """A token signed with another key, or edited, is not valid (404)."""
    anon = app.test_client()
    forged = make_token("otra-clave", "t", 1)
    r = await anon.get(f"/verificar/{forged}")
    assert r.status_code == 404 and "no fue emitido" in await r.get_data(as_text=True)
    good = make_token("test-secret-key", "t", 1)
    assert read_token("test-secret-key", good) == ("t", 1)
    assert read_token("test-secret-key", good[:-2] + "xx") is None
    assert (await anon.get("/verificar/basura")).status_code == 404


async def test_definitive_token_valid_only_when_delivered(app):
    """The print-order QR (kind 'd') verifies once the card is Entregado and within vigencia."""
    a = await make_student("recibido")
    anon = app.test_client()
    path = f"/verificar/{make_token('test-secret-key', 'd', a['id'])}"
    assert "NO VÁLIDA" in await (await anon.get(path)).get_data(as_text=True)
    b = await make_student("entregado")
    html = await (await anon.get(f"/verificar/{make_token('test-secret-key', 'd', b['id'])}")).get_data(as_text=True)
    assert "Credencial vigente" in html and "NO VÁLIDA" not in html


async def test_other_plantel_cannot_print(signed_in):
    """Plantel scope is checked on the PDF endpoint."""
    a = await make_student("validado", plantel="Toluca")
    c = await signed_in("plantel")
    assert (await generate(c, a["matricula"])).status_code == 403


def test_card_api_and_barcodes_roundtrip():
    """cards: CR80 size and barcode images that decode to their input."""
    w, h = card_size()
    assert round(w / 72 * 25.4, 2) == 85.60 and round(h / 72 * 25.4, 2) == 53.98
    bar = code128_image("180010051-1").convert("L")
    assert zxingcpp.read_barcodes(bar)[0].text == "180010051-1"
    qr = qr_image("https://example.org/verificar/x.y").convert("L")
    assert zxingcpp.read_barcodes(qr)[0].text == "https://example.org/verificar/x.y"
    assert set(bar.getdata()) == {0, 255} and set(qr.getdata()) == {0, 255}  # no grey: crisp when scaled
    assert CardData("1", "1", "A", "B", "", "P", "C", "X", "", "", "", "2026", b"", b"").nombre_completo == "B A"


async def test_delivered_student_gets_no_temporary(signed_in):
    """After delivery of the definitive credential no temporary one is issued."""
    a = await make_student("entregado")
    c = await signed_in("plantel")
    text = text_of(await (await c.get(f"/temporal?matricula={a['matricula']}")).get_data(as_text=True))
    assert "ya recibió su credencial definitiva" in text and "Generar credencial temporal" not in text
    assert (await generate(c, a["matricula"])).status_code == 409


async def test_scan_without_dash_finds_the_student(signed_in):
    """Issue 12 item 5: a 10-digit scan without the dash opens the student."""
    a = await make_student("validado", matricula="181060495-7")
    c = await signed_in("plantel")
    r = await c.get("/temporal?matricula=1810604957")
    assert r.status_code == 200 and "Generar credencial temporal" in await r.get_data(as_text=True)
    assert a["matricula"] in await r.get_data(as_text=True)


async def test_wrong_check_digit_says_verify(signed_in):
    """Issue 12 item 5: a wrong check digit says «verifique la matrícula (dígito verificador)», not «impórtelo»."""
    c = await signed_in("plantel")
    html = await (await c.get("/temporal?matricula=181060495-8")).get_data(as_text=True)
    assert "dígito verificador" in html and "impórtelo desde SAE" not in html


def text_runs(pdf: bytes) -> list[tuple[str, float]]:
    """(text, rendered font size in points) of every text run of the first page."""
    runs = []

    def visit(text, cm, tm, font, size):
        """Collect non-blank runs with their size after the text and current matrices."""
        if text.strip():
            runs.append((text.strip(), size * tm[3] * cm[3]))
    PdfReader(io.BytesIO(pdf)).pages[0].extract_text(visitor_text=visit)
    return runs


async def test_card_matches_the_manual_and_text_is_at_least_6_pt(signed_in):
    """Issue 12 item 14: "PT-B en" career, the back's fields (CURP, correo, institución, afiliación, vigencia,
    prematrícula), a logo image in the band, and no text under 6 pt."""
    a = await make_student("validado")
    c = await signed_in("plantel")
    pdf = await (await generate(c, a["matricula"])).get_data()
    runs = text_runs(pdf)
    small = [(t, round(s, 2)) for t, s in runs if s < 6]
    assert not small, small
    texts = [t for t, _ in runs]
    assert texts.count("PT-B en Electricidad Industrial") == 2  # front and back
    for value in ("AAMY021208HDFLLHA4", "yalbarran0818@conalepmex.edu.mx", "72795608040", a["prematricula"]):
        assert sum(value in t for t in texts) >= 2, value  # front and back
    assert " ".join(texts).count("Instituto Mexicano del Seguro") >= 2  # wraps on the front
    sizes = {im.image.size for im in PdfReader(io.BytesIO(pdf)).pages[0].images}
    from app.cards import placeholder_logo
    from PIL import Image
    assert Image.open(io.BytesIO(placeholder_logo())).size in sizes  # the band's logo


async def test_generate_opens_in_a_new_tab_or_downloads(signed_in):
    """"Se abrirá": the form targets a new tab and the PDF is inline; «Descargar PDF» is an attachment."""
    a = await make_student("validado")
    c = await signed_in("plantel")
    html = await (await c.get(f"/temporal?matricula={a['matricula']}")).get_data(as_text=True)
    assert 'target="_blank"' in html and "Descargar PDF" in html and "Se abrirá" in html
    r = await post(c, f"/temporal/{a['matricula']}/credencial.pdf", {"descargar": "1"})
    assert r.headers["Content-Disposition"].startswith("attachment")
    inline = await generate(c, a["matricula"])
    assert inline.headers["Content-Disposition"].startswith("inline")
    assert "object-src 'self'" in inline.headers["Content-Security-Policy"]  # the browser's PDF viewer may run
