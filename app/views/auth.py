"""Acceso al sistema: Iniciar sesión, Cerrar sesión, Recuperar contraseña (manual §5)."""
from __future__ import annotations

from quart import Blueprint, g, redirect, render_template, request, url_for

from .. import auth
from ..auth import Attempt, public, roles
from ..security import safe_redirect

bp = Blueprint("auth", __name__)
GENERIC_FAILURE = "Usuario o contraseña incorrectos."
LOCKED = "Demasiados intentos fallidos. Espere {minutos} minutos e intente de nuevo."
DELAYED = "Demasiados intentos fallidos. Espere {segundos} segundos e intente de nuevo."
def _client_ip() -> str:
    """The client's address (the proxy's X-Forwarded-For is trusted only behind one)."""
    return request.remote_addr or "desconocida"


INACTIVE = "Su cuenta está desactivada. Si necesita acceso, pida a la UITI que la reactive."


def failure_message(attempt: Attempt) -> str:
    """The Spanish error for a refused or wrong sign-in, with the tries left or the wait."""
    if attempt.locked:
        return LOCKED.format(minutos=max(1, attempt.wait_seconds // 60))
    if attempt.wait_seconds:
        return DELAYED.format(segundos=attempt.wait_seconds)
    if attempt.remaining <= 0:
        return f"{GENERIC_FAILURE} No quedan intentos: espere unos minutos antes de intentar de nuevo."
    word = "Queda 1 intento" if attempt.remaining == 1 else f"Quedan {attempt.remaining} intentos"
    return f"{GENERIC_FAILURE} {word}."


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
    result = await auth.authenticate(email, password, _client_ip())
    if result.user:
        await auth.start_session(result.user["id"], form.get("remember") == "1")
        return redirect(safe_redirect(form.get("next"), url_for("report.inicio")))
    error = INACTIVE if result.inactive else failure_message(result.attempt)
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
        await auth.request_reset(form.get("email", ""), _client_ip())
        sent = True
    return await render_template("auth/recover.html", sent=sent)


@bp.route("/restablecer/<token>", methods=["GET", "POST"])
@public
async def reset(token: str):
    """Choose a new password with a single-use, expiring link."""
    user = await auth.reset_user(token)
    if user is None:
        return await render_template("auth/reset.html", invalid=True, error=None), 400
    if request.method == "GET":
        return await render_template("auth/reset.html", invalid=False, error=None)
    form = await request.form
    password, again = form.get("password", ""), form.get("password2", "")
    error = auth.check_password_strength(password, user["email"]) or (None if password == again else "Las contraseñas no coinciden.")
    if error:
        return await render_template("auth/reset.html", invalid=False, error=error), 400
    if not await auth.consume_reset(token, password):
        return await render_template("auth/reset.html", invalid=True, error=None), 400
    return await render_template("auth/reset_done.html")
