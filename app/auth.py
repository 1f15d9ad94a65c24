"""Users, passwords, sessions, sign-in throttling, password recovery and route access.

Every route declares who may use it with @public or @roles(...); a before_request hook
refuses any route that declares nothing (default deny), so a new route cannot be left open.
"""
from __future__ import annotations

import hashlib
import logging
import secrets
import smtplib
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from typing import Any, Callable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from quart import current_app, g, request
from quart_auth import AuthUser, current_user, login_user, logout_user

from . import db
from .status import Actor

log = logging.getLogger(__name__)
hasher = PasswordHasher()  # argon2id with the library's recommended parameters
_DUMMY_HASH = hasher.hash("dummy password for timing")
ROLES = ("plantel", "estatal", "empresa", "admin")
SESSION_DAYS_REMEMBER = 30
SESSION_HOURS = 12


@dataclass(frozen=True)
class User(Actor):
    """A signed-in user (an Actor for the status machine) with display data."""

    nombre: str = ""
    plantel_nombre: str | None = None
    session_id: str = ""


class AccessDenied(Exception):
    """Signed in, but this role or plantel may not do this."""


class NotSignedIn(Exception):
    """The route needs a signed-in user."""


# ---- passwords and users -------------------------------------------------------------

def hash_password(password: str) -> str:
    """argon2id hash of password."""
    return hasher.hash(password)


def check_password_strength(password: str) -> str | None:
    """A Spanish complaint about a weak password, or None."""
    if len(password) < 8:
        return "La contraseña debe tener al menos 8 caracteres."
    return None


async def create_user(email: str, rol: str, password: str, plantel_id: int | None = None,
                      nombre: str = "") -> int:
    """Insert a user and return its id."""
    if rol not in ROLES:
        raise ValueError(f"rol desconocido: {rol}")
    return await db.fetch_val(
        """INSERT INTO usuarios (email, nombre, password_hash, rol, plantel_id)
           VALUES (:email, :nombre, :h, CAST(:rol AS rol), :plantel) RETURNING id""",
        {"email": email.strip().lower(), "nombre": nombre, "h": hash_password(password),
         "rol": rol, "plantel": plantel_id},
    )


async def set_password(user_id: int, password: str) -> None:
    """Change a password and end every session of that user."""
    async with db.get_db().transaction():
        await db.execute("UPDATE usuarios SET password_hash = :h, sesion_version = sesion_version + 1 "
                         "WHERE id = :id", {"h": hash_password(password), "id": user_id})
        await db.execute("UPDATE sesiones SET cerrada_en = now() WHERE usuario_id = :id AND cerrada_en IS NULL",
                         {"id": user_id})


# ---- sign-in -------------------------------------------------------------------------

async def too_many_failures(email: str, ip: str) -> bool:
    """True when this account or address failed too often in the recent window."""
    s = current_app.config["SETTINGS"]
    row = await db.fetch_one(
        """SELECT count(*) FILTER (WHERE email = :email) AS by_email,
                  count(*) FILTER (WHERE ip = :ip) AS by_ip
           FROM intentos_acceso
           WHERE NOT exito AND en > now() - make_interval(mins => CAST(:mins AS int))
             AND (email = :email OR ip = :ip)""",
        {"email": email, "ip": ip, "mins": s.login_window_minutes},
    )
    return row["by_email"] >= s.login_max_failures_account or row["by_ip"] >= s.login_max_failures_address


async def authenticate(email: str, password: str, ip: str) -> dict | None:
    """The active user row for these credentials, or None; every attempt is recorded."""
    email = (email or "").strip().lower()
    row = await db.fetch_one("SELECT id, password_hash, activo FROM usuarios WHERE email = :e", {"e": email})
    try:
        # verify against a dummy hash for unknown e-mails so timing does not reveal accounts
        ok = hasher.verify(row["password_hash"] if row else _DUMMY_HASH, password or "")
    except (VerificationError, InvalidHashError):
        ok = False
    ok = bool(ok and row and row["activo"])
    await db.execute("INSERT INTO intentos_acceso (email, ip, exito) VALUES (:e, :ip, :ok)",
                     {"e": email, "ip": ip, "ok": ok})
    return row if ok else None


async def start_session(user_id: int, remember: bool) -> None:
    """Open a new server-side session (a fresh id on every sign-in) and set the cookie."""
    sid = secrets.token_urlsafe(32)
    lifetime = timedelta(days=SESSION_DAYS_REMEMBER) if remember else timedelta(hours=SESSION_HOURS)
    await db.execute(
        "INSERT INTO sesiones (id, usuario_id, expira_en) VALUES (:id, :u, now() + :life)",
        {"id": sid, "u": user_id, "life": lifetime},
    )
    login_user(AuthUser(sid), remember=remember)


async def end_session() -> None:
    """Close the current session server-side and delete the cookie."""
    sid = current_user.auth_id
    if sid:
        await db.execute("UPDATE sesiones SET cerrada_en = now() WHERE id = :id", {"id": sid})
    logout_user()


async def load_user(session_id: str | None) -> User | None:
    """The user of an open, unexpired session, or None."""
    if not session_id:
        return None
    row = await db.fetch_one(
        """SELECT u.id, u.email, u.rol::text AS rol, u.plantel_id, u.nombre, p.nombre AS plantel_nombre
           FROM sesiones s JOIN usuarios u ON u.id = s.usuario_id
           LEFT JOIN planteles p ON p.id = u.plantel_id
           WHERE s.id = :sid AND s.cerrada_en IS NULL AND s.expira_en > now() AND u.activo""",
        {"sid": session_id},
    )
    return User(session_id=session_id, **row) if row else None


# ---- password recovery ---------------------------------------------------------------

def _token_digest(token: str) -> str:
    """Only a digest of a reset token is stored."""
    return hashlib.sha256(token.encode()).hexdigest()


async def request_reset(email: str) -> str | None:
    """Create a single-use reset token for an active user and send the link; return the token."""
    row = await db.fetch_one("SELECT id, email FROM usuarios WHERE email = :e AND activo",
                             {"e": (email or "").strip().lower()})
    if row is None:
        return None
    s = current_app.config["SETTINGS"]
    token = secrets.token_urlsafe(32)
    await db.execute(
        "INSERT INTO recuperaciones (token_sha256, usuario_id, expira_en) VALUES "
        "(:d, :u, now() + make_interval(mins => CAST(:m AS int)))",
        {"d": _token_digest(token), "u": row["id"], "m": s.reset_token_minutes},
    )
    link = f"{s.public_url.rstrip('/')}/restablecer/{token}"
    send_mail(row["email"], "Recuperar contraseña — Credencialización",
              f"Para elegir una nueva contraseña abra este enlace (vence en {s.reset_token_minutes} "
              f"minutos y sirve una sola vez):\n\n{link}\n\nSi usted no lo pidió, ignore este mensaje.")
    return token


async def reset_user(token: str) -> int | None:
    """The user id of a valid, unused, unexpired reset token, or None."""
    return await db.fetch_val(
        "SELECT usuario_id FROM recuperaciones WHERE token_sha256 = :d AND usado_en IS NULL AND expira_en > now()",
        {"d": _token_digest(token)},
    )


async def consume_reset(token: str, password: str) -> bool:
    """Use a reset token once to set a new password; False when invalid or already used."""
    async with db.get_db().transaction():
        user_id = await db.fetch_val(
            """UPDATE recuperaciones SET usado_en = now()
               WHERE token_sha256 = :d AND usado_en IS NULL AND expira_en > now()
               RETURNING usuario_id""",
            {"d": _token_digest(token)},
        )
        if user_id is None:
            return False
        await set_password(user_id, password)
    return True


def send_mail(to: str, subject: str, body: str) -> None:
    """Send by SMTP when configured; otherwise write the message to the server log."""
    s = current_app.config["SETTINGS"]
    if not s.smtp_host:
        log.warning("SMTP no configurado; correo para %s: %s\n%s", to, subject, body)
        return
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = s.mail_from, to, subject
    msg.set_content(body)
    with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=10) as smtp:
        smtp.starttls()
        if s.smtp_user:
            smtp.login(s.smtp_user, s.smtp_password or "")
        smtp.send_message(msg)


# ---- route access ----------------------------------------------------------------------

def public(view: Callable) -> Callable:
    """Mark a view as reachable without signing in."""
    view._access = "public"  # type: ignore[attr-defined]
    return view


def roles(*allowed: str) -> Callable[[Callable], Callable]:
    """Mark a view as reachable by signed-in users of these roles ('*' = any role)."""
    unknown = set(allowed) - set(ROLES) - {"*"}
    assert not unknown, unknown

    def mark(view: Callable) -> Callable:
        """Attach the allowed roles to the view."""
        view._access = frozenset(ROLES if "*" in allowed else allowed)  # type: ignore[attr-defined]
        return view

    return mark


def access_of(view: Callable | None) -> Any:
    """The access declaration of a view: 'public', a set of roles, or None (undeclared)."""
    while view is not None:
        if hasattr(view, "_access"):
            return view._access
        view = getattr(view, "__wrapped__", None)
    return None


async def enforce_access() -> None:
    """before_request: load the user and apply the view's declaration (default deny)."""
    g.user = await load_user(current_user.auth_id)
    if request.endpoint is None or request.endpoint == "static":
        return
    access = access_of(current_app.view_functions.get(request.endpoint))
    if access == "public":
        return
    if access is None:
        log.error("route %s declares no access; refused", request.endpoint)
        raise AccessDenied("Ruta sin permisos declarados.")
    if g.user is None:
        raise NotSignedIn()
    if g.user.rol not in access:
        raise AccessDenied("Su perfil no tiene acceso a esta sección.")


def plantel_scope(user: User) -> int | None:
    """The plantel a user is limited to, or None for state-wide roles."""
    return user.plantel_id if user.rol == "plantel" else None


def require_plantel_access(user: User, plantel_id: int) -> None:
    """Refuse when a plantel user acts on another plantel."""
    if user.rol == "plantel" and user.plantel_id != plantel_id:
        raise AccessDenied("Solo puede consultar o modificar información de su plantel.")

