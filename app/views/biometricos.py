"""Biometric images (photo, signature, delivery signature) for signed-in users only, never cached."""
from __future__ import annotations

from quart import Blueprint, Response, abort

from ..audit import record_read
from ..auth import roles
from ..queries import biometricos

bp = Blueprint("biometricos", __name__)


@bp.route("/biometricos/<id:bio_id>")
@roles("plantel", "estatal", "admin")  # any student, as "Consultar alumno" (manual §13); not the company
async def imagen(bio_id: int):
    """One stored image version by id."""
    row = await biometricos.image(bio_id)  # decrypted; purged or unreadable → the Spanish answer of app/__init__.py
    if row is None:
        abort(404)
    await record_read(row["tipo"], alumno_id=row["alumno_id"], detalle=f"biometrico {bio_id}")
    return Response(row["datos"], headers={
        "Content-Type": row["mime"], "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
        "Content-Disposition": "inline"})
