"""Queries of print orders: candidates, orders, items, reprint requests and tracking."""
from __future__ import annotations

from .. import db

# The reason a card is reprinted: the comment of the student's latest rejection.
MOTIVO_SQL = """(SELECT e.comentario FROM eventos e WHERE e.alumno_id = a.id
                 AND e.accion IN ('rechazar', 'rechazar_retoma', 'rechazar_recepcion')
                 ORDER BY e.en DESC, e.id DESC LIMIT 1)"""
# Statuses a student waits in, in process order, with what it waits for.
ESPERA = (("capturado", "validación"), ("aplazado", "corrección"), ("validado", "orden de impresión"),
          ("rechazado", "reimpresión"), ("retoma", "retoma de biométricos"), ("solicitado", "impresión"),
          ("imprimiendo", "recepción"), ("recibido", "entrega"))


# The scope of a company user whose account has no company: no order has this company id.
NINGUNA = 0
SIN_EMPRESA = "Su cuenta no tiene empresa asignada; pida a la UITI que la asigne."


def scope_for(rol: str, empresa_id: int | None) -> int | None:
    """The orders a user may see: None = every order (estatal, admin); a company user only its company's
    (NINGUNA when the account has no company: it sees nothing, never everything)."""
    if rol != "empresa":
        return None
    return empresa_id or NINGUNA


def _visible(alias: str = "o") -> str:
    """Condition: the order belongs to the company scope :empresa (NULL = staff, every order). Orders
    without a company match no company."""
    return f"(CAST(:empresa AS int) IS NULL OR {alias}.empresa_id = CAST(:empresa AS int))"


async def empresa_of(user_id: int) -> int | None:
    """The company a user belongs to (None: no company assigned)."""
    return await db.fetch_val("SELECT empresa_id FROM usuarios WHERE id = :id", {"id": user_id})


async def empresa_id(nombre_o_id: str | int | None) -> int | None:
    """The id of a printing company given its id or exact name, or None when there is none such."""
    text = str(nombre_o_id or "").strip()
    num = int(text) if text.isdigit() and len(text) <= 9 else None
    return await db.fetch_val("SELECT id FROM empresas WHERE id = :n OR nombre = :t ORDER BY id LIMIT 1",
                              {"n": num, "t": text})


async def empresas() -> list[dict]:
    """Every printing company."""
    return await db.fetch_all("SELECT id, nombre FROM empresas ORDER BY id")


async def candidatos() -> list[dict]:
    """Per plantel: Validado and Rechazado students not in an open order (what a new order may take)."""
    return await db.fetch_all(
        """SELECT p.id AS plantel_id, p.nombre AS plantel,
                  count(*) FILTER (WHERE a.estatus = 'validado') AS validados,
                  count(*) FILTER (WHERE a.estatus = 'rechazado') AS rechazados
           FROM alumnos a JOIN planteles p ON p.id = a.plantel_id
           WHERE a.estatus IN ('validado', 'rechazado') AND a.baja_en IS NULL  -- SAE bajas (Conciliación SAE)
             AND NOT EXISTS (SELECT 1 FROM orden_items i WHERE i.alumno_id = a.id AND i.abierto)
           GROUP BY p.id, p.nombre ORDER BY p.nombre""")


async def ordenes(empresa: int | None, orden_id: int | None = None) -> list[dict]:
    """Every order visible to the scope (or just one), newest first, with its student counts."""
    return await db.fetch_all(
        f"""SELECT o.id, o.estado::text AS estado, o.creada_en, o.actualizada_en, o.en_impresion_en,
                   o.enviada_en, o.recibida_en, o.empresa_id, em.nombre AS empresa, u.email AS creada_por,
                   count(i.alumno_id) AS alumnos,
                   count(i.alumno_id) FILTER (WHERE i.reimpresion) AS reimpresiones,
                   count(i.alumno_id) FILTER (WHERE i.abierto) AS abiertos
            FROM ordenes_impresion o JOIN usuarios u ON u.id = o.creada_por
            LEFT JOIN empresas em ON em.id = o.empresa_id
            LEFT JOIN orden_items i ON i.orden_id = o.id
            WHERE {_visible()} AND (CAST(:id AS int) IS NULL OR o.id = CAST(:id AS int))
            GROUP BY o.id, em.nombre, u.email ORDER BY o.id DESC""",
        {"empresa": empresa, "id": orden_id})


async def orden(orden_id: int, empresa: int | None) -> dict | None:
    """One order visible to the scope, or None."""
    rows = await ordenes(empresa, orden_id)
    return rows[0] if rows else None


async def progreso(orden_ids: list[int] | None = None) -> dict[int, dict[str, int]]:
    """Each order's students counted by their current status."""
    rows = await db.fetch_all(
        """SELECT i.orden_id, a.estatus::text AS estatus, count(*) AS n
           FROM orden_items i JOIN alumnos a ON a.id = i.alumno_id
           WHERE CAST(:ids AS int[]) IS NULL OR i.orden_id = ANY(CAST(:ids AS int[]))
           GROUP BY 1, 2""", {"ids": orden_ids})
    out: dict[int, dict[str, int]] = {}
    for r in rows:
        out.setdefault(r["orden_id"], {})[r["estatus"]] = r["n"]
    return out


ITEM_SQL = """
SELECT a.id, a.matricula, a.prematricula, a.nombre, a.primer_apellido, a.segundo_apellido, a.curp,
       a.correo, a.plantel_id, p.nombre AS plantel, p.cct, a.grupo, c.nombre AS carrera,
       a.institucion_medica, a.numero_afiliacion, a.vigencia, a.estatus::text AS estatus,
       i.orden_id, i.reimpresion, i.motivo, i.abierto, a.foto_id, a.firma_id
FROM orden_items i JOIN alumnos a ON a.id = i.alumno_id JOIN planteles p ON p.id = a.plantel_id
JOIN carreras c ON c.codigo = a.carrera_codigo
"""


async def items(orden_id: int, estatus: str | None = None, limit: int = 100000, offset: int = 0) -> list[dict]:
    """The order's students (optionally only those in one status), by plantel, group and name."""
    return await db.fetch_all(
        ITEM_SQL + """ WHERE i.orden_id = :o AND (CAST(:e AS text) IS NULL OR a.estatus::text = :e)
                       ORDER BY p.nombre, a.grupo, a.busqueda, a.matricula LIMIT :l OFFSET :off""",
        {"o": orden_id, "e": estatus, "l": limit, "off": offset})


async def item_by_matricula(orden_id: int, matricula: str) -> dict | None:
    """One student of the order by matrícula."""
    return await db.fetch_one(ITEM_SQL + " WHERE i.orden_id = :o AND a.matricula = :m",
                              {"o": orden_id, "m": matricula})


async def reimpresiones(empresa: int | None) -> list[dict]:
    """Reprint requests: Rechazado students not in an open order, with the rejection reason; a company
    sees those whose card it printed (the student's previous order is its)."""
    return await db.fetch_all(
        f"""SELECT a.id, a.matricula, a.nombre, a.primer_apellido, a.segundo_apellido, p.nombre AS plantel,
                   a.grupo, a.fecha_estatus, a.orden_id AS orden_anterior, {MOTIVO_SQL} AS motivo
            FROM alumnos a JOIN planteles p ON p.id = a.plantel_id
            LEFT JOIN ordenes_impresion o ON o.id = a.orden_id
            WHERE a.estatus = 'rechazado' AND {_visible()}
              AND NOT EXISTS (SELECT 1 FROM orden_items i WHERE i.alumno_id = a.id AND i.abierto)
            ORDER BY a.fecha_estatus, a.matricula""", {"empresa": empresa})


async def espera_por_plantel() -> list[dict]:
    """Per plantel, how many students wait in each status of the process."""
    rows = await db.fetch_all(
        """SELECT p.id AS plantel_id, p.nombre AS plantel, a.estatus::text AS estatus, count(*) AS n,
                  min(a.fecha_estatus) AS desde
           FROM alumnos a JOIN planteles p ON p.id = a.plantel_id
           WHERE a.estatus = ANY(CAST(:st AS estatus[]))
           GROUP BY p.id, p.nombre, a.estatus ORDER BY p.nombre""",
        {"st": [s for s, _ in ESPERA]})
    out: dict[int, dict] = {}
    for r in rows:
        row = out.setdefault(r["plantel_id"], {"plantel_id": r["plantel_id"], "plantel": r["plantel"]})
        row[r["estatus"]] = r["n"]
    return list(out.values())


async def en_espera(plantel_id: int, estatus: str, limit: int = 200) -> list[dict]:
    """The students of a plantel waiting in a status, longest waiting first."""
    return await db.fetch_all(
        """SELECT a.matricula, a.nombre, a.primer_apellido, a.segundo_apellido, a.grupo, a.fecha_estatus,
                  a.orden_id, a.comentario
           FROM alumnos a WHERE a.plantel_id = :p AND a.estatus = CAST(:e AS estatus)
           ORDER BY a.fecha_estatus, a.matricula LIMIT :l""",
        {"p": plantel_id, "e": estatus, "l": limit})
