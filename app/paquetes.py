"""Print packages built in the background on the job queue (issue 17) and served from the database.

Creating an order calls `solicitar()`: a new build (generation) of the order's package, one
`paquete_parte` job per PDF part of `package.PDF_PART` cards, so any number of workers on any number
of machines draw one order's parts in parallel. Each part is stored in one INSERT (a worker killed
mid-part stores nothing and pgqueuer hands its job to another worker after the heartbeat timeout);
a part that raises is re-queued at most `INTENTOS` times, then the build is 'fallido'. The last part
to be counted queues `paquete_armar`, which writes the ZIP with `package.PackageWriter` (images and
manifests from the database, the stored parts instead of drawing) and stores it in 1 MB blocks.

Freshness: the package carries the content hash (app/queries/paquetes.py HUELLA_SQL) it was built
from; `estado()` compares it with the order's current hash and, when they differ, starts a rebuild.
"""
from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import tempfile
from typing import AsyncIterator

from . import db, disenos, jobs, package
from .queries import paquetes as q

log = logging.getLogger(__name__)
PARTE_JOB, ARMAR_JOB = "paquete_parte", "paquete_armar"
BLOQUE = 1024 * 1024
INTENTOS = 3
_DB_LOCK = asyncio.Lock()


def progreso_texto(p: dict | None) -> str:
    """The Spanish line for a package's state ("Preparando paquete: 1,250 de 2,000", "Paquete listo")."""
    if p is None or p["estado"] in ("pendiente", "construyendo"):
        hechas, total = (p["tarjetas_hechas"], p["tarjetas_total"]) if p else (0, 0)
        return f"Preparando paquete: {hechas:,} de {total:,}"
    if p["estado"] == "fallido":
        return "No se pudo preparar el paquete; se reintentará al descargarlo."
    return "Paquete listo"


def resumen(p: dict | None) -> dict:
    """The package's state for the API and the page."""
    return {"estado": p["estado"] if p else "pendiente", "tarjetas_hechas": p["tarjetas_hechas"] if p else 0,
            "tarjetas_total": p["tarjetas_total"] if p else 0, "tamano": p["tamano"] if p and p["estado"] == "listo"
            else None, "texto": progreso_texto(p)}


async def solicitar(orden_id: int) -> int:
    """Start a new build of the order's package (inside the caller's transaction, if any); return its generation."""
    async with db.get_db().transaction():
        anterior = await q.estado(orden_id, lock=True)
        huella, tarjetas = await q.huella(orden_id)
        partes = -(-tarjetas // package.PDF_PART)
        gen = await q.nueva_generacion(orden_id, huella, tarjetas, partes)
        await q.borrar_viejas(orden_id, gen, anterior["lista_generacion"] if anterior else None)
        for numero in range(1, partes + 1):
            await jobs.enqueue(PARTE_JOB, {"orden": orden_id, "generacion": gen, "parte": numero})
        if not partes:
            await jobs.enqueue(ARMAR_JOB, {"orden": orden_id, "generacion": gen})
    return gen


async def estado(orden_id: int) -> dict | None:
    """The package row, after starting a rebuild if the order changed since the build (or it failed)."""
    p = await q.estado(orden_id)
    huella, _ = await q.huella(orden_id)
    if p is None or p["huella"] != huella or p["estado"] == "fallido":
        await solicitar(orden_id)
        p = await q.estado(orden_id)
    return p


def listo(p: dict | None) -> bool:
    """Whether the stored package is the order's current one."""
    return bool(p and p["estado"] == "listo" and p["lista_huella"] == p["huella"])


# ---- workers ---------------------------------------------------------------------------------------

async def _ensure_db(settings) -> None:
    """In a worker process (no app), open the process's Database once; the app's own otherwise."""
    async with _DB_LOCK:
        if db.db is None:
            from .pgembed import database_url

            database = db.make_database(database_url(settings.database_url), min(4, settings.db_pool_max))
            await database.connect()
            db.set_db(database)


@jobs.handler(PARTE_JOB, concurrency=package.pool_size())  # a worker takes only the parts it can draw at once
async def parte(settings, payload: dict) -> None:
    """Draw one PDF part of an order and store it; the last part queues the assembly."""
    await _ensure_db(settings)
    orden, gen, numero = payload["orden"], payload["generacion"], payload["parte"]
    if not await q.construyendo(orden, gen, numero):
        return  # superseded by a newer build
    try:
        pdf, tarjetas = await _draw(settings, orden, numero)
        await _store_part(orden, gen, numero, tarjetas, pdf)
    except Exception as e:  # noqa: BLE001 - any failure of a part is retried a bounded number of times
        await _retry(PARTE_JOB, payload, e)


async def _draw(settings, orden: int, numero: int) -> tuple[bytes, int]:
    """Draw part numero (1-based) of the order in the PDF pool; return its bytes and card count."""
    diseno = await disenos.of_order(orden)
    verify = package._verify_url_builder(settings)
    start = (numero - 1) * package.PDF_PART
    rows = await _rows(orden, start)
    cards = [dataclasses.replace(package.card_of(package.prepare_row(r, start + i, verify, diseno)), diseno=diseno)
             for i, r in enumerate(rows)]
    fd, path = tempfile.mkstemp(suffix=".pdf")
    os.close(fd)
    try:
        await asyncio.get_running_loop().run_in_executor(package._pool(), package.draw_part, path, orden, cards)
        with open(path, "rb") as f:
            return await asyncio.to_thread(f.read), len(cards)
    finally:
        os.unlink(path)


async def _rows(orden: int, start: int) -> list[dict]:
    """The cursor rows of one part (the package's query and order, sliced)."""
    async with db.raw_connection() as conn:
        rows = await conn.fetch(package.CARDS_SQL + " OFFSET $2 LIMIT $3", orden, start, package.PDF_PART)
    return [dict(r) for r in rows]


async def _store_part(orden: int, gen: int, numero: int, tarjetas: int, pdf: bytes) -> None:
    """Store the part and count it, in one transaction; the last one queues the assembly."""
    async with db.get_db().transaction():
        if not await q.guardar_parte(orden, gen, numero, tarjetas, pdf):
            return  # the same part stored by an earlier run of this job
        cuenta = await q.contar_parte(orden, gen, tarjetas)
        if cuenta and cuenta["partes_hechas"] >= cuenta["partes_total"]:
            await jobs.enqueue(ARMAR_JOB, {"orden": orden, "generacion": gen})


async def _retry(name: str, payload: dict, error: Exception) -> None:
    """Queue the job again (at most INTENTOS runs), or mark the build as failed."""
    intento = payload.get("intento", 1)
    log.warning("paquete de la orden %s: %s falló (intento %s): %s", payload["orden"], name, intento, error)
    if intento < INTENTOS:
        await jobs.enqueue(name, {**payload, "intento": intento + 1})
    else:
        await q.fallar(payload["orden"], payload["generacion"], f"{type(error).__name__}: {error}")


@jobs.handler(ARMAR_JOB, concurrency=1)
async def armar(settings, payload: dict) -> None:
    """Write the order's ZIP from its stored parts and store it as the ready package."""
    await _ensure_db(settings)
    orden, gen = payload["orden"], payload["generacion"]
    paths: dict[str, str] = {}
    try:
        if (p := await q.estado(orden)) is None or p["generacion"] != gen:
            return  # superseded
        paths = await _parts_to_files(orden, gen)
        diseno = await disenos.of_order(orden)
        writer = await asyncio.to_thread(package.PackageWriter, orden, package._verify_url_builder(settings),
                                         diseno, paths.pop)
        zip_path = await _write_zip(writer, orden)
        try:
            await _store_zip(orden, gen, zip_path)
        finally:
            os.unlink(zip_path)
    except Exception as e:  # noqa: BLE001 - retried a bounded number of times
        await _retry(ARMAR_JOB, payload, e)
    finally:
        for path in paths.values():
            os.unlink(path)


async def _parts_to_files(orden: int, gen: int) -> dict[str, str]:
    """Each stored part into a temporary file, by its name in the ZIP (one part in memory at a time)."""
    paths: dict[str, str] = {}
    for numero in await q.partes(orden, gen):
        fd, path = tempfile.mkstemp(suffix=".pdf")
        with os.fdopen(fd, "wb") as f:
            await asyncio.to_thread(f.write, await q.parte_pdf(orden, gen, numero))
        paths[f"credenciales-{numero:03d}.pdf"] = path
    return paths


async def _write_zip(writer: package.PackageWriter, orden: int) -> str:
    """Feed the order's rows to the writer; return the ZIP's path."""
    try:
        async for batch in package.rows_of(orden):
            await asyncio.to_thread(writer.add, batch)
        return await asyncio.to_thread(writer.close)
    except BaseException:
        await asyncio.to_thread(writer.discard)
        raise


async def _store_zip(orden: int, gen: int, path: str) -> None:
    """Store the ZIP in blocks and make it the ready package, in one transaction."""
    async with db.get_db().transaction():
        with open(path, "rb") as f:
            numero = 0
            while datos := await asyncio.to_thread(f.read, BLOQUE):
                await q.guardar_bloque(orden, gen, numero, datos)
                numero += 1
        if await q.terminar(orden, gen, os.path.getsize(path)):
            await q.borrar_viejas(orden, gen, gen)


# ---- download --------------------------------------------------------------------------------------

async def stream(p: dict, start: int, stop: int) -> AsyncIterator[bytes]:
    """Yield bytes [start, stop) of the ready package, block by block from the database."""
    numero, offset = divmod(start, BLOQUE)
    while start < stop:
        datos = await q.bloque(p["orden_id"], p["lista_generacion"], numero)
        if datos is None:
            return  # replaced by a newer build meanwhile: the client resumes with a Range request
        chunk = datos[offset:offset + (stop - start)]
        yield chunk
        start += len(chunk)
        numero, offset = numero + 1, 0


def rango(header: str | None, tamano: int) -> tuple[int, int] | None:
    """The [start, stop) asked by a Range header (the whole file without one); None when unsatisfiable."""
    if not header:
        return 0, tamano
    from werkzeug.http import parse_range_header

    parsed = parse_range_header(header)
    if parsed is None or parsed.units != "bytes" or len(parsed.ranges) != 1:
        return None
    return parsed.range_for_length(tamano)


def preparando(p: dict | None) -> str:
    """The Spanish refusal while the package is not ready."""
    hechas, total = (p["tarjetas_hechas"], p["tarjetas_total"]) if p else (0, 0)
    return f"El paquete se está preparando ({hechas:,} de {total:,}). Intente de nuevo en unos momentos."
