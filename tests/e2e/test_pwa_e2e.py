"""Installable PWA: manifest, service worker, offline shell, roster for offline look-up."""
from __future__ import annotations

import pytest

from .conftest import sign_in

pytestmark = pytest.mark.e2e


def _wait_controlled(page) -> None:
    """Wait until the service worker controls the page."""
    page.wait_for_function("() => navigator.serviceWorker && navigator.serviceWorker.controller !== null",
                           timeout=20_000)


def test_installable_and_works_offline(persistent_page, live_server):
    """Chromium finds no installability errors; offline, pages come from the cache or the offline page."""
    page = persistent_page
    sign_in(page, "cdazteca@conalepmex.edu.mx")
    page.wait_for_function("() => navigator.serviceWorker.ready.then(() => true)")
    page.reload()
    _wait_controlled(page)
    cdp = page.context.new_cdp_session(page)
    errors = cdp.send("Page.getInstallabilityErrors")["installabilityErrors"]
    assert errors == [], errors
    manifest = page.evaluate("fetch('/manifest.webmanifest').then(r => r.json())")
    assert manifest["short_name"] == "Credencialización" and manifest["display"] == "standalone"
    assert {i["sizes"] for i in manifest["icons"]} >= {"192x192", "512x512"}
    page.goto("/pendientes")  # visited once online → kept for offline use
    page.context.set_offline(True)
    page.goto("/pendientes")
    assert page.get_by_role("heading", name="Pendientes").is_visible()
    assert page.locator("#net-status").inner_text().startswith("Sin conexión")
    page.goto("/consulta")  # never visited: the offline page
    assert page.get_by_role("heading", name="Sin conexión").is_visible()
    page.context.set_offline(False)


def test_prepare_offline_roster(page, live_server):
    """'Preparar sin conexión' stores the plantel's roster (no photos) and shows its age."""
    sign_in(page, "toluca@conalepmex.edu.mx")
    page.goto("/pendientes")
    page.get_by_role("button", name="Preparar sin conexión").click()
    page.wait_for_function("() => document.getElementById('roster-age').textContent.includes('guardado')")
    expected = live_server.query(
        "SELECT count(*) AS n FROM alumnos a JOIN planteles p ON p.id = a.plantel_id WHERE p.nombre = 'Toluca'")[0]["n"]
    assert f"({expected} alumnos)" in page.locator("#roster-age").inner_text()
    sample = live_server.query("SELECT matricula FROM alumnos a JOIN planteles p ON p.id = a.plantel_id "
                               "WHERE p.nombre = 'Toluca' LIMIT 1")[0]["matricula"]
    stored = page.evaluate("m => Vault.rosterLookup(m)", sample)
    assert stored["matricula"] == sample and "foto" not in " ".join(stored)
