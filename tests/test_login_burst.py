"""Concurrent sign-in bursts: the throttle's check and record are one step (issue 11, item 1)."""
from __future__ import annotations

import asyncio

from app import db

from .conftest import PASSWORD, csrf_of


async def _burst(app, forms: list[dict], address: str = "10.1.1.1") -> list:
    """POST every form to /login at the same time from one address (one browser); the responses."""
    client = app.test_client()
    token = await csrf_of(client)
    scope = {"client": (address, 40000)}
    return await asyncio.gather(*(client.post("/login", form={**f, "csrf_token": token}, scope_base=scope)
                                  for f in forms))


async def _evaluated(**where) -> int:
    """Sign-in attempts whose password was checked (recorded), matching email and/or ip."""
    clause = " AND ".join(f"{k} = :{k}" for k in where) or "true"
    return await db.fetch_val(f"SELECT count(*) FROM intentos_acceso WHERE {clause}", where)


async def test_burst_on_one_account_cannot_pass_the_limit(app, users):
    """40 simultaneous attempts on one account, the right password sent last: at most the limit of
    wrong guesses are evaluated and the right password is refused."""
    s = app.config["SETTINGS"]
    email = users["estatal"]["email"]
    forms = [{"email": email, "password": f"adivina-{i}"} for i in range(39)] + [{"email": email, "password": PASSWORD}]
    responses = await _burst(app, forms)
    assert all(r.status_code in (401, 503) for r in responses), [r.status_code for r in responses]
    assert await _evaluated(email=email) <= s.login_max_failures_account
    assert responses[-1].status_code != 302
    assert await db.fetch_val("SELECT count(*) FROM sesiones") == 0


async def test_burst_from_one_address_cannot_pass_the_limit(app, users, monkeypatch):
    """60 simultaneous attempts from one address on 60 accounts: at most the address limit is evaluated."""
    s = app.config["SETTINGS"]
    monkeypatch.setattr(s, "login_delay_seconds", 0)
    forms = [{"email": f"nadie{i}@conalepmex.edu.mx", "password": "incorrecta"} for i in range(60)]
    responses = await _burst(app, forms, address="10.2.2.2")
    assert all(r.status_code in (401, 503) for r in responses)
    assert await _evaluated(ip="10.2.2.2") <= s.login_max_failures_address
    refused = [r for r in responses if "Demasiados intentos" in await r.get_data(as_text=True)]
    busy = [r for r in responses if r.status_code == 503]  # the CPU queue was full: not evaluated, not counted
    assert len(refused) + len(busy) >= 60 - s.login_max_failures_address
