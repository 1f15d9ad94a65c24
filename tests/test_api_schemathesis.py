"""Schemathesis against app/openapi.json (issue 11 #7): the company API, served by hypercorn as in
production, answers every generated request — valid, boundary (coverage phase) and invalid (negative
mode: wrong types, out-of-range ids, odd bodies) — with something other than a 5xx."""
from __future__ import annotations

import asyncio
import os
import re
import sys
import time

import httpx

from app import api_tokens, orders

from .conftest import ROOT, actor, make_student, plantel_id
from .mailtools import free_port

EXAMPLES = os.environ.get("SCHEMATHESIS_EXAMPLES", "25")


async def _serve(database_url: str, port: int, log) -> asyncio.subprocess.Process:
    """hypercorn on the test database (limits raised: this test fuzzes, it does not measure them)."""
    env = {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": "x", "PUBLIC_URL": f"http://127.0.0.1:{port}",
           "RATE_LIMIT_API_TOKEN": "100000/60", "RATE_LIMIT_API_ADDRESS": "100000/60"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hypercorn", "--bind", f"127.0.0.1:{port}", "app.asgi:app", cwd=ROOT, env=env,
        stdout=log, stderr=asyncio.subprocess.STDOUT)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as c:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and proc.returncode is None:
            try:
                if (await c.get("/salud")).status_code == 200:
                    return proc
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.3)
    proc.terminate()
    raise AssertionError("hypercorn did not start")


async def test_schemathesis_finds_no_server_error(users, database_url, tmp_path):
    """`st run` (examples, coverage and fuzzing phases; positive and negative data) with a real company token
    and a real order: the not_a_server_error check passes for every operation."""
    for _ in range(3):
        await make_student("validado")
    await make_student("rechazado")
    await orders.crear(actor(users["estatal"]), [await plantel_id("Ciudad Azteca")], True)
    token = await api_tokens.create_token(users["empresa"]["email"])
    port = free_port()
    log_path = tmp_path / "server.log"
    with open(log_path, "w") as log:
        proc = await _serve(database_url, port, log)
        try:
            st = await asyncio.create_subprocess_exec(
                os.path.join(os.path.dirname(sys.executable), "st"), "run",
                f"http://127.0.0.1:{port}/api/v1/openapi.json", "--checks", "not_a_server_error",
                "--header", f"Authorization: Bearer {token}", "--max-examples", EXAMPLES, "--seed", "2019",
                "--phases", "examples,coverage,fuzzing", "--workers", "1", "--request-timeout", "60",
                "--generation-database", "none", "--no-color", "--suppress-health-check", "all",
                cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
            out, _ = await asyncio.wait_for(st.communicate(), timeout=600)
        finally:
            proc.terminate()
            await proc.wait()
    report = out.decode(errors="replace")
    assert st.returncode == 0, report[-6000:] + "\n--- server log ---\n" + log_path.read_text()[-4000:]
    cases = re.search(r"(\d+) generated, (\d+) passed", report)
    assert cases and int(cases.group(1)) == int(cases.group(2)) >= 100 and "No issues found" in report, report
