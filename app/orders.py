"""Print orders (Órdenes de impresión): create, mark printing / sent, receive, reject at reception.

Every student change goes through app.status.transition() with `expected=`; the order's own
state changes are conditional UPDATEs, so two people acting at once get exactly one winner.
A student is in at most one open order: the items are inserted first under the partial
unique index `orden_items_un_abierto`, so a concurrent order waits and then skips them.
"""
from __future__ import annotations

from dataclasses import dataclass

from . import avisos, db, paquetes, status
from .queries import ordenes as q
from .status import Actor, TransitionError
from .validation import normalize_matricula

ESTADO_LABEL = {"solicitada": "Solicitada", "en_impresion": "En impresión", "enviada": "Enviada",
                "recibida": "Recibida"}
# order state → (new state, its timestamp column, the student action, the allowed roles)
MARCAS = {"en_impresion": ("solicitada", "en_impresion_en", "imprimir", {"empresa", "estatal"}),
          "enviada": ("en_impresion", "enviada_en", None, {"empresa", "estatal"})}
RECEPCION = ("en_impresion", "enviada")


class OrderError(TransitionError):
    """A refused order operation; str() is the Spanish message."""


@dataclass
class Creada:
    """Outcome of creating an order."""

    orden_id: int
    alumnos: int
    reimpresiones: int
    esperados: int | None = None


async def crear(actor: Actor, plantel_ids: list[int], reimpresiones: bool, empresa_id: int | None = None,
                esperados: int | None = None) -> Creada:
    """Create an order with the chosen planteles' Validado (and Rechazado) students → Solicitado."""
    if actor.rol != "estatal":
        raise OrderError("Su perfil no permite crear órdenes de impresión.")
    if not plantel_ids:
        raise OrderError("Elija al menos un plantel.")
    empresa_id = await _empresa_de_orden(empresa_id)
    estatus = ["validado", "rechazado"] if reimpresiones else ["validado"]
    async with db.get_db().transaction():
        orden_id = await db.fetch_val(
            "INSERT INTO ordenes_impresion (creada_por, empresa_id) VALUES (:u, :e) RETURNING id",
            {"u": actor.id, "e": empresa_id})
        taken = await _take_students(orden_id, plantel_ids, estatus)
        done = [t for t in taken if await _solicitar(orden_id, t, actor)]
        if not done:
            raise OrderError("No hay alumnos disponibles para la orden: los elegidos ya están en otra orden "
                             "abierta o cambiaron de estatus. Revise las cifras e intente de nuevo.")
        await paquetes.solicitar(orden_id)  # the package is built in the background (app/paquetes.py)
    return Creada(orden_id, len(done), sum(1 for t in done if t["reimpresion"]), esperados)


async def _empresa_de_orden(empresa_id: int | None) -> int:
    """The company an order goes to: the one chosen, or the only one; every order has one (a company
    sees only its own orders, so an order without one would reach nobody)."""
    rows = await q.empresas()
    if empresa_id is None and len(rows) == 1:
        return rows[0]["id"]
    if empresa_id is None:
        raise OrderError("Elija la empresa de impresión de la orden.")
    if empresa_id not in {r["id"] for r in rows}:
        raise OrderError("La empresa de impresión elegida no existe; recargue la página y elija otra.")
    return empresa_id


async def _take_students(orden_id: int, plantel_ids: list[int], estatus: list[str]) -> list[dict]:
    """Insert the order's items; students already in an open order are skipped (waits for a racing order)."""
    return await db.fetch_all(
        f"""INSERT INTO orden_items (orden_id, alumno_id, reimpresion, motivo)
            SELECT :o, a.id, a.estatus = 'rechazado',
                   CASE WHEN a.estatus = 'rechazado' THEN coalesce({q.MOTIVO_SQL}, '') ELSE '' END
            FROM alumnos a
            WHERE a.plantel_id = ANY(CAST(:p AS int[])) AND a.estatus = ANY(CAST(:st AS estatus[]))
              AND a.baja_en IS NULL
            ORDER BY a.id
            ON CONFLICT (alumno_id) WHERE abierto DO NOTHING
            RETURNING alumno_id, reimpresion""",
        {"o": orden_id, "p": plantel_ids, "st": estatus})


async def _solicitar(orden_id: int, item: dict, actor: Actor) -> bool:
    """Move one taken student to Solicitado; drop the item when its status changed meanwhile."""
    try:
        await status.transition(item["alumno_id"], "solicitar", actor, orden_id=orden_id,
                                changes={"orden_id": orden_id},
                                expected="rechazado" if item["reimpresion"] else "validado")
        return True
    except TransitionError:
        await db.execute("DELETE FROM orden_items WHERE orden_id = :o AND alumno_id = :a",
                         {"o": orden_id, "a": item["alumno_id"]})
        return False


async def marcar(orden_id: int, nuevo: str, actor: Actor) -> int:
    """Mark an order "en impresión" (its students → Imprimiendo) or "enviada"; return students moved.
    A company user marks only its own company's orders (the scope comes from the account)."""
    if nuevo not in MARCAS:
        raise OrderError("Estado de orden desconocido; use en_impresion o enviada.")
    desde, columna, accion, roles = MARCAS[nuevo]
    if actor.rol not in roles:
        raise OrderError("Su perfil no permite cambiar el estado de la orden.")
    empresa = await scope_of(actor)
    async with db.get_db().transaction():
        ok = await db.fetch_val(
            f"""UPDATE ordenes_impresion o SET estado = CAST(:n AS orden_estado), {columna} = now(), actualizada_en = now()
                WHERE o.id = :id AND o.estado = CAST(:d AS orden_estado) AND {q._visible()} RETURNING id""",
            {"n": nuevo, "id": orden_id, "d": desde, "empresa": empresa})
        if ok is None:
            raise OrderError(await _why_not_mark(orden_id, nuevo, desde, empresa))
        if nuevo == "enviada":
            await avisos.orden_enviada(orden_id)  # mail to the Dirección Estatal, queued with the change
        if accion is None:
            return 0
        moved = 0
        for item in await db.fetch_all("SELECT alumno_id FROM orden_items WHERE orden_id = :o AND abierto",
                                       {"o": orden_id}):
            await status.transition(item["alumno_id"], accion, actor, orden_id=orden_id, expected="solicitado")
            moved += 1
    return moved


async def scope_of(actor: Actor) -> int | None:
    """The orders an actor may see (queries.ordenes.scope_for of its account's company)."""
    return q.scope_for(actor.rol, await q.empresa_of(actor.id) if actor.rol == "empresa" else None)


async def _why_not_mark(orden_id: int, nuevo: str, desde: str, empresa: int | None) -> str:
    """The Spanish reason an order state change matched nothing."""
    row = await q.orden(orden_id, empresa)
    if row is None:
        return f"No existe la orden de impresión {orden_id}."
    return (f"No se puede marcar la orden {orden_id} como «{ESTADO_LABEL[nuevo]}»: está "
            f"«{ESTADO_LABEL[row['estado']]}» (se requiere «{ESTADO_LABEL[desde]}»).")


async def _orden_en_recepcion(orden_id: int) -> dict:
    """The order, refusing reception unless it is being printed or was sent."""
    row = await q.orden(orden_id, None)
    if row is None:
        raise OrderError(f"No existe la orden de impresión {orden_id}.")
    if row["estado"] not in RECEPCION:
        raise OrderError(f"La orden {orden_id} está «{ESTADO_LABEL[row['estado']]}»: solo se reciben órdenes "
                         "en impresión o enviadas.")
    return row


async def recibir_todas(orden_id: int, actor: Actor) -> int:
    """Receive every card still pending in the order (→ Recibido); return how many."""
    await _orden_en_recepcion(orden_id)
    n = 0
    async with db.get_db().transaction():
        for it in await db.fetch_all(
                """SELECT i.alumno_id FROM orden_items i JOIN alumnos a ON a.id = i.alumno_id
                   WHERE i.orden_id = :o AND i.abierto AND a.estatus = 'imprimiendo'""", {"o": orden_id}):
            await _recibir(orden_id, it["alumno_id"], actor)
            n += 1
        await _cerrar_si_completa(orden_id)
    return n


async def _recibir(orden_id: int, alumno_id: int, actor: Actor) -> None:
    """One card received: Imprimiendo → Recibido and its item closed."""
    async with db.get_db().transaction():
        await status.transition(alumno_id, "recibir", actor, orden_id=orden_id, expected="imprimiendo")
        await _close_item(orden_id, alumno_id)


async def _close_item(orden_id: int, alumno_id: int) -> None:
    """Mark the student's item of this order as no longer open."""
    await db.execute("UPDATE orden_items SET abierto = false WHERE orden_id = :o AND alumno_id = :a",
                     {"o": orden_id, "a": alumno_id})


async def _item(orden_id: int, matricula: str) -> dict:
    """The order's item for a typed or scanned matrícula, or a Spanish refusal."""
    m = normalize_matricula(matricula)
    if not m:
        raise OrderError("Escanee o escriba la matrícula de la credencial.")
    it = await q.item_by_matricula(orden_id, m)
    if it is None:
        raise OrderError(f"La matrícula {m} no pertenece a la orden {orden_id}.")
    if not it["abierto"]:
        raise OrderError(f"La credencial {m} ya fue registrada en esta orden (estatus {status.LABEL[it['estatus']]}).")
    return it


async def recibir_matricula(orden_id: int, matricula: str, actor: Actor) -> dict:
    """Receive one card by its scanned matrícula; return the student."""
    await _orden_en_recepcion(orden_id)
    it = await _item(orden_id, matricula)
    async with db.get_db().transaction():
        await _recibir(orden_id, it["id"], actor)
        await _cerrar_si_completa(orden_id)
    return it


async def rechazar_recepcion(orden_id: int, matricula: str, comentario: str, actor: Actor) -> dict:
    """A missing or defective card at reception: → Rechazado with the comment (a reprint request)."""
    await _orden_en_recepcion(orden_id)
    it = await _item(orden_id, matricula)
    if not (comentario or "").strip():
        raise OrderError("Para rechazar la credencial escriba un comentario (faltante o defecto).")
    async with db.get_db().transaction():
        await status.transition(it["id"], "rechazar_recepcion", actor, comment=comentario, orden_id=orden_id,
                                changes={"comentario": comentario.strip()}, expected="imprimiendo")
        await _close_item(orden_id, it["id"])
        await _cerrar_si_completa(orden_id)
    return it


async def _cerrar_si_completa(orden_id: int) -> bool:
    """Mark the order Recibida once no card is pending (then one mail per plantel, queued with it)."""
    cerrada = await db.fetch_val(
        """UPDATE ordenes_impresion SET estado = 'recibida', recibida_en = now(), actualizada_en = now()
           WHERE id = :o AND estado IN ('en_impresion', 'enviada')
             AND NOT EXISTS (SELECT 1 FROM orden_items WHERE orden_id = :o AND abierto)
           RETURNING true""", {"o": orden_id}) or False
    if cerrada:
        await avisos.orden_recibida(orden_id)
    return cerrada
