"""Offline capture under the faults a field test injected (issue 10): a real reverse proxy in front of the
app (tests/e2e/faults.py) answers as captive portals, dead upstreams and hung connections do, for pages
and the service worker alike. Each test is one failure class, with several variants."""
from __future__ import annotations

import base64
import time

import pytest

from ..conftest import FIXTURES
from .conftest import CHROMIUM, CHROMIUM_ARGS, DEMO_PASSWORD, sign_in
from .faults import FaultProxy
from .test_offline_e2e import ENQUEUE, PHOTO, SIGNATURE, captures_of, new_student, status_of, wait_js

pytestmark = pytest.mark.e2e
WARN_PHOTO = base64.b64encode((FIXTURES / "photos" / "busto-512.jpg").read_bytes()).decode()
CA = "cdazteca@conalepmex.edu.mx"


@pytest.fixture
def proxy(live_server):
    """The fault-injecting proxy in front of the served app."""
    p = FaultProxy(live_server.url)
    yield p
    p.close()


class Device:
    """A capture PC: a persistent Chromium profile that talks to the app through the proxy."""

    def __init__(self, browser, proxy, profile, init: str = "") -> None:
        self.browser, self.proxy, self.profile, self.init = browser, proxy, profile, init
        self.open()

    def open(self, offline: bool = False):
        """(Re)start the browser on this profile (closing it first ends sessionStorage, as a reboot)."""
        self.context = self.browser.browser_type.launch_persistent_context(
            str(self.profile), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            base_url=self.proxy.url, locale="es-MX", offline=offline)
        if self.init:
            self.context.add_init_script(self.init)
        self.page = self.context.pages[0] if self.context.pages else self.context.new_page()
        self.page.set_default_timeout(25_000)
        self.page.on("console", lambda msg: print("CONSOLE", msg.type, msg.text) if msg.type in ("error", "warning") else None)
        self.page.on("pageerror", lambda e: print("PAGEERROR", e))
        return self.page

    def sign_in(self, email: str = CA):
        """Sign in (remembered, as on a tablet) and wait for the outbox glue."""
        sign_in(self.page, email, remember=True)
        self.page.goto("/pendientes")
        self.page.wait_for_function("() => window.PWA && PWA.ready === true")
        return self.page

    def sign_out(self, accept: bool = True) -> str:
        """Cerrar sesión, answering the warning; returns the warning's text ('' when none)."""
        said = []
        self.page.once("dialog", lambda d: (said.append(d.message), d.accept() if accept else d.dismiss()))
        self.page.get_by_role("button", name="Cerrar sesión").click()
        if accept:
            self.page.wait_for_url("**/login**")
        return said[0] if said else ""

    def close(self):
        """Close the browser."""
        self.context.close()


@pytest.fixture
def device(browser, proxy, tmp_path):
    """One signed-in capture PC of Ciudad Azteca behind the proxy."""
    d = Device(browser, proxy, tmp_path / "perfil", init="self.__outboxTimeoutMs = 3000;")
    d.sign_in()
    yield d
    d.close()


def enqueue(page, matricula: str, photo: str = PHOTO, key: str | None = None) -> str:
    """Put one capture in the outbox as "Guardar" writes it (before any sending)."""
    return page.evaluate(ENQUEUE, [matricula, photo, SIGNATURE, key])


def drain(page) -> dict:
    """One drain from the page; the outbox counts of this user after it."""
    return page.evaluate("() => PWA.drain(true).then(() => Outbox.counts(Number(document.body.dataset.userId)))")


def item_of(page, key: str) -> dict:
    """One outbox record (bytes replaced by their sizes)."""
    return page.evaluate("""async (id) => { const r = await Outbox.get(id); if (!r) return null;
        const sizes = Object.fromEntries(Object.entries(r.files || {}).map(([k, f]) => [k, f.box.data.byteLength]));
        return Object.assign({}, r, { files: sizes, secret: null }); }""", key)


def only_posts(fragment: str, answer):
    """A fault for the POSTs whose path contains fragment."""
    return lambda method, path: answer if method == "POST" and fragment in path else None


def test_only_the_apps_acknowledgement_delivers(device, live_server, proxy):
    """Captive portals, proxies and look-alike JSON answering 200 never make an item leave the outbox: it stays
    pending with its bytes, the pill says the server is unreachable, and it is sent once the network is real."""
    page = device.page
    variants = {
        "portal page on the upload": only_posts("/guardar", "portal"),
        "portal page on everything": lambda m, p: "portal",
        "JSON without the key": only_posts("/guardar", (200, "application/json", b'{"ok": true}')),
        "JSON naming another key": only_posts("/guardar", (200, "application/json",
                                                           b'{"ok": true, "clave": "00000000-0000-4000-8000-000000000000"}')),
        "redirect to a login page": only_posts("/guardar", (302, "text/html", b"")),
        "511 network authentication": only_posts("/guardar", (511, "text/html", b"<h1>Login</h1>")),
    }
    for name, fault in variants.items():
        m = new_student(live_server)
        key = enqueue(page, m)
        proxy.fault = fault
        drain(page)
        item = item_of(page, key)
        assert item["status"] == "pending" and item["files"]["foto"] > 1000, (name, item)
        assert captures_of(live_server, m) == 0, name
        assert page.locator("#net-status").inner_text().startswith("Sin conexión"), name
        proxy.fault = None
        drain(page)
        assert item_of(page, key)["status"] == "sent" and captures_of(live_server, m) == 1, name
        assert page.locator("#net-status").inner_text() == "En línea", name


def test_capture_with_photo_warnings_is_completed_from_pendientes(device, live_server):
    """Offline captures whose photo only has warnings stop in "Requiere atención"; the operator opens the item,
    sees the photo and the warnings, confirms with a motivo and it is stored — no student needed. A retake link
    is offered too, and a new capture of that student replaces the refused one."""
    page = device.page
    m, m2 = new_student(live_server), new_student(live_server)
    key, key2 = enqueue(page, m, WARN_PHOTO), enqueue(page, m2, WARN_PHOTO)
    drain(page)
    assert item_of(page, key)["status"] == "needs_attention"
    page.goto("/pendientes")
    row = page.locator(f"li[data-id='{key}']")
    row.get_by_role("button", name="Revisar y confirmar").click()
    assert "Rostro muy pequeño" in row.locator(".warnings").inner_text()
    assert row.locator("img").get_attribute("src").startswith("blob:")
    row.get_by_role("button", name="Enviar con confirmación").click()
    row.locator(".review-error").get_by_text("Confirmo").wait_for()  # the server's rule, checked here too
    row.get_by_label("Confirmo que la captura es correcta").check()
    row.get_by_label("Motivo").fill("El alumno usa lentes; la foto es la mejor posible")
    row.get_by_role("button", name="Enviar con confirmación").click()
    wait_js(page, "id => Outbox.get(id).then(r => r.status === 'sent')", key)
    assert captures_of(live_server, m) == 1 and status_of(live_server, m) == "capturado"
    comment = live_server.query("SELECT e.comentario FROM eventos e JOIN alumnos a ON a.id = e.alumno_id "
                                "WHERE a.matricula = $1 AND accion = 'capturar'", m)[0]["comentario"]
    assert "lentes" in comment
    retake = page.locator(f"li[data-id='{key2}']").get_by_role("link", name="Volver a tomar")
    assert m2 in retake.get_attribute("href").replace("%2D", "-")
    enqueue(page, m2)  # the retake, with a good photo
    assert item_of(page, key2)["status"] == "superseded"
    drain(page)
    assert captures_of(live_server, m2) == 1


def test_hung_upload_neither_freezes_the_queue_nor_guardar(browser, live_server, proxy, tmp_path):
    """An upload whose answer never comes (it may have been stored) times out: the rest of the queue goes, the
    item is retried later and stored once; and "Guardar" returns even while another drain hangs."""
    d = Device(browser, proxy, tmp_path / "p", init="self.__outboxTimeoutMs = 3000;")
    page = d.sign_in()
    hung, other = new_student(live_server), new_student(live_server)
    proxy.fault = only_posts(f"/captura/{hung}/", "hang-after")  # reaches the app, the answer never returns
    k1, k2 = enqueue(page, hung), enqueue(page, other)
    started = time.time()
    drain(page)
    assert time.time() - started < 12
    assert item_of(page, k1)["status"] == "pending" and "no respondió a tiempo" in item_of(page, k1)["lastError"]
    assert item_of(page, k2)["status"] == "sent" and captures_of(live_server, other) == 1
    proxy.fault = None
    drain(page)
    assert item_of(page, k1)["status"] == "sent" and captures_of(live_server, hung) == 1  # the replay, not a twin
    d.close()
    # "Guardar" while a drain is stuck on an upload with the normal (long) timeout
    slow = Device(browser, proxy, tmp_path / "q", init="self.__outboxTimeoutMs = 60000;")
    page = slow.sign_in()
    stuck, next_one = new_student(live_server), new_student(live_server)
    proxy.fault = only_posts(f"/captura/{stuck}/", "hang")
    enqueue(page, stuck)
    page.evaluate("() => { window.__stuck = PWA.drain(true); }")
    assert proxy.wait_posts(f"/captura/{stuck}/", 1)
    started = time.time()
    state = page.evaluate("""async ([m, photo, sig]) => {
        const bytes = (b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)).buffer;
        const rec = await PWA.enqueue({ url: `/captura/${m}/guardar`, matricula: m, label: m, fields: {estatus: 'enrolado', aviso_version: '1'},
          files: { foto: { bytes: bytes(photo), type: 'image/jpeg', filename: 'foto.jpg' },
                   firma: { bytes: bytes(sig), type: 'image/png', filename: 'firma.png' } } });
        const { item } = await PWA.settle(rec.id); return item.status; }""", [next_one, PHOTO, SIGNATURE])
    assert state == "pending" and time.time() - started < 13  # "Guardado en este equipo", not "Guardando…" forever
    proxy.release.set()
    slow.close()


def test_final_answers_need_attention_with_the_reason(device, live_server):
    """403 (moved to another plantel), 404 (no such matrícula) and other final refusals are never retried
    forever: "Requiere atención" with the Spanish reason, and "Reasignar" fixes a wrong matrícula."""
    page = device.page
    moved = new_student(live_server)
    live_server.query("""WITH t AS (SELECT id FROM planteles WHERE nombre = 'Toluca'),
                              g AS (INSERT INTO grupos (plantel_id, clave) SELECT id, '102-ELIN18' FROM t ON CONFLICT DO NOTHING)
                         UPDATE alumnos SET plantel_id = (SELECT id FROM t) WHERE matricula = $1""", moved)
    from app.validation import luhn_digit
    missing = f"99999{int(time.time()) % 10000:04d}"
    missing = f"{missing}-{luhn_digit(missing)}"
    k403, k404 = enqueue(page, moved), enqueue(page, missing)
    drain(page)
    assert item_of(page, k403)["status"] == "needs_attention" and "otro plantel" in item_of(page, k403)["lastError"]
    assert item_of(page, k404)["status"] == "needs_attention" and "No existe" in item_of(page, k404)["lastError"]
    page.goto("/pendientes")
    row = page.locator(f"li[data-id='{k404}']")
    row.get_by_role("button", name="Reasignar").wait_for()
    right = new_student(live_server)
    page.once("dialog", lambda dlg: dlg.accept(right))
    row.get_by_role("button", name="Reasignar").click()
    wait_js(page, "m => Outbox.all().then(a => a.some(r => r.matricula === m && r.status === 'sent'))", right)
    assert captures_of(live_server, right) == 1


def test_server_errors_on_pages_fall_back_to_the_device(device, live_server, proxy):
    """With the app behind a dead proxy (502), the database down (503) or no answer at all, the capture page comes
    from the device with a banner; the outbox shows the server's Spanish message from an HTML error page."""
    page = device.page
    page.goto("/captura")
    page.goto("/pendientes")
    for fault, banner in (("502", "error 502"), ((503, "text/html", b"<h1>no</h1>"), "error 503"), ("hang", "")):
        proxy.fault = lambda m, p, f=fault: f if m == "GET" and p.split("?")[0] in ("/captura", "/pendientes") else None
        page.goto("/captura")
        page.get_by_role("heading", name="Toma de biométricos").wait_for()
        assert "copia guardada en este equipo" in page.locator(".offline-banner").inner_text()
        if banner:
            assert banner in page.locator(".offline-banner").inner_text()
    proxy.fault = None
    page.goto("/pendientes")
    page.wait_for_function("() => window.PWA && PWA.ready === true")
    m = new_student(live_server)
    error_page = ('<html><body><main><h1>Servicio no disponible</h1><p class="error" role="alert" data-mensaje>'
                  'La base de datos no est&#225; disponible en este momento.</p></main></body></html>').encode()
    proxy.fault = only_posts(f"/captura/{m}/", (503, "text/html; charset=utf-8", error_page))
    key = enqueue(page, m)
    drain(page)
    assert item_of(page, key)["lastError"] == "La base de datos no está disponible en este momento."
    proxy.fault = None
    drain(page)
    assert captures_of(live_server, m) == 1


def _second_user(live_server) -> str:
    """A second Ciudad Azteca account with the demo password."""
    email = "cdazteca2@conalepmex.edu.mx"
    live_server.query("""INSERT INTO usuarios (email, password_hash, rol, plantel_id)
                         SELECT $1, password_hash, rol, plantel_id FROM usuarios WHERE email = $2
                         ON CONFLICT DO NOTHING""", email, CA)
    return email


def test_pending_captures_go_only_under_who_took_them(device, live_server, proxy):
    """After sign-out, the next user of the PC does not send the first user's captures: a colleague of the same
    plantel may «Enviar a mi nombre» (recorded), a user of another plantel never sees them, an estatal session
    never sends them; the sign-out warning says exactly that."""
    page = device.page
    m = new_student(live_server)
    proxy.fault = only_posts("/guardar", "502")
    key = enqueue(page, m)
    drain(page)
    warning = device.sign_out()
    assert "tomadas por usted" in warning and "Enviar a mi nombre" in warning and "cifradas" in warning
    proxy.fault = None
    before = proxy.posts_to("/guardar")
    page.on("dialog", lambda dlg: dlg.accept())
    for email in ("toluca@conalepmex.edu.mx", "estatal@conalepmex.edu.mx"):
        device.sign_in(email) if email.startswith("toluca") else sign_in(page, email)
        if email.startswith("toluca"):
            page.locator("#outbox-others").wait_for()
            assert "1 capturas de otro plantel" in page.locator("#outbox-others").inner_text()
            assert page.locator(f"li[data-id='{key}']").count() == 0 and "SIN CONEXION" not in page.content()
        page.wait_for_timeout(1500)
        assert proxy.posts_to("/guardar") == before, email
        page.get_by_role("button", name="Cerrar sesión").click()
        page.wait_for_url("**/login**")
    colleague = _second_user(live_server)
    device.sign_in(colleague)
    page.wait_for_timeout(1000)
    assert proxy.posts_to("/guardar") == before and captures_of(live_server, m) == 0
    row = page.locator(f"li[data-id='{key}']")
    assert CA in row.inner_text()
    row.get_by_role("button", name="Enviar a mi nombre").click()
    wait_js(page, "id => Outbox.get(id).then(r => r.status === 'sent')", key)
    rows = live_server.query("SELECT u.email, e.comentario FROM eventos e JOIN alumnos a ON a.id = e.alumno_id "
                             "JOIN usuarios u ON u.id = e.usuario_id WHERE a.matricula = $1 AND accion = 'capturar'", m)
    assert rows[0]["email"] == colleague and CA in rows[0]["comentario"]
    assert live_server.query("SELECT count(*) AS n FROM accesos_sensibles s JOIN alumnos a ON a.id = s.alumno_id "
                             "WHERE a.matricula = $1 AND recurso = 'envio_a_nombre'", m)[0]["n"] == 1


def test_one_students_captures_keep_their_order(device, live_server, proxy):
    """A retake waits while the student's earlier capture fails (5xx); then both go in order and the later
    one is current. An earlier capture arriving after a later one is "Reemplazada", not an error."""
    page = device.page
    m, other = new_student(live_server), new_student(live_server)
    proxy.fault = only_posts(f"/captura/{m}/", (500, "text/html", b"error"))
    first = enqueue(page, m)
    time.sleep(0.05)
    second = enqueue(page, m)
    third = enqueue(page, other)
    drain(page)
    assert [item_of(page, k)["status"] for k in (first, second, third)] == ["pending", "pending", "sent"]
    assert item_of(page, second)["attempts"] == 0  # never sent before the earlier capture of its student
    proxy.fault = None
    drain(page)
    assert [item_of(page, k)["status"] for k in (first, second)] == ["sent", "sent"]
    current = live_server.query("SELECT c.clave::text AS k FROM alumnos a JOIN capturas c ON c.foto_id = a.foto_id "
                                "WHERE a.matricula = $1", m)[0]["k"]
    assert current == second
    # out of order: the later capture reaches the server first (e.g. from another tab's drain)
    n = new_student(live_server)
    early = enqueue(page, n)
    time.sleep(0.05)
    late = enqueue(page, n)
    page.evaluate("""async ([early, late]) => { const r = await Outbox.get(early); r.createdAt = Date.now() + 1e6;
                     await Outbox.put(r); }""", [early, late])  # send the earlier capture last
    drain(page)
    assert item_of(page, late)["status"] == "sent"
    e = item_of(page, early)
    assert e["status"] == "superseded" and "más reciente" in e["lastError"]


def test_abandoned_sending_item_can_be_retried_after_its_lease(device, live_server, proxy):
    """A "sending" item left by a closed browser shows its age; "Reintentar" appears once its lease ran out."""
    page = device.page
    m = new_student(live_server)
    proxy.fault = only_posts(f"/captura/{m}/", "502")  # background drains fail meanwhile: the row stays put
    key = enqueue(page, m)
    page.evaluate("""async (id) => { const r = await Outbox.get(id); r.status = 'sending';
                     r.leaseUntil = Date.now() + 30000; await Outbox.put(r); }""", key)
    page.goto("/pendientes")
    row = page.locator(f"li[data-id='{key}']")
    row.wait_for()
    assert "enviando desde hace" in row.inner_text() and not row.get_by_role("button", name="Reintentar").is_visible()
    page.evaluate("async (id) => { const r = await Outbox.get(id); r.leaseUntil = Date.now() - 1; await Outbox.put(r); }", key)
    before = proxy.posts_to(f"/captura/{m}/")
    row.get_by_role("button", name="Reintentar").click()
    assert proxy.wait_posts(f"/captura/{m}/", before + 1)  # «Reintentar» sends it now
    proxy.fault = None
    drain(page)
    assert item_of(page, key)["status"] == "sent"
    assert captures_of(live_server, m) == 1


def test_persistent_storage_is_requested_and_shown(device, live_server):
    """With captures waiting, the device asks for persistent storage and Pendientes says whether it was granted."""
    page = device.page
    page.context.set_offline(True)
    enqueue(page, new_student(live_server))
    page.goto("/pendientes")
    page.wait_for_function("() => document.getElementById('storage-state').textContent.length > 0")
    granted = page.evaluate("() => navigator.storage.persisted()")
    text = page.locator("#storage-state").inner_text()
    assert ("concedido (" in text) if granted else ("no concedido" in text)
    page.context.set_offline(False)


def test_session_ended_mid_capture_says_so_and_sends_after_sign_in(device, live_server):
    """The session ends while a capture waits: the pill says so (not "En línea"), the item waits for a sign-in,
    and signing in again sends it without «Reintentar»."""
    page = device.page
    m = new_student(live_server)
    key = enqueue(page, m)
    live_server.query("UPDATE sesiones SET cerrada_en = now() WHERE cerrada_en IS NULL AND usuario_id = "
                      "(SELECT id FROM usuarios WHERE email = $1)", CA)
    drain(page)
    item = item_of(page, key)
    assert item["status"] == "pending" and item["waitFor"] == "session" and "sesión terminó" in item["lastError"]
    assert page.locator("#net-status").inner_text().startswith("Sesión terminada")
    device.sign_in()
    wait_js(page, "id => Outbox.get(id).then(r => r.status === 'sent')", key)
    assert captures_of(live_server, m) == 1


def test_device_data_is_encrypted_and_locked_without_a_session(browser, live_server, proxy, tmp_path):
    """The roster and pending captures are ciphertext on the device; after the browser closes without
    «Cerrar sesión», offline, nothing is readable until the user's password unlocks it; the server ending the
    session wipes the roster; signing out wipes it too."""
    d = Device(browser, proxy, tmp_path / "perfil")
    page = d.sign_in()
    page.goto("/captura")  # kept for offline use
    page.goto("/pendientes")
    page.get_by_role("button", name="Preparar sin conexión").click()
    page.wait_for_function("() => document.getElementById('roster-age').textContent.includes('guardado')")
    m = new_student(live_server)
    page.evaluate("() => PWA.refreshRoster(true)")
    curp = "BEML920313HMCLNS09"  # new_student's CURP
    enqueue(page, m)
    dump = page.evaluate("""async () => { const db = await Vault.openDb(); const out = [];
        for (const store of ['meta', 'outbox']) for (const v of await db.getAll(store)) out.push(v);
        const text = (v) => v instanceof ArrayBuffer ? new TextDecoder('latin1').decode(v)
          : Array.isArray(v) ? v.map(text).join(' ') : v && typeof v === 'object' ? Object.values(v).map(text).join(' ') : String(v);
        return out.map(text).join(' '); }""")
    assert curp not in dump and "SIN CONEXION" not in dump and "JFIF" not in dump
    d.close()                      # the browser closes without «Cerrar sesión» …
    page = d.open(offline=True)    # … and opens again without a connection
    page.goto(f"/captura?matricula={m}")
    unlock = page.locator(".unlock-form")
    unlock.wait_for()
    assert "SIN CONEXION" not in page.content()
    unlock.get_by_label("Contraseña").fill("no-es-la-clave")
    unlock.get_by_role("button", name="Desbloquear").click()
    unlock.get_by_text("Contraseña incorrecta").wait_for()
    unlock.get_by_label("Contraseña").fill(DEMO_PASSWORD)
    unlock.get_by_role("button", name="Desbloquear").click()
    page.get_by_role("heading", name="Datos del alumno").wait_for()
    assert "SIN CONEXION" in page.content()
    page.context.set_offline(False)
    live_server.query("UPDATE sesiones SET cerrada_en = now() WHERE cerrada_en IS NULL AND usuario_id = "
                      "(SELECT id FROM usuarios WHERE email = $1)", CA)
    page.goto("/login")  # any page: the server says the session ended
    wait_js(page, "() => Vault.rosterMeta().then(m => m === null)")
    assert page.evaluate("() => Vault.localKey().then(k => k === null)")
    d.close()


def test_two_devices_capture_one_student_at_the_same_moment(browser, live_server, proxy, tmp_path):
    """Two PCs send a capture of the same student at once: no deadlock and no 500 — each item is sent or gets the
    honest answer, and the student's current capture is one that was acknowledged."""
    pcs = [Device(browser, proxy, tmp_path / f"pc{i}", init="self.__outboxTimeoutMs = 20000;") for i in range(2)]
    try:
        for pc in pcs:
            pc.sign_in()
        for _ in range(3):
            m = new_student(live_server)
            keys = [enqueue(pc.page, m) for pc in pcs]
            for pc in pcs:
                pc.page.evaluate("() => { window.__d = PWA.drain(true); }")
            for pc in pcs:
                pc.page.evaluate("() => window.__d")
            states = [item_of(pc.page, k) for pc, k in zip(pcs, keys)]
            assert all(s["status"] in ("sent", "superseded") for s in states), states
            assert not any("500" in s["lastError"] for s in states)
            current = live_server.query("SELECT c.clave::text AS k FROM alumnos a JOIN capturas c ON c.foto_id = a.foto_id "
                                        "WHERE a.matricula = $1", m)[0]["k"]
            assert current in {k for k, s in zip(keys, states) if s["status"] == "sent"}
    finally:
        for pc in pcs:
            pc.close()
