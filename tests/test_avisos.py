"""Avisos (issue 15): notices queued with the status change or order change that makes them true, sent by the
worker to a real SMTP server (aiosmtpd); opt-outs, exclusions, SMTP outage and a worker killed mid-send."""
from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from datetime import date

import pytest

from app import avisos, db, orders, status
from app.status import TransitionError

from .conftest import ROOT, actor, make_student, plantel_id, post, text_of
from .mailtools import clear_queue, free_port, running_worker, smtp_server, smtp_settings, wait_for

LISTA = "Tu credencial está lista: recógela en tu plantel; trae tu credencial temporal"


@pytest.fixture(autouse=True)
async def empty_queue(app):
    """Each test starts with an empty queue."""
    await clear_queue()


async def queued() -> list[dict]:
    """Payloads of the mail jobs waiting in the queue, oldest first."""
    rows = await db.fetch_all("SELECT payload FROM pgqueuer WHERE entrypoint = 'correo' ORDER BY id")
    return [json.loads(bytes(r["payload"])) for r in rows]


def parts(msg) -> dict[str, str]:
    """{'text/plain': …, 'text/html': …} of a received message."""
    return {p.get_content_type(): p.get_payload(decode=True).decode() for p in msg.walk() if not p.is_multipart()}


async def _recibir(s: dict, users) -> None:
    """The Dirección Estatal receives one student's card (Imprimiendo → Recibido)."""
    await status.transition(s["id"], "recibir", actor(users["estatal"]), expected="imprimiendo")


async def test_recibido_mails_the_student_exactly_once(app, users):
    """Recibido → one mail over SMTP to alumnos.correo with the notice, the plantel's name and no other data."""
    s = await make_student("imprimiendo", correo="lista1@conalepmex.edu.mx")
    port = free_port()
    with smtp_server(port) as sink:
        async with running_worker(smtp_settings(app, port)):
            await _recibir(s, users)
            await wait_for(lambda: len(sink.messages) >= 1)
            await asyncio.sleep(1.5)  # a second delivery would have arrived by now
    assert len(sink.messages) == 1
    msg = sink.messages[0]
    assert msg["To"] == "lista1@conalepmex.edu.mx" and msg["Subject"] == "Tu credencial está lista"
    body = parts(msg)
    for text in body.values():
        assert LISTA in text and "Ciudad Azteca" in text and "Yahir Alexis" in text
        assert s["matricula"] not in text and s["curp"] not in text and "ALBARRAN" not in text
    assert await db.fetch_val("SELECT count(*) FROM pgqueuer") == 0


async def test_aplazado_and_retoma_carry_the_reason_in_plain_words(app, users):
    """Aplazado and Retoma ask the student to come back, with the event comment (escaped in HTML)."""
    a = await make_student("capturado", correo="aplazado@conalepmex.edu.mx")
    r = await make_student("recibido", correo="retoma@conalepmex.edu.mx")
    plantel = actor(users["plantel"])
    await status.transition(a["id"], "aplazar", plantel, comment="La foto <salió> borrosa")
    await status.transition(r["id"], "rechazar_retoma", plantel, comment="La firma no se ve")
    jobs = await queued()
    assert [j["to"] for j in jobs] == ["aplazado@conalepmex.edu.mx", "retoma@conalepmex.edu.mx"]
    assert "Motivo: La foto <salió> borrosa" in jobs[0]["text"] and "&lt;salió&gt;" in jobs[0]["html"]
    assert "nueva fotografía y firma" in jobs[1]["text"] and "Motivo: La firma no se ve" in jobs[1]["text"]
    assert "nueva fotografía" in jobs[1]["subject"]


async def test_rolled_back_or_refused_transition_queues_nothing(app, users):
    """A transition whose transaction rolls back, or that is refused, leaves no mail behind."""
    s = await make_student("imprimiendo")
    with pytest.raises(RuntimeError):
        async with db.get_db().transaction():
            await _recibir(s, users)
            assert len(await queued()) == 1  # queued inside the transaction…
            raise RuntimeError("rollback")
    assert await queued() == []  # …and gone with it
    assert await db.fetch_val("SELECT estatus::text FROM alumnos WHERE id = :id", {"id": s["id"]}) == "imprimiendo"
    done = await make_student("entregado")
    with pytest.raises(TransitionError):
        await _recibir(done, users)
    assert await queued() == []


async def test_other_transitions_and_missing_addresses_send_nothing(app, users):
    """Validado, Entregado… produce no notice; a student without e-mail gets none and the change still happens."""
    s = await make_student("capturado")
    await status.transition(s["id"], "validar", actor(users["plantel"]),
                            changes={"institucion_medica": "Instituto Mexicano del Seguro Social (IMSS)",
                                     "numero_afiliacion": "72795608040", "vigencia": date(2028, 8, 1)})
    sin = await make_student("imprimiendo", correo=None)
    await _recibir(sin, users)
    assert await queued() == []
    assert await db.fetch_val("SELECT estatus::text FROM alumnos WHERE id = :id", {"id": sin["id"]}) == "recibido"


async def _second_staff(users, plantel: str, email: str, **cols) -> None:
    """Another plantel account (cols: activo/avisos)."""
    await db.execute(
        "INSERT INTO usuarios (email, password_hash, rol, plantel_id, activo, avisos) "
        "VALUES (:e, 'x', 'plantel', :p, :activo, :avisos)",
        {"e": email, "p": await plantel_id(plantel), "activo": cols.get("activo", True),
         "avisos": cols.get("avisos", True)})


async def _printed_order(users, alumnos: list[tuple[str, str]]) -> tuple[int, list[dict]]:
    """An order of Validado students (plantel, grupo) marked en impresión; (order id, students)."""
    students = [await make_student("validado", plantel=p, grupo=g, correo=None) for p, g in alumnos]
    pids = sorted({await plantel_id(p) for p, _ in alumnos})
    oid = (await orders.crear(actor(users["estatal"]), pids, False)).orden_id
    await orders.marcar(oid, "en_impresion", actor(users["empresa"]))
    return oid, students


async def test_order_received_one_mail_per_plantel_with_groups_and_counts(app, users):
    """Receiving an order queues one mail per plantel (not per student) listing its groups and counts,
    to that plantel's active staff who keep notices on; delivered once each over SMTP."""
    await _second_staff(users, "Ciudad Azteca", "cdazteca2@conalepmex.edu.mx")
    await _second_staff(users, "Ciudad Azteca", "callado@conalepmex.edu.mx", avisos=False)
    await _second_staff(users, "Ciudad Azteca", "baja@conalepmex.edu.mx", activo=False)
    oid, students = await _printed_order(users, [("Ciudad Azteca", "102-ELIN18")] * 3
                                         + [("Ciudad Azteca", "401-CONA18")] * 2 + [("Toluca", "202-ELIN18")])
    est = actor(users["estatal"])
    await orders.recibir_matricula(oid, students[0]["matricula"], est)
    assert await queued() == []  # order not complete yet: no plantel mail
    await orders.rechazar_recepcion(oid, students[1]["matricula"], "Faltante", est)
    port = free_port()
    with smtp_server(port) as sink:
        async with running_worker(smtp_settings(app, port)):
            assert await orders.recibir_todas(oid, est) == 4
            await wait_for(lambda: len(sink.messages) >= 2)
            await asyncio.sleep(1.5)
    assert len(sink.messages) == 2
    by_to = {m["To"]: m for m in sink.messages}
    azteca = by_to["cdazteca2@conalepmex.edu.mx, cdazteca@conalepmex.edu.mx"]
    toluca = by_to["toluca@conalepmex.edu.mx"]
    text = parts(azteca)["text/plain"]
    assert f"orden de impresión {oid} con 4 credenciales" in text and "Plantel Ciudad Azteca" in text
    assert "Grupo 102-ELIN18: 2" in text and "Grupo 401-CONA18: 2" in text and "1 credencial se rechazaron" in text
    assert "102-ELIN18</td>" in parts(azteca)["text/html"]
    assert "1 credencial de su plantel" in parts(toluca)["text/plain"] and "Grupo 202-ELIN18: 1" in parts(toluca)["text/plain"]


async def test_enviada_mails_the_estatal_users_once(app, users):
    """A company marking an order Enviada queues one mail to the active estatal users with notices on."""
    await db.execute("INSERT INTO usuarios (email, password_hash, rol, avisos) VALUES "
                     "('estatal2@conalepmex.edu.mx', 'x', 'estatal', true), ('estatal3@conalepmex.edu.mx', 'x', 'estatal', false)")
    oid, _ = await _printed_order(users, [("Ciudad Azteca", "102-ELIN18")] * 2 + [("Toluca", "202-ELIN18")])
    assert await queued() == []  # en impresión mails nobody
    await orders.marcar(oid, "enviada", actor(users["empresa"]))
    jobs = await queued()
    assert len(jobs) == 1
    assert jobs[0]["to"] == "estatal2@conalepmex.edu.mx, estatal@conalepmex.edu.mx"
    assert f"orden de impresión {oid} (3 credenciales)" in jobs[0]["text"]
    assert "Ciudad Azteca: 2" in jobs[0]["text"] and "Toluca: 1" in jobs[0]["text"]
    with pytest.raises(TransitionError):
        await orders.marcar(oid, "enviada", actor(users["empresa"]))  # twice: refused, nothing more queued
    assert len(await queued()) == 1


async def test_opted_out_staff_get_nothing(app, client, users):
    """«Mis avisos» → No recibir: the plantel's only account gets no reception mail; turned on again, it does."""
    from .conftest import login

    await login(client, users["plantel"]["email"])
    r = await post(client, "/avisos", {"avisos": "0"})
    assert r.status_code == 200 and "Ya no recibirá avisos" in await r.get_data(as_text=True)
    assert await avisos.preferencia(users["plantel"]["id"]) is False
    assert await avisos.preferencia(users["plantel_b"]["id"]) is True  # only one's own switch
    oid, _ = await _printed_order(users, [("Ciudad Azteca", "102-ELIN18")])
    await orders.recibir_todas(oid, actor(users["estatal"]))
    assert await queued() == []
    await post(client, "/avisos", {"avisos": "1"})
    oid, _ = await _printed_order(users, [("Ciudad Azteca", "102-ELIN18")])
    await orders.recibir_todas(oid, actor(users["estatal"]))
    assert [j["to"] for j in await queued()] == ["cdazteca@conalepmex.edu.mx"]


async def test_excluded_student_gets_nothing_and_it_is_recorded(app, signed_in, users):
    """The estatal records a student's exclusion on «Mis avisos» (who, when); the student gets no mail
    until it is lifted (also recorded)."""
    s = await make_student("imprimiendo", correo="excluido@conalepmex.edu.mx")
    est = await signed_in("estatal")
    r = await post(est, "/avisos/exclusiones", {"matricula": s["matricula"].replace("-", "'"), "motivo": "Lo pidió"})
    page = text_of(await r.get_data(as_text=True))
    assert r.status_code == 200 and f"La matrícula {s['matricula']} ya no recibirá avisos" in page
    assert "estatal@conalepmex.edu.mx" in page and "Lo pidió" in page
    r = await post(est, "/avisos/exclusiones", {"matricula": s["matricula"]})
    assert r.status_code == 422 and "ya está excluida" in await r.get_data(as_text=True)
    r = await post(est, "/avisos/exclusiones", {"matricula": "abc"})
    assert r.status_code == 422 and "matrícula válida" in await r.get_data(as_text=True)
    await _recibir(s, users)
    assert await queued() == []
    row = await db.fetch_one("SELECT correo, registrada_por FROM avisos_exclusiones")
    assert row == {"correo": "excluido@conalepmex.edu.mx", "registrada_por": users["estatal"]["id"]}
    await post(est, "/avisos/exclusiones/quitar", {"matricula": s["matricula"]})
    assert await db.fetch_val("SELECT quitada_por FROM avisos_exclusiones") == users["estatal"]["id"]
    await status.transition(s["id"], "rechazar_retoma", actor(users["plantel"]), comment="Foto dañada")
    assert [j["to"] for j in await queued()] == ["excluido@conalepmex.edu.mx"]


async def test_mis_avisos_page_per_role(app, signed_in, users):
    """Plantel staff see only their own switch; estatal also the exclusions; the header links to the page."""
    p = await signed_in("plantel")
    html = await (await p.get("/avisos")).get_data(as_text=True)
    assert "Mis avisos" in html and 'id="form-avisos"' in html and 'id="exclusiones"' not in html
    assert 'id="mis-avisos-link"' in await (await p.get("/")).get_data(as_text=True)
    e = await signed_in("estatal")
    html = await (await e.get("/avisos")).get_data(as_text=True)
    assert 'id="exclusiones"' in html and "Ningún alumno" in html
    assert (await post(p, "/avisos/exclusiones", {"matricula": "180010051-1"})).status_code == 403


async def test_smtp_down_the_mail_waits_and_goes_out_once(app, users):
    """No mail server: the status change commits at once, the notice is retried, and it is delivered once
    when the server comes back."""
    s = await make_student("imprimiendo", correo="espera@conalepmex.edu.mx")
    port = free_port()
    async with running_worker(smtp_settings(app, port, mail_retry_seconds=0.3, smtp_timeout=2)):
        await _recibir(s, users)
        await wait_for_attempts(2)
        with smtp_server(port) as sink:
            await wait_for(lambda: len(sink.messages) >= 1, timeout=30)
            await asyncio.sleep(1.5)
    assert len(sink.messages) == 1 and sink.messages[0]["To"] == "espera@conalepmex.edu.mx"
    assert await db.fetch_val("SELECT count(*) FROM pgqueuer") == 0


async def wait_for_attempts(n: int, timeout: float = 30) -> None:
    """Until the queued job has failed n times (pgqueuer's attempt counter)."""
    for _ in range(int(timeout / 0.05)):
        if (await db.fetch_val("SELECT COALESCE(max(attempts), 0) FROM pgqueuer")) >= n:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the job was not retried")


async def test_worker_killed_mid_send_at_most_one_duplicate(app, users, database_url):
    """`python -m app worker` killed with SIGKILL while the SMTP server is taking the message: after the
    heartbeat timeout (30 s) another worker re-picks the job; the student gets the notice once or, if the
    server had already accepted it, twice — never lost, at most one duplicate (docs/avisos.md)."""
    s = await make_student("imprimiendo", correo="muerto@conalepmex.edu.mx")
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": "x", "PUBLIC_URL": "http://test",
           "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port), "SMTP_TLS": "none"}
    with smtp_server(port, delay=4.0) as sink:
        proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "app", "worker", cwd=ROOT, env=env,
                                                    stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        try:
            await _recibir(s, users)
            await _wait_picked()
            await asyncio.sleep(1.5)  # the worker is now inside the SMTP conversation (the server stalls 4 s)
        finally:
            proc.send_signal(signal.SIGKILL)
            await proc.wait()
        assert await db.fetch_val("SELECT status::text FROM pgqueuer") == "picked"  # left behind by the dead worker
        async with running_worker(smtp_settings(app, port)):
            await _until_delivered(sink)
            await asyncio.sleep(5)  # a late acceptance of the killed send would show up now
    assert 1 <= len(sink.messages) <= 2, len(sink.messages)
    assert {m["To"] for m in sink.messages} == {"muerto@conalepmex.edu.mx"}


async def _wait_picked(timeout: float = 60) -> None:
    """Until a worker has taken the queued job."""
    for _ in range(int(timeout / 0.05)):
        if await db.fetch_val("SELECT count(*) FROM pgqueuer WHERE status = 'picked'"):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("no worker picked the job")


async def _until_delivered(sink, timeout: float = 90) -> None:
    """Until the queue is empty and at least one message arrived."""
    for _ in range(int(timeout / 0.2)):
        if sink.messages and not await db.fetch_val("SELECT count(*) FROM pgqueuer"):
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"not delivered: {len(sink.messages)} messages")
