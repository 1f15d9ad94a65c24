"""Ayuda (issue 12 item 12): public, linked from the sign-in page, forum link, tel: with extensions."""
from __future__ import annotations

from .conftest import text_of


async def test_ayuda_is_public_and_linked_from_sign_in(client):
    """A user who cannot sign in reaches the contacts from the sign-in page."""
    login = await (await client.get("/login")).get_data(as_text=True)
    assert 'href="/ayuda"' in login
    r = await client.get("/ayuda")
    html = await r.get_data(as_text=True)
    assert r.status_code == 200 and "Soporte y apoyo" in html and "cita@conalepmex.edu.mx" in html


async def test_phone_links_keep_extensions_and_screenshot_advice(client):
    """tel: links dial the extension after a pause; the manual's advice to attach screenshots is shown."""
    html = await (await client.get("/ayuda")).get_data(as_text=True)
    assert 'href="tel:+525558171619,1252"' in html and 'href="tel:+527222176607,107"' in html
    assert "impresiones de pantalla" in text_of(html)


async def test_forum_link_opens_in_a_new_tab(client, monkeypatch):
    """SOPORTE_FORO_URL becomes a link to the Telegram forum."""
    monkeypatch.setenv("SOPORTE_FORO_URL", "https://t.me/credencializacion_conalep")
    html = await (await client.get("/ayuda")).get_data(as_text=True)
    assert 'href="https://t.me/credencializacion_conalep"' in html and 'rel="noopener noreferrer"' in html
