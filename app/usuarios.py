"""Administración → Usuarios: the rules of staff accounts, in one place.

- An account is created without a password; the user sets it with an activation link (the same
  single-use, expiring mechanism as password recovery), mailed — or, without SMTP, shown once to
  the admin to hand over.
- A plantel user belongs to one plantel; a company user to exactly one active company (never "all").
- An admin cannot deactivate or demote themselves; the last active admin cannot be removed (checked
  under a lock, so two admins removing each other at once cannot both succeed).
- Deactivating ends every session at once; the sign-in then says the account is deactivated.
- E-mails are unique case-insensitively (stored lower-case; the database has a unique index).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from quart import current_app

from . import db
from .auth import ROLES, issue_password_link, normal_email
from .catalogos import clean
from .edge import bounded_int
from .mail import enqueue_mail

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
NO_PASSWORD = "!sin-contrasena"  # never a valid argon2 hash: the account cannot sign in until activated
ROL_LABEL = {"plantel": "Plantel", "estatal": "Dirección Estatal", "empresa": "Empresa de impresión", "admin": "UITI (admin)"}
ADMIN_LOCK = 7_301_013  # advisory lock serialising changes that could leave no active admin


class UserRuleError(Exception):
    """A refused change; .errors maps a field (or '_') to its Spanish message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


@dataclass
class UserForm:
    """The fields an admin types for an account."""

    email: str = ""
    nombre: str = ""
    rol: str = ""
    plantel_id: int | None = None
    empresa_id: int | None = None
    errors: dict[str, str] = field(default_factory=dict)


def _int_or_none(raw: str) -> int | None:
    """A positive id chosen in a form, or None."""
    try:
        return bounded_int(raw, 1)
    except ValueError:
        return None


async def read_form(form, creating: bool) -> UserForm:
    """The checked fields of a submitted user form (errors beside each field)."""
    f = UserForm(email=normal_email(clean(form.get("email", ""))), nombre=clean(form.get("nombre", ""))[:200],
                 rol=clean(form.get("rol", "")), plantel_id=_int_or_none(form.get("plantel", "")),
                 empresa_id=_int_or_none(form.get("empresa", "")))
    if creating and (not EMAIL.match(f.email) or len(f.email) > 120):
        f.errors["email"] = "Escriba un correo electrónico válido (p. ej. nombre@conalepmex.edu.mx)."
    if not f.nombre:
        f.errors["nombre"] = "Escriba el nombre de la persona."
    elif len(f.nombre) > 120:
        f.errors["nombre"] = "El nombre admite a lo más 120 caracteres."
    if f.rol not in ROLES:
        f.errors["rol"] = "Elija el rol."
    await _check_scope(f)
    return f


async def _check_scope(f: UserForm) -> None:
    """Plantel for a plantel user, an active company for a company user, neither for the others."""
    if f.rol == "plantel":
        ok = f.plantel_id and await db.fetch_val("SELECT activo FROM planteles WHERE id = :p", {"p": f.plantel_id})
        if not ok:
            f.errors["plantel"] = "Elija el plantel (activo) del usuario."
    else:
        f.plantel_id = None
    if f.rol == "empresa":
        ok = f.empresa_id and await db.fetch_val("SELECT activa FROM empresas WHERE id = :e", {"e": f.empresa_id})
        if not ok:
            f.errors["empresa"] = "Elija la empresa de impresión (activa) del usuario."
    else:
        f.empresa_id = None


async def lock_admins() -> None:
    """Serialise, in this transaction, every change that can remove an active admin."""
    await db.execute("SELECT pg_advisory_xact_lock(:k)", {"k": ADMIN_LOCK})


async def check_admin_removal(target: dict, actor_id: int, new_rol: str | None, new_activo: bool) -> None:
    """Refuse demoting or deactivating oneself, and leaving no active admin (call under lock_admins)."""
    removing = target["rol"] == "admin" and target["activo"] and (new_rol != "admin" or not new_activo)
    if not removing:
        return
    if target["id"] == actor_id:
        raise UserRuleError({"_": "No puede quitarse a sí mismo el rol de administrador ni desactivar su propia cuenta."})
    others = await db.fetch_val("SELECT count(*) FROM usuarios WHERE rol = 'admin' AND activo AND id <> :id",
                                {"id": target["id"]})
    if others == 0:
        raise UserRuleError({"_": "Es el último administrador activo: cree o reactive otro antes de quitarle el rol."})


async def send_link(user_id: int, email: str, activation: bool) -> str | None:
    """Queue the activation (or reset) link by e-mail; without SMTP return the link to show once."""
    s = current_app.config["SETTINGS"]
    minutes = s.activation_hours * 60 if activation else s.reset_token_minutes
    link = await issue_password_link(user_id, minutes)
    if not s.smtp_host:
        return link
    what = "activar su cuenta y elegir su contraseña" if activation else "elegir una nueva contraseña"
    await enqueue_mail(email, "Su cuenta de Credencialización" if activation else "Restablecer contraseña — Credencialización",
                       f"Para {what} abra este enlace (vence en {minutes // 60 or minutes} "
                       f"{'horas' if minutes >= 60 else 'minutos'} y sirve una sola vez):\n\n{link}\n\n"
                       "Si no esperaba este mensaje, avise a la UITI.")
    return None
