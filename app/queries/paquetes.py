"""SQL of the background print packages (app/paquetes.py): build state, PDF parts and the stored ZIP's blocks."""
from __future__ import annotations

from .. import db

# Everything the package prints, per student, plus the order and its design version: a change of any of
# them (data, photo or signature retaken, reprint reason, students added or dropped) changes the hash.
HUELLA_SQL = """
SELECT md5(o.id || '#' || coalesce(o.diseno_id, 0) || '#' || coalesce(string_agg(
         row(a.id, a.matricula, a.prematricula, a.curp, a.nombre, a.primer_apellido, a.segundo_apellido,
             p.nombre, p.cct, a.grupo, c.nombre, a.correo, a.institucion_medica, a.numero_afiliacion,
             a.vigencia, i.reimpresion, i.motivo, a.foto_id, a.firma_id)::text, E'\\n' ORDER BY a.id), '')) AS huella,
       count(a.id) AS tarjetas
FROM ordenes_impresion o LEFT JOIN orden_items i ON i.orden_id = o.id LEFT JOIN alumnos a ON a.id = i.alumno_id
LEFT JOIN planteles p ON p.id = a.plantel_id LEFT JOIN carreras c ON c.codigo = a.carrera_codigo
WHERE o.id = :o GROUP BY o.id
"""


async def huella(orden_id: int) -> tuple[str, int]:
    """The order's current content hash and card count."""
    row = await db.fetch_one(HUELLA_SQL, {"o": orden_id})
    return row["huella"], row["tarjetas"]


async def estado(orden_id: int, lock: bool = False) -> dict | None:
    """The order's package row (lock=True: FOR UPDATE, inside a transaction)."""
    return await db.fetch_one("SELECT * FROM paquetes WHERE orden_id = :o" + (" FOR UPDATE" if lock else ""),
                              {"o": orden_id})


async def nueva_generacion(orden_id: int, huella_: str, tarjetas: int, partes: int) -> int:
    """Start a new build (pendiente, nothing done); return its generation number."""
    return await db.fetch_val(
        """INSERT INTO paquetes (orden_id, huella, tarjetas_total, partes_total) VALUES (:o, :h, :t, :p)
           ON CONFLICT (orden_id) DO UPDATE SET generacion = paquetes.generacion + 1, estado = 'pendiente',
             huella = :h, tarjetas_total = :t, tarjetas_hechas = 0, partes_total = :p, partes_hechas = 0,
             error = NULL, actualizado_en = now()
           RETURNING generacion""", {"o": orden_id, "h": huella_, "t": tarjetas, "p": partes})


async def borrar_viejas(orden_id: int, generacion: int, lista: int | None) -> None:
    """Delete the parts of older builds and the blocks of every build but the ready one."""
    await db.execute("DELETE FROM paquete_partes WHERE orden_id = :o AND generacion < :g",
                     {"o": orden_id, "g": generacion})
    await db.execute("DELETE FROM paquete_bloques WHERE orden_id = :o AND generacion <> coalesce(:l, -1)",
                     {"o": orden_id, "l": lista})


async def construyendo(orden_id: int, generacion: int, numero: int) -> bool:
    """Mark the build as started; False when the build was superseded (or has no such part)."""
    return await db.fetch_val(
        """UPDATE paquetes SET estado = 'construyendo', actualizado_en = now()
           WHERE orden_id = :o AND generacion = :g AND estado <> 'listo' AND :n <= partes_total RETURNING true""",
        {"o": orden_id, "g": generacion, "n": numero}) or False


async def guardar_parte(orden_id: int, generacion: int, numero: int, tarjetas: int, pdf: bytes) -> bool:
    """Store a drawn part (False if it was already stored: a repeated job)."""
    return await db.fetch_val(
        """INSERT INTO paquete_partes (orden_id, generacion, numero, tarjetas, pdf) VALUES (:o, :g, :n, :t, :pdf)
           ON CONFLICT DO NOTHING RETURNING true""",
        {"o": orden_id, "g": generacion, "n": numero, "t": tarjetas, "pdf": pdf}) or False


async def contar_parte(orden_id: int, generacion: int, tarjetas: int) -> dict | None:
    """Count a stored part in the build (row lock: parts finishing together count one after the other)."""
    return await db.fetch_one(
        """UPDATE paquetes SET partes_hechas = partes_hechas + 1, tarjetas_hechas = tarjetas_hechas + :t,
             actualizado_en = now() WHERE orden_id = :o AND generacion = :g
           RETURNING partes_hechas, partes_total""", {"o": orden_id, "g": generacion, "t": tarjetas})


async def partes(orden_id: int, generacion: int) -> list[int]:
    """The stored part numbers of a build."""
    rows = await db.fetch_all("SELECT numero FROM paquete_partes WHERE orden_id = :o AND generacion = :g "
                              "ORDER BY numero", {"o": orden_id, "g": generacion})
    return [r["numero"] for r in rows]


async def parte_pdf(orden_id: int, generacion: int, numero: int) -> bytes:
    """One stored part's PDF."""
    return await db.fetch_val("SELECT pdf FROM paquete_partes WHERE orden_id = :o AND generacion = :g AND numero = :n",
                              {"o": orden_id, "g": generacion, "n": numero})


async def guardar_bloque(orden_id: int, generacion: int, numero: int, datos: bytes) -> None:
    """Store one block of the ZIP."""
    await db.execute("INSERT INTO paquete_bloques (orden_id, generacion, numero, datos) VALUES (:o, :g, :n, :d)",
                     {"o": orden_id, "g": generacion, "n": numero, "d": datos})


async def terminar(orden_id: int, generacion: int, tamano: int) -> bool:
    """The build's ZIP is stored: it becomes the ready package (False when superseded meanwhile)."""
    return await db.fetch_val(
        """UPDATE paquetes SET estado = 'listo', lista_generacion = generacion, lista_huella = huella,
             tamano = :s, lista_en = now(), actualizado_en = now()
           WHERE orden_id = :o AND generacion = :g RETURNING true""",
        {"o": orden_id, "g": generacion, "s": tamano}) or False


async def fallar(orden_id: int, generacion: int, error: str) -> None:
    """Record a build that ran out of retries."""
    await db.execute("UPDATE paquetes SET estado = 'fallido', error = :e, actualizado_en = now() "
                     "WHERE orden_id = :o AND generacion = :g", {"o": orden_id, "g": generacion, "e": error[:500]})


async def bloque(orden_id: int, generacion: int, numero: int) -> bytes | None:
    """One block of a stored ZIP."""
    return await db.fetch_val(
        "SELECT datos FROM paquete_bloques WHERE orden_id = :o AND generacion = :g AND numero = :n",
        {"o": orden_id, "g": generacion, "n": numero})
