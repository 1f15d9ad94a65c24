"""Chromium: the privacy-notice link on the sign-in page, the acknowledgement at Toma de biométricos, and
Consultar alumno after `python -m app purge` (issue 14, docs/privacy.md)."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ..conftest import ROOT
from .conftest import sign_in
from .test_captura_e2e import CAZ, draw_signature, new_student, search, take_photo

pytestmark = pytest.mark.e2e


def test_privacy_link_on_sign_in(page, live_server):
    """Sign-in → «Aviso de privacidad» → the simplified notice with version and date → the integral one."""
    page.goto("/login")
    page.get_by_role("link", name="Aviso de privacidad").first.click()
    page.get_by_role("heading", name="Aviso de privacidad simplificado").wait_for()
    assert "Versión 1, publicada el" in page.locator("#aviso-version").inner_text()
    page.get_by_role("link", name="Ver el aviso de privacidad integral").click()
    page.get_by_role("heading", name="Aviso de privacidad integral").wait_for()
    assert page.get_by_text("Derechos ARCO").count() >= 1


def test_acknowledgement_at_capture(page, live_server):
    """Guardar without the checkbox says what to do and sends nothing; with it the capture stores the version."""
    a = new_student(live_server)
    sign_in(page, CAZ)
    search(page, "/captura", a["matricula"])
    take_photo(page, 1.8, -1)
    page.get_by_role("button", name="Firmar en pantalla").click()
    draw_signature(page, page.locator("[data-firma-canvas]"))
    page.get_by_role("button", name="Capturar firma").click()
    page.get_by_text("Firma capturada").wait_for()
    page.get_by_role("button", name="Guardar").click()
    page.get_by_text("Marque «El alumno conoce el aviso de privacidad» antes de guardar.").wait_for()
    assert live_server.query("SELECT count(*) AS n FROM capturas WHERE alumno_id = $1", a["id"])[0]["n"] == 0
    page.get_by_label("El alumno conoce el aviso de privacidad").check()
    page.get_by_role("button", name="Guardar").click()
    page.wait_for_url("**/guardado")
    assert live_server.query("SELECT aviso_version AS v FROM capturas WHERE alumno_id = $1", a["id"])[0]["v"] == 1


def purge(live_server, *args: str) -> str:
    """`python -m app purge` against the served database; only a baja older than ten years is due (the other
    rules' periods are set beyond any demo student, so the shared demo data keeps its images)."""
    env = {**os.environ, "DATABASE_URL": live_server.db_url, "RETENCION_BAJA_DIAS": "3650",
           "RETENCION_ENTREGADO_MESES": "1200", "RETENCION_VERSIONES_DIAS": "36500"}
    done = subprocess.run([sys.executable, "-m", "app", "purge", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_consulta_after_a_purge(page, live_server):
    """A baja student's images purged by the command: Consultar alumno shows when and why instead of the images."""
    a = new_student(live_server, "recibido")
    live_server.query("UPDATE alumnos SET baja_en = '2001-01-01' WHERE id = $1", a["id"])
    assert "baja en SAE: 3650 días después de la baja: 1 alumnos, 2 imágenes se eliminarían" in purge(live_server, "--dry-run")
    assert "Purga terminada" in purge(live_server)
    sign_in(page, "estatal@conalepmex.edu.mx")
    page.goto(f"/consulta/{a['id']}")
    notice = page.locator("[data-purga]")
    assert "Biométricos eliminados el" in notice.inner_text() and "política de conservación" in notice.inner_text()
    assert page.locator("#biometricos img").count() == 0
    assert page.get_by_role("link", name="Exportar datos del alumno").is_visible()
