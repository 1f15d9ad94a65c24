"""Sistema de Credencialización: the application factory."""
from __future__ import annotations

import asyncio
import importlib
import logging

from quart import Quart, g, jsonify, redirect, render_template, request, url_for
from quart_auth import QuartAuth

from . import biocrypt, db, edge
from . import offload
from .compression import gzip_response
from .auth import AccessDenied, NotSignedIn, enforce_access
from .config import ROOT, Settings
from .formatting import register_filters
from .menu import menu_for
from .pgembed import database_url
from .queries.biometricos import PurgedImage, startup_check
from .security import CsrfError, add_headers, check_csrf, csrf_token
from .urls import require_production_settings

log = logging.getLogger(__name__)

# One blueprint per menu item of the manual, plus sign-in, print orders, admin and api.
BLUEPRINTS = (
    "auth", "report", "sae", "captura", "temporal", "validacion", "rechazo", "entrega",
    "consulta", "ordenes", "equipo", "ayuda", "biometricos", "verificar", "api", "pwa", "admin",
    "tablero", "conciliacion", "privacidad", "avisos", "mi_credencial", "revision",
)


def create_app(settings: Settings | None = None) -> Quart:
    """Build the Quart app; the database connects at start-up."""
    settings = settings or Settings()
    require_production_settings(settings)
    app = Quart(__name__, template_folder=str(ROOT / "templates"), static_folder=str(ROOT / "static"))
    app.config.update(
        SETTINGS=settings,
        SECRET_KEY=settings.secret_key,
        QUART_AUTH_COOKIE_SECURE=settings.secure_cookies,
        QUART_AUTH_COOKIE_SAMESITE="Lax",
        QUART_AUTH_COOKIE_NAME="credencial_sesion",
        QUART_AUTH_DURATION=30 * 24 * 3600,
        MAX_CONTENT_LENGTH=8 * 1024 * 1024,
        SEND_FILE_MAX_AGE_DEFAULT=3600,
    )
    QuartAuth(app)
    register_filters(app)
    edge.install(app)  # bounded ids and integers, NUL/CR-LF guard, API body parser (app/edge.py)
    for name in BLUEPRINTS:
        module = importlib.import_module(f".views.{name}", __name__)
        app.register_blueprint(module.bp)
    _install_hooks(app, settings)
    return app


def _install_hooks(app: Quart, settings: Settings) -> None:
    """Database lifecycle, access control, CSRF, headers and error pages."""

    @app.before_serving
    async def connect() -> None:
        """Open the pool (embedded PostgreSQL unless DATABASE_URL is set)."""
        if db.db is None or not db.db.is_connected:
            url = database_url(settings.database_url)
            db.set_db(db.make_database(url, settings.db_pool_max))
            await db.get_db().connect()
        app.config["DB_OWNED"] = True
        await startup_check()  # refuses to start without a key the stored images need (docs/privacy.md)

    @app.after_serving
    async def disconnect() -> None:
        """Close the pool."""
        if db.db is not None and db.db.is_connected:
            await db.get_db().disconnect()

    app.before_request(enforce_access)
    app.before_request(check_csrf)
    app.after_request(add_headers)
    app.after_request(gzip_response)

    @app.after_request
    async def vary(response):
        """Pages differ for htmx requests (partials) and full loads."""
        response.headers.add("Vary", "HX-Request")
        return response

    @app.context_processor
    def globals_for_templates() -> dict:
        """user, menu and csrf token in every template."""
        user = getattr(g, "user", None)
        return {"user": user, "menu": menu_for(user.rol if user else None), "csrf_token": csrf_token,
                "settings": settings}

    @app.errorhandler(NotSignedIn)
    async def not_signed_in(_e):
        """Send the browser to the login page (htmx: full redirect; API: 401)."""
        if request.headers.get("HX-Request"):
            return "", 401, {"HX-Redirect": url_for("auth.login")}
        if request.accept_mimetypes.best == "application/json":
            return jsonify(error="Inicie sesión."), 401
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))

    @app.errorhandler(AccessDenied)
    async def denied(e):
        """403 with the reason in Spanish."""
        return await render_template("errors/error.html", code=403, message=str(e)), 403

    @app.errorhandler(CsrfError)
    async def csrf_failed(_e):
        """400 for a missing or stale CSRF token."""
        msg = "La sesión del formulario caducó o no es válida. Recargue la página e intente de nuevo."
        return await render_template("errors/error.html", code=400, message=msg), 400

    @app.errorhandler(offload.Busy)
    async def busy(_e):
        """503 with Retry-After when CPU-heavy work is queued to its limit (app/offload.py)."""
        headers = {"Retry-After": "5"}
        if request.accept_mimetypes.best == "application/json":
            return jsonify(error=offload.BUSY_MESSAGE), 503, headers
        return await render_template("errors/error.html", code=503, message=offload.BUSY_MESSAGE), 503, headers

    @app.errorhandler(biocrypt.BiometricKeyError)
    @app.errorhandler(PurgedImage)
    async def image_unavailable(e):
        """An image purged (410), damaged (409) or under a key this server lacks (503), in Spanish."""
        if not isinstance(e, PurgedImage):
            log.error("imagen biométrica ilegible en %s: %s", request.path, e)
        if request.accept_mimetypes.best == "application/json":
            return jsonify(error=str(e)), e.status
        return await render_template("errors/error.html", code=e.status, message=str(e)), e.status

    @app.errorhandler(404)
    async def not_found(_e):
        """Spanish 404 page."""
        return await render_template("errors/error.html", code=404, message="No se encontró la página."), 404

    @app.errorhandler(413)
    async def too_large(_e):
        """Spanish 413 page."""
        msg = "El archivo enviado es demasiado grande."
        return await render_template("errors/error.html", code=413, message=msg), 413

    @app.errorhandler(Exception)
    async def failed(e):
        """Any other failure: log it and show a Spanish 500 (or 503 when the database is down)."""
        from werkzeug.exceptions import HTTPException

        if isinstance(e, HTTPException):
            return e
        log.exception("error no controlado en %s", request.path)
        code, msg = 500, "Ocurrió un error inesperado. Intente de nuevo; si persiste, avise a soporte."
        if _is_db_error(e):
            code, msg = 503, "La base de datos no está disponible en este momento. Intente de nuevo en unos minutos."
        return await render_template("errors/error.html", code=code, message=msg), code


def _is_db_error(e: BaseException | None) -> bool:
    """True for failures to reach the database (connection lost, refused, shutting down)."""
    import asyncpg

    while e is not None:
        if isinstance(e, (OSError, asyncio.TimeoutError, asyncpg.exceptions.InterfaceError,
                          asyncpg.exceptions.ConnectionDoesNotExistError)):
            return True
        state = getattr(e, "sqlstate", "") or ""
        if state[:2] in ("08", "57", "53") or (state == "55000" and "accepting connections" in str(e)):
            return True
        e = e.__cause__ or e.__context__
    return False
