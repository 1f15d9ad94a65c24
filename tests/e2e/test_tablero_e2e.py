"""Browser: the Tablero at 1366 px and 800 px wide — no horizontal overflow, four charts drawn and visible,
no CSP violation; full-page screenshots under var/screens/ (not committed) to look at."""
from __future__ import annotations

import pytest

from ..conftest import ROOT
from .conftest import sign_in

pytestmark = pytest.mark.e2e
SCREENS = ROOT / "var" / "screens"
WIDTHS = {"1366": (1366, 768), "800": (800, 1280)}


@pytest.mark.parametrize("width", list(WIDTHS))
@pytest.mark.parametrize("email", ["estatal@conalepmex.edu.mx", "cdazteca@conalepmex.edu.mx"])
def test_tablero_fits_and_draws_its_charts(page, live_server, width, email):
    """The page never scrolls sideways; each chart is on screen-width, has bars and a data table."""
    w, h = WIDTHS[width]
    page.set_viewport_size({"width": w, "height": h})
    csp = []
    page.on("console", lambda m: csp.append(m.text) if "Content Security Policy" in m.text else None)
    sign_in(page, email)
    page.get_by_role("link", name="Tablero", exact=True).click()
    page.wait_for_selector("h1:has-text('Tablero')")
    page.wait_for_load_state("load")
    bar = page.locator("svg.svg-grafica rect.barra").first
    assert bar.evaluate("r => getComputedStyle(r).fill") != "rgb(0, 0, 0)"  # tablero.css styles the SVG (no inline style)
    assert page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth") <= 0
    charts = page.locator("svg.svg-grafica")
    assert charts.count() == 4
    for i in range(4):
        box = charts.nth(i).bounding_box()
        assert box and box["width"] > 300 and box["height"] > 100 and box["x"] >= 0 and box["x"] + box["width"] <= w
    assert page.locator("svg.svg-grafica rect.barra").count() > 0  # the demo's last 60 days have activity
    assert page.locator("details.datos-grafica table").count() == 4
    page.locator("details.datos-grafica summary").first.click()
    assert page.locator("details.datos-grafica table").first.is_visible()
    for wrap in page.locator("main .table-wrap").all():  # wide tables scroll inside their own box
        assert wrap.evaluate("e => e.getBoundingClientRect().right") <= w + 0.5
    assert csp == []
    SCREENS.mkdir(parents=True, exist_ok=True)
    who = email.split("@")[0]
    page.screenshot(path=str(SCREENS / f"tablero-{who}-{width}.png"), full_page=True)
    page.screenshot(path=str(SCREENS / f"tablero-{who}-{width}-vista.png"))
    page.locator("section:has(#actividad-titulo)").screenshot(path=str(SCREENS / f"tablero-{who}-{width}-graficas.png"))
