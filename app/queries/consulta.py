"""Consultar alumno: search by matrícula, CURP or name (words in any order, accents and case ignored), history."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from .. import db
from ..validation import MATRICULA_RE, normalize_matricula

PAGE_SIZE = 20
_FOLD = str.maketrans("ÁÉÍÓÚÜÑáéíóúüñÀÈÌÒÙàèìòù", "AEIOUUNaeiouunAEIOUaeiou")  # as SQL fold()
CURP_START = re.compile(r"^[A-ZÑ]{4}\d[0-9A-Z]*$")
SEARCH_SQL = """
SELECT a.id, a.matricula, a.curp, a.nombre, a.primer_apellido, a.segundo_apellido, p.nombre AS plantel,
       a.grupo, a.estatus::text AS estatus
FROM alumnos a JOIN planteles p ON p.id = a.plantel_id
"""
# Name matches are collected by a BitmapOr (prefix range + GIN) and then sorted: an ORDER BY the index
# could serve would tempt the planner into walking alumnos_busqueda in order and filtering 500,000 rows
# (3.7 s in EXPLAIN ANALYZE on the bench data), so the sort key is an expression no index provides.
BY_NAME = "(a.busqueda || '') USING ~<~, a.id"
# kind → (WHERE, ORDER BY). Prefix ranges use the text_pattern_ops operators so the indexes serve them
# (and the LIMIT) whatever plan the prepared statement gets.
CONDITIONS = {
    "matricula": ("a.matricula = :v", "a.id"),
    "matricula_prefijo": ("a.matricula ~>=~ :v AND a.matricula ~<~ :hi", "a.matricula USING ~<~"),
    "curp": ("a.curp = :v", "a.busqueda, a.id"),
    "curp_prefijo": ("a.curp ~>=~ :v AND a.curp ~<~ :hi", "a.curp USING ~<~, a.id"),
    "nombre": ("(a.busqueda ~>=~ :v AND a.busqueda ~<~ :hi) OR a.palabras @> ARRAY[CAST(:v AS text)]",
               BY_NAME),
    # several words: typed in order (prefix of the whole name) or every word complete, in any order (GIN)
    "palabras": ("(a.busqueda ~>=~ :v AND a.busqueda ~<~ :hi) OR a.palabras @> CAST(:palabras AS text[])", BY_NAME),
}


def fold(text: str) -> str:
    """Uppercase without accents, single-spaced (Python twin of SQL fold())."""
    return " ".join(text.translate(_FOLD).upper().split())


def search_kind(query: str) -> tuple[str, str]:
    """What the user typed: a matrícula (or its start), a CURP (or its start), a name word or several words."""
    m = normalize_matricula(query)
    if re.fullmatch(r"\d[\d-]*", m):
        return ("matricula" if MATRICULA_RE.match(m) else "matricula_prefijo"), m
    text = fold(query)
    if CURP_START.match(text):
        return ("curp" if len(text) >= 18 else "curp_prefijo"), text
    return ("palabras" if " " in text else "nombre"), text


def _upper_bound(prefix: str) -> str:
    """The smallest string greater than every string starting with prefix (code-point order)."""
    return prefix[:-1] + chr(min(ord(prefix[-1]) + 1, 0x10FFFF))


@dataclass
class Resultado:
    """One page of matches."""

    query: str
    kind: str
    rows: list[dict] = field(default_factory=list)
    page: int = 1
    has_next: bool = False

    @property
    def single(self) -> dict | None:
        """The student when the whole search found exactly one."""
        return self.rows[0] if self.page == 1 and len(self.rows) == 1 and not self.has_next else None


async def search(query: str, page: int = 1, size: int = PAGE_SIZE) -> Resultado:
    """A page of students matching query (any plantel: Consultar alumno is read-only for everyone)."""
    kind, value = search_kind(query)
    res = Resultado(query=query, kind=kind, page=max(1, page))
    if not value:
        return res
    where, order = CONDITIONS[kind]
    values = {"v": value, "lim": size + 1, "off": (res.page - 1) * size}
    if ":hi" in where:
        values["hi"] = _upper_bound(value)
    if ":palabras" in where:
        values["palabras"] = value.split(" ")
    rows = await db.fetch_all(f"{SEARCH_SQL} WHERE {where} ORDER BY {order} LIMIT :lim OFFSET :off", values)
    res.rows, res.has_next = rows[:size], len(rows) > size
    return res


async def history(alumno_id: int) -> list[dict]:
    """Every event of a student, oldest first, with who did it."""
    return await db.fetch_all(
        """SELECT e.id, e.en, e.accion, e.de::text AS de, e.a::text AS a, e.comentario, e.orden_id,
                  u.email, u.nombre AS usuario
           FROM eventos e LEFT JOIN usuarios u ON u.id = e.usuario_id
           WHERE e.alumno_id = :id ORDER BY e.en, e.id""", {"id": alumno_id})


async def older_biometrics(alumno: dict) -> list[dict]:
    """Image versions of a student that are no longer current (retaken photos and signatures)."""
    current = [i for i in (alumno["foto_id"], alumno["firma_id"], alumno["firma_entrega_id"]) if i]
    return await db.fetch_all(
        """SELECT b.id, b.tipo::text AS tipo, b.creado_en, u.email
           FROM biometricos b LEFT JOIN usuarios u ON u.id = b.creado_por
           WHERE b.alumno_id = :id AND NOT (b.id = ANY(CAST(:current AS bigint[])))
           ORDER BY b.creado_en DESC, b.id DESC""", {"id": alumno["id"], "current": current})
