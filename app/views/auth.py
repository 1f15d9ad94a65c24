"""Acceso al sistema: Iniciar sesión, Cerrar sesión, Recuperar contraseña (manual §5)."""
from __future__ import annotations

from quart import Blueprint, g, redirect, render_template, request, url_for

from .. import auth
from ..auth import public, roles

bp = Blueprint("auth", __name__)
GENERIC_FAILURE = "Usuario o contraseña incorrectos."
THROTTLED = "Demasiados intentos fallidos. Espere 15 minutos e intente de nuevo."


def _client_ip() -> str:
    """The client's address (the proxy's X-Forwarded-For is trusted only behind one)."""
    return request.remote_addr or "desconocida"


def _safe_next(target: str | None) -> str:
    """Only local paths are followed after sign-in (no open redirect)."""
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("report.inicio")


@bp.route("/login", methods=["GET", "POST"])
@public
async def login():
    """The manual's "Iniciar sesión" screen."""
    if request.method == "GET":
        if g.user:
            return redirect(url_for("report.inicio"))
        return await render_template("auth/login.html", email="", error=None, next=request.args.get("next"))
    form = await request.form
    email, password = form.get("email", "").strip(), form.get("password", "")
    remember = form.get("remember") == "1"
    error = None
    if await auth.too_many_failures(email.lower(), _client_ip()):
        error = THROTTLED
    else:
        user = await auth.authenticate(email, password, _client_ip())
        if user:
            await auth.start_session(user["id"], remember)
            return redirect(_safe_next(form.get("next")))
        error = GENERIC_FAILURE
    return await render_template("auth/login.html", email=email, error=error, next=form.get("next")), 401


@bp.route("/logout", methods=["POST"])
@roles("*")
async def logout():
    """Cerrar sesión: ends the session server-side."""
    await auth.end_session()
    return redirect(url_for("auth.login"))


@bp.route("/recuperar", methods=["GET", "POST"])
@public
async def recover():
    """Recuperar contraseña: always the same answer, so accounts cannot be discovered."""
    sent = False
    if request.method == "POST":
        form = await request.form
        await auth.request_reset(form.get("email", ""))
        sent = True
    return await render_template("auth/recover.html", sent=sent)


@bp.route("/restablecer/<token>", methods=["GET", "POST"])
@public
async def reset(token: str):
    """Choose a new password with a single-use, expiring link."""
    if await auth.reset_user(token) is None:
        return await render_template("auth/reset.html", invalid=True, error=None), 400
    if request.method == "GET":
        return await render_template("auth/reset.html", invalid=False, error=None)
    form = await request.form
    password, again = form.get("password", ""), form.get("password2", "")
    error = auth.check_password_strength(password) or (None if password == again else "Las contraseñas no coinciden.")
    if error:
        return await render_template("auth/reset.html", invalid=False, error=error), 400
    if not await auth.consume_reset(token, password):
        return await render_template("auth/reset.html", invalid=True, error=None), 400
    return await render_template("auth/reset_done.html")
