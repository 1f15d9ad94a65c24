"""Offline capture: the outbox in a real Chromium against the real server (issue 6's scenarios)."""
from __future__ import annotations

import base64
import io
import itertools
import time

import pytest
from PIL import Image, ImageDraw

from ..conftest import FIXTURES
from .conftest import sign_in

pytestmark = pytest.mark.e2e
PHOTO = base64.b64encode((FIXTURES / "photos" / "rostro-ok-600x800.jpg").read_bytes()).decode()
_seq = itertools.count(1)


def _signature() -> str:
    """A drawn signature PNG as base64."""
    img = Image.new("L", (400, 120), 255)
    ImageDraw.Draw(img).line([(10, 60), (120, 20), (220, 100), (390, 40)], fill=0, width=4)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return base64.b64encode(buf.getvalue()).decode()


SIGNATURE = _signature()


def new_student(live_server, status: str = "enrolado") -> str:
    """A fresh Enrolado student of Ciudad Azteca in the served database; returns the matrícula."""
    from app.validation import luhn_digit

    num = f"9{next(_seq):03d}{int(time.time() * 1000) % 100000:05d}"
    matricula = f"{num}-{luhn_digit(num)}"
    live_server.query(
        """WITH p AS (SELECT id FROM planteles WHERE nombre = 'Ciudad Azteca'),
                g AS (INSERT INTO grupos (plantel_id, clave) SELECT id, '102-ELIN18' FROM p ON CONFLICT DO NOTHING)
           INSERT INTO alumnos (matricula, prematricula, curp, nombre, primer_apellido, segundo_apellido, plantel_id,
                                grupo, carrera_codigo, semestre)
           SELECT $1, $2, 'BEML920313HMCLNS09', 'PRUEBA', 'SIN CONEXION', 'OUTBOX', id, '102-ELIN18', 'ELIN', 1 FROM p""",
        matricula, num)
    return matricula


def captures_of(live_server, matricula: str) -> int:
    """Stored photos of a student (each capture stores one)."""
    return live_server.query("SELECT count(*) AS n FROM biometricos b JOIN alumnos a ON a.id = b.alumno_id "
                             "WHERE a.matricula = $1 AND b.tipo = 'foto'", matricula)[0]["n"]


def status_of(live_server, matricula: str) -> str:
    """The student's status."""
    return live_server.query("SELECT estatus::text AS e FROM alumnos WHERE matricula = $1", matricula)[0]["e"]


ENQUEUE = """async ([matricula, photo, signature, id]) => {
  const bytes = (b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)).buffer;
  const item = { url: `/captura/${matricula}/guardar`, urlTemplate: '/captura/{matricula}/guardar',
    matricula, label: matricula, fields: { estatus: 'enrolado', aviso_version: '1' },
    files: { foto: { bytes: bytes(photo), type: 'image/jpeg', filename: 'foto.jpg' },
             firma: { bytes: bytes(signature), type: 'image/png', filename: 'firma.png' } } };
  if (id) item.id = id;
  const rec = await Outbox.add(item, await PWA.owner());  // as "Guardar" writes it, before any sending
  return rec.id;
}"""


def wait_js(page, expression: str, arg=None, timeout: float = 25) -> None:
    """Poll an async page expression until it is truthy (wait_for_function does not await promises)."""
    deadline = time.time() + timeout
    while not page.evaluate(expression, arg):
        if time.time() > deadline:
            raise AssertionError(f"no se cumplió a tiempo: {expression}")
        time.sleep(0.2)


def enqueue(page, matricula: str, key: str | None = None) -> str:
    """Put one capture in the page's outbox (as "Guardar" does) without sending it."""
    return page.evaluate(ENQUEUE, [matricula, PHOTO, SIGNATURE, key])


def outbox(page) -> list[dict]:
    """The outbox records (without bytes)."""
    return page.evaluate("async () => (await Outbox.all()).map(({files, secret, ...r}) => r)")


def drain(page) -> dict:
    """Run one drain from the page (after any drain already running); return the outbox counts."""
    return page.evaluate("() => PWA.drain(true).then(() => Outbox.counts())")


@pytest.fixture
def capture_page(persistent_page):
    """A signed-in Ciudad Azteca page in a persistent profile, controlled by the service worker."""
    page = persistent_page
    page.set_default_timeout(20_000)
    sign_in(page, "cdazteca@conalepmex.edu.mx", remember=True)  # as on a tablet with the installed app
    page.goto("/pendientes")
    page.wait_for_function("() => navigator.serviceWorker.controller !== null || navigator.serviceWorker.ready")
    page.wait_for_function("() => window.PWA && PWA.ready === true")
    return page


def test_offline_then_online_exactly_once(capture_page, live_server):
    """Offline: outbox 1, server 0. Online: server 1. The same capture replayed: still 1."""
    page, m = capture_page, new_student(live_server)
    page.context.set_offline(True)
    key = enqueue(page, m)
    assert drain(page)["pending"] == 1
    items = outbox(page)
    assert [(i["matricula"], i["status"]) for i in items] == [(m, "pending")]
    assert captures_of(live_server, m) == 0
    page.context.set_offline(False)
    assert drain(page)["sent"] == 1
    assert captures_of(live_server, m) == 1 and status_of(live_server, m) == "capturado"
    assert outbox(page)[0]["status"] == "sent"
    enqueue(page, m, key)  # the same capture (same key) sent again
    drain(page)
    assert captures_of(live_server, m) == 1
    page.goto("/pendientes")
    page.locator("li[data-status=sent]").first.wait_for()
    assert "enviadas" in page.locator("#outbox-summary").inner_text()


def test_server_error_keeps_item_pending(capture_page, live_server):
    """A 500 answer leaves the capture pending with the error; it is sent once the server recovers."""
    page, m = capture_page, new_student(live_server)
    page.route(f"**/captura/{m}/guardar", lambda route: route.fulfill(status=500, body="error"))
    enqueue(page, m)
    drain(page)
    item = outbox(page)[-1]
    assert item["status"] == "pending" and "500" in item["lastError"] and item["attempts"] >= 1
    assert captures_of(live_server, m) == 0
    page.unroute(f"**/captura/{m}/guardar")
    drain(page)
    assert outbox(page)[-1]["status"] == "sent" and captures_of(live_server, m) == 1


def test_validated_while_offline_needs_attention(capture_page, live_server):
    """A student who can no longer be captured becomes "Requiere atención" with the reason."""
    page, m = capture_page, new_student(live_server)
    page.context.set_offline(True)
    enqueue(page, m)
    live_server.query(
        """WITH s AS (SELECT id FROM alumnos WHERE matricula = $1),
                f AS (INSERT INTO biometricos (alumno_id, tipo, mime, datos, sha256, bytes, ancho, alto)
                      SELECT id, 'foto', 'image/jpeg', '\\x00', repeat('0', 64), 1, 1, 1 FROM s RETURNING id)
           UPDATE alumnos SET estatus = 'validado', foto_id = (SELECT id FROM f), firma_id = (SELECT id FROM f),
                  institucion_medica = 'Instituto Mexicano del Seguro Social (IMSS)',
                  numero_afiliacion = '72795608040', vigencia = '2029-08-01'
           WHERE matricula = $1""", m)
    page.context.set_offline(False)
    drain(page)
    item = outbox(page)[-1]
    assert item["status"] == "needs_attention" and "Validado" in item["lastError"]
    page.goto("/pendientes")
    row = page.locator(f"li[data-id='{item['id']}']")
    assert "Requiere atención" in row.inner_text()
    page.once("dialog", lambda d: d.accept())
    row.get_by_role("button", name="Descartar").click()
    wait_js(page, "id => Outbox.get(id).then(r => !r)", item["id"])


def test_reload_during_sending_delivers_once(capture_page, live_server):
    """A page closed mid-send leaves a "sending" item; after its lease it is sent again — stored once."""
    page, m = capture_page, new_student(live_server)
    key = enqueue(page, m)
    page.evaluate("""async (id) => { const r = await Outbox.get(id); r.status = 'sending';
                     r.leaseUntil = Date.now() + 60000; await Outbox.put(r); }""", key)
    # the request had reached the server before the reload
    page.evaluate("""async ([m, photo, sig, key]) => {
        const bytes = (b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
        const fd = new FormData(); fd.append('estatus', 'enrolado'); fd.append('clave', key);
        fd.append('foto', new Blob([bytes(photo)], {type: 'image/jpeg'}), 'foto.jpg');
        fd.append('firma', new Blob([bytes(sig)], {type: 'image/png'}), 'firma.png');
        await fetch(`/captura/${m}/guardar`, {method: 'POST', body: fd, headers: {'X-CSRF-Token': PWA.csrf(),
                    Accept: 'application/json'}}); }""", [m, PHOTO, SIGNATURE, key])
    page.reload()
    drain(page)
    assert [(i["status"], i["attempts"]) for i in outbox(page) if i["id"] == key] == [("sending", 0)], outbox(page)
    page.evaluate("async (id) => { const r = await Outbox.get(id); r.leaseUntil = 0; await Outbox.put(r); }", key)
    drain(page)
    assert captures_of(live_server, m) == 1 and [i["status"] for i in outbox(page) if i["id"] == key] == ["sent"]


def test_two_tabs_send_once(capture_page, live_server):
    """Two tabs draining at the same moment: the capture reaches the server exactly once."""
    page, m = capture_page, new_student(live_server)
    other = page.context.new_page()
    other.goto("/pendientes")
    page.context.set_offline(True)
    enqueue(page, m)
    page.context.set_offline(False)
    page.evaluate("() => { window.__d = PWA.drain(true); }")
    other.evaluate("() => PWA.drain(true)")
    page.evaluate("() => window.__d")
    assert captures_of(live_server, m) == 1
    other.close()


def test_pending_captures_upload_in_order(capture_page, live_server):
    """Captures stored offline upload in order, without a failure, when the connection returns
    (20 here; bench/bench_offline.py measures 200)."""
    page = capture_page
    students = [new_student(live_server) for _ in range(20)]
    page.context.set_offline(True)
    for m in students:
        enqueue(page, m)
    page.context.set_offline(False)
    for _ in range(5):
        if drain(page)["pending"] == 0:
            break
    states = [i["status"] for i in outbox(page) if i["matricula"] in set(students)]
    assert states == ["sent"] * len(students)
    rows = live_server.query(
        "SELECT a.matricula FROM capturas c JOIN alumnos a ON a.id = c.alumno_id WHERE a.matricula = ANY($1) "
        "ORDER BY c.received_at, c.alumno_id", students)
    assert [r["matricula"] for r in rows] == students


def wait_captured(live_server, matricula: str, timeout: float = 20) -> int:
    """Wait until the server holds the student's capture; return the count."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if (n := captures_of(live_server, matricula)) > 0:
            return n
        time.sleep(0.3)
    return 0


def test_without_background_sync_drains_on_online_and_on_open(capture_page, live_server):
    """With no Background Sync, the outbox drains on the `online` event and when the app opens."""
    page = capture_page
    page.add_init_script("delete ServiceWorkerRegistration.prototype.sync;")
    page.reload()
    assert page.evaluate("() => !('sync' in ServiceWorkerRegistration.prototype)")
    first, second = new_student(live_server), new_student(live_server)
    page.context.set_offline(True)
    page.evaluate("() => window.dispatchEvent(new Event('offline'))")
    enqueue(page, first)
    page.context.set_offline(False)
    page.evaluate("() => window.dispatchEvent(new Event('online'))")
    assert wait_captured(live_server, first) == 1
    page.context.set_offline(True)
    enqueue(page, second)
    context = page.context
    page.close()  # the app is closed while offline …
    context.set_offline(False)
    reopened = context.new_page()
    reopened.add_init_script("delete ServiceWorkerRegistration.prototype.sync;")
    reopened.goto("/pendientes")  # … and opening it again drains the outbox
    assert wait_captured(live_server, second) == 1


def test_new_worker_while_items_pending_loses_nothing(capture_page, live_server):
    """A new service worker version is offered with "Recargar"; pending items survive the update."""
    page, m = capture_page, new_student(live_server)
    page.context.set_offline(True)
    key = enqueue(page, m)
    page.route(f"**/captura/{m}/guardar", lambda route: route.abort())  # keep it pending meanwhile
    page.context.set_offline(False)
    # a deployment ships a new worker (a new script URL always installs a new version)
    page.evaluate("() => navigator.serviceWorker.register('/sw.js?despliegue=2', { scope: '/' })")
    banner = page.locator("#update-banner")
    banner.wait_for(state="visible")
    assert "Nueva versión disponible" in banner.inner_text()
    assert [i["id"] for i in outbox(page) if i["status"] == "pending"] == [key]
    with page.expect_navigation():  # "Recargar" activates the new worker and reloads the page
        banner.get_by_role("button", name="Recargar").click()
    page.wait_for_load_state("load")
    page.wait_for_function("() => window.Outbox !== undefined && window.PWA !== undefined")
    page.unroute(f"**/captura/{m}/guardar")
    assert [i["id"] for i in outbox(page) if i["id"] == key] == [key]
    drain(page)
    assert captures_of(live_server, m) == 1


def test_capture_page_offline_end_to_end(capture_page, live_server):
    """Roster stored, connection lost: look the student up, take photo and signature, Guardar →
    "Guardado en este equipo — pendiente de enviar"; back online the server stores it once."""
    from .test_captura_e2e import draw_signature, take_photo

    page, m = capture_page, new_student(live_server)
    page.goto("/captura")  # the capture page, kept for offline use
    page.goto("/pendientes")
    page.get_by_role("button", name="Preparar sin conexión").click()
    page.wait_for_function("() => document.getElementById('roster-age').textContent.includes('guardado')")
    page.context.set_offline(True)
    page.goto(f"/captura?matricula={m.replace('-', chr(39))}")  # the barcode scanner's form
    page.get_by_role("heading", name="Datos del alumno").wait_for()
    assert "sin conexión" in page.locator("#estatus").inner_text()
    take_photo(page, 1.8, -1)
    page.get_by_role("button", name="Firmar en pantalla").click()
    draw_signature(page, page.locator("[data-firma-canvas]"))
    page.get_by_role("button", name="Capturar firma").click()
    page.get_by_text("Firma capturada").wait_for()
    page.get_by_label("El alumno conoce el aviso de privacidad").check()
    page.get_by_role("button", name="Guardar").click()
    page.get_by_text("Guardado en este equipo — pendiente de enviar").wait_for()
    assert page.locator("#pending-count").inner_text() == "1"
    assert captures_of(live_server, m) == 0
    page.context.set_offline(False)
    assert wait_captured(live_server, m) == 1
    assert status_of(live_server, m) == "capturado"
    device = live_server.query("SELECT device_captured_at FROM capturas c JOIN alumnos a ON a.id = c.alumno_id "
                               "WHERE a.matricula = $1", m)[0]["device_captured_at"]
    assert device is not None  # the device's capture time is kept beside the server's
