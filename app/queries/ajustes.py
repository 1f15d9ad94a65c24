"""SQL of the business settings (ajustes): the saved values, who saved them and when."""
from __future__ import annotations

from .. import db


async def saved() -> dict[str, dict]:
    """Every saved setting: clave → {valor, actualizado_en, email}."""
    rows = await db.fetch_all(
        """SELECT a.clave, a.valor, a.actualizado_en, u.email
           FROM ajustes a LEFT JOIN usuarios u ON u.id = a.actualizado_por""")
    return {r["clave"]: dict(r) for r in rows}


async def save(clave: str, valor: str, usuario_id: int) -> None:
    """Insert or replace one setting."""
    await db.execute(
        """INSERT INTO ajustes (clave, valor, actualizado_por) VALUES (:c, :v, :u)
           ON CONFLICT (clave) DO UPDATE SET valor = EXCLUDED.valor, actualizado_en = now(),
                                             actualizado_por = EXCLUDED.actualizado_por""",
        {"c": clave, "v": valor, "u": usuario_id})
