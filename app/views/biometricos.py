"""Biometric images (photo, signature, delivery signature) for signed-in users only, never cached."""
from __future__ import annotations

from quart import Blueprint, Response, abort

from .. import db
from ..audit import record_read
from ..auth import roles

bp = Blueprint("biometricos", __name__)


@bp.route("/biometricos/<id:bio_id>")
@roles("plantel", "estatal", "admin")  # any student, as "Consultar alumno" (manual §13); not the company
async def imagen(bio_id: int):
    """One stored image version by id."""
    row = await db.fetch_one("SELECT mime, datos, alumno_id, tipo::text AS tipo FROM biometricos WHERE id = :id",
                             {"id": bio_id})
    if row is None:
        abort(404)
    await record_read(row["tipo"], alumno_id=row["alumno_id"], detalle=f"biometrico {bio_id}")
    return Response(bytes(row["datos"]), headers={
        "Content-Type": row["mime"], "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
        "Content-Disposition": "inline"})
