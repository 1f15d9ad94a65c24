"""Audit trail of sensitive reads: who viewed or downloaded which biometrics, exports and packages."""
from __future__ import annotations

from quart import g, request

from . import db


async def record_read(recurso: str, *, alumno_id: int | None = None, plantel_id: int | None = None,
                      detalle: str = "", usuario_id: int | None = None) -> None:
    """Append one row for a read of a sensitive resource (by the signed-in user unless given)."""
    user = getattr(g, "user", None)
    usuario_id = usuario_id if usuario_id is not None else (user.id if user else None)
    await db.execute(
        """INSERT INTO accesos_sensibles (usuario_id, recurso, alumno_id, plantel_id, detalle, ip)
           VALUES (:u, :r, :a, :p, :d, :ip)""",
        {"u": usuario_id, "r": recurso, "a": alumno_id, "p": plantel_id, "d": detalle,
         "ip": request.remote_addr or ""},
    )
