"""axe-core over every page (issue 12): no serious or critical violation, including the states with the
Pendientes badge shown and with field errors shown."""
from __future__ import annotations

import pytest

from .conftest import sign_in
from .test_issue12_e2e import ESTATAL, PLANTEL, show_badge, switch_to

pytestmark = pytest.mark.e2e
PLANTEL_PAGES = ("/", "/sae", "/captura", "/temporal", "/validacion", "/rechazo", "/entrega", "/consulta",
                 "/consulta?q=garcia", "/pendientes", "/equipo", "/ayuda")
ESTATAL_PAGES = ("/", "/?buscar=toluca", "/ordenes", "/ordenes/nueva", "/ordenes/seguimiento", "/ordenes/2",
                 "/ordenes/2/recepcion", "/consulta")


def serious(page) -> list[str]:
    """The serious and critical axe-core violations of the page as shown now."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}"
            for v in results.response["violations"] if v["impact"] in ("serious", "critical")]


def test_public_pages_and_sign_in_error(page):
    """Sign-in (and its refusal shown), Ayuda without a session."""
    found = {}
    for path in ("/login", "/ayuda", "/offline"):
        page.goto(path)
        found[path] = serious(page)
    page.goto("/login")
    page.get_by_label("Usuario").fill("nadie@conalepmex.edu.mx")
    page.get_by_label("Contraseña").fill("incorrecta")
    page.get_by_role("button", name="Iniciar sesión").click()
    page.locator(".error").wait_for()
    found["login con error"] = serious(page)
    assert not any(found.values()), found


def test_plantel_pages_with_badge_and_field_errors(page, live_server):
    """Every plantel screen with the Pendientes badge shown; a student found; a refused form's errors."""
    sign_in(page, PLANTEL)
    found = {}
    recibido = live_server.query("SELECT a.matricula FROM alumnos a JOIN planteles p ON p.id = a.plantel_id "
                                 "WHERE p.nombre = 'Ciudad Azteca' AND estatus = 'recibido' LIMIT 1")[0]["matricula"]
    for path in (*PLANTEL_PAGES, f"/temporal?matricula={recibido}", f"/rechazo?matricula={recibido}",
                 f"/consulta?q={recibido}", "/rechazo?matricula=12AB"):
        page.goto(path)
        show_badge(page)
        found[path] = serious(page)
    page.goto(f"/rechazo?matricula={recibido}")
    page.get_by_role("button", name="Rechazar").click()  # no comment: refused with the reason
    page.locator("#rechazo-error").wait_for()
    show_badge(page)
    found["rechazo sin comentario"] = serious(page)
    assert not any(found.values()), found


def test_estatal_pages(page):
    """The state's report (filtered too), print orders, reception and tracking."""
    sign_in(page, PLANTEL)
    switch_to(page, ESTATAL)
    found = {}
    for path in ESTATAL_PAGES:
        page.goto(path)
        found[path] = serious(page)
    assert not any(found.values()), found
