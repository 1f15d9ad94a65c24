"""Administración → Ajustes and Diseño de la credencial in Chromium: no serious axe-core violation (with field
errors shown too), and Vista previa opens the CR80 PDF in a new tab. Nothing is saved (the demo data is shared)."""
from __future__ import annotations

import pytest

from .conftest import sign_in
from .test_a11y_e2e import serious

pytestmark = pytest.mark.e2e
ADMIN = "admin@conalepmex.edu.mx"


def test_ajustes_page_and_its_errors(page):
    """The settings page, then a refused semester list shown beside its field (nothing saved)."""
    sign_in(page, ADMIN)
    page.goto("/admin/ajustes")
    found = {"ajustes": serious(page)}
    page.get_by_label("Semestres que se pueden importar de SAE").fill("1, 9")
    page.get_by_role("button", name="Guardar").click()
    page.locator("#error-semestres_sae").wait_for()
    assert "del 1 al 6" in page.locator("#error-semestres_sae").inner_text()
    assert page.get_by_label("Semestres que se pueden importar de SAE").get_attribute("aria-invalid") == "true"
    found["ajustes con error"] = serious(page)
    assert not any(found.values()), found


def test_diseno_page_errors_and_preview_in_a_new_tab(page):
    """The design page, a refused colour beside its field, and Vista previa of the unsaved form (a PDF, inline,
    in a new tab)."""
    sign_in(page, ADMIN)
    page.goto("/admin/diseno")
    found = {"diseno": serious(page)}
    page.get_by_label("Color de la banda").fill("verde")
    page.get_by_role("button", name="Guardar como nueva versión").click()
    page.locator("#error-color_banda").wait_for()
    found["diseno con error"] = serious(page)
    page.get_by_label("Color de la banda").fill("#1A5276")
    page.get_by_label("Nombre del director(a)").fill("Mtra. Ana Ruiz")
    with page.context.expect_page() as new_tab, page.context.expect_event(
            "response", lambda r: r.url.endswith("/admin/diseno/vista-previa")) as resp:
        page.get_by_role("button", name="Vista previa (se abre en otra pestaña)").click()
    assert resp.value.status == 200 and resp.value.headers["content-type"] == "application/pdf"
    assert resp.value.headers["content-disposition"].startswith("inline")
    assert new_tab.value != page
    assert not any(found.values()), found
