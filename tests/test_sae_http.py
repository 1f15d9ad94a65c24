"""The SAE web-service client against a real HTTP server started here (no mocked functions).

The server answers by matrícula: a good record, a slow one, 404, 500 (always or once), malformed
JSON, a hang longer than the timeout, 401. Each failure gives a clear Spanish message and changes nothing.
"""
from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from app import db
from app.sae import HttpSae, SaeError, examine
from app.validation import luhn_digit

from .conftest import actor, make_student, post, text_of


def mat(pre: str) -> str:
    """A matrícula with its Luhn digit."""
    return f"{pre}-{luhn_digit(pre)}"


def record(matricula: str, **kw) -> dict:
    """An answer following the contract of docs/sae.md."""
    rec = {"matricula": matricula, "prematricula": matricula.split("-")[0], "curp": "BEML920313HMCLNS09",
           "folio": "000308941", "nombre": "LUIS", "primer_apellido": "BELTRÁN", "segundo_apellido": "MORA",
           "plantel": "Ciudad Azteca", "grupo": "101-INFO18", "carrera": "INFO18",
           "correo_institucional": "lbeltran@conalepmex.edu.mx", "institucion_medica": "IMSS", "semestre": 1,
           "estatus": "INSCRITO"}
    rec.update(kw)
    return rec


OK, SLOW, MISSING, ERROR, FLAKY, BAD_JSON, HANG, DENIED, WRONG = (
    mat("250017001"), mat("250017002"), mat("250017003"), mat("250017004"), mat("250017005"),
    mat("250017006"), mat("250017007"), mat("250017008"), mat("250017009"))


class FakeSae(BaseHTTPRequestHandler):
    """GET /api/alumnos/<matrícula>: behaviour chosen by the matrícula."""

    hits: dict[str, int] = {}
    auth: list[str] = []

    def log_message(self, *_args) -> None:
        """Quiet."""

    def _send(self, code: int, body: bytes, ctype: str = "application/json") -> None:
        """Write one answer (the client may have gone away on purpose)."""
        try:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def do_GET(self) -> None:  # noqa: N802 — http.server's naming
        """Answer according to the matrícula in the path."""
        m = self.path.rsplit("/", 1)[-1]
        FakeSae.hits[m] = FakeSae.hits.get(m, 0) + 1
        FakeSae.auth.append(self.headers.get("Authorization", ""))
        if not self.path.startswith("/api/alumnos/"):
            return self._send(404, b"{}")
        if m == SLOW:
            time.sleep(0.3)
        if m == HANG:
            time.sleep(2.0)
        if m == MISSING:
            return self._send(404, b'{"error": "no encontrado"}')
        if m == ERROR or (m == FLAKY and FakeSae.hits[m] == 1):
            return self._send(500, b"Internal Server Error", "text/plain")
        if m == BAD_JSON:
            return self._send(200, b'{"matricula": "250017006-', "application/json")
        if m == DENIED:
            return self._send(401, b'{"error": "token"}')
        if m == WRONG:
            return self._send(200, json.dumps(record(OK)).encode())
        return self._send(200, json.dumps(record(m)).encode())


@pytest.fixture(scope="module")
def sae_server():
    """A real HTTP server on a free loopback port, in a thread."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeSae)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api"
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def reset_counts():
    """Fresh hit counters per test."""
    FakeSae.hits.clear()
    FakeSae.auth.clear()


def client_for(url: str, **kw) -> HttpSae:
    """A client with short timeouts for tests."""
    return HttpSae(url, token="secreto-sae", timeout=kw.pop("timeout", 1.0), retries=kw.pop("retries", 1),
                   backoff=0.05, **kw)


@pytest.fixture
def http_settings(app, sae_server):
    """Switch the running app to the http source for one test."""
    settings = app.config["SETTINGS"]
    saved = (settings.sae_source, settings.sae_url, settings.sae_token, settings.sae_timeout, settings.sae_retries)
    settings.sae_source, settings.sae_url, settings.sae_token = "http", sae_server, "secreto-sae"
    settings.sae_timeout, settings.sae_retries = 0.5, 1
    yield settings
    (settings.sae_source, settings.sae_url, settings.sae_token, settings.sae_timeout, settings.sae_retries) = saved


async def test_good_answer_with_bearer_token(sae_server):
    """A 200 answer becomes a record; the token travels as a bearer header."""
    rec = await client_for(sae_server).lookup(OK)
    assert rec["matricula"] == OK and rec["correo"] == "lbeltran@conalepmex.edu.mx" and rec["inscrito"] is True
    assert rec["semestre"] == 1 and rec["plantel"] == "Ciudad Azteca"
    assert FakeSae.auth == ["Bearer secreto-sae"]


async def test_slow_answer_within_timeout_is_fine(sae_server):
    """0.3 s is slow but under the 1 s timeout: one request, a record."""
    rec = await client_for(sae_server).lookup(SLOW)
    assert rec["matricula"] == SLOW and FakeSae.hits[SLOW] == 1


async def test_404_means_not_in_sae(sae_server):
    """404 is an answer: SAE does not know the matrícula (no retry)."""
    assert await client_for(sae_server).lookup(MISSING) is None
    assert FakeSae.hits[MISSING] == 1


async def test_500_is_retried_then_reported(sae_server):
    """A persistent 500 is retried (retries + 1 attempts) and reported in Spanish."""
    with pytest.raises(SaeError, match=r"error interno \(HTTP 500\).*No se cambió nada"):
        await client_for(sae_server, retries=2).lookup(ERROR)
    assert FakeSae.hits[ERROR] == 3


async def test_one_500_then_success(sae_server):
    """A single failure is hidden by the retry."""
    assert (await client_for(sae_server).lookup(FLAKY))["matricula"] == FLAKY
    assert FakeSae.hits[FLAKY] == 2


async def test_timeout(sae_server):
    """A server slower than the timeout: retried, then 'no respondió a tiempo', within the bounded time."""
    started = time.monotonic()
    with pytest.raises(SaeError, match=r"no respondió a tiempo \(más de 0.3 s\)"):
        await client_for(sae_server, timeout=0.3, retries=1).lookup(HANG)
    assert time.monotonic() - started < 2.0
    assert FakeSae.hits[HANG] == 2


@pytest.mark.parametrize("matricula, message", [
    (BAD_JSON, "datos no válidos"),
    (WRONG, "datos no válidos"),          # the answer is about another student
    (DENIED, "rechazó las credenciales"),
])
async def test_bad_answers(sae_server, matricula, message):
    """Malformed JSON, an answer for another matrícula and a refused token: clear messages, no retry."""
    with pytest.raises(SaeError, match=message):
        await client_for(sae_server).lookup(matricula)
    assert FakeSae.hits[matricula] == 1


async def test_connection_refused_and_unconfigured():
    """Nobody listening, or no SAE_URL: a message, not a crash."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(SaeError, match="No se pudo conectar con el SAE"):
        await client_for(f"http://127.0.0.1:{port}/api", retries=0).lookup(OK)
    with pytest.raises(SaeError, match="no está configurado"):
        await HttpSae(None).lookup(OK)


async def test_examine_through_http(users, app, http_settings):
    """The import rules work the same with the web service as with the snapshot."""
    ex = await examine(OK, actor(users["plantel"]), http_settings)
    assert ex.can_import and ex.sae["plantel"] == "Ciudad Azteca"
    toluca = await examine(OK, actor(users["plantel_b"]), http_settings)
    assert "inscrito en SAE en el plantel Ciudad Azteca" in toluca.refusal


async def test_page_imports_through_http(signed_in, users, http_settings):
    """Importar with the http source creates the student."""
    c = await signed_in("plantel")
    r = await post(c, "/sae/importar", {"matricula": OK})
    assert r.status_code == 200 and "se importó con estatus Enrolado" in text_of(await r.get_data(as_text=True))
    assert await db.fetch_val("SELECT count(*) FROM alumnos WHERE matricula = :m", {"m": OK}) == 1


@pytest.mark.parametrize("matricula, message", [
    (ERROR, "error interno (HTTP 500)"), (HANG, "no respondió a tiempo"), (BAD_JSON, "datos no válidos"),
])
async def test_page_failures_change_nothing(signed_in, users, http_settings, matricula, message):
    """Search, import and update while SAE fails: the message on the page, the database untouched."""
    c = await signed_in("plantel")
    r = await c.get(f"/sae?matricula={matricula}")
    assert r.status_code == 502 and message in text_of(await r.get_data(as_text=True))
    r = await post(c, "/sae/importar", {"matricula": matricula})
    assert r.status_code == 502 and "No se cambió nada" in text_of(await r.get_data(as_text=True))
    assert await db.fetch_val("SELECT count(*) FROM alumnos") == 0
    s = await make_student("enrolado", matricula=matricula)
    r = await post(c, "/sae/actualizar", {"matricula": matricula, "opcion": "grupo"})
    assert r.status_code == 502
    after = await db.fetch_one("SELECT grupo, fecha_sae FROM alumnos WHERE id = :id", {"id": s["id"]})
    assert after == {"grupo": s["grupo"], "fecha_sae": None}
    assert await db.fetch_val("SELECT count(*) FROM eventos") == 0

