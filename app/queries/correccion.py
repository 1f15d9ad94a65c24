"""The correction loop: why a student waits in Aplazado or Retoma, and whether a capture was a retake."""
from __future__ import annotations

from .. import db

# Statuses whose reason (the validator's or the rejecter's comment) is shown where it gets fixed.
CON_MOTIVO = ("aplazado", "retoma")
ORIGEN = {"aplazado": "Aplazado en validación",
          "retoma": "Retoma solicitada"}


async def _evento_de_entrada(alumno_id: int, estatus: str) -> dict | None:
    """The latest event that put the student in estatus (comment, when, who)."""
    return await db.fetch_one(
        """SELECT e.comentario, e.en, e.accion, coalesce(nullif(u.nombre, ''), u.email, 'sistema') AS usuario
           FROM eventos e LEFT JOIN usuarios u ON u.id = e.usuario_id
           WHERE e.alumno_id = :a AND e.a = CAST(:s AS estatus)
           ORDER BY e.en DESC, e.id DESC LIMIT 1""",
        {"a": alumno_id, "s": estatus})


async def motivo(alumno) -> dict | None:
    """{estatus, origen, comentario, en, usuario} for an Aplazado or Retoma student; None otherwise."""
    if not alumno or alumno["estatus"] not in CON_MOTIVO:
        return None
    ev = await _evento_de_entrada(alumno["id"], alumno["estatus"])
    texto = ((ev and ev["comentario"]) or alumno["comentario"] or "").strip()
    return {"estatus": alumno["estatus"], "origen": ORIGEN[alumno["estatus"]],
            "comentario": texto or "No se registró el motivo.", "en": ev["en"] if ev else None,
            "usuario": ev["usuario"] if ev else ""}


async def reimpresion_solicitada(alumno) -> bool:
    """True when the student's latest status change was a Retoma capture (now Rechazado: reprint)."""
    if not alumno or alumno["estatus"] != "rechazado":
        return False
    ev = await _evento_de_entrada(alumno["id"], "rechazado")
    return bool(ev and ev["accion"] == "retomar")
