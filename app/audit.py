"""Audit trail of sensitive reads: who viewed or downloaded which biometrics, exports and packages."""
from __future__ import annotations

from quart import g, request

from . import db


async def record_read(recurso: str, *, alumno_id: int | None = None, plantel_id: int | None = None,
                      detalle: str = "") -> None:
    """Append one row for the signed-in user's read of a sensitive resource."""
    user = getattr(g, "user", None)
    await db.execute(
        """INSERT INTO accesos_sensibles (usuario_id, recurso, alumno_id, plantel_id, detalle, ip)
           VALUES (:u, :r, :a, :p, :d, :ip)""",
        {"u": user.id if user else None, "r": recurso, "a": alumno_id, "p": plantel_id, "d": detalle,
         "ip": request.remote_addr or ""},
    )
