"""Browser: Importar alumno SAE (import, group change, refusals) and Consultar alumno (search, record, history)."""
from __future__ import annotations

import re

import pytest

from app.validation import luhn_digit

from .conftest import sign_in

pytestmark = pytest.mark.e2e


def mat(pre: str) -> str:
    """A demo matrícula (docs/sae.md) with its Luhn digit."""
    return f"{pre}-{luhn_digit(pre)}"


def search_sae(page, matricula: str) -> None:
    """Type a matrícula on Importar alumno SAE and press Buscar."""
    page.get_by_label("Matrícula").fill(matricula)
    page.get_by_role("button", name="Buscar").click()


def test_import_new_student_then_consult_it(page, live_server):
    """Ciudad Azteca imports a student only in SAE (scanner apostrophe) and finds it Enrolado in Consultar alumno."""
    sign_in(page, "cdazteca@conalepmex.edu.mx")
    page.get_by_role("link", name="Importar alumno SAE").click()
    search_sae(page, mat("250018001").replace("-", "'"))
    page.get_by_text('El alumno no existe en la Base de Datos del sistema').wait_for()
    assert page.get_by_role("heading", name="Datos del alumno en SAE").is_visible()
    assert page.get_by_role("link", name="Regresar").is_visible()
    page.get_by_role("button", name="Importar").click()
    page.get_by_text("se importó con estatus Enrolado").wait_for()
    row = live_server.query("SELECT estatus::text AS e, fecha_sae FROM alumnos WHERE matricula = $1", mat("250018001"))
    assert row[0]["e"] == "enrolado" and row[0]["fecha_sae"] is not None
    page.get_by_role("link", name="Consultar alumno").last.click()
    page.wait_for_url(re.compile(r"/consulta/\d+$"))
    datos = page.locator("#datos").inner_text()
    assert "Enrolado" in datos and "Ciudad Azteca" in datos and "101-INFO18" in datos
    assert re.search(r"Fecha actualización desde SAE\s+\d{1,2} de \w+ de 20\d\d, \d{1,2}:\d\d", datos)
    historial = page.locator("#historial").inner_text()
    assert "Importado desde SAE" in historial and "cdazteca@conalepmex.edu.mx" in historial


def test_group_change_from_sae(page, live_server):
    """A student whose SAE group changed: two columns, the group row highlighted, "Cambio de grupo" applies it."""
    sign_in(page, "cdazteca@conalepmex.edu.mx")
    page.goto("/sae")
    search_sae(page, mat("250018101"))
    diff = page.locator("table.sae-comparacion tr.diff")
    diff.first.wait_for()
    assert diff.count() == 1 and "Grupo" in diff.inner_text()
    assert "101-ELIN18" in diff.inner_text() and "102-ELIN18" in diff.inner_text()
    assert page.get_by_role("button", name="Cambio de plantel").count() == 0
    page.get_by_role("button", name="Cambio de grupo").click()
    page.get_by_text("Se aplicó «Cambio de grupo»").wait_for()
    assert page.get_by_text("coinciden con SAE").is_visible()
    assert live_server.query("SELECT grupo FROM alumnos WHERE matricula = $1", mat("250018101"))[0]["grupo"] == "102-ELIN18"
    events = live_server.query("SELECT e.accion FROM eventos e JOIN alumnos a ON a.id = e.alumno_id "
                               "WHERE a.matricula = $1 ORDER BY e.id", mat("250018101"))
    assert [e["accion"] for e in events][-1] == "cambio_grupo_sae"


@pytest.mark.parametrize("matricula, reason", [
    (mat("250018005"), "no está inscrito en SAE"),
    (mat("250348001"), "inscrito en SAE en el plantel Toluca"),
    (mat("250018006"), "semestre 7, que no está entre los semestres permitidos"),
    ("18001", "La matrícula debe tener 8 o 9 dígitos"),
    (mat("250019999"), "no existe en SAE ni en la base de datos"),
])
def test_refusals_show_the_reason(page, live_server, matricula, reason):
    """Each refusal is a sentence on the page, without an Importar button."""
    sign_in(page, "cdazteca@conalepmex.edu.mx")
    page.goto("/sae")
    search_sae(page, matricula)
    page.get_by_text(reason).wait_for()
    assert page.get_by_role("button", name="Importar").count() == 0
    assert page.get_by_label("Matrícula").input_value() == matricula


def test_consult_any_student_from_any_role(page, live_server):
    """Toluca's plantel user searches a name without accents, pages, and opens a Ciudad Azteca student read-only."""
    sign_in(page, "toluca@conalepmex.edu.mx")
    page.get_by_role("link", name="Consultar alumno").click()
    page.get_by_label("Matrícula, CURP o nombre").fill("hernandez")
    page.get_by_role("button", name="Buscar").click()
    rows = page.locator("#resultados tbody tr")
    rows.first.wait_for()
    assert rows.count() == 20 and all("HERNÁNDEZ" in t for t in rows.all_inner_texts())
    page.get_by_role("link", name="Siguiente").click()
    page.wait_for_url(re.compile(r"pagina=2"))
    assert "Página 2" in page.locator(".paginas").inner_text()
    student = live_server.query(
        "SELECT a.id, a.matricula FROM alumnos a JOIN planteles p ON p.id = a.plantel_id "
        "WHERE p.nombre = 'Ciudad Azteca' AND a.estatus = 'entregado' ORDER BY a.matricula LIMIT 1")[0]
    page.get_by_label("Matrícula, CURP o nombre").fill(student["matricula"].replace("-", "'"))
    page.get_by_role("button", name="Buscar").click()
    page.wait_for_url(re.compile(rf"/consulta/{student['id']}$"))
    assert "Entregado" in page.locator("#estatus").inner_text()
    for img in ("Fotografía de", "Firma de", "Firma de entrega de"):
        el = page.get_by_role("img", name=re.compile(img)).first
        assert el.evaluate("i => i.complete && i.naturalWidth > 0"), img
    historial = page.locator("#historial").inner_text()
    assert "Credencial entregada" in historial and "Recibido" in historial
    assert page.get_by_role("button", name=re.compile("Guardar|Importar|Validar")).count() == 0
