"""Print packages built in the background (app/paquetes.py): jobs, parallel workers, retries, storage,
Range downloads, rebuild after a change, progress on the page and in the API."""
from __future__ import annotations

import asyncio
import csv
import dataclasses
import hashlib
import io
import zipfile

import asyncpg
import pytest
from pypdf import PdfReader

from app import api_tokens, db, jobs, orders, package, paquetes
from app.queries import paquetes as pq

from .conftest import actor, make_student, plantel_id
from .mailtools import clear_queue, drain, running_worker, wait_for

PART = 2  # cards per PDF part in these tests, so five students make three parts


@pytest.fixture(autouse=True)
async def small_parts(app, monkeypatch):
    """Small PDF parts and an empty queue (other tests leave jobs behind)."""
    monkeypatch.setattr(package, "PDF_PART", PART)
    await clear_queue()


async def _order(users, n: int = 5) -> int:
    """An order of n new cards."""
    for i in range(n):
        await make_student("validado", nombre=f"ALUMNA {i}")
    return (await orders.crear(actor(users["estatal"]), [await plantel_id("Ciudad Azteca")], False)).orden_id


def _content(data: bytes) -> dict:
    """What a package holds: manifest rows, each image's sha256, each PDF's page count."""
    z = zipfile.ZipFile(io.BytesIO(data))
    names = z.namelist()
    return {"manifest": list(csv.DictReader(io.StringIO(z.read("manifiesto.csv").decode("utf-8-sig")))),
            "images": {n: hashlib.sha256(z.read(n)).hexdigest() for n in names if n.startswith(("fotos/", "firmas/"))},
            "pdfs": {n: len(PdfReader(io.BytesIO(z.read(n))).pages) for n in names if n.endswith(".pdf")},
            "xlsx": "manifiesto.xlsx" in names}


async def _sync_content(app, oid: int) -> dict:
    """The content of the old synchronous package of the same order."""
    path = await package.build_package(oid, app.config["SETTINGS"])
    with open(path, "rb") as f:
        return _content(f.read())


async def _download(client, oid: int, **headers):
    """GET the order's package through the page's link."""
    return await client.get(f"/ordenes/{oid}/paquete.zip", headers=headers)


async def test_creating_an_order_enqueues_the_build(users):
    """Confirmar orden queues one job per PDF part and leaves the package pendiente, 0 of 5."""
    oid = await _order(users)
    jobs_ = await db.fetch_all("SELECT entrypoint, payload FROM pgqueuer ORDER BY id")
    assert [j["entrypoint"] for j in jobs_] == [paquetes.PARTE_JOB] * 3
    p = await pq.estado(oid)
    assert (p["estado"], p["tarjetas_hechas"], p["tarjetas_total"], p["partes_total"]) == ("pendiente", 0, 5, 3)


async def test_drain_builds_the_same_package_as_the_synchronous_build(app, users, signed_in):
    """After drain(app) the stored ZIP has the synchronous package's manifest rows, image hashes and PDF pages."""
    oid = await _order(users)
    client = await signed_in("empresa")
    r = await _download(client, oid)
    assert r.status_code == 202 and "El paquete se está preparando (0 de 5)" in await r.get_data(as_text=True)
    await drain(app)
    r = await _download(client, oid)
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/zip"
    data = await r.get_data()
    assert int(r.headers["Content-Length"]) == len(data)
    got = _content(data)
    assert got == await _sync_content(app, oid)
    assert got["pdfs"] == {"credenciales-001.pdf": 4, "credenciales-002.pdf": 4, "credenciales-003.pdf": 2}
    assert await db.fetch_val("SELECT count(*) FROM accesos_sensibles WHERE recurso = 'paquete_orden' "
                              "AND detalle = :d", {"d": f"orden {oid}"}) == 1  # the 202 is not a download


async def test_two_workers_build_one_order_in_parallel(app, users, monkeypatch):
    """Two continuous workers share the parts of one order (both draw some) and the result is the same."""
    for i in range(5, 10):
        await make_student("validado", nombre=f"ALUMNO {i}")
    oid = await _order(users)  # ten cards: five parts
    seen: list[int] = []
    original = jobs.HANDLERS[paquetes.PARTE_JOB]

    async def traced(settings, payload):
        """Record which worker (its settings object) drew the part."""
        seen.append(id(settings))
        await asyncio.sleep(0.3)
        await original(settings, payload)
    monkeypatch.setitem(jobs.HANDLERS, paquetes.PARTE_JOB, traced)
    base = app.config["SETTINGS"]
    a, b = dataclasses.replace(base), dataclasses.replace(base)
    async with running_worker(a), running_worker(b):
        await wait_for_ready(oid)
    assert {id(a), id(b)} <= set(seen), "both workers drew parts"
    p = await pq.estado(oid)
    assert (p["partes_hechas"], p["tarjetas_hechas"]) == (5, 10)
    assert _content(await _stored(p)) == await _sync_content(app, oid)


async def wait_for_ready(oid: int, timeout: float = 60) -> None:
    """Poll the package row until it is listo."""
    start = asyncio.get_running_loop().time()
    while (p := await pq.estado(oid)) is None or p["estado"] != "listo":
        assert asyncio.get_running_loop().time() - start < timeout, f"not ready: {p}"
        await asyncio.sleep(0.2)


async def _stored(p: dict) -> bytes:
    """The stored ZIP of a ready package, read back block by block."""
    return b"".join([c async for c in paquetes.stream(p, 0, p["tamano"])])


async def test_a_failing_part_is_retried_and_the_package_completes(app, users, monkeypatch):
    """A part that raises once is queued again and the build ends listo with every part."""
    oid = await _order(users)
    original, calls = paquetes._draw, []

    async def flaky(settings, orden, numero):
        """Fail the first drawing of part 2."""
        calls.append(numero)
        if numero == 2 and calls.count(2) == 1:
            raise RuntimeError("falla simulada")
        return await original(settings, orden, numero)
    monkeypatch.setattr(paquetes, "_draw", flaky)
    await drain(app)
    assert calls.count(2) == 2
    p = await pq.estado(oid)
    assert p["estado"] == "listo" and p["partes_hechas"] == 3


async def test_a_part_killed_before_commit_leaves_no_part_row(app, users, monkeypatch, database_url):
    """A worker dying after writing its part but before the commit leaves nothing another session can see; the
    job runs again and the package completes with exactly one row per part."""
    oid = await _order(users)
    original, visible, died = pq.contar_parte, [], []
    store, storing = pq.guardar_parte, {}

    async def noted(orden, gen, numero, tarjetas, pdf):
        """Remember which part this job (task) is storing: parts of the order run in parallel."""
        storing[asyncio.current_task()] = numero
        return await store(orden, gen, numero, tarjetas, pdf)

    async def die_once(orden, gen, tarjetas):
        """After the part's INSERT, look for THAT part from another connection, then die (first time only)."""
        if not died:
            died.append(True)
            other = await asyncpg.connect(database_url)
            try:
                visible.append(await other.fetchval("SELECT count(*) FROM paquete_partes WHERE orden_id = $1 AND "
                                                    "numero = $2", orden, storing[asyncio.current_task()]))
            finally:
                await other.close()
            raise RuntimeError("trabajador detenido a la mitad")
        return await original(orden, gen, tarjetas)
    monkeypatch.setattr(pq, "guardar_parte", noted)
    monkeypatch.setattr(pq, "contar_parte", die_once)
    await drain(app)
    assert visible == [0]
    counts = await db.fetch_all("SELECT numero, count(*) AS n FROM paquete_partes WHERE orden_id = :o GROUP BY numero",
                                {"o": oid})
    assert sorted((r["numero"], r["n"]) for r in counts) == [(1, 1), (2, 1), (3, 1)]
    assert (await pq.estado(oid))["estado"] == "listo"


async def test_range_requests(app, users, signed_in):
    """Full (Content-Length), bytes=0-99, bytes=100-, suffix bytes=-100, and 416 for an unsatisfiable range."""
    oid = await _order(users)
    await drain(app)
    client = await signed_in("empresa")
    full = await (await _download(client, oid)).get_data()
    n = len(full)
    cases = {"bytes=0-99": (0, 100), "bytes=100-": (100, n), "bytes=-100": (n - 100, n)}
    for header, (start, stop) in cases.items():
        r = await _download(client, oid, Range=header)
        assert r.status_code == 206, header
        assert r.headers["Content-Range"] == f"bytes {start}-{stop - 1}/{n}"
        assert int(r.headers["Content-Length"]) == stop - start
        assert await r.get_data() == full[start:stop]
    for bad in (f"bytes={n}-", "bytes=50-10", "elefantes=0-1"):
        r = await _download(client, oid, Range=bad)
        assert r.status_code == 416 and r.headers["Content-Range"] == f"bytes */{n}", bad


async def test_a_student_change_makes_the_package_stale_and_rebuilds_it(app, users, signed_in):
    """After a printed field changes, the download answers preparando and queues a rebuild with the new data."""
    oid = await _order(users)
    await drain(app)
    client = await signed_in("empresa")
    assert (await _download(client, oid)).status_code == 200
    aid = await db.fetch_val("SELECT alumno_id FROM orden_items WHERE orden_id = :o LIMIT 1", {"o": oid})
    await db.execute("UPDATE alumnos SET nombre = 'NOMBRE CORREGIDO' WHERE id = :a", {"a": aid})
    r = await _download(client, oid)
    assert r.status_code == 202 and "El paquete se está preparando" in await r.get_data(as_text=True)
    assert await db.fetch_val("SELECT count(*) FROM pgqueuer WHERE entrypoint = :e", {"e": paquetes.PARTE_JOB}) == 3
    await drain(app)
    r = await _download(client, oid)
    assert r.status_code == 200
    assert "NOMBRE CORREGIDO" in {row["Nombre"] for row in _content(await r.get_data())["manifest"]}
    assert (await pq.estado(oid))["generacion"] == 2


async def test_progress_on_the_order_page_and_in_the_api(app, users, signed_in, client):
    """The page and the API say 'Preparando paquete: n de N' while building and 'Paquete listo' after."""
    oid = await _order(users)
    token = await api_tokens.create_token(users["empresa"]["email"])
    auth = {"Authorization": f"Bearer {token}"}
    page = await signed_in("empresa")
    assert "Preparando paquete: 0 de 5" in await (await page.get(f"/ordenes/{oid}")).get_data(as_text=True)
    body = await (await client.get(f"/api/v1/ordenes/{oid}", headers=auth)).get_json()
    assert body["paquete_estado"]["texto"] == "Preparando paquete: 0 de 5"
    r = await client.get(f"/api/v1/ordenes/{oid}/paquete", headers=auth)
    assert r.status_code == 202 and (await r.get_json())["error"].startswith("El paquete se está preparando (0 de 5)")
    await drain(app)
    assert "Paquete listo" in await (await page.get(f"/ordenes/{oid}")).get_data(as_text=True)
    body = await (await client.get(f"/api/v1/ordenes/{oid}", headers=auth)).get_json()
    assert body["paquete_estado"]["estado"] == "listo" and body["paquete_estado"]["tamano"] > 0
    assert (await client.get(f"/api/v1/ordenes/{oid}/paquete", headers=auth)).status_code == 200


def test_progress_text_uses_thousands_separators():
    """Large orders read as on the issue: 'Preparando paquete: 1,250 de 2,000'."""
    p = {"estado": "construyendo", "tarjetas_hechas": 1250, "tarjetas_total": 2000}
    assert paquetes.progreso_texto(p) == "Preparando paquete: 1,250 de 2,000"
    assert paquetes.preparando(p).startswith("El paquete se está preparando (1,250 de 2,000)")
