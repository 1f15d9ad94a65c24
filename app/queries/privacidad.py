"""SQL of data protection: privacy-notice versions, images due under the retention rules, purges with their
proof, and everything held about one student (ARCO export). docs/privacy.md."""
from __future__ import annotations

from datetime import date, datetime

from .. import db

# ---- Aviso de privacidad ----------------------------------------------------------------------

AVISO_SQL = "SELECT version, publicado_en, publicado_por, simplificado, integral, nota FROM avisos_privacidad"


async def aviso(version: int | None = None) -> dict | None:
    """One notice version (the latest when version is None)."""
    if version is None:
        return await db.fetch_one(AVISO_SQL + " ORDER BY version DESC LIMIT 1")
    return await db.fetch_one(AVISO_SQL + " WHERE version = :v", {"v": version})


async def avisos() -> list[dict]:
    """Every notice version, newest first, with who published it."""
    return await db.fetch_all(
        """SELECT v.version, v.publicado_en, v.nota, u.email FROM avisos_privacidad v
           LEFT JOIN usuarios u ON u.id = v.publicado_por ORDER BY v.version DESC""")


async def insert_aviso(simplificado: str, integral: str, nota: str, usuario_id: int | None) -> int:
    """Publish a new notice version; its number."""
    return await db.fetch_val(
        """INSERT INTO avisos_privacidad (simplificado, integral, nota, publicado_por)
           VALUES (:s, :i, :n, :u) RETURNING version""", {"s": simplificado, "i": integral, "n": nota, "u": usuario_id})


async def aviso_exists(version: int) -> bool:
    """True when that notice version was published."""
    return bool(await db.fetch_val("SELECT count(*) FROM avisos_privacidad WHERE version = :v", {"v": version}))


async def set_capture_notice(foto_id: int, version: int) -> None:
    """Record on a stored capture the notice version the operator confirmed."""
    await db.execute("UPDATE capturas SET aviso_version = :v WHERE foto_id = :f", {"v": version, "f": foto_id})


# ---- retention ----------------------------------------------------------------------------------

OPEN_ORDER = "EXISTS (SELECT 1 FROM orden_items oi WHERE oi.alumno_id = a.id AND oi.abierto)"
CURRENT = "b.id IN (coalesce(a.foto_id, 0), coalesce(a.firma_id, 0), coalesce(a.firma_entrega_id, 0))"
# rule → (condition on the student a and the image b). Parameters: :hoy (date, Mexico City), :ahora, :n.
RULES = {
    "entregado_vigencia": "a.estatus = 'entregado' AND a.vigencia + make_interval(months => CAST(:n AS int)) < CAST(:hoy AS date)",
    "baja": "a.baja_en IS NOT NULL AND a.baja_en + make_interval(days => CAST(:n AS int)) < CAST(:ahora AS timestamptz)",
    "versiones_anteriores": (f"a.estatus = 'entregado' AND NOT ({CURRENT}) AND "
                             "a.fecha_entrega + make_interval(days => CAST(:n AS int)) < CAST(:ahora AS timestamptz)"),
    "cancelacion": "a.id = CAST(:alumno AS bigint)",
}


async def due(regla: str, params: dict, after: int, limit: int) -> list[dict]:
    """The next students (by id, after `after`) with images still held under a rule, outside open orders:
    [{alumno_id, ids}]."""
    return await db.fetch_all(
        f"""SELECT a.id AS alumno_id, array_agg(b.id ORDER BY b.id) AS ids
            FROM alumnos a JOIN biometricos b ON b.alumno_id = a.id AND b.datos IS NOT NULL
            WHERE ({RULES[regla]}) AND a.id > :after AND NOT {OPEN_ORDER}
            GROUP BY a.id ORDER BY a.id LIMIT :lim""", {**params, "after": after, "lim": limit})


# Lock the students, skip any now in an open order, drop the bytes and write one proof row per student,
# in one statement (the caller's transaction).
PURGE_SQL = f"""
WITH locked AS (
  SELECT a.id FROM alumnos a WHERE a.id = ANY(CAST(:alumnos AS bigint[])) AND NOT {OPEN_ORDER} FOR UPDATE OF a),
gone AS (
  UPDATE biometricos b SET datos = NULL, purgado_en = now()
  FROM locked WHERE b.alumno_id = locked.id AND b.id = ANY(CAST(:ids AS bigint[])) AND b.datos IS NOT NULL
  RETURNING b.id, b.alumno_id, b.sha256)
INSERT INTO purgas (alumno_id, regla, origen, biometrico_ids, sha256, cantidad, usuario_id, motivo,
                    folio_solicitud, aviso_version)
SELECT alumno_id, :regla, :origen, array_agg(id ORDER BY id), array_agg(sha256 ORDER BY id), count(*),
       CAST(:usuario AS int), :motivo, :folio, CAST(:aviso AS int)
FROM gone GROUP BY alumno_id
RETURNING id, alumno_id, cantidad
"""


async def purge(regla: str, origen: str, alumnos: list[int], ids: list[int], usuario_id: int | None = None,
                motivo: str = "", folio: str = "", aviso_version: int | None = None) -> list[dict]:
    """Delete the bytes of those images (students in an open order are skipped); the proof rows written."""
    return await db.fetch_all(PURGE_SQL, {
        "alumnos": alumnos, "ids": ids, "regla": regla, "origen": origen, "usuario": usuario_id,
        "motivo": motivo, "folio": folio, "aviso": aviso_version})


async def in_open_order(alumno_id: int) -> int | None:
    """The open print order holding the student, or None."""
    return await db.fetch_val("SELECT orden_id FROM orden_items WHERE alumno_id = :a AND abierto", {"a": alumno_id})


async def purges_of(alumno_id: int) -> list[dict]:
    """Every purge of a student, oldest first, with who ran it."""
    return await db.fetch_all(
        """SELECT p.id, p.en, p.regla, p.origen, p.biometrico_ids, p.sha256, p.cantidad, p.motivo,
                  p.folio_solicitud, p.aviso_version, u.email
           FROM purgas p LEFT JOIN usuarios u ON u.id = p.usuario_id WHERE p.alumno_id = :a ORDER BY p.en, p.id""",
        {"a": alumno_id})


async def purged_images(alumno_id: int) -> dict[int, datetime]:
    """Image id → when its bytes were purged, for one student."""
    rows = await db.fetch_all("SELECT id, purgado_en FROM biometricos WHERE alumno_id = :a AND purgado_en IS NOT NULL",
                              {"a": alumno_id})
    return {r["id"]: r["purgado_en"] for r in rows}


# ---- everything held about a student (ARCO: acceso) -------------------------------------------------

async def images_of(alumno_id: int) -> list[dict]:
    """Every image version of a student (bytes when still held), oldest first."""
    return await db.fetch_all(
        """SELECT b.id, b.tipo::text AS tipo, b.mime, b.datos, b.sha256, b.bytes, b.ancho, b.alto, b.creado_en,
                  b.purgado_en, u.email AS creado_por
           FROM biometricos b LEFT JOIN usuarios u ON u.id = b.creado_por
           WHERE b.alumno_id = :a ORDER BY b.creado_en, b.id""", {"a": alumno_id})


async def captures_of(alumno_id: int) -> list[dict]:
    """Every accepted capture of a student with the notice version acknowledged."""
    return await db.fetch_all(
        """SELECT c.clave, c.tipo, c.foto_id, c.firma_id, c.device_captured_at, c.received_at, c.aviso_version,
                  u.email FROM capturas c LEFT JOIN usuarios u ON u.id = c.usuario_id
           WHERE c.alumno_id = :a ORDER BY c.received_at""", {"a": alumno_id})


async def notice_of(alumno_id: int, foto_id: int | None) -> dict | None:
    """The notice version acknowledged by the capture of the current photo: {aviso_version, received_at}."""
    if not foto_id:
        return None
    return await db.fetch_one(
        """SELECT aviso_version, received_at FROM capturas WHERE alumno_id = :a AND foto_id = :f
           AND aviso_version IS NOT NULL LIMIT 1""", {"a": alumno_id, "f": foto_id})


async def accesses_of(alumno_id: int) -> list[dict]:
    """Who viewed or downloaded this student's data: reads naming the student, and downloads of the print
    orders that held them (the package carries the photo and signature)."""
    return await db.fetch_all(
        """SELECT s.en, s.recurso, s.detalle, s.ip, u.email
           FROM accesos_sensibles s LEFT JOIN usuarios u ON u.id = s.usuario_id
           WHERE s.alumno_id = :a
              OR (s.recurso = 'paquete_orden' AND s.detalle IN
                  (SELECT 'orden ' || oi.orden_id FROM orden_items oi WHERE oi.alumno_id = :a))
           ORDER BY s.en, s.id""", {"a": alumno_id})


def rule_params(regla: str, hoy: date, ahora: datetime, n: int = 0, alumno: int | None = None) -> dict:
    """Exactly the parameters a rule's condition names (the driver refuses unused ones)."""
    every = {"hoy": hoy, "ahora": ahora, "n": n, "alumno": alumno}
    return {k: v for k, v in every.items() if f":{k}" in RULES[regla]}
