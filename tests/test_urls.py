"""PUBLIC_URL (issue 12 item 16): derived from the request in development, required in production."""
from __future__ import annotations

import pytest

from app import urls
from app.config import Settings

from .conftest import make_student, post
from .test_temporal import barcodes


def _settings(public_url: str = urls.DEV_DEFAULT) -> Settings:
    """Settings as the environment would give them (no database URL)."""
    return Settings(database_url=None, secret_key="k", public_url=public_url)


@pytest.mark.parametrize("env", [{"DATABASE_URL": "postgresql://db/credencializacion"}, {"APP_ENV": "production"}])
def test_production_refuses_to_start_without_public_url(monkeypatch, env):
    """DATABASE_URL or APP_ENV=production without PUBLIC_URL: create_app refuses with the reason."""
    monkeypatch.delenv("PUBLIC_URL", raising=False)
    monkeypatch.setenv("SECRET_KEY", "una-llave-compartida")
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    from app import create_app
    with pytest.raises(urls.MissingPublicUrl, match="PUBLIC_URL"):
        create_app(_settings())
    monkeypatch.setenv("PUBLIC_URL", "https://credencial.example")
    urls.require_public_url(_settings("https://credencial.example"))  # accepted


@pytest.mark.parametrize("env", [{"DATABASE_URL": "postgresql://db/credencializacion"}, {"APP_ENV": "production"}])
def test_production_refuses_to_start_without_secret_key(monkeypatch, env):
    """Production without SECRET_KEY: create_app refuses (each server would sign sessions with its own key)."""
    monkeypatch.setenv("PUBLIC_URL", "https://credencial.example")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    from app import create_app
    with pytest.raises(urls.MissingSecretKey, match="SECRET_KEY"):
        create_app(_settings())
    monkeypatch.setenv("SECRET_KEY", "una-llave-compartida")
    urls.require_production_settings(_settings("https://credencial.example"))  # accepted


def test_development_starts_without_public_url(monkeypatch):
    """No DATABASE_URL, no APP_ENV: the development default is accepted."""
    for k in ("PUBLIC_URL", "DATABASE_URL", "APP_ENV"):
        monkeypatch.delenv(k, raising=False)
    urls.require_public_url(_settings())


async def test_qr_follows_the_request_host_when_public_url_is_unset(signed_in, app, monkeypatch):
    """Development without PUBLIC_URL: the QR points at the host the browser used, not 127.0.0.1:5000."""
    monkeypatch.delenv("PUBLIC_URL", raising=False)
    monkeypatch.setattr(app.config["SETTINGS"], "public_url", urls.DEV_DEFAULT)
    a = await make_student("validado")
    c = await signed_in("plantel")
    r = await post(c, f"/temporal/{a['matricula']}/credencial.pdf", headers={"Host": "tableta.plantel:8443"})
    assert barcodes(await r.get_data())["QRCode"].startswith("http://tableta.plantel:8443/verificar/")
