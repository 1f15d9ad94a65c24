"""SQL of Administración: catalog rows with their uses, changes recorded with before → after, and the
Bitácora (the audit trail of every source, newest first, keyset-paged)."""
from __future__ import annotations

import json
from datetime import datetime

from .. import db
from ..catalogos import Catalog
from ..status import RULES


def _row(r) -> dict:
    """A record as a plain dict (JSON-safe values for the change log)."""
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in dict(r).items()}


async def catalog_rows(c: Catalog) -> list[dict]:
    """Every entry of a catalog with the number of rows using it."""
    uses = c.uses_sql.replace(":k", f"CAST(t.{c.key} AS text)")
    return [dict(r) for r in await db.fetch_all(
        f"SELECT t.*, ({uses}) AS usos FROM {c.table} t ORDER BY {c.active} DESC, {c.order_by}")]


async def catalog_row(c: Catalog, key: str) -> dict | None:
    """One entry by key (text), or None."""
    r = await db.fetch_one(f"SELECT * FROM {c.table} WHERE CAST({c.key} AS text) = :k", {"k": key})
    return _row(r) if r else None


async def uses(c: Catalog, key: str) -> int:
    """How many rows reference the entry."""
    return await db.fetch_val(c.uses_sql, {"k": key})


async def record_change(entidad: str, clave: str, accion: str, antes: dict | None, despues: dict | None,
                        usuario_id: int | None, ip: str) -> None:
    """One row of the administration change log."""
    await db.execute(
        """INSERT INTO cambios_admin (usuario_id, entidad, clave, accion, antes, despues, ip)
           VALUES (:u, :e, :c, :a, CAST(:antes AS jsonb), CAST(:despues AS jsonb), :ip)""",
        {"u": usuario_id, "e": entidad, "c": clave, "a": accion, "ip": ip,
         "antes": json.dumps(antes, default=str) if antes is not None else None,
         "despues": json.dumps(despues, default=str) if despues is not None else None})


async def insert_entry(c: Catalog, values: dict) -> str:
    """Insert a catalog entry; its key as text."""
    cols = ", ".join(values)
    return str(await db.fetch_val(
        f"INSERT INTO {c.table} ({cols}) VALUES ({', '.join(':' + k for k in values)}) RETURNING {c.key}", values))


async def update_entry(c: Catalog, key: str, values: dict) -> None:
    """Update a catalog entry's fields."""
    sets = ", ".join(f"{k} = :{k}" for k in values)
    await db.execute(f"UPDATE {c.table} SET {sets} WHERE CAST({c.key} AS text) = :key", {**values, "key": key})


async def set_active(c: Catalog, key: str, active: bool) -> None:
    """Retire or reactivate an entry."""
    await db.execute(f"UPDATE {c.table} SET {c.active} = :a WHERE CAST({c.key} AS text) = :key", {"a": active, "key": key})


async def delete_entry(c: Catalog, key: str) -> None:
    """Delete an entry nobody uses."""
    await db.execute(f"DELETE FROM {c.table} WHERE CAST({c.key} AS text) = :key", {"key": key})


async def conflicts(c: Catalog, values: dict, key: str | None) -> dict[str, str]:
    """Unique fields already taken by another entry → the Spanish message per field."""
    out = {}
    for name in ("nombre", "cct", "codigo", "clave"):
        if name not in values or not any(f.name == name for f in c.fields):
            continue
        taken = await db.fetch_val(
            f"SELECT CAST({c.key} AS text) FROM {c.table} WHERE lower({name}::text) = lower(:v) "
            f"AND (CAST(:k AS text) IS NULL OR CAST({c.key} AS text) <> CAST(:k AS text)) LIMIT 1",
            {"v": str(values[name]), "k": key})
        if taken is not None:
            out[name] = f"Ya existe {'un' if c.singular == 'plantel' else 'una'} {c.singular} con ese valor."
    return out


# ---- Bitácora ------------------------------------------------------------------------------------
# Each source as (fuente, id, en, usuario_id, accion, alumno_id, plantel_id, orden_id, detalle, ip); a
# source only takes part when the filters can apply to it. Keyset paging on (en, fuente, id) descending:
# each branch reads its own (en DESC, id DESC) index up to the page size, the union sorts at most
# 4 × page rows.
SOURCES = {
    "evento": """SELECT 'evento' AS fuente, e.id, e.en, e.usuario_id, e.accion, e.alumno_id, a.plantel_id, e.orden_id,
                        concat_ws(' ', coalesce(e.de::text, '') || CASE WHEN e.a IS NULL THEN '' ELSE ' → ' || e.a::text END,
                                  nullif(e.comentario, '')) AS detalle, '' AS ip
                 FROM eventos e JOIN alumnos a ON a.id = e.alumno_id""",
    "acceso": """SELECT 'acceso' AS fuente, s.id, s.en, s.usuario_id, s.recurso AS accion, s.alumno_id,
                        coalesce(s.plantel_id, a.plantel_id) AS plantel_id, NULL::int AS orden_id, s.detalle, s.ip
                 FROM accesos_sensibles s LEFT JOIN alumnos a ON a.id = s.alumno_id""",
    "sesion": """SELECT 'sesion' AS fuente, i.id, i.en, u.id AS usuario_id,
                        CASE WHEN i.exito THEN 'inicio_sesion' ELSE 'inicio_sesion_fallido' END AS accion,
                        NULL::bigint AS alumno_id, u.plantel_id, NULL::int AS orden_id, i.email AS detalle, i.ip
                 FROM intentos_acceso i LEFT JOIN usuarios u ON u.email = i.email""",
    "admin": """SELECT 'admin' AS fuente, c.id, c.en, c.usuario_id, c.entidad || ':' || c.accion AS accion,
                       NULL::bigint AS alumno_id, NULL::int AS plantel_id, NULL::int AS orden_id,
                       c.clave || ' ' || coalesce(c.antes::text, '∅') || ' → ' || coalesce(c.despues::text, '∅') AS detalle, c.ip
                FROM cambios_admin c""",
}
# Suggestions for the action filter (the status machine's actions, recorded reads, sign-ins).
ACCIONES = tuple(sorted({*RULES, "importar", "credencial_temporal", "foto", "firma", "firma_entrega", "excel_plantel",
                         "paquete_orden", "padron_offline", "orden_api", "consulta_alumno", "envio_a_nombre",
                         "bitacora_csv", "inicio_sesion", "inicio_sesion_fallido"}))
FUENTES = {"evento": "Cambio de estatus", "acceso": "Consulta de datos sensibles", "sesion": "Inicio de sesión",
           "admin": "Administración"}


def _where(fuente: str, f: dict) -> tuple[list[str], bool]:
    """The WHERE terms of one source for the filters; False when the source cannot match them."""
    alias = {"evento": "e", "acceso": "s", "sesion": "i", "admin": "c"}[fuente]
    terms = [f"{alias}.en >= CAST(:desde AS timestamptz)" if f.get("desde") else "",
             f"{alias}.en < CAST(:hasta AS timestamptz)" if f.get("hasta") else "",
             f"{alias}.en <= CAST(:c_en AS timestamptz) AND ({alias}.en, CAST(:fuente_{fuente} AS text), {alias}.id) < "
             "(CAST(:c_en AS timestamptz), CAST(:c_fuente AS text), CAST(:c_id AS bigint))" if f.get("cursor") else ""]
    user_col = {"evento": "e.usuario_id", "acceso": "s.usuario_id", "sesion": "u.id", "admin": "c.usuario_id"}[fuente]
    if f.get("usuario_id") is not None:
        terms.append(f"{user_col} = :usuario_id")
    if f.get("alumno_id") is not None:
        if fuente in ("sesion", "admin"):
            return [], False
        terms.append(f"{alias}.alumno_id = :alumno_id")
    if f.get("orden_id") is not None:
        if fuente != "evento":
            return [], False
        terms.append("e.orden_id = :orden_id")
    if f.get("plantel_id") is not None:
        if fuente == "admin":
            return [], False
        col = {"evento": "a.plantel_id", "acceso": "coalesce(s.plantel_id, a.plantel_id)", "sesion": "u.plantel_id"}[fuente]
        terms.append(f"{col} = :plantel_id")
    if f.get("accion"):  # exact (indexed) match; a source whose actions cannot be named so drops out
        accion = f["accion"]
        if fuente == "sesion":
            if accion not in ("inicio_sesion", "inicio_sesion_fallido"):
                return [], False
            terms.append("i.exito" if accion == "inicio_sesion" else "NOT i.exito")
        elif fuente == "admin":
            if ":" not in accion:
                return [], False
            terms.append("c.entidad || ':' || c.accion = :accion")
        elif ":" in accion or accion.startswith("inicio_sesion"):
            return [], False
        else:
            terms.append(f"{'e.accion' if fuente == 'evento' else 's.recurso'} = :accion")
    return [t for t in terms if t], True


async def bitacora(f: dict, limit: int) -> list[dict]:
    """One page of the audit trail, newest first, after the cursor (en, fuente, id) when given."""
    params = {k: v for k, v in f.items() if k in ("desde", "hasta", "usuario_id", "alumno_id", "orden_id", "plantel_id")
              and v is not None}
    if f.get("accion"):
        params["accion"] = f["accion"]
    if f.get("cursor"):
        params.update(c_en=f["cursor"][0], c_fuente=f["cursor"][1], c_id=f["cursor"][2])
    branches = []
    for fuente, sql in SOURCES.items():
        if f.get("fuente") and f["fuente"] != fuente:
            continue
        terms, possible = _where(fuente, f)
        if not possible:
            continue
        if f.get("cursor"):
            params[f"fuente_{fuente}"] = fuente
        alias = {"evento": "e", "acceso": "s", "sesion": "i", "admin": "c"}[fuente]
        where = f" WHERE {' AND '.join(terms)}" if terms else ""
        branches.append(f"({sql}{where} ORDER BY {alias}.en DESC, {alias}.id DESC LIMIT {int(limit)})")
    if not branches:
        return []
    rows = await db.fetch_all(
        f"""SELECT b.*, u.email, p.nombre AS plantel, al.matricula
            FROM ({' UNION ALL '.join(branches)}) b
            LEFT JOIN usuarios u ON u.id = b.usuario_id LEFT JOIN planteles p ON p.id = b.plantel_id
            LEFT JOIN alumnos al ON al.id = b.alumno_id
            ORDER BY b.en DESC, b.fuente DESC, b.id DESC LIMIT {int(limit)}""", params)
    return [dict(r) for r in rows]


async def user_id_of(email: str) -> int | None:
    """A user's id by e-mail (case-insensitive)."""
    return await db.fetch_val("SELECT id FROM usuarios WHERE email = lower(:e)", {"e": email})


async def alumno_id_of(matricula: str) -> int | None:
    """A student's id by matrícula."""
    return await db.fetch_val("SELECT id FROM alumnos WHERE matricula = :m", {"m": matricula})


async def planteles() -> list[dict]:
    """Every plantel (id, nombre), for filters and forms."""
    return [dict(r) for r in await db.fetch_all("SELECT id, nombre, activo FROM planteles ORDER BY nombre")]
