"""Administración → Empresas de impresión: the catalog is a catalogos page; here, the company's API tokens
(listed with last use, created — shown once — and revoked). A token acts as one of the company's users."""
from __future__ import annotations

from quart import abort, request

from ... import api_tokens, db
from ...auth import roles
from ...catalogos import EMPRESAS, clean
from . import bp
from .catalogos import entry_form, log_change


async def tokens_of(empresa_id: int) -> dict:
    """The company's users and their tokens, for the edit page."""
    users = await db.fetch_all("SELECT id, email FROM usuarios WHERE empresa_id = :e AND activo ORDER BY email",
                               {"e": empresa_id})
    tokens = await db.fetch_all(
        """SELECT t.id, t.nombre, t.creado_en, t.ultimo_uso_en, t.revocado_en, u.email FROM api_tokens t
           JOIN usuarios u ON u.id = t.usuario_id WHERE u.empresa_id = :e ORDER BY t.revocado_en NULLS FIRST, t.id DESC""",
        {"e": empresa_id})
    return {"usuarios_empresa": [dict(r) for r in users], "tokens": [dict(r) for r in tokens]}


async def empresa(empresa_id: int) -> dict:
    """The company row, or 404."""
    row = await db.fetch_one("SELECT * FROM empresas WHERE id = :id", {"id": empresa_id})
    if row is None:
        abort(404)
    return dict(row)


@bp.route("/empresas/<id:empresa_id>/tokens", methods=["POST"])
@roles("admin")
async def crear_token(empresa_id: int):
    """Create an API token for one of the company's users; it is shown once, never stored."""
    row = await empresa(empresa_id)
    form = await request.form
    owner = await db.fetch_one("SELECT email FROM usuarios WHERE id = :u AND empresa_id = :e AND activo",
                               {"u": form.get("usuario", 0, type=int) or 0, "e": empresa_id})
    if owner is None:
        return await entry_form(EMPRESAS, str(empresa_id), row, {"usuario": "Elija un usuario activo de esta empresa."}, 422)
    nombre = clean(form.get("nombre", ""))[:80] or "API"
    token = await api_tokens.create_token(owner["email"], nombre)
    await log_change("empresas", str(empresa_id), "crear_token", None, {"usuario": owner["email"], "nombre": nombre})
    return await entry_form(EMPRESAS, str(empresa_id), row, {}, 201, nuevo_token=token)


@bp.route("/empresas/<id:empresa_id>/tokens/<id:token_id>/revocar", methods=["POST"])
@roles("admin")
async def revocar_token(empresa_id: int, token_id: int):
    """Revoke one of the company's tokens (it stops working at once)."""
    row = await empresa(empresa_id)
    done = await db.fetch_val(
        """UPDATE api_tokens t SET revocado_en = now() FROM usuarios u
           WHERE t.id = :t AND u.id = t.usuario_id AND u.empresa_id = :e AND t.revocado_en IS NULL RETURNING t.nombre""",
        {"t": token_id, "e": empresa_id})
    if done is None:
        abort(404)
    await log_change("empresas", str(empresa_id), "revocar_token", {"token": token_id, "nombre": done}, None)
    return await entry_form(EMPRESAS, str(empresa_id), row, {}, 200, aviso=f"Se revocó el token «{done}».")
