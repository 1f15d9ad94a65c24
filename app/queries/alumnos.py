"""Student rows: look-ups and the per-plantel export."""
from __future__ import annotations

from typing import AsyncIterator

from .. import db
from ..validation import Check, matricula_not_found

# The career as the credential prints it ("PT-B en Electricidad Industrial"); a code that imports
# added without a name (nombre = codigo) stays the code. Screens show carrera_impresa; rules (SAE comparison)
# compare the catalog name, carrera.
CARRERA_SQL = "CASE WHEN c.nombre = c.codigo THEN c.nombre ELSE 'PT-B en ' || c.nombre END"
# Columns of the full student record, as shown in "Consultar alumno" and the Excel export.
RECORD_SQL = f"""
SELECT a.id, a.matricula, a.prematricula, a.curp, a.curp_revisar, a.folio, a.nombre,
       a.primer_apellido, a.segundo_apellido, a.plantel_id, p.nombre AS plantel, a.grupo,
       a.carrera_codigo, c.nombre AS carrera, {CARRERA_SQL} AS carrera_impresa, a.semestre, a.correo, a.institucion_medica,
       a.numero_afiliacion, a.vigencia, a.estatus::text AS estatus, a.fecha_biometricos,
       a.fecha_estatus, a.fecha_entrega, a.fecha_sae, a.comentario, a.orden_id,
       a.foto_id, a.firma_id, a.firma_entrega_id, a.validado_por, a.validado_en
FROM alumnos a JOIN planteles p ON p.id = a.plantel_id JOIN carreras c ON c.codigo = a.carrera_codigo
"""


async def by_matricula(matricula: str) -> dict | None:
    """The full record of one student, or None."""
    return await db.fetch_one(RECORD_SQL + " WHERE a.matricula = :m", {"m": matricula})


async def by_id(alumno_id: int) -> dict | None:
    """The full record of one student, or None."""
    return await db.fetch_one(RECORD_SQL + " WHERE a.id = :id", {"id": alumno_id})


async def export_batches(plantel_id: int, batch: int = 2000) -> AsyncIterator[list[dict]]:
    """Every student of a plantel in batches, streamed with a server-side cursor."""
    async with db.raw_connection() as conn:
        async with conn.transaction():
            cur = await conn.cursor(
                RECORD_SQL + " WHERE a.plantel_id = $1 ORDER BY a.grupo, a.busqueda", plantel_id)
            while rows := await cur.fetch(batch):
                yield [dict(r) for r in rows]


async def find(check: Check) -> tuple[dict | None, str]:
    """The student of a checked matrícula, or None and the Spanish reason (wrong check digit or not imported)."""
    if check.level == "error":
        return None, check.message
    alumno = await by_matricula(check.value)
    return (alumno, "") if alumno else (None, matricula_not_found(check))
