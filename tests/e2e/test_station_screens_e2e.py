"""Screens of the stations at the two sizes staff use: a 1366×768 capture PC and an 800×1280
portrait tablet. Each test asserts with bounding boxes that the controls the operator needs are
inside the viewport without scrolling (and, on the tablet, at least 44 px tall), and saves a
screenshot under var/screens/ (not committed) for a designer to look at.
"""
from __future__ import annotations

import pytest

from ..conftest import ROOT
from .conftest import sign_in
from .test_captura_e2e import CAZ, draw_signature, new_student, search, set_range, sigweb  # noqa: F401

pytestmark = pytest.mark.e2e
SIZES = {"pc": (1366, 768), "tablet": (800, 1280)}
SCREENS = ROOT / "var" / "screens"
TOUCH = 44


@pytest.fixture(params=list(SIZES))
def sized(request, page):
    """The page at one of the two sizes, and the size's name."""
    w, h = SIZES[request.param]
    page.set_viewport_size({"width": w, "height": h})
    return page, request.param


def shot(page, name: str) -> None:
    """Save what the operator sees (the viewport, not the whole page)."""
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENS / f"{name}.png"))


def assert_in_view(page, *selectors: str) -> None:
    """Each selector's first visible element lies wholly inside the viewport, without scrolling."""
    assert page.evaluate("() => window.scrollY") == 0
    vw, vh = page.viewport_size["width"], page.viewport_size["height"]
    for sel in selectors:
        box = page.locator(sel).first.bounding_box()
        assert box, f"{sel} no se ve"
        inside = box["x"] >= 0 and box["y"] >= 0 and box["x"] + box["width"] <= vw + 0.5 and box["y"] + box["height"] <= vh + 0.5
        assert inside, f"{sel} queda fuera de la pantalla {vw}×{vh}: {box}"
        covered = page.locator(sel).first.evaluate(
            """el => { const bar = document.querySelector('.barra-acciones');
                       if (!bar || bar.contains(el)) return false;
                       return el.getBoundingClientRect().bottom > bar.getBoundingClientRect().top + 0.5; }""")
        assert not covered, f"{sel} queda debajo de la barra de acciones"


def assert_touch_targets(page, scope: str) -> None:
    """Every visible button, slider, select and radio (with its label) in scope is ≥ 44 px tall."""
    small = page.evaluate(
        """([scope, min]) => {
          const out = [];
          const root = document.querySelector(scope);
          const targets = root.querySelectorAll('button, a.button, select, input[type=range], input[type=radio], input[type=text], input[type=date]');
          for (const el of targets) {
            if (!el.offsetParent || el.disabled && el.type === 'checkbox') continue;
            const target = el.type === 'radio' ? el.closest('label') || el : el;
            const r = target.getBoundingClientRect();
            if (r.height < min - 0.5) out.push(`${el.outerHTML.slice(0, 80)} → ${Math.round(r.width)}×${Math.round(r.height)}`);
          }
          return out;
        }""", [scope, TOUCH])
    assert not small, "objetivos táctiles menores de 44 px:\n" + "\n".join(small)


def focused(page) -> str:
    """The data-* attribute names of the focused element."""
    return page.evaluate("() => Object.keys(document.activeElement.dataset).join(' ')")


STATION = ("#identidad-nombre", "[data-cam-video]", "[data-firma-canvas]", "[data-firma-pantalla]", "[data-revision]",
           "[data-guardar]", "[data-check-foto]")


def test_capture_station_on_one_screen(sized, live_server):
    """After Buscar, with the camera open, after Tomar foto and after both captures, the camera,
    signature pad, photo checks and Guardar are on screen; focus follows the next step."""
    page, size = sized
    a = new_student(live_server)
    sign_in(page, CAZ)
    search(page, "/captura", a["matricula"])
    assert_in_view(page, *STATION, "[data-cam-obtener]", "[data-firma-obtener]")
    shot(page, f"captura-{size}-1-buscar")

    page.get_by_role("button", name="Obtener fotografía").click()
    page.get_by_text("Cámara lista").wait_for()
    assert focused(page) == "camTomar"
    assert_in_view(page, *STATION, "[data-cam-tomar]")
    shot(page, f"captura-{size}-2-camara")

    page.keyboard.press("Enter")                                   # «Tomar foto» from the keyboard
    page.locator("[data-cam-ajuste]").wait_for()
    assert focused(page) == "camCapturar"
    shot(page, f"captura-{size}-3-ajuste")
    assert_in_view(page, "#identidad-nombre", "[data-cam-recorte]", "[data-cam-zoom]", "[data-cam-pany]", "[data-cam-capturar]",
                   *STATION[2:])
    set_range(page, "[data-cam-zoom]", 1.8)
    set_range(page, "[data-cam-pany]", -1)
    shot(page, f"captura-{size}-3-ajuste")

    page.get_by_role("button", name="Capturar foto").click()
    page.get_by_text("Fotografía capturada").wait_for()
    page.get_by_role("button", name="Firmar en pantalla").click()
    draw_signature(page, page.locator("[data-firma-canvas]"))
    page.get_by_role("button", name="Capturar firma").click()
    page.get_by_text("Firma capturada").wait_for()
    assert page.locator("[data-guardar]").is_enabled()
    assert_in_view(page, "[data-foto-resultado]", "[data-firma-resultado]", "[data-revision]", "[data-guardar]")
    if size == "tablet":
        assert_touch_targets(page, "[data-captura]")
        assert_touch_targets(page, ".cabecera-estacion")
    shot(page, f"captura-{size}-4-listo")


def _retoma_student(live_server) -> dict:
    """A Retoma student whose rejecter wrote why."""
    a = new_student(live_server, "retoma")
    live_server.query("INSERT INTO eventos (alumno_id, accion, de, a, comentario) "
                      "VALUES ($1, 'rechazar_retoma', 'recibido', 'retoma', 'Fotografía con manchas en el rostro')", a["id"])
    return a


def test_capture_station_shows_the_retake_reason(sized, live_server):
    """A Retoma student: the rejecter's reason is beside the name, and the station still fits."""
    page, size = sized
    a = _retoma_student(live_server)
    sign_in(page, CAZ)
    search(page, "/captura", a["matricula"])
    assert "Fotografía con manchas en el rostro" in page.locator("#motivo-correccion").inner_text()
    assert_in_view(page, "#motivo-correccion", ".identidad-foto img", *STATION)
    shot(page, f"captura-{size}-retoma")
    page.get_by_role("button", name="Obtener fotografía").click()
    page.get_by_role("button", name="Tomar foto").click()
    page.locator("[data-cam-ajuste]").wait_for()
    assert_in_view(page, "#motivo-correccion", "[data-cam-recorte]", "[data-cam-capturar]", "[data-revision]", "[data-firma-canvas]",
                   "[data-guardar]")
    shot(page, f"captura-{size}-retoma-ajuste")


def test_delivery_photo_beside_signature(sized, live_server):
    """Entregar credencial: the identity photo first, beside the signature pad, and Guardar on screen."""
    page, size = sized
    a = new_student(live_server, "recibido")
    sign_in(page, CAZ)
    search(page, "/entrega", a["matricula"])
    assert_in_view(page, ".identidad-grande img", "#identidad-nombre", "[data-firma-canvas]", "[data-firma-pantalla]",
                   "#recordatorio", "[data-guardar]")
    photo, pad = page.locator(".identidad-grande img").bounding_box(), page.locator("[data-firma-canvas]").bounding_box()
    assert photo["height"] >= 240 and (photo["x"] + photo["width"] <= pad["x"] or photo["y"] + photo["height"] <= pad["y"])
    page.get_by_role("button", name="Firmar en pantalla").click()
    draw_signature(page, page.locator("[data-firma-canvas]"))
    page.get_by_role("button", name="Capturar firma").click()
    page.get_by_text("Firma capturada").wait_for()
    assert_in_view(page, "[data-guardar]")
    if size == "tablet":
        assert_touch_targets(page, "[data-entrega]")
    shot(page, f"entrega-{size}")


def test_validation_guardar_and_field_errors_on_screen(sized, live_server):
    """Validar: photo, evaluation and Guardar on screen; errors beside their fields after Guardar."""
    page, size = sized
    a = new_student(live_server, "capturado")
    live_server.query("UPDATE alumnos SET institucion_medica = NULL, numero_afiliacion = NULL, vigencia = NULL WHERE id = $1", a["id"])
    sign_in(page, CAZ)
    page.goto(f"/validacion/alumno/{a['matricula']}")
    assert_in_view(page, ".validar-foto", "#institucion_medica", "[name=evaluacion][value=validado]", "#comentario",
                   "#validar-guardar")
    if size == "tablet":
        assert_touch_targets(page, "#form-validar")
    shot(page, f"validacion-{size}-1")
    page.get_by_label("Validado").check()
    page.locator("#validar-guardar").click()
    page.wait_for_load_state()
    field = page.locator("#numero_afiliacion")
    assert field.get_attribute("aria-invalid") == "true"
    message = page.locator("#" + field.get_attribute("aria-describedby").split()[0])
    assert "afiliación" in message.inner_text()
    box, msg = field.bounding_box(), message.bounding_box()
    assert abs(msg["y"] - (box["y"] + box["height"])) < 40            # right under its field
    assert page.evaluate("() => document.activeElement.id") == "institucion_medica"  # the first field to fix
    page.evaluate("() => window.scrollTo(0, 0)")
    assert_in_view(page, "#validar-guardar", "#validar-resumen")
    shot(page, f"validacion-{size}-2-errores")
