"""Queries of "Validar datos alumno": groups with pending students, the pending list, the next one."""
from __future__ import annotations

from .. import db

PENDING = ("capturado", "aplazado")
PAGE_SIZES = (5, 10, 25, 50, 100)


async def grupos(plantel_id: int) -> list[dict]:
    """Every group of a plantel with its count of students pending validation."""
    return await db.fetch_all(
        """SELECT g.clave, count(a.id) AS pendientes
           FROM grupos g LEFT JOIN alumnos a ON a.plantel_id = g.plantel_id AND a.grupo = g.clave
                AND a.estatus IN ('capturado', 'aplazado') AND a.baja_en IS NULL
           WHERE g.plantel_id = :p GROUP BY g.clave ORDER BY g.clave""",
        {"p": plantel_id})


def _filter(q: str) -> tuple[str, dict]:
    """SQL condition and params for the list's search box (matrícula or name)."""
    q = " ".join((q or "").split())
    if not q:
        return "", {}
    return (" AND (a.matricula LIKE :q_pre OR a.busqueda LIKE '%' || fold(:q) || '%'"
            " OR fold(a.nombre || ' ' || a.primer_apellido || ' ' || a.segundo_apellido) LIKE '%' || fold(:q) || '%')",
            {"q": q, "q_pre": q.replace("'", "-") + "%"})


async def pendientes(plantel_id: int, grupo: str, q: str = "", limit: int = 10, offset: int = 0) -> tuple[list[dict], int]:
    """One page of the group's Capturado and Aplazado students, and the total matching."""
    cond, params = _filter(q)
    params.update(p=plantel_id, g=grupo)
    base = f"FROM alumnos a WHERE a.plantel_id = :p AND a.grupo = :g AND a.estatus IN ('capturado', 'aplazado') AND a.baja_en IS NULL{cond}"
    total = await db.fetch_val("SELECT count(*) " + base, params)
    rows = await db.fetch_all(
        "SELECT a.id, a.matricula, a.nombre, a.primer_apellido, a.segundo_apellido, a.estatus::text AS estatus "
        + base + " ORDER BY a.busqueda, a.matricula LIMIT :limit OFFSET :offset",
        {**params, "limit": limit, "offset": offset})
    return rows, total


async def siguiente(plantel_id: int, grupo: str, despues_de: str) -> str | None:
    """The matrícula of the next pending student of the group in list order (wrapping around)."""
    return await db.fetch_val(
        """SELECT matricula FROM alumnos
           WHERE plantel_id = :p AND grupo = :g AND estatus = 'capturado' AND baja_en IS NULL AND matricula <> :m
           ORDER BY (busqueda, matricula) <= (SELECT busqueda, matricula FROM alumnos WHERE matricula = :m),
                    busqueda, matricula
           LIMIT 1""",
        {"p": plantel_id, "g": grupo, "m": despues_de})


async def instituciones(incluir: str | None = None) -> list[dict]:
    """The medical institutions offered: the vigente ones, plus the student's current one if historic."""
    return await db.fetch_all(
        "SELECT clave, nombre, vigente FROM instituciones_medicas WHERE vigente OR nombre = :n ORDER BY vigente DESC, clave = 'IMSS' DESC, nombre",
        {"n": incluir})


async def institucion_vigente(nombre: str) -> bool:
    """True when nombre is a vigente institution of the catalog."""
    return bool(await db.fetch_val(
        "SELECT EXISTS (SELECT 1 FROM instituciones_medicas WHERE nombre = :n AND vigente)", {"n": nombre}))


async def revision_foto(foto_id: int | None) -> dict:
    """The photo-check results stored with the current photo ({} when none)."""
    if foto_id is None:
        return {}
    return await db.fetch_val("SELECT revision FROM biometricos WHERE id = :id", {"id": foto_id}) or {}
