"""The site's public base URL (QR codes, password-recovery links) and the production start-up check."""
from __future__ import annotations

import os

from quart import current_app, has_request_context, request

DEV_DEFAULT = "http://127.0.0.1:5000"  # config.Settings' default when PUBLIC_URL is unset


class MissingPublicUrl(RuntimeError):
    """Production without PUBLIC_URL: printed links and QR codes would point to the wrong host."""


class MissingSecretKey(RuntimeError):
    """Production without SECRET_KEY: each server would sign sessions with its own var/ key."""


def configured(settings) -> str:
    """PUBLIC_URL as configured ('' when unset: the environment lacks it and Settings kept the default)."""
    url = (settings.public_url or "").strip()
    if url == DEV_DEFAULT and not os.environ.get("PUBLIC_URL"):
        return ""
    return url.rstrip("/")


def is_production() -> bool:
    """Production: APP_ENV=production, or DATABASE_URL set (a real server instead of the embedded cluster)."""
    return os.environ.get("APP_ENV", "").lower() == "production" or bool(os.environ.get("DATABASE_URL"))


def require_public_url(settings) -> None:
    """Refuse to start in production without PUBLIC_URL (called by create_app)."""
    if is_production() and not configured(settings):
        raise MissingPublicUrl(
            "Falta PUBLIC_URL: en producción (DATABASE_URL o APP_ENV=production) indique la dirección pública del "
            "sitio, p. ej. PUBLIC_URL=https://credencializacion.conalepmex.edu.mx; se usa en los códigos QR y en "
            "los enlaces de recuperación de contraseña.")


def require_production_settings(settings) -> None:
    """Refuse to start in production without SECRET_KEY (several app servers must share it) or PUBLIC_URL."""
    if is_production() and not os.environ.get("SECRET_KEY"):
        raise MissingSecretKey(
            "Falta SECRET_KEY: en producción (DATABASE_URL o APP_ENV=production) todos los servidores deben firmar las "
            "sesiones con la misma llave; genere una (p. ej. python -c \"import secrets; print(secrets.token_urlsafe(48))\") "
            "y póngala en SECRET_KEY en cada servidor.")
    require_public_url(settings)


def public_url(settings=None) -> str:
    """The base URL without a trailing slash: PUBLIC_URL, else (development) the current request's host."""
    settings = settings or current_app.config["SETTINGS"]
    url = configured(settings)
    if url:
        return url
    if has_request_context():
        return request.host_url.rstrip("/")
    return DEV_DEFAULT
