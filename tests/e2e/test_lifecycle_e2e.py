"""Browser: the whole life of one student across the plantel, estatal and empresa accounts.

Import from SAE → capture (fake camera + SigWeb simulator) → temporary credential → Validar →
print order (estatal) → package download, en impresión, enviada (empresa) → reception by scanning
(estatal) → Rechazar with "Requiere retoma" → retake → reprint request seen by the empresa →
reprint order → printing → reception → delivery with an on-screen signature → the history in
"Consultar alumno".

Setup through SQL (there is no user-administration page): a plantel account for Ecatepec I, so
the orders of this test hold only Ecatepec I students and other browser tests' Ciudad Azteca data
stays untouched. Everything else happens through the pages.
"""
from __future__ import annotations

import csv
import io
import re
import time
import zipfile

import pytest

from app.auth import hash_password
from app.validation import luhn_digit

from .conftest import DEMO_PASSWORD, sign_in
from .test_captura_e2e import draw_signature, search, sign_on_pad, sigweb, sim, take_photo  # noqa: F401

pytestmark = pytest.mark.e2e
PLANTEL = "Ecatepec I"
PLANTEL_USER = "ecatepec1.e2e@conalepmex.edu.mx"
ESTATAL, EMPRESA = "estatal@conalepmex.edu.mx", "empresa@conalepmex.edu.mx"
MATRICULA = f"250928001-{luhn_digit('250928001')}"  # only in SAE, Ecatepec I (docs/sae.md)


def _ensure_plantel_user(live_server) -> None:
    """A plantel account for Ecatepec I with the demo password."""
    live_server.query(
        "INSERT INTO usuarios (email, nombre, password_hash, rol, plantel_id) "
        "SELECT $1, 'Ecatepec I (prueba)', $2, 'plantel', id FROM planteles WHERE nombre = $3 "
        "ON CONFLICT (email) DO NOTHING", PLANTEL_USER, hash_password(DEMO_PASSWORD), PLANTEL)


def _status(live_server) -> str:
    """The student's status in the served database."""
    return live_server.query("SELECT estatus::text AS e FROM alumnos WHERE matricula = $1", MATRICULA)[0]["e"]


def _as(page, email: str) -> None:
    """Switch account: sign out (cookies cleared) and sign in."""
    page.context.clear_cookies()
    sign_in(page, email)


def _import_capture(page, live_server, sim, tmp_path) -> None:  # noqa: F811
    """Plantel: Importar alumno SAE, Toma de biométricos, credencial temporal."""
    page.goto("/sae")
    page.get_by_label("Matrícula").fill(MATRICULA)
    page.get_by_role("button", name="Buscar").click()
    page.get_by_role("button", name="Importar").click()
    page.get_by_text("se importó con estatus Enrolado").wait_for()
    _capture(page, sim)
    assert _status(live_server) == "capturado"
    with page.expect_download() as dl:  # «Generar credencial temporal» opens a tab; «Descargar PDF» saves it
        page.get_by_role("button", name="Descargar PDF").click()
    dl.value.save_as(tmp_path / "temporal.pdf")
    assert (tmp_path / "temporal.pdf").read_bytes().startswith(b"%PDF")


def _capture(page, sim) -> None:  # noqa: F811
    """Photo with the fake camera, signature on the simulated pad, Guardar."""
    search(page, "/captura", MATRICULA)
    take_photo(page, 1.8, -1)
    sign_on_pad(page, sim)
    page.get_by_label("El alumno conoce el aviso de privacidad").check()
    page.get_by_role("button", name="Guardar").click()
    page.wait_for_url("**/guardado")


def _validate(page, live_server) -> None:
    """Plantel: Validar datos alumno → group → Validar alumno → fields → Validado → Guardar."""
    grupo = live_server.query("SELECT grupo FROM alumnos WHERE matricula = $1", MATRICULA)[0]["grupo"]
    page.get_by_role("link", name="Validar datos alumno").click()
    page.get_by_label("Grupo:").select_option(grupo)
    page.get_by_label("Mostrar").select_option("100")  # the group may hold more than one page of pending students
    row = page.locator("#lista tr", has_text=MATRICULA)
    row.wait_for()
    assert "Capturado" in row.inner_text()
    row.get_by_role("link", name="Validar alumno").click()
    page.get_by_label("Institución médica:").select_option(label="Instituto Mexicano del Seguro Social (IMSS)")
    page.get_by_label("Número de afiliación:").fill("26180366723")   # the manual's NSS: fails Luhn
    page.get_by_label("Validado").check()
    page.get_by_role("button", name="Guardar").click()
    page.get_by_text("confirme que el número es correcto").wait_for()
    page.get_by_label("Confirmo que el número de afiliación es correcto").check()
    page.get_by_label("Validado").check()
    page.get_by_role("button", name="Guardar").click()
    page.get_by_text(f"Alumno {MATRICULA} guardado como Validado").wait_for()
    assert _status(live_server) == "validado"


def _create_order(page, live_server, reprints: int) -> int:
    """Estatal: Nueva orden → Ecatepec I → counts → Confirmar; return the order number."""
    expected = live_server.query(
        "SELECT count(*) FILTER (WHERE estatus = 'validado') AS v, count(*) FILTER (WHERE estatus = 'rechazado') AS r "
        "FROM alumnos a JOIN planteles p ON p.id = a.plantel_id WHERE p.nombre = $1 AND NOT EXISTS "
        "(SELECT 1 FROM orden_items i WHERE i.alumno_id = a.id AND i.abierto)", PLANTEL)[0]
    page.goto("/ordenes")
    page.get_by_role("link", name="Nueva orden de impresión").click()
    page.get_by_label(PLANTEL, exact=True).check()
    page.get_by_role("button", name="Revisar cifras").click()
    assert page.locator("#cifra-validados").inner_text() == str(expected["v"])
    assert page.locator("#cifra-reimpresiones").inner_text() == str(expected["r"]) and expected["r"] >= reprints
    page.get_by_role("button", name="Confirmar orden").click()
    page.get_by_text(re.compile(r"Orden \d+ creada con \d+ alumnos")).wait_for()
    orden = int(re.search(r"/ordenes/(\d+)", page.url).group(1))
    assert _status(live_server) == "solicitado"
    return orden


def _print_and_ship(page, live_server, orden: int, tmp_path, reprint: bool) -> None:
    """Empresa: the package (manifest names the student), en impresión, enviada."""
    page.goto(f"/ordenes/{orden}")
    deadline = time.time() + 120  # the worker builds the package in the background (docs/orders.md)
    while "listo" not in page.locator("#paquete-estado").inner_text() and time.time() < deadline:
        time.sleep(1)
        page.reload()
    with page.expect_download() as dl:
        page.get_by_role("link", name="Descargar paquete").click()
    path = tmp_path / f"orden-{orden}.zip"
    dl.value.save_as(path)
    z = zipfile.ZipFile(path)
    rows = {r["Matrícula"]: r for r in csv.DictReader(io.StringIO(z.read("manifiesto.csv").decode("utf-8-sig")))}
    assert rows[MATRICULA]["Reimpresión"] == ("Sí" if reprint else "No")
    assert rows[MATRICULA]["Número de afiliación"] == "26180366723" and f"fotos/{MATRICULA}.jpg" in z.namelist()
    page.get_by_role("button", name="Marcar en impresión").click()
    page.locator("#estado-orden", has_text="En impresión").wait_for()
    assert _status(live_server) == "imprimiendo"
    page.get_by_role("button", name="Marcar enviada").click()
    page.locator("#estado-orden", has_text="Enviada").wait_for()


def _receive(page, live_server, orden: int) -> None:
    """Estatal: Recibir orden → scan the card (scanner sends ' for -) → the rest all at once."""
    page.goto(f"/ordenes/{orden}")
    page.get_by_role("link", name="Recibir orden").click()
    scanner = page.get_by_label(re.compile("Matrícula \\(escanee"))
    scanner.fill(MATRICULA.replace("-", "'"))
    scanner.press("Enter")
    page.get_by_text(f"Recibida: {MATRICULA}").wait_for()
    assert _status(live_server) == "recibido"
    if page.locator("input[data-scanner]").count():  # cards left: the box is ready for the next scan
        assert page.evaluate("() => document.activeElement.name") == "matricula"
    if page.get_by_role("button", name=re.compile("Recibir todas")).count():
        page.once("dialog", lambda d: d.accept())
        page.get_by_role("button", name=re.compile("Recibir todas")).click()
        page.get_by_text("No quedan credenciales pendientes").wait_for()
    assert live_server.query("SELECT estado::text AS e FROM ordenes_impresion WHERE id = $1", orden)[0]["e"] == "recibida"


def test_full_lifecycle_of_one_student(page, live_server, sim, tmp_path):  # noqa: F811
    """One student from SAE to Entregado, with a retoma and a reprint on the way."""
    _ensure_plantel_user(live_server)
    sign_in(page, PLANTEL_USER)
    _import_capture(page, live_server, sim, tmp_path)
    _validate(page, live_server)

    _as(page, ESTATAL)
    first = _create_order(page, live_server, reprints=0)
    _as(page, EMPRESA)
    _print_and_ship(page, live_server, first, tmp_path, reprint=False)
    _as(page, ESTATAL)
    _receive(page, live_server, first)

    _as(page, PLANTEL_USER)
    page.get_by_role("link", name="Rechazar / reimprimir").click()
    page.get_by_label("Matrícula:").fill(MATRICULA)
    page.get_by_role("button", name="Buscar").click()
    assert page.locator("#orden-incluye").inner_text() == str(first)
    page.get_by_label("Comentario:").fill("Fotografía con manchas")
    page.get_by_label("Requiere retoma").check()
    page.get_by_role("button", name="Rechazar").click()
    page.get_by_text("quedó en estatus Retoma").wait_for()
    assert _status(live_server) == "retoma"
    _capture(page, sim)                                   # retake → Rechazado (reprint request)
    assert _status(live_server) == "rechazado"

    _as(page, EMPRESA)
    page.goto("/ordenes")
    request_row = page.locator("#reimpresiones tr", has_text=MATRICULA)
    assert "Fotografía con manchas" in request_row.inner_text()
    _as(page, ESTATAL)
    second = _create_order(page, live_server, reprints=1)
    assert second > first
    _as(page, EMPRESA)
    _print_and_ship(page, live_server, second, tmp_path, reprint=True)
    _as(page, ESTATAL)
    _receive(page, live_server, second)

    _as(page, PLANTEL_USER)
    search(page, "/entrega", MATRICULA)
    page.get_by_role("button", name="Firmar en pantalla").click()
    draw_signature(page, page.locator("[data-firma-canvas]"))
    page.get_by_role("button", name="Capturar firma").click()
    page.get_by_text("Firma capturada").wait_for()
    page.get_by_role("button", name="Guardar").click()
    page.wait_for_url("**/entrega/**/guardado")
    assert _status(live_server) == "entregado"

    aid = live_server.query("SELECT id FROM alumnos WHERE matricula = $1", MATRICULA)[0]["id"]
    page.goto(f"/consulta/{aid}")
    rows = [r.inner_text() for r in page.locator("#historial tbody tr").all()]
    steps = [(a, de, to) for a, de, to in (re.split(r"\t", r)[1:2] + re.split(r"\t", r)[3:5] for r in rows)]
    flow = [(de, to) for _a, de, to in steps if de != to]
    assert flow == [
        ("—", "Enrolado"), ("Enrolado", "Capturado"), ("Capturado", "Validado"), ("Validado", "Solicitado"),
        ("Solicitado", "Imprimiendo"), ("Imprimiendo", "Recibido"), ("Recibido", "Retoma"), ("Retoma", "Rechazado"),
        ("Rechazado", "Solicitado"), ("Solicitado", "Imprimiendo"), ("Imprimiendo", "Recibido"),
        ("Recibido", "Entregado")], flow
    text = page.locator("#historial").inner_text()
    assert "Fotografía con manchas" in text and ESTATAL in text and EMPRESA in text and PLANTEL_USER in text
