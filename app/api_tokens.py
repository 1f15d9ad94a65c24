"""Bearer tokens of the company API: issued to a company user, stored only as a sha256 digest."""
from __future__ import annotations

import hashlib
import secrets

from . import db
from .auth import User

PREFIX = "cred_"


def digest(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


async def create_token(email: str, nombre: str = "") -> str:
    """Issue a token for an active company user; return it (shown once, never stored)."""
    user = await db.fetch_one("SELECT id, rol::text AS rol FROM usuarios WHERE email = :e AND activo",
                              {"e": (email or "").strip().lower()})
    if user is None:
        raise ValueError(f"No existe un usuario activo con el correo {email}.")
    if user["rol"] != "empresa":
        raise ValueError("Solo los usuarios de la empresa de impresión reciben tokens de la API.")
    token = PREFIX + secrets.token_urlsafe(32)
    await db.execute("INSERT INTO api_tokens (usuario_id, nombre, token_sha256) VALUES (:u, :n, :d)",
                     {"u": user["id"], "n": nombre, "d": digest(token)})
    return token


async def user_of(token: str) -> tuple[User, int | None] | None:
    """(the company user, their company) of a valid token, or None; records its use.

    Valid: not revoked, its user active and still a company user, and issued after that user's last
    password change (a reset also revokes the tokens; this check covers changes made elsewhere)."""
    if not token.startswith(PREFIX):
        return None
    row = await db.fetch_one(
        """UPDATE api_tokens t SET ultimo_uso_en = now() FROM usuarios u
           WHERE t.token_sha256 = :d AND t.revocado_en IS NULL AND u.id = t.usuario_id AND u.activo
             AND u.rol = 'empresa' AND t.creado_en > u.password_cambiado_en
           RETURNING u.id, u.email, u.nombre, u.empresa_id""", {"d": digest(token)})
    if row is None:
        return None
    return User(id=row["id"], rol="empresa", email=row["email"], nombre=row["nombre"]), row["empresa_id"]


async def revoke(token: str) -> bool:
    """Revoke a token; True when it existed and was active."""
    return bool(await db.fetch_val(
        "UPDATE api_tokens SET revocado_en = now() WHERE token_sha256 = :d AND revocado_en IS NULL RETURNING true",
        {"d": digest(token)}))
