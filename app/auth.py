"""Users, passwords, sessions, sign-in throttling, password recovery and route access.

Every route declares who may use it with @public or @roles(...); a before_request hook
refuses any route that declares nothing (default deny), so a new route cannot be left open.
"""
from __future__ import annotations

import functools
import hashlib
import logging
import math
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Callable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from quart import current_app, g, request
from quart_auth import AuthUser, current_user, login_user, logout_user

from . import db, offload
from .config import ROOT
from .mail import enqueue_mail
from .security import rotate_csrf
from .status import Actor
from .urls import public_url

log = logging.getLogger(__name__)
hasher = PasswordHasher()  # argon2id with the library's recommended parameters
_DUMMY_HASH = hasher.hash("dummy password for timing")
ROLES = ("plantel", "estatal", "empresa", "admin")
SESSION_DAYS_REMEMBER = 30
SESSION_HOURS = 12
COMMON_PASSWORDS = ROOT / "app" / "data" / "common-passwords.txt"
LOCK_ACCOUNT, LOCK_ADDRESS = 7_301, 7_302  # advisory-lock namespaces of the throttles


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
    """argon2id hash of password (CPU-heavy: from async code use `await offload.cpu(hash_password, …)`)."""
    return hasher.hash(password)


def _verify(stored_hash: str, password: str) -> bool:
    """argon2 verification; False for a wrong password or a malformed hash."""
    try:
        return hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@functools.cache
def common_passwords() -> frozenset[str]:
    """The common-password list of app/data (lower case; source and licence in app/data/README.md)."""
    return frozenset(line.strip() for line in COMMON_PASSWORDS.read_text(encoding="utf-8").splitlines() if line.strip())


def check_password_strength(password: str, email: str = "") -> str | None:
    """A Spanish complaint about a weak password (short, common, or containing the e-mail's user name), or None."""
    if len(password) < 8:
        return "La contraseña debe tener al menos 8 caracteres."
    lowered = password.lower()
    if lowered in common_passwords():
        return "Esa contraseña es de las más usadas y fáciles de adivinar. Elija otra."
    local = (email or "").strip().lower().partition("@")[0]
    if len(local) >= 3 and local in lowered:
        return "La contraseña no debe contener su nombre de usuario del correo."
    return None


async def create_user(email: str, rol: str, password: str, plantel_id: int | None = None,
                      nombre: str = "", empresa_id: int | None = None) -> int:
    """Insert a user and return its id (empresa_id: the printing company of an empresa user)."""
    if rol not in ROLES:
        raise ValueError(f"rol desconocido: {rol}")
    return await db.fetch_val(
        """INSERT INTO usuarios (email, nombre, password_hash, rol, plantel_id, empresa_id)
           VALUES (:email, :nombre, :h, CAST(:rol AS rol), :plantel, :empresa) RETURNING id""",
        {"email": email.strip().lower(), "nombre": nombre, "h": await offload.cpu(hash_password, password),
         "rol": rol, "plantel": plantel_id, "empresa": empresa_id},
    )


async def set_password(user_id: int, password: str) -> None:
    """Change a password; end the user's sessions, reset links and API tokens."""
    new_hash = await offload.cpu(hash_password, password)
    async with db.get_db().transaction():
        await _store_password(user_id, new_hash)


async def _store_password(user_id: int, new_hash: str) -> None:
    """Write a new hash and revoke everything the old password opened (in the caller's transaction)."""
    await db.execute("UPDATE usuarios SET password_hash = :h, sesion_version = sesion_version + 1, "
                     "password_cambiado_en = now() WHERE id = :id", {"h": new_hash, "id": user_id})
    await db.execute("UPDATE sesiones SET cerrada_en = now() WHERE usuario_id = :id AND cerrada_en IS NULL",
                     {"id": user_id})
    await _revoke_reset_links(user_id)
    await db.execute("UPDATE api_tokens SET revocado_en = now() WHERE usuario_id = :id AND revocado_en IS NULL",
                     {"id": user_id})


async def _lock_account_and_address(email: str, ip: str) -> None:
    """Transaction-scoped advisory locks on this account and this address (always in this order)."""
    for namespace, key in ((LOCK_ACCOUNT, email), (LOCK_ADDRESS, ip)):
        await db.execute("SELECT pg_advisory_xact_lock(CAST(:ns AS int), hashtext(:k))", {"ns": namespace, "k": key})


# ---- sign-in -------------------------------------------------------------------------

@dataclass(frozen=True)
class Attempt:
    """The throttle's verdict on one sign-in attempt from an address on an account."""

    id: int | None = None          # the recorded attempt; None when refused
    wait_seconds: int = 0          # refused: seconds until the next try is allowed
    locked: bool = False           # refused for the whole window (limit reached)
    remaining: int = 0             # wrong guesses left after this one, before the lock


@dataclass(frozen=True)
class SignIn:
    """The outcome of authenticate(): the user row (None unless right) and the throttle's verdict."""

    user: dict | None
    attempt: Attempt
    inactive: bool = False         # the right password of a deactivated account


_RECENT_FAILURES = """
    WITH w AS (SELECT email, exito, en FROM intentos_acceso
               WHERE ip = :ip AND en > now() - make_interval(mins => CAST(:mins AS int))),
         ok AS (SELECT COALESCE(max(en), '-infinity') AS t FROM w WHERE exito AND email = :email)
    SELECT count(w.en) FILTER (WHERE NOT w.exito) AS by_ip,
           count(w.en) FILTER (WHERE NOT w.exito AND w.email = :email AND w.en > ok.t) AS by_pair,
           EXTRACT(EPOCH FROM clock_timestamp() - max(w.en) FILTER (
               WHERE NOT w.exito AND w.email = :email AND w.en > ok.t)) AS since_last
    FROM ok LEFT JOIN w ON true GROUP BY ok.t"""


def delay_after(failures: int, s) -> float:
    """Seconds an address must wait after `failures` wrong guesses on one account: 0, then doubling."""
    extra = failures - s.login_free_failures
    return 0.0 if extra <= 0 else s.login_delay_seconds * 2 ** (extra - 1)


def _verdict(row: dict, s) -> Attempt:
    """Allow or refuse, from the failures of this address (all accounts) and of this address on this account."""
    window = s.login_window_minutes * 60
    if row["by_ip"] >= s.login_max_failures_address or row["by_pair"] >= s.login_max_failures_account:
        return Attempt(wait_seconds=window, locked=True)
    wait = delay_after(row["by_pair"], s) - float(row["since_last"] or window)
    if wait > 0:
        return Attempt(wait_seconds=math.ceil(wait))
    remaining = min(s.login_max_failures_address - row["by_ip"], s.login_max_failures_account - row["by_pair"]) - 1
    return Attempt(remaining=remaining)


async def reserve_attempt(email: str, ip: str) -> Attempt:
    """One atomic step: under locks on the account and the address, count recent failures and, when
    allowed, record this attempt as a failure (until the password proves right). Concurrent attempts
    therefore each see the ones before them."""
    s = current_app.config["SETTINGS"]
    async with db.get_db().transaction():
        await _lock_account_and_address(email, ip)
        row = await db.fetch_one(_RECENT_FAILURES, {"email": email, "ip": ip, "mins": s.login_window_minutes})
        verdict = _verdict(row, s)
        if verdict.wait_seconds:
            return verdict
        attempt_id = await db.fetch_val(
            "INSERT INTO intentos_acceso (email, ip, exito, en) VALUES (:e, :ip, false, clock_timestamp()) RETURNING id",
            {"e": email, "ip": ip})
    return Attempt(id=attempt_id, remaining=verdict.remaining)


def normal_email(email: str | None) -> str:
    """An e-mail as typed, made comparable and storable: trimmed, lower case, no NUL, at most 320 characters."""
    return (email or "").replace("\x00", "").strip().lower()[:320]


async def authenticate(email: str, password: str, ip: str) -> SignIn:
    """Check credentials through the throttle; the password is verified off the event loop."""
    email = normal_email(email)
    attempt = await reserve_attempt(email, ip)
    if attempt.id is None:
        return SignIn(None, attempt)
    row = await db.fetch_one("SELECT id, password_hash, activo FROM usuarios WHERE email = :e", {"e": email})
    try:
        # verify against a dummy hash for unknown e-mails so timing does not reveal accounts
        ok = await offload.cpu(_verify, row["password_hash"] if row else _DUMMY_HASH, password or "")
    except offload.Busy:
        await db.execute("DELETE FROM intentos_acceso WHERE id = :id", {"id": attempt.id})  # not evaluated
        raise
    if not (ok and row and row["activo"]):
        return SignIn(None, attempt, inactive=bool(ok and row))
    await db.execute("UPDATE intentos_acceso SET exito = true WHERE id = :id", {"id": attempt.id})
    return SignIn(row, attempt)


async def start_session(user_id: int, remember: bool) -> None:
    """Open a new server-side session (a fresh id on every sign-in) and set the cookie."""
    sid = secrets.token_urlsafe(32)
    lifetime = timedelta(days=SESSION_DAYS_REMEMBER) if remember else timedelta(hours=SESSION_HOURS)
    await db.execute(
        "INSERT INTO sesiones (id, usuario_id, expira_en) VALUES (:id, :u, now() + :life)",
        {"id": sid, "u": user_id, "life": lifetime},
    )
    login_user(AuthUser(sid), remember=remember)
    rotate_csrf(sid, persistent=remember)


async def end_session() -> None:
    """Close the current session server-side and delete the cookie."""
    sid = current_user.auth_id
    if sid:
        await db.execute("UPDATE sesiones SET cerrada_en = now() WHERE id = :id", {"id": sid})
    logout_user()
    rotate_csrf(None)


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


async def _revoke_reset_links(user_id: int) -> None:
    """Close every open reset link of a user (a newer one is issued, one is used, the password changed)."""
    await db.execute("UPDATE recuperaciones SET usado_en = now() WHERE usuario_id = :u AND usado_en IS NULL",
                     {"u": user_id})


async def _recovery_allowed(email: str, ip: str) -> bool:
    """Count-and-record one recovery request under the account and address locks; False over the limits."""
    s = current_app.config["SETTINGS"]
    await _lock_account_and_address(email, ip)
    row = await db.fetch_one(
        """SELECT count(*) FILTER (WHERE email = :e) AS by_email, count(*) FILTER (WHERE ip = :ip) AS by_ip
           FROM solicitudes_recuperacion
           WHERE (email = :e OR ip = :ip) AND en > now() - make_interval(mins => CAST(:m AS int))""",
        {"e": email, "ip": ip, "m": s.recovery_window_minutes})
    if row["by_email"] >= s.recovery_max_per_account or row["by_ip"] >= s.recovery_max_per_address:
        log.warning("recuperación de contraseña limitada: %s desde %s", email, ip)
        return False
    await db.execute("INSERT INTO solicitudes_recuperacion (email, ip) VALUES (:e, :ip)", {"e": email, "ip": ip})
    return True


async def request_reset(email: str, ip: str) -> None:
    """Queue a single-use reset link for an active user (rate-limited; older links revoked).

    The same work and no answer for unknown e-mails: the caller shows one page either way, and the
    mail is sent later by the worker, so neither the answer nor its timing reveals an account."""
    s = current_app.config["SETTINGS"]
    email = normal_email(email)
    async with db.get_db().transaction():
        if not await _recovery_allowed(email, ip):
            return
        row = await db.fetch_one("SELECT id, email FROM usuarios WHERE email = :e AND activo", {"e": email})
        if row is None:
            return
        link = await issue_password_link(row["id"], s.reset_token_minutes)
        await enqueue_mail(row["email"], "Recuperar contraseña — Credencialización",
                           f"Para elegir una nueva contraseña abra este enlace (vence en {s.reset_token_minutes} "
                           f"minutos y sirve una sola vez):\n\n{link}\n\nSi usted no lo pidió, ignore este mensaje.")


async def issue_password_link(user_id: int, minutes: int) -> str:
    """A new single-use link to set the user's password (recovery or activation), valid `minutes`; the
    user's other open links are revoked. Call it inside the transaction that sends the link."""
    await _revoke_reset_links(user_id)
    token = secrets.token_urlsafe(32)
    await db.execute(
        "INSERT INTO recuperaciones (token_sha256, usuario_id, expira_en) VALUES "
        "(:d, :u, now() + make_interval(mins => CAST(:m AS int)))",
        {"d": _token_digest(token), "u": user_id, "m": minutes})
    return f"{public_url(current_app.config['SETTINGS'])}/restablecer/{token}"


async def reset_user(token: str) -> dict | None:
    """{id, email} of the user of a valid, unused, unexpired reset token, or None."""
    return await db.fetch_one(
        """SELECT u.id, u.email FROM recuperaciones r JOIN usuarios u ON u.id = r.usuario_id
           WHERE r.token_sha256 = :d AND r.usado_en IS NULL AND r.expira_en > now() AND u.activo""",
        {"d": _token_digest(token)},
    )


async def consume_reset(token: str, password: str) -> bool:
    """Use a reset token once to set a new password (revoking the user's other links); False when invalid."""
    new_hash = await offload.cpu(hash_password, password)
    async with db.get_db().transaction():
        user_id = await db.fetch_val(
            """UPDATE recuperaciones SET usado_en = now()
               WHERE token_sha256 = :d AND usado_en IS NULL AND expira_en > now()
               RETURNING usuario_id""",
            {"d": _token_digest(token)},
        )
        if user_id is None:
            return False
        await _store_password(user_id, new_hash)
    return True


# ---- route access ----------------------------------------------------------------------

def public(view: Callable) -> Callable:
    """Mark a view as reachable without signing in."""
    view._access = "public"  # type: ignore[attr-defined]
    return view


def student(view: Callable) -> Callable:
    """Mark a view as reachable only with a Mi credencial student session (app/autoservicio.py)."""
    view._access = "alumno"  # type: ignore[attr-defined]
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
    if access == "alumno":  # a student's own record only; staff sessions do not open it
        from .autoservicio import require_student
        return await require_student()
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

