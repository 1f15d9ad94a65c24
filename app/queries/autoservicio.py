"""SQL of Mi credencial (student self-service) and the Revisión de fotografías queue."""
from __future__ import annotations

from .. import db


async def inscrito(matricula: str, curp: str) -> dict | None:
    """{id, correo, matricula} of an inscribed student (not a baja) with this matrícula AND CURP, or None."""
    return await db.fetch_one(
        """SELECT id, correo, matricula FROM alumnos
           WHERE matricula = :m AND upper(curp) = :c AND baja_en IS NULL""", {"m": matricula, "c": curp})


async def insert_code(solicitud: str, alumno_id: int | None, code_hmac: str, ip: str, minutes: int) -> None:
    """Record one code request (alumno_id None for data that matched nobody)."""
    await db.execute(
        """INSERT INTO codigos_alumno (solicitud_sha256, alumno_id, codigo_hmac, ip, expira_en)
           VALUES (:s, :a, :h, :ip, now() + make_interval(mins => CAST(:m AS int)))""",
        {"s": solicitud, "a": alumno_id, "h": code_hmac, "ip": ip, "m": minutes})


async def spend_attempt(solicitud: str, max_attempts: int) -> dict | None:
    """Count one attempt on an open, unexpired code with attempts left; {id, alumno_id, codigo_hmac} or None."""
    return await db.fetch_one(
        """UPDATE codigos_alumno SET intentos = intentos + 1
           WHERE solicitud_sha256 = :s AND usado_en IS NULL AND expira_en > now() AND intentos < :n
           RETURNING id, alumno_id, codigo_hmac""", {"s": solicitud, "n": max_attempts})


async def use_code(code_id: int) -> bool:
    """Mark a code used, once (a concurrent twin gets False)."""
    return await db.fetch_val("UPDATE codigos_alumno SET usado_en = now() WHERE id = :id AND usado_en IS NULL "
                              "RETURNING true", {"id": code_id}) is not None


async def open_session(digest: str, alumno_id: int, minutes: int) -> None:
    """A new student session (only the id's digest is stored); the student's older ones are closed."""
    async with db.get_db().transaction():
        await db.execute("UPDATE sesiones_alumno SET cerrada_en = now() WHERE alumno_id = :a AND cerrada_en IS NULL",
                         {"a": alumno_id})
        await db.execute("INSERT INTO sesiones_alumno (id_sha256, alumno_id, expira_en) VALUES "
                         "(:d, :a, now() + make_interval(mins => CAST(:m AS int)))", {"d": digest, "a": alumno_id, "m": minutes})


async def session_student(digest: str) -> int | None:
    """The student of an open, unexpired session (not a baja since), or None."""
    return await db.fetch_val(
        """SELECT s.alumno_id FROM sesiones_alumno s JOIN alumnos a ON a.id = s.alumno_id
           WHERE s.id_sha256 = :d AND s.cerrada_en IS NULL AND s.expira_en > now() AND a.baja_en IS NULL""",
        {"d": digest})


async def close_session(digest: str) -> None:
    """End a student session."""
    await db.execute("UPDATE sesiones_alumno SET cerrada_en = now() WHERE id_sha256 = :d AND cerrada_en IS NULL",
                     {"d": digest})


async def student(alumno_id: int) -> dict | None:
    """The student's own record as shown to them, with the plantel's self-service switch."""
    return await db.fetch_one(
        """SELECT a.id, a.matricula, a.curp, a.nombre, a.primer_apellido, a.segundo_apellido, a.grupo, a.correo,
                  a.estatus::text AS estatus, a.foto_id, a.firma_id, a.plantel_id, a.comentario,
                  p.nombre AS plantel, p.autoservicio
           FROM alumnos a JOIN planteles p ON p.id = a.plantel_id WHERE a.id = :id""", {"id": alumno_id})


async def events(alumno_id: int) -> list[dict]:
    """The student's status events, oldest first."""
    return await db.fetch_all(
        """SELECT en, accion, de::text AS de, a::text AS a, comentario FROM eventos
           WHERE alumno_id = :id ORDER BY en, id""", {"id": alumno_id})


async def submissions(alumno_id: int, limit: int = 5) -> list[dict]:
    """The student's latest submissions (no images)."""
    return await db.fetch_all(
        """SELECT id, estado, enviado_en, resuelto_en, motivo, comentario FROM envios_alumno
           WHERE alumno_id = :id ORDER BY enviado_en DESC LIMIT :n""", {"id": alumno_id, "n": limit})


async def insert_submission(values: dict) -> int | None:
    """Store a submission (its earlier pending ones become «reemplazado»); its id, None when the key was used."""
    async with db.get_db().transaction():
        await db.execute("UPDATE envios_alumno SET estado = 'reemplazado', resuelto_en = now() "
                         "WHERE alumno_id = :alumno_id AND estado = 'pendiente'", {"alumno_id": values["alumno_id"]})
        return await db.fetch_val(
            """INSERT INTO envios_alumno (alumno_id, plantel_id, clave, payload_sha256, foto, firma, revision, aviso_version)
               VALUES (:alumno_id, :plantel_id, CAST(:clave AS uuid), :payload_sha256, :foto, :firma,
                       CAST(:revision AS jsonb), :aviso_version)
               ON CONFLICT (clave) DO NOTHING RETURNING id""", values)


async def submission_by_key(clave: str) -> dict | None:
    """{id, alumno_id, payload_sha256} of the submission stored under an idempotency key."""
    return await db.fetch_one("SELECT id, alumno_id, payload_sha256 FROM envios_alumno WHERE clave = CAST(:k AS uuid)",
                              {"k": clave})


async def pending_count(plantel_id: int) -> int:
    """Submissions waiting for review in a plantel."""
    return await db.fetch_val("SELECT count(*) FROM envios_alumno WHERE plantel_id = :p AND estado = 'pendiente'",
                              {"p": plantel_id})


async def queue(plantel_id: int) -> list[dict]:
    """The plantel's pending submissions, oldest first, with the student's data."""
    return await db.fetch_all(
        """SELECT e.id, e.enviado_en, e.revision, a.matricula, a.nombre, a.primer_apellido, a.segundo_apellido,
                  a.grupo, a.estatus::text AS estatus
           FROM envios_alumno e JOIN alumnos a ON a.id = e.alumno_id
           WHERE e.plantel_id = :p AND e.estado = 'pendiente' ORDER BY e.enviado_en LIMIT 200""", {"p": plantel_id})


async def submission(envio_id: int, plantel_id: int) -> dict | None:
    """One submission of this plantel with the student's data (images still sealed), or None."""
    return await db.fetch_one(
        """SELECT e.*, a.matricula, a.curp, a.nombre, a.primer_apellido, a.segundo_apellido, a.grupo, a.correo,
                  a.estatus::text AS estatus_alumno, u.email AS resuelto_por_email
           FROM envios_alumno e JOIN alumnos a ON a.id = e.alumno_id LEFT JOIN usuarios u ON u.id = e.resuelto_por
           WHERE e.id = :id AND e.plantel_id = :p""", {"id": envio_id, "p": plantel_id})


async def resolve(envio_id: int, plantel_id: int, estado: str, usuario_id: int, motivo: str = "",
                  comentario: str = "") -> bool:
    """Resolve a pending submission once (conditional UPDATE: of two reviewers at once, one wins)."""
    return await db.fetch_val(
        """UPDATE envios_alumno SET estado = :e, resuelto_por = :u, resuelto_en = now(), motivo = :m, comentario = :c
           WHERE id = :id AND plantel_id = :p AND estado = 'pendiente' RETURNING true""",
        {"id": envio_id, "p": plantel_id, "e": estado, "u": usuario_id, "m": motivo, "c": comentario}) is not None


async def set_self_service(plantel: str, on: bool) -> str | None:
    """Turn a plantel's self-service on/off by name or CCT; its name, or None when unknown."""
    return await db.fetch_val("UPDATE planteles SET autoservicio = :on WHERE nombre = :p OR cct = upper(:p) "
                              "RETURNING nombre", {"p": plantel, "on": on})
