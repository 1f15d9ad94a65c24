"""Browser: Toma de biométricos with Chromium's fake camera and the SigWeb simulator, the temporary
credential PDF, delivery with an on-screen signature drawn with the mouse, Prueba de equipo, and
nothing left running after leaving the page.

The served app must allow the simulator's origin in its CSP connect-src: SIGWEB_URL is passed to
it through E2E_APP_ENV_SIGWEB_URL, set here at import (collection) time, before the session's
live server starts.
"""
from __future__ import annotations

import hashlib
import io
import os
import random
import socket
from datetime import date

import pytest
from PIL import Image, ImageDraw
from pypdf import PdfReader

from app.validation import luhn_digit

from ..conftest import FIXTURES
from ..sigweb_sim import SigWebSim
from ..test_temporal import barcodes
from .conftest import sign_in

pytestmark = pytest.mark.e2e


def _port() -> int:
    """A free loopback port for the simulator."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


if "E2E_APP_ENV_SIGWEB_URL" not in os.environ:
    os.environ["E2E_APP_ENV_SIGWEB_URL"] = f"http://127.0.0.1:{_port()}/SigWeb/"
SIM_PORT = int(os.environ["E2E_APP_ENV_SIGWEB_URL"].split(":")[2].split("/")[0])
CAZ = "cdazteca@conalepmex.edu.mx"


@pytest.fixture(scope="module")
def sigweb():
    """The simulated SigWeb service on the port the served app allows."""
    sim = SigWebSim(SIM_PORT).start()
    yield sim
    sim.stop()


@pytest.fixture
def sim(sigweb):
    """The simulator, reset for one test."""
    sigweb.requests.clear()
    sigweb.points.clear()
    sigweb.state = 0
    sigweb.pad_connected = True
    return sigweb


def _matricula() -> str:
    """A fresh Luhn-valid matrícula unlikely to exist in the demo data."""
    num = f"97{random.randrange(10**6, 10**7)}"
    return f"{num}-{luhn_digit(num)}"


def _png(img: Image.Image, fmt: str = "PNG") -> bytes:
    """Encode an image."""
    out = io.BytesIO()
    img.save(out, fmt)
    return out.getvalue()


def new_student(live_server, estatus: str = "enrolado") -> dict:
    """A student of Ciudad Azteca inserted straight into the served database."""
    m = _matricula()
    pid = live_server.query("SELECT id FROM planteles WHERE nombre = 'Ciudad Azteca'")[0]["id"]
    live_server.query("INSERT INTO grupos (plantel_id, clave) VALUES ($1, '102-ELIN18') ON CONFLICT DO NOTHING", pid)
    aid = live_server.query(
        """INSERT INTO alumnos (matricula, prematricula, curp, nombre, primer_apellido, segundo_apellido, plantel_id,
               grupo, carrera_codigo, semestre, correo)
           VALUES ($1, $2, 'AAMY021208HDFLLHA4', 'PRUEBA CAPTURA', 'NAVEGADOR', 'CHROMIUM', $3, '102-ELIN18', 'ELIN', 1,
                   'prueba.captura@conalepmex.edu.mx') RETURNING id""", m, m.split("-")[0], pid)[0]["id"]
    if estatus != "enrolado":
        foto = (FIXTURES / "photos" / "rostro-ok-600x800.jpg").read_bytes()
        sig = Image.new("L", (300, 80), 255)
        ImageDraw.Draw(sig).line([(10, 60), (100, 10), (200, 70), (290, 20)], fill=0, width=3)
        ids = []
        for tipo, mime, data, w, h in (("foto", "image/jpeg", foto, 600, 800), ("firma", "image/png", _png(sig), 300, 80)):
            ids.append(live_server.query(
                "INSERT INTO biometricos (alumno_id, tipo, mime, datos, sha256, bytes, ancho, alto) "
                "VALUES ($1, $2::biometrico_tipo, $3, $4, $5, $6, $7, $8) RETURNING id",
                aid, tipo, mime, data, hashlib.sha256(data).hexdigest(), len(data), w, h)[0]["id"])
        live_server.query(
            "UPDATE alumnos SET foto_id = $2, firma_id = $3, institucion_medica = 'Instituto Mexicano del Seguro Social (IMSS)', "
            "numero_afiliacion = '72795608040', vigencia = $4, estatus = $5::estatus WHERE id = $1",
            aid, ids[0], ids[1], date(2029, 8, 1), estatus)
    return {"id": aid, "matricula": m}


def status_of(live_server, aid: int) -> str:
    """The student's status in the served database."""
    return live_server.query("SELECT estatus::text AS e FROM alumnos WHERE id = $1", aid)[0]["e"]


def set_range(page, selector: str, value: float) -> None:
    """Move a slider as the user would (value + input event)."""
    page.locator(selector).evaluate(
        "(el, v) => { el.value = v; el.dispatchEvent(new Event('input', {bubbles: true})); }", value)


def search(page, path: str, matricula: str) -> None:
    """Open a search page and look a matrícula up (barcode-scanner form: ' for -)."""
    page.goto(path)
    page.get_by_label("Matrícula:").fill(matricula.replace("-", "'"))
    page.get_by_role("button", name="Buscar").click()
    page.get_by_role("heading", name="Datos del alumno").wait_for()


def take_photo(page, zoom: float, pan_y: float) -> None:
    """Obtener fotografía → Tomar foto → zoom/pan → Capturar foto."""
    page.get_by_role("button", name="Obtener fotografía").click()
    page.get_by_text("Cámara lista (1280×720)").wait_for()
    page.get_by_role("button", name="Tomar foto").click()
    set_range(page, "[data-cam-zoom]", zoom)
    set_range(page, "[data-cam-pany]", pan_y)
    page.get_by_role("button", name="Capturar foto").click()
    page.get_by_text("Fotografía capturada").wait_for()


def draw_signature(page, canvas) -> None:
    """Sign with the mouse on the on-screen canvas."""
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + 30, box["y"] + 70)
    page.mouse.down()
    for i, (fx, fy) in enumerate([(0.2, 0.2), (0.35, 0.8), (0.5, 0.3), (0.65, 0.75), (0.85, 0.3)]):
        page.mouse.move(box["x"] + fx * box["width"], box["y"] + fy * box["height"], steps=8)
    page.mouse.up()


def sign_on_pad(page, sim) -> None:
    """"Obtener firma" on the simulated Topaz pad, the student signs, "Capturar firma"."""
    page.get_by_role("button", name="Obtener firma").click()
    page.get_by_text("Pida al alumno que firme en el PAD").wait_for()
    assert sim.sign()
    page.wait_for_function("() => document.querySelector('[data-firma-canvas]').toDataURL().length > 3000")
    page.get_by_role("button", name="Capturar firma").click()
    page.get_by_text("Firma capturada").wait_for()


def test_capture_with_camera_and_sigweb_then_temporary_pdf(page, live_server, sim, tmp_path):
    """Search, photo (a bust shot is flagged first), SigWeb signature, Guardar → Capturado, PDF."""
    a = new_student(live_server)
    sign_in(page, CAZ)
    search(page, "/captura", a["matricula"])
    assert page.locator("#estatus").inner_text() == "Enrolado"
    take_photo(page, 1.0, 0.0)                       # the whole frame: face too small
    assert page.get_by_label("Toma de fotografía.").is_checked()
    sign_on_pad(page, sim)
    assert page.get_by_label("Toma de firma.").is_checked()
    assert ("POST", "/SigWeb/TabletState/0") in sim.requests and not [r for r in sim.requests if r[0] == "OPTIONS"]

    page.get_by_role("button", name="Guardar").click()              # the privacy notice first (issue 14)
    page.get_by_text("Marque «El alumno conoce el aviso de privacidad» antes de guardar.").wait_for()
    page.get_by_label("El alumno conoce el aviso de privacidad").check()
    page.get_by_role("button", name="Guardar").click()
    page.get_by_text("Rostro muy pequeño").wait_for()
    assert status_of(live_server, a["id"]) == "enrolado"
    page.get_by_role("button", name="Volver a tomar foto").click()
    page.get_by_role("button", name="Tomar foto").click()
    set_range(page, "[data-cam-zoom]", 1.8)
    set_range(page, "[data-cam-pany]", -1)
    page.get_by_role("button", name="Capturar foto").click()
    page.get_by_role("button", name="Guardar").click()
    page.wait_for_url("**/guardado")
    assert page.get_by_text("Los registros se guardaron").is_visible()
    assert page.locator("#estatus").inner_text() == "Capturado"
    assert status_of(live_server, a["id"]) == "capturado"
    assert live_server.query("SELECT count(*) AS n, max(aviso_version) AS v FROM capturas WHERE alumno_id = $1",
                             a["id"])[0] == {"n": 1, "v": live_server.query("SELECT max(version) AS v FROM avisos_privacidad")[0]["v"]}
    rows = live_server.query("SELECT tipo::text AS t, ancho, alto FROM biometricos WHERE alumno_id = $1 ORDER BY id", a["id"])
    assert [(r["t"], r["ancho"], r["alto"]) for r in rows][0] == ("foto", 600, 800) and len(rows) == 2
    assert ("POST", "/SigWeb/Reset") in sim.requests  # the pad was switched off on leaving

    with page.expect_download() as dl:
        page.get_by_role("button", name="Descargar PDF").click()            # «Generar» opens a new tab
    path = tmp_path / "temporal.pdf"
    dl.value.save_as(path)
    pdf = path.read_bytes()
    text = PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    assert "NAVEGADOR CHROMIUM PRUEBA CAPTURA" in text and a["matricula"] in text and "CREDENCIAL TEMPORAL" in text
    codes = barcodes(pdf)
    assert codes["Code128"] == a["matricula"]
    page.goto(codes["QRCode"])
    assert page.locator("#veredicto").inner_text() == "VÁLIDA"
    assert page.locator("#v-nombre").inner_text() == "PRUEBA CAPTURA NAVEGADOR CHROMIUM"


def test_delivery_with_on_screen_signature(page, live_server, sim):
    """Recibido → reminder, signature drawn with the mouse, Guardar → Entregado."""
    a = new_student(live_server, "recibido")
    sign_in(page, CAZ)
    search(page, "/entrega", a["matricula"])
    assert "credencial temporal" in page.locator("#recordatorio").inner_text()
    page.get_by_role("button", name="Firmar en pantalla").click()
    canvas = page.locator("[data-firma-canvas]")
    page.get_by_role("button", name="Capturar firma").click()       # nothing drawn yet
    page.get_by_text("No hay firma").wait_for()
    draw_signature(page, canvas)
    page.get_by_role("button", name="Capturar firma").click()
    page.get_by_text("Firma capturada").wait_for()
    page.get_by_role("button", name="Guardar").click()
    page.wait_for_url("**/entrega/**/guardado")
    assert page.get_by_text("Entrega registrada").is_visible()
    assert status_of(live_server, a["id"]) == "entregado"
    row = live_server.query("SELECT b.ancho, b.alto FROM alumnos a JOIN biometricos b ON b.id = a.firma_entrega_id "
                            "WHERE a.id = $1", a["id"])[0]
    assert row["ancho"] > 100  # the trimmed stroke, not an empty canvas


def test_missing_sigweb_falls_back_to_on_screen(page, live_server, sim):
    """When SigWeb does not answer, the page says so and offers the on-screen signature."""
    a = new_student(live_server)
    sign_in(page, CAZ)
    page.evaluate("p => localStorage.setItem('credencial.sigweb', `http://127.0.0.1:${p}/SigWeb/`)", _port())
    search(page, "/captura", a["matricula"])
    page.get_by_role("button", name="Obtener firma").click()
    page.get_by_text("No se encontró SigWeb").wait_for()
    assert page.locator("[data-firma-canvas]").get_attribute("data-pantalla") == "1"
    page.evaluate("() => localStorage.removeItem('credencial.sigweb')")


def test_leaving_the_page_stops_camera_and_pad(page, live_server, sim):
    """Camera tracks and the SigWeb preview timer stop when the operator leaves through the menu."""
    a = new_student(live_server)
    sign_in(page, CAZ)
    search(page, "/captura", a["matricula"])
    page.get_by_role("button", name="Obtener fotografía").click()
    page.get_by_text("Cámara lista").wait_for()
    page.get_by_role("button", name="Obtener firma").click()
    page.get_by_text("Pida al alumno que firme en el PAD").wait_for()
    assert page.evaluate("() => [Camera.liveTracks(), SigWeb.activeTimers()]") == [1, 1]
    sim.requests.clear()
    page.get_by_role("navigation").get_by_role("link", name="Inicio").click()   # hx-boost: no reload
    page.get_by_role("heading", name="Reporte de estatus por Plantel").wait_for()
    assert page.evaluate("() => [Camera.liveTracks(), SigWeb.activeTimers()]") == [0, 0]
    page.wait_for_timeout(300)
    assert ("POST", "/SigWeb/Reset") in sim.requests
    polls = len(sim.requests)
    page.wait_for_timeout(300)
    assert len(sim.requests) == polls  # no more polling
    # coming back through the (boosted) menu loads the page fully, scripts included
    page.get_by_role("navigation").get_by_role("link", name="Toma de biométricos").click()
    page.wait_for_url("**/captura")
    page.get_by_role("button", name="Buscar").wait_for()
    assert page.evaluate("() => typeof Camera === 'object' && typeof SigWeb === 'object'")


def test_prueba_de_equipo(page, live_server, sim):
    """Secure context, camera 1280×720, SigWeb version, certificate days and pad connected are shown."""
    sign_in(page, CAZ)
    page.goto("/equipo")
    for name in ("seguro", "camara", "sigweb", "version", "certificado", "pad"):
        page.locator(f'tr[data-prueba="{name}"][data-estado]').wait_for()
    row = lambda n: page.locator(f'tr[data-prueba="{n}"]')  # noqa: E731
    assert row("camara").get_attribute("data-estado") == "ok" and "1280×720" in row("camara").inner_text()
    assert "1.7.2.0" in row("version").inner_text() and "300 días" in row("certificado").inner_text()
    assert row("pad").get_attribute("data-estado") == "ok" and row("seguro").get_attribute("data-estado") == "ok"
    sim.pad_connected = False
    page.get_by_role("button", name="Probar de nuevo").click()
    page.wait_for_function("() => document.querySelector('tr[data-prueba=\"pad\"]').dataset.estado === 'falla'")
    assert "No hay un PAD conectado" in row("pad").inner_text()


def _failing(error: str) -> str:
    """An init script making getUserMedia fail as the browser does."""
    return "navigator.mediaDevices.getUserMedia = () => Promise.reject(new DOMException('x', '%s'));" % error


@pytest.mark.parametrize("script, message", [
    (_failing("NotAllowedError"), "Se negó el permiso para usar la cámara"),
    (_failing("NotFoundError"), "No se encontró una cámara"),
    (_failing("NotReadableError"), "La cámara está ocupada por otro programa"),
    ("Object.defineProperty(window, 'isSecureContext', {value: false});", "solo funciona en una página segura"),
])
def test_camera_failures_are_explained(page, live_server, script, message):
    """The browser's camera errors (and an insecure page) become Spanish instructions."""
    page.add_init_script(script)
    a = new_student(live_server)
    sign_in(page, CAZ)
    search(page, "/captura", a["matricula"])
    page.get_by_role("button", name="Obtener fotografía").click()
    page.get_by_text(message).wait_for()
    assert page.evaluate("() => Camera.liveTracks()") == 0


def test_camera_choice_is_remembered(page, live_server):
    """The camera used is stored on the device and reused next time."""
    a = new_student(live_server)
    sign_in(page, CAZ)
    search(page, "/captura", a["matricula"])
    page.get_by_role("button", name="Obtener fotografía").click()
    page.get_by_text("Cámara lista").wait_for()
    used = page.evaluate("() => localStorage.getItem('credencial.camara')")
    assert used
    page.reload()
    page.get_by_role("button", name="Obtener fotografía").click()
    page.get_by_text("Cámara lista").wait_for()
    assert page.evaluate("() => document.querySelector('[data-cam-video]').srcObject.getVideoTracks()[0]"
                         ".getSettings().deviceId") == used
