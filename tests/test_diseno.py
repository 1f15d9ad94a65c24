"""Administración → Diseño de la credencial: every rule (colours, texts that must fit, uploads checked by Pillow),
versions immutable and logged, the Vista previa at CR80 size, and the design change test: a new version changes
the next order's PDF (read back with pypdf) and the temporary credential, never an earlier order's PDF or
manifest."""
from __future__ import annotations

import csv
import io
import json
import os
import zipfile

import asyncpg
import pytest
from PIL import Image
from pypdf import PdfReader
from werkzeug.datastructures import FileStorage

from app import cards, db, orders, package

from .conftest import actor, csrf_of, make_student, plantel_id, text_of

CR80 = (round(85.60 / 25.4 * 72, 1), round(53.98 / 25.4 * 72, 1))


@pytest.fixture
async def admin(signed_in):
    """A signed-in admin client; versions added by the test (and what uses them) are removed afterwards."""
    yield await signed_in("admin")
    await db.execute("TRUNCATE ordenes_impresion, credenciales_temporales CASCADE")
    await db.execute("DELETE FROM disenos_credencial WHERE id > 1")


def image(fmt: str = "PNG", size: tuple[int, int] = (200, 200), mode: str = "RGBA") -> bytes:
    """A drawn image in fmt."""
    img = Image.new(mode, size, {"RGBA": (0, 90, 60, 255), "RGB": (0, 90, 60)}.get(mode, 0))
    out = io.BytesIO()
    img.save(out, fmt)
    return out.getvalue()


def noise_png(side: int = 700) -> bytes:
    """A PNG of random pixels (does not compress: > 1 MB)."""
    out = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(out, "PNG")
    return out.getvalue()


async def form_values(client) -> dict[str, str]:
    """The design form as the page fills it (the current version's texts and colours)."""
    html = await (await client.get("/admin/diseno")).get_data(as_text=True)
    import re

    return {m.group(1): m.group(2).replace("&#39;", "'") for m in re.finditer(r'name="(\w+)" value="([^"]*)"', html)
            if m.group(1) != "csrf_token" and not m.group(1).startswith("quitar_")}


async def submit(client, url: str = "/admin/diseno", files: dict[str, bytes] | None = None, **changes):
    """POST the design form (current values plus changes, files as uploads)."""
    form = {**await form_values(client), **changes, "csrf_token": await csrf_of(client)}
    uploads = {k: FileStorage(io.BytesIO(v), filename=f"{k}.bin", content_type="application/octet-stream")
               for k, v in (files or {}).items()}
    return await client.post(url, form=form, files=uploads)


async def versions() -> int:
    """How many versions are stored."""
    return await db.fetch_val("SELECT count(*) FROM disenos_credencial")


@pytest.mark.parametrize("changes, field, message", [
    ({"color_banda": "verde"}, "color_banda", "color hexadecimal de 6 cifras"),
    ({"color_banda": "#12345G"}, "color_banda", "color hexadecimal de 6 cifras"),
    ({"color_texto": "#FFF"}, "color_texto", "color hexadecimal de 6 cifras"),
    ({"color_banda": "#FFFFFF", "color_texto": "#F0F0F0"}, "color_texto", "no se distingue de su color"),
    ({"institucion": ""}, "institucion", "Escriba nombre de la institución"),
    ({"institucion": "Colegio Nacional de Educación Profesional Técnica del Estado de México"}, "institucion",
     "No cabe en la credencial"),
    ({"leyenda": "Esta credencial es personal e intransferible y debe portarse siempre dentro del plantel escolar"},
     "leyenda", "No cabe en la credencial"),
    ({"leyenda_qr": "Escanee este código con la cámara de su teléfono para verificar"}, "leyenda_qr",
     "No cabe en 2 renglones"),
    ({"director_nombre": "Maestra en Ciencias María Guadalupe Hernández"}, "director_nombre", "No cabe"),
])
async def test_text_and_colour_rules(admin, changes, field, message):
    """Each refused value: 422, the message beside its field, no version stored."""
    r = await submit(admin, **changes)
    html = await r.get_data(as_text=True)
    assert r.status_code == 422 and f'id="error-{field}"' in html and message in text_of(html)
    assert await versions() == 1


@pytest.mark.parametrize("data, message", [
    (b"esto no es una imagen", "no es una imagen válida"),
    (image()[:300], "dañado o incompleto"),
    (noise_png(), "pesa demasiado"),
    (image(size=(10, 10)), "demasiado pequeña"),
    (image("GIF", mode="RGB"), "no permitido (GIF)"),
    (image("PNG", size=(9000, 9000), mode="1"), "dimensiones no permitidas"),
])
@pytest.mark.parametrize("field", ["logo_png", "firma_director_png"])
async def test_bad_uploads_refused(admin, field, data, message):
    """Non-images, damaged, oversized (bytes or pixels), tiny and other formats: refused in Spanish beside the field."""
    r = await submit(admin, files={field: data})
    html = await r.get_data(as_text=True)
    assert r.status_code == 422 and f'id="error-{field}"' in html and message in text_of(html), text_of(html)[-400:]
    assert await versions() == 1


async def test_new_version_stored_reencoded_logged_and_immutable(admin, users):
    """Guardar como nueva versión: images re-encoded as PNG, the form's texts, a change-log row before → after;
    a stored version cannot be modified."""
    jpeg = image("JPEG", (900, 300), "RGB") + b"TRAILING-BYTES"
    r = await submit(admin, files={"logo_png": image(), "firma_director_png": jpeg}, director_nombre="Mtra. Ana Ruiz",
                     director_cargo="Directora General", color_banda="#1a5276", nota="Ciclo 2026-2027")
    assert r.status_code == 303, text_of(await r.get_data(as_text=True))[-500:]
    row = await db.fetch_one("SELECT * FROM disenos_credencial ORDER BY id DESC LIMIT 1")
    assert row["id"] > 1 and row["color_banda"] == "#1A5276" and row["director_nombre"] == "Mtra. Ana Ruiz"
    firma = bytes(row["firma_director_png"])
    assert firma.startswith(b"\x89PNG") and b"TRAILING-BYTES" not in firma
    assert Image.open(io.BytesIO(firma)).size == (900, 300)
    log = await db.fetch_one("SELECT * FROM cambios_admin WHERE entidad = 'disenos'")
    antes, despues = json.loads(log["antes"]), json.loads(log["despues"])
    assert log["clave"] == str(row["id"]) and log["usuario_id"] == users["admin"]["id"]
    assert antes["color_banda"] == "#00723F" and despues["color_banda"] == "#1A5276"
    assert antes["logo_png"] == "predeterminado" and len(despues["logo_png"]) == 16
    with pytest.raises(asyncpg.exceptions.RaiseError, match="no se modifica"):
        await db.execute("UPDATE disenos_credencial SET institucion = 'x' WHERE id = :v", {"v": row["id"]})
    page = text_of(await (await admin.get("/admin/diseno")).get_data(as_text=True))
    assert f"Versión actual: {row['id']}" in page and "Ciclo 2026-2027" in page
    r = await submit(admin, quitar_firma_director_png="1")  # images kept unless replaced or removed
    newest = await db.fetch_one("SELECT * FROM disenos_credencial ORDER BY id DESC LIMIT 1")
    assert r.status_code == 303 and newest["firma_director_png"] is None
    assert bytes(newest["logo_png"]) == bytes(row["logo_png"])


async def test_vista_previa_is_cr80_front_and_back(admin):
    """A saved version's preview and the unsaved form's: two CR80 pages with the design's texts; nothing stored."""
    r = await admin.get("/admin/diseno/1/vista-previa.pdf")
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/pdf"
    assert r.headers["Content-Disposition"].startswith("inline")
    pdf = PdfReader(io.BytesIO(await r.get_data()))
    assert len(pdf.pages) == 2
    assert all((round(float(p.mediabox.width), 1), round(float(p.mediabox.height), 1)) == CR80 for p in pdf.pages)
    assert "CONALEP Estado de México" in pdf.pages[0].extract_text() and "DE MUESTRA" in pdf.pages[0].extract_text()
    r = await submit(admin, "/admin/diseno/vista-previa", institucion="Instituto de Vista Previa",
                     director_nombre="Lic. Juan Prueba")
    pdf = PdfReader(io.BytesIO(await r.get_data()))
    assert r.status_code == 200 and "Instituto de Vista Previa" in pdf.pages[1].extract_text()
    assert "Lic. Juan Prueba" in pdf.pages[0].extract_text()
    assert await versions() == 1
    r = await submit(admin, "/admin/diseno/vista-previa", color_banda="rojo")
    assert r.status_code == 422 and "color hexadecimal" in await r.get_data(as_text=True)
    assert (await admin.get("/admin/diseno/999/vista-previa.pdf")).status_code == 404
    logo = await admin.get("/admin/diseno/1/logo.png")
    assert logo.status_code == 200 and await logo.get_data() == cards.placeholder_logo()
    assert (await admin.get("/admin/diseno/1/firma.png")).status_code == 404


async def test_csrf_and_roles(admin, signed_in):
    """Without the CSRF token: 400; other roles: 403 on every design route."""
    assert (await admin.post("/admin/diseno", form={"institucion": "X"})).status_code == 400
    assert (await admin.post("/admin/diseno/vista-previa", form={"institucion": "X"})).status_code == 400
    for role in ("plantel", "estatal", "empresa"):
        c = await signed_in(role)
        for url in ("/admin/diseno", "/admin/diseno/1/vista-previa.pdf", "/admin/diseno/1/logo.png"):
            assert (await c.get(url)).status_code == 403, (role, url)
        for url in ("/admin/diseno", "/admin/diseno/vista-previa"):
            assert (await c.post(url, form={"csrf_token": await csrf_of(c)})).status_code == 403, (role, url)
    assert await versions() == 1


async def _order_package(settings, oid: int) -> tuple[list[dict], str]:
    """(manifest rows, the text of every PDF page) of an order's package, built now (a rebuild for order 1)."""
    path = await package.build_package(oid, settings)
    try:
        with zipfile.ZipFile(path) as z:
            rows = list(csv.DictReader(io.StringIO(z.read("manifiesto.csv").decode("utf-8-sig"))))
            pdf = PdfReader(io.BytesIO(z.read("credenciales-001.pdf")))
            return rows, "\n".join(p.extract_text() for p in pdf.pages)
    finally:
        os.unlink(path)


async def test_new_design_changes_the_next_order_not_an_earlier_one(admin, users, app):
    """Order 1 is printed with version 1; a new version (new institution text, legend and director) applies to
    order 2 and to the next temporary credential, while order 1's rebuilt PDF and manifest keep version 1."""
    estatal = actor(users["estatal"])
    plantel = await plantel_id("Ciudad Azteca")
    await make_student("validado")
    first = await orders.crear(estatal, [plantel], False)
    r = await submit(admin, institucion="Instituto Técnico Nuevo", leyenda="Leyenda del ciclo 2026-2027.",
                     director_nombre="Mtra. Ana Ruiz", director_cargo="Directora General",
                     files={"firma_director_png": image("PNG", (600, 200))})
    assert r.status_code == 303
    nueva = await db.fetch_val("SELECT max(id) FROM disenos_credencial")
    await make_student("validado")
    second = await orders.crear(estatal, [plantel], False)
    settings = app.config["SETTINGS"]

    rows, text = await _order_package(settings, second.orden_id)
    assert {r["Diseño de credencial"] for r in rows} == {str(nueva)}
    assert "Instituto Técnico Nuevo" in text and "Leyenda del ciclo 2026-2027." in text and "Mtra. Ana Ruiz" in text
    assert "CONALEP Estado de México" not in text

    rows, text = await _order_package(settings, first.orden_id)
    assert {r["Diseño de credencial"] for r in rows} == {"1"}
    assert "CONALEP Estado de México" in text and "Personal e intransferible" in text
    assert "Instituto Técnico Nuevo" not in text and "Mtra. Ana Ruiz" not in text
    assert await db.fetch_val("SELECT diseno_id FROM ordenes_impresion WHERE id = :o", {"o": first.orden_id}) == 1
    with pytest.raises(asyncpg.exceptions.RaiseError, match="ya se imprimió con el diseño 1"):
        await db.execute("UPDATE ordenes_impresion SET diseno_id = :n WHERE id = :o", {"n": nueva, "o": first.orden_id})

    from app.credential import issue_temporary

    s = await make_student("capturado")
    issued = await issue_temporary(s["id"], actor(users["plantel"]), app.config["SETTINGS"])
    assert "Instituto Técnico Nuevo" in PdfReader(io.BytesIO(issued.pdf)).pages[0].extract_text()
    assert await db.fetch_val("SELECT diseno_id FROM credenciales_temporales WHERE id = :i", {"i": issued.id}) == nueva
