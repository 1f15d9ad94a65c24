"""Administración in Chromium (issue 13): the admin creates a plantel user, the activation link arrives by
mail at a real SMTP server (aiosmtpd) through the app's worker, the new user chooses a password, signs in and
sees only their plantel; the admin deactivates the user and the open session ends at the next request."""
from __future__ import annotations

import re
import time

import pytest

from ..mailtools import free_port, smtp_server
from .conftest import LiveServer, sign_in

pytestmark = pytest.mark.e2e


class MailingServer(LiveServer):
    """The served app sending mail to a local SMTP server (its in-process worker delivers it)."""

    def __init__(self, server_url: str, smtp_port: int) -> None:
        self.smtp_port = smtp_port
        super().__init__(server_url)

    def extra_env(self) -> dict[str, str]:
        """SMTP settings on top of the usual ones."""
        return {**super().extra_env(), "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(self.smtp_port), "SMTP_TLS": "none",
                "MAIL_RETRY_SECONDS": "1"}


@pytest.fixture(scope="module")
def mailing(server_url):
    """(server, smtp sink) for this module."""
    port = free_port()
    with smtp_server(port) as sink:
        server = MailingServer(server_url, port)
        try:
            yield server, sink
        finally:
            server.stop()


def wait_mail(sink, to: str, timeout: float = 40) -> str:
    """The text of the first message to `to` (the worker sends it within seconds)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        for m in sink.messages:
            if m["To"] == to:
                return m.get_body(preferencelist=("plain",)).get_content()
        time.sleep(0.3)
    raise AssertionError(f"no llegó el correo a {to}")


def test_admin_creates_activates_and_deactivates_a_plantel_user(browser, mailing):
    """The whole account life through the screens, with the mail read from the SMTP server."""
    server, sink = mailing
    admin = browser.new_context(base_url=server.url, locale="es-MX").new_page()
    sign_in(admin, "admin@conalepmex.edu.mx")
    admin.get_by_role("link", name="Administración").click()
    admin.get_by_role("link", name="Usuarios").first.click()
    admin.get_by_role("link", name="Nuevo usuario").click()
    admin.get_by_label("Correo electrónico").fill("nueva.capturista@conalepmex.edu.mx")
    admin.get_by_label("Nombre").fill("Nueva Capturista")
    admin.get_by_label("Rol", exact=True).select_option("plantel")
    admin.get_by_label("Plantel (rol Plantel)").select_option(label="Toluca")
    admin.get_by_role("button", name="Crear y enviar enlace de activación").click()
    admin.get_by_text("se le envió el enlace de activación").wait_for()

    body = wait_mail(sink, "nueva.capturista@conalepmex.edu.mx")
    link = re.search(r"https?://\S+/restablecer/\S+", body).group(0)
    user = browser.new_context(base_url=server.url, locale="es-MX").new_page()
    user.goto(link.replace(link.split("/restablecer/")[0], server.url))
    user.get_by_label("Contraseña nueva").fill("Toluca-Capturas-2026")
    user.get_by_label("Repita la contraseña").fill("Toluca-Capturas-2026")
    user.get_by_role("button", name="Guardar contraseña").click()
    sign_in(user, "nueva.capturista@conalepmex.edu.mx", "Toluca-Capturas-2026")
    report = user.locator("main").inner_text()
    assert "Toluca" in report and "Ciudad Azteca" not in report
    user.goto("/captura")
    assert user.get_by_role("heading", name="Toma de biométricos").is_visible()

    admin.goto("/admin/usuarios?q=nueva.capturista")
    admin.get_by_role("link", name="nueva.capturista@conalepmex.edu.mx").click()
    admin.get_by_role("button", name="Desactivar").click()
    admin.get_by_text("se desactivó; sus sesiones terminaron").wait_for()
    user.goto("/captura")  # the next request of the open session
    assert "/login" in user.url
    user.get_by_label("Usuario").fill("nueva.capturista@conalepmex.edu.mx")
    user.get_by_label("Contraseña").fill("Toluca-Capturas-2026")
    user.get_by_role("button", name="Iniciar sesión").click()
    user.get_by_text("Su cuenta está desactivada").wait_for()
    rows = server.query("SELECT accion FROM cambios_admin WHERE clave = 'nueva.capturista@conalepmex.edu.mx' ORDER BY id")
    assert [r["accion"] for r in rows] == ["crear", "desactivar"]
