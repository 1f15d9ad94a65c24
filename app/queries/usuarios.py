"""SQL of Administración → Usuarios: the list with filters, one account, and the changes."""
from __future__ import annotations

from .. import db

# Blocked: an address whose wrong guesses on this account since its last success make the throttle hold it back within
# the window (the throttle's own rule, app/auth.py).
BLOCKED = """
  SELECT i.email, i.ip FROM intentos_acceso i
  WHERE i.en > now() - make_interval(mins => CAST(:mins AS int)) AND NOT i.exito
    AND i.en > coalesce((SELECT max(o.en) FROM intentos_acceso o WHERE o.email = i.email AND o.ip = i.ip AND o.exito
                         AND o.en > now() - make_interval(mins => CAST(:mins AS int))), '-infinity')
  GROUP BY i.email, i.ip HAVING count(*) >= :limit"""

COLUMNS = """u.id, u.email, u.nombre, u.rol::text AS rol, u.plantel_id, u.empresa_id, u.activo, u.creado_en,
  p.nombre AS plantel, e.nombre AS empresa, u.password_hash = :sin AS sin_activar,
  (SELECT max(s.creada_en) FROM sesiones s WHERE s.usuario_id = u.id) AS ultimo_acceso,
  EXISTS (SELECT 1 FROM blocked b WHERE b.email = u.email) AS bloqueado"""


def _filters(f: dict) -> tuple[str, dict]:
    """WHERE clause and values of the list's filters."""
    terms, values = [], {}
    if f.get("q"):
        terms.append("(u.email ILIKE :q OR u.nombre ILIKE :q)")
        values["q"] = "%" + f["q"].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    for key, col in (("rol", "u.rol::text"), ("plantel", "u.plantel_id"), ("empresa", "u.empresa_id"), ("activo", "u.activo")):
        if f.get(key) is not None:
            terms.append(f"{col} = :{key}")
            values[key] = f[key]
    return (" WHERE " + " AND ".join(terms)) if terms else "", values


async def listing(f: dict, limits: dict, page: int, size: int) -> tuple[list[dict], int]:
    """One page of accounts (and the total) matching the filters."""
    where, values = _filters(f)
    values.update(limits)
    total = await db.fetch_val(f"SELECT count(*) FROM usuarios u{where}", {k: v for k, v in values.items() if k in f})
    rows = await db.fetch_all(
        f"""WITH blocked AS ({BLOCKED})
            SELECT {COLUMNS} FROM usuarios u LEFT JOIN planteles p ON p.id = u.plantel_id
            LEFT JOIN empresas e ON e.id = u.empresa_id{where}
            ORDER BY u.email LIMIT {int(size)} OFFSET {int((page - 1) * size)}""", values)
    return [dict(r) for r in rows], total


async def one(user_id: int, limits: dict) -> dict | None:
    """One account with its display columns."""
    row = await db.fetch_one(
        f"""WITH blocked AS ({BLOCKED})
            SELECT {COLUMNS} FROM usuarios u LEFT JOIN planteles p ON p.id = u.plantel_id
            LEFT JOIN empresas e ON e.id = u.empresa_id WHERE u.id = :id""", {**limits, "id": user_id})
    return dict(row) if row else None


async def by_email(email: str) -> dict | None:
    """An account by e-mail (already lower-case)."""
    row = await db.fetch_one("SELECT id, email, rol::text AS rol, activo FROM usuarios WHERE email = :e", {"e": email})
    return dict(row) if row else None


async def insert(f, password_hash: str) -> int:
    """A new account without a usable password."""
    return await db.fetch_val(
        """INSERT INTO usuarios (email, nombre, password_hash, rol, plantel_id, empresa_id)
           VALUES (:email, :nombre, :h, CAST(:rol AS rol), :plantel, :empresa) RETURNING id""",
        {"email": f.email, "nombre": f.nombre, "h": password_hash, "rol": f.rol, "plantel": f.plantel_id,
         "empresa": f.empresa_id})


async def update(user_id: int, f) -> None:
    """Change name, role and scope; a changed role or scope ends the user's sessions (their pages change)."""
    changed = await db.fetch_val(
        """UPDATE usuarios SET nombre = :nombre, rol = CAST(:rol AS rol), plantel_id = :plantel, empresa_id = :empresa
           WHERE id = :id RETURNING true""",
        {"id": user_id, "nombre": f.nombre, "rol": f.rol, "plantel": f.plantel_id, "empresa": f.empresa_id})
    return changed


async def end_sessions(user_id: int) -> None:
    """Close every open session of the user."""
    await db.execute("UPDATE sesiones SET cerrada_en = now() WHERE usuario_id = :id AND cerrada_en IS NULL", {"id": user_id})


async def set_active(user_id: int, active: bool) -> None:
    """Deactivate (ending every session) or reactivate an account."""
    await db.execute("UPDATE usuarios SET activo = :a WHERE id = :id", {"a": active, "id": user_id})
    if not active:
        await end_sessions(user_id)


async def unlock(email: str, admin_id: int, limits: dict) -> int:
    """«Desbloquear»: a success marked with the admin for every address that blocks this account."""
    rows = await db.fetch_all(f"SELECT ip FROM ({BLOCKED}) b WHERE b.email = :e",
                              {"mins": limits["mins"], "limit": limits["limit"], "e": email})
    for r in rows:
        await db.execute("INSERT INTO intentos_acceso (email, ip, exito, desbloqueado_por) VALUES (:e, :ip, true, :a)",
                         {"e": email, "ip": r["ip"], "a": admin_id})
    return len(rows)


async def choices() -> dict:
    """Active planteles and companies for the forms and filters."""
    planteles = await db.fetch_all("SELECT id, nombre FROM planteles WHERE activo ORDER BY nombre")
    empresas = await db.fetch_all("SELECT id, nombre FROM empresas WHERE activa ORDER BY nombre")
    return {"planteles": [dict(r) for r in planteles], "empresas": [dict(r) for r in empresas]}


async def plantel_by_cct_or_name(value: str) -> int | None:
    """An active plantel by CCT or name (import)."""
    return await db.fetch_val("SELECT id FROM planteles WHERE activo AND (cct = upper(:v) OR lower(nombre) = lower(:v))",
                              {"v": value})


async def empresa_by_name(value: str) -> int | None:
    """An active company by name or id (import)."""
    return await db.fetch_val("SELECT id FROM empresas WHERE activa AND (lower(nombre) = lower(:v) OR CAST(id AS text) = :v)",
                              {"v": value})
