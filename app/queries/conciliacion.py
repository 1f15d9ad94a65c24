"""Queries of "Conciliación SAE": the set-based diff of the SAE snapshot against alumnos, and the run's lists."""
from __future__ import annotations

from typing import AsyncIterator

from .. import db

TIPOS = ("nuevo", "grupo", "carrera", "plantel", "baja", "reaparecido")
PAGE = 50
BATCH = 2000

# The snapshot as stored (text as SAE sent it) resolved like app.students.normalize does: the plantel by
# CCT or by folded name ("Plantel " prefix allowed), the grupo uppercased, the career from the grupo.
_SAE = r"""
  ref AS (SELECT DISTINCT ON (clave) clave, id FROM (
            SELECT cct AS clave, id FROM planteles
            UNION ALL SELECT trim(regexp_replace(fold(nombre), '\s+', ' ', 'g')), id FROM planteles) k
          ORDER BY clave, id),
  textos AS (SELECT DISTINCT plantel FROM sae_alumnos),   -- a few dozen texts: resolve each once
  resueltos AS (
    SELECT t.plantel, coalesce(r1.id, r2.id) AS plantel_id FROM textos t
    LEFT JOIN ref r1 ON r1.clave = upper(trim(t.plantel))
    LEFT JOIN ref r2 ON r2.clave = regexp_replace(trim(regexp_replace(fold(t.plantel), '\s+', ' ', 'g')), '^PLANTEL ', '')),
  sae AS (SELECT s.matricula, s.inscrito, s.estatus_sae, upper(trim(s.grupo)) AS grupo, r.plantel_id,
                 s.primer_apellido, s.segundo_apellido, s.nombre
          FROM sae_alumnos s JOIN resueltos r ON r.plantel = s.plantel)"""

# One INSERT … SELECT: every finding of the run (docs/sae.md, "Conciliación SAE").
_DIFF = f"""
WITH {_SAE},
  ambos AS (
    SELECT a.id, a.matricula, a.estatus, a.plantel_id AS local_plantel, a.grupo AS local_grupo,
           a.carrera_codigo AS local_carrera, a.baja_en, s.plantel_id, s.grupo, s.inscrito,
           trim(a.primer_apellido || ' ' || a.segundo_apellido || ' ' || a.nombre) AS nombre,
           CASE WHEN s.plantel_id <> a.plantel_id THEN 'plantel'
                WHEN substr(s.grupo, 5, 4) <> a.carrera_codigo THEN 'carrera'
                WHEN s.grupo <> a.grupo THEN 'grupo' END AS cambio
    FROM sae s JOIN alumnos a ON a.matricula = s.matricula
    WHERE s.inscrito AND s.plantel_id IS NOT NULL AND s.grupo ~ '^[1-9][0-9]{{2}}-[A-Z]{{4}}[0-9]{{2}}$')
INSERT INTO conciliacion_alumnos (conciliacion_id, tipo, matricula, alumno_id, plantel_id, nombre, antes, despues, estatus)
SELECT CAST(:run AS int), 'nuevo', s.matricula, CAST(NULL AS bigint), s.plantel_id,
       trim(regexp_replace(upper(s.primer_apellido || ' ' || s.segundo_apellido || ' ' || s.nombre), '\s+', ' ', 'g')),
       '', s.grupo, CAST(NULL AS estatus)
FROM sae s WHERE s.inscrito AND NOT EXISTS (SELECT 1 FROM alumnos a WHERE a.matricula = s.matricula)
UNION ALL
SELECT CAST(:run AS int), x.cambio, x.matricula, x.id, x.plantel_id, x.nombre,
       CASE x.cambio WHEN 'plantel' THEN pl.nombre || ' · ' || x.local_grupo
                     WHEN 'carrera' THEN x.local_carrera || ' · ' || x.local_grupo ELSE x.local_grupo END,
       CASE x.cambio WHEN 'plantel' THEN ps.nombre || ' · ' || x.grupo
                     WHEN 'carrera' THEN substr(x.grupo, 5, 4) || ' · ' || x.grupo ELSE x.grupo END,
       x.estatus
FROM ambos x JOIN planteles pl ON pl.id = x.local_plantel JOIN planteles ps ON ps.id = x.plantel_id
WHERE x.cambio IS NOT NULL
UNION ALL
SELECT CAST(:run AS int), 'reaparecido', x.matricula, x.id, x.local_plantel, x.nombre, 'Baja', 'Inscrito', x.estatus
FROM ambos x WHERE x.baja_en IS NOT NULL
UNION ALL
SELECT CAST(:run AS int), 'baja', a.matricula, a.id, a.plantel_id,
       trim(a.primer_apellido || ' ' || a.segundo_apellido || ' ' || a.nombre), 'Inscrito',
       coalesce(s.estatus_sae, 'No está en SAE'), a.estatus
FROM alumnos a LEFT JOIN sae_alumnos s ON s.matricula = a.matricula
WHERE a.baja_en IS NULL AND (NOT s.inscrito OR (s.matricula IS NULL AND CAST(:completa AS boolean)))
"""


async def create_run(usuario_id: int | None, origen: str, completa: bool) -> int:
    """A new run row; its id."""
    return await db.fetch_val(
        """INSERT INTO conciliaciones (usuario_id, origen, completa, filas_sae)
           VALUES (:u, :o, :c, (SELECT count(*) FROM sae_alumnos)) RETURNING id""",
        {"u": usuario_id, "o": origen[:300], "c": completa})


async def fill_run(run_id: int, completa: bool) -> None:
    """Compute every finding of the run in one statement."""
    await db.execute(_DIFF, {"run": run_id, "completa": completa})


async def set_duration(run_id: int, ms: int) -> None:
    """Record how long computing the run took."""
    await db.execute("UPDATE conciliaciones SET duracion_ms = :ms WHERE id = :id", {"ms": ms, "id": run_id})


async def runs(limit: int = 20) -> list[dict]:
    """The latest runs, newest first, with who made them and their totals."""
    return await db.fetch_all(
        """SELECT c.id, c.creada_en, c.origen, c.completa, c.filas_sae, c.duracion_ms,
                  coalesce(u.email, 'sistema') AS usuario,
                  (SELECT count(*) FROM conciliacion_alumnos i WHERE i.conciliacion_id = c.id) AS hallazgos
           FROM conciliaciones c LEFT JOIN usuarios u ON u.id = c.usuario_id
           ORDER BY c.id DESC LIMIT :n""", {"n": limit})


async def run(run_id: int) -> dict | None:
    """One run, or None."""
    rows = await db.fetch_all(
        """SELECT c.id, c.creada_en, c.origen, c.completa, c.filas_sae, c.duracion_ms,
                  coalesce(u.email, 'sistema') AS usuario, c.id = (SELECT max(id) FROM conciliaciones) AS ultima
           FROM conciliaciones c LEFT JOIN usuarios u ON u.id = c.usuario_id WHERE c.id = :id""", {"id": run_id})
    return rows[0] if rows else None


async def latest_run_id() -> int | None:
    """The newest run's id."""
    return await db.fetch_val("SELECT max(id) FROM conciliaciones")


async def counts(run_id: int) -> list[dict]:
    """Per plantel and kind: findings, applied, not applicable, pending."""
    return await db.fetch_all(
        """SELECT i.plantel_id, coalesce(p.nombre, 'Plantel no reconocido') AS plantel, i.tipo, count(*) AS n,
                  count(*) FILTER (WHERE i.resultado = 'aplicado') AS aplicados,
                  count(*) FILTER (WHERE i.resultado = 'no_aplicable') AS no_aplicables
           FROM conciliacion_alumnos i LEFT JOIN planteles p ON p.id = i.plantel_id
           WHERE i.conciliacion_id = :id GROUP BY i.plantel_id, p.nombre, i.tipo
           ORDER BY p.nombre NULLS LAST""", {"id": run_id})


def _where() -> str:
    """The list filter (every value a bound parameter)."""
    return ("i.conciliacion_id = :id AND (CAST(:tipo AS text) IS NULL OR i.tipo = :tipo)"
            " AND (CAST(:plantel AS int) IS NULL OR i.plantel_id = CAST(:plantel AS int))"
            " AND (CAST(:resultado AS text) IS NULL OR i.resultado IS NOT DISTINCT FROM nullif(:resultado, 'pendiente'))")


_ITEM_COLS = """i.tipo, i.matricula, i.alumno_id, i.plantel_id, coalesce(p.nombre, '') AS plantel, i.nombre,
                i.antes, i.despues, i.estatus::text AS estatus, coalesce(i.resultado, 'pendiente') AS resultado,
                i.motivo, i.aplicado_en"""


async def items(run_id: int, tipo: str | None, plantel_id: int | None, offset: int = 0,
                limit: int = PAGE, resultado: str | None = None) -> tuple[list[dict], int]:
    """One page of a run's list (ordered by plantel and matrícula) and the total."""
    params = {"id": run_id, "tipo": tipo, "plantel": plantel_id, "resultado": resultado}
    total = await db.fetch_val(f"SELECT count(*) FROM conciliacion_alumnos i WHERE {_where()}", params)
    rows = await db.fetch_all(
        f"""SELECT {_ITEM_COLS} FROM conciliacion_alumnos i LEFT JOIN planteles p ON p.id = i.plantel_id
            WHERE {_where()} ORDER BY p.nombre NULLS LAST, i.matricula LIMIT :limit OFFSET :offset""",
        {**params, "limit": limit, "offset": offset})
    return rows, total


async def items_batches(run_id: int, tipo: str | None, plantel_id: int | None) -> AsyncIterator[list[dict]]:
    """Every item of a list in batches (keyset by matrícula), for the Excel file."""
    after = ""
    while True:
        rows = await db.fetch_all(
            f"""SELECT {_ITEM_COLS} FROM conciliacion_alumnos i LEFT JOIN planteles p ON p.id = i.plantel_id
                WHERE {_where()} AND i.matricula > :after ORDER BY i.matricula LIMIT :n""",
            {"id": run_id, "tipo": tipo, "plantel": plantel_id, "resultado": None, "after": after, "n": BATCH})
        if not rows:
            return
        yield rows
        after = rows[-1]["matricula"]


async def claim_pending(run_id: int, plantel_id: int | None, tipos: tuple[str, ...], n: int) -> list[dict]:
    """Lock up to n pending items of these kinds (others applying at once skip them); call in a transaction."""
    return await db.fetch_all(
        """SELECT i.tipo, i.matricula, i.alumno_id FROM conciliacion_alumnos i
           WHERE i.conciliacion_id = :id AND i.resultado IS NULL AND i.tipo = ANY(CAST(:tipos AS text[]))
             AND (CAST(:plantel AS int) IS NULL OR i.plantel_id = CAST(:plantel AS int))
           ORDER BY i.matricula LIMIT :n FOR UPDATE SKIP LOCKED""",
        {"id": run_id, "plantel": plantel_id, "tipos": list(tipos), "n": n})


async def set_result(run_id: int, tipo: str, matricula: str, resultado: str, motivo: str, usuario_id: int | None) -> None:
    """Record one item's outcome."""
    await db.execute(
        """UPDATE conciliacion_alumnos SET resultado = :r, motivo = :m, aplicado_en = now(), aplicado_por = :u
           WHERE conciliacion_id = :id AND tipo = :t AND matricula = :mat""",
        {"r": resultado, "m": motivo[:1000], "u": usuario_id, "id": run_id, "t": tipo, "mat": matricula})


async def record_application(run_id: int, usuario_id: int | None, plantel_id: int | None,
                             aplicados: int, no_aplicables: int) -> int:
    """One row per "Aplicar"; its id."""
    return await db.fetch_val(
        """INSERT INTO conciliacion_aplicaciones (conciliacion_id, usuario_id, plantel_id, aplicados, no_aplicables)
           VALUES (:id, :u, :p, :a, :n) RETURNING id""",
        {"id": run_id, "u": usuario_id, "p": plantel_id, "a": aplicados, "n": no_aplicables})


async def applications(run_id: int) -> list[dict]:
    """Every "Aplicar" of a run, newest first."""
    return await db.fetch_all(
        """SELECT x.en, coalesce(u.email, 'sistema') AS usuario, coalesce(p.nombre, 'Todos los planteles') AS plantel,
                  x.aplicados, x.no_aplicables
           FROM conciliacion_aplicaciones x LEFT JOIN usuarios u ON u.id = x.usuario_id
           LEFT JOIN planteles p ON p.id = x.plantel_id WHERE x.conciliacion_id = :id ORDER BY x.id DESC""",
        {"id": run_id})


async def mark_baja(alumno_id: int, baja: bool) -> str | None:
    """Set (baja) or clear the SAE baja mark when it is not already so; the student's status, or None."""
    cond = "baja_en IS NULL" if baja else "baja_en IS NOT NULL"
    return await db.fetch_val(
        f"UPDATE alumnos SET baja_en = {'now()' if baja else 'NULL'} WHERE id = :id AND {cond} RETURNING estatus::text",
        {"id": alumno_id})
