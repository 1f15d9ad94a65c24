"""Rate limits kept in PostgreSQL (app/ratelimit.py): shared by every app server, atomic under concurrency,
a Spanish 429 page for /verificar and a JSON 429 for the API, per address and per token."""
from __future__ import annotations

import asyncio

import pytest

from app import api_tokens, db, ratelimit

from .conftest import text_of


async def test_counter_is_atomic_and_shared(app):
    """40 concurrent requests against a limit of 10 (as from several servers: each its own statement):
    exactly 10 pass; the others are refused with the seconds to wait."""
    lim = ratelimit.Limit(10, 60)

    async def one():
        """One counted request; True when allowed."""
        n, wait = await ratelimit.count("prueba:1.2.3.4", lim)
        assert 1 <= wait <= 60
        return n <= lim.requests

    results = await asyncio.gather(*(one() for _ in range(40)))
    assert sum(results) == 10
    assert await db.fetch_val("SELECT n FROM limites_uso WHERE clave = 'prueba:1.2.3.4'") == 40


async def test_verification_page_is_rate_limited_per_address(client, monkeypatch):
    """/verificar: after the limit a Spanish 429 page with Retry-After; another address is unaffected."""
    monkeypatch.setenv("RATE_LIMIT_VERIFICAR", "3/60")
    codes = [(await client.get("/verificar/no-valido")).status_code for _ in range(3)]
    assert 429 not in codes
    r = await client.get("/verificar/no-valido")
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    assert "Demasiadas verificaciones" in text_of(await r.get_data(as_text=True))
    other = await client.get("/verificar/no-valido", scope_base={"client": ("10.9.8.7", 5000)})
    assert other.status_code != 429


async def test_api_is_rate_limited_per_token(client, users, monkeypatch):
    """The API: over the per-token limit a JSON 429 (Retry-After); a second token of the company still works."""
    monkeypatch.setenv("RATE_LIMIT_API_TOKEN", "3/60")
    first = await api_tokens.create_token(users["empresa"]["email"], "ERP")
    second = await api_tokens.create_token(users["empresa"]["email"], "otro")
    auth = {"Authorization": f"Bearer {first}"}
    assert [(await client.get("/api/v1/ordenes", headers=auth)).status_code for _ in range(3)] == [200] * 3
    r = await client.get("/api/v1/ordenes", headers=auth)
    assert r.status_code == 429 and "Demasiadas" in (await r.get_json())["error"] and r.headers["Retry-After"]
    assert r.headers["Cache-Control"] == "no-store"
    assert (await client.get("/api/v1/ordenes", headers={"Authorization": f"Bearer {second}"})).status_code == 200


@pytest.mark.parametrize("token", ["cred_adivinado", ""])
async def test_api_is_rate_limited_per_address_even_without_a_valid_token(client, monkeypatch, token):
    """Guessing tokens from one address is limited too (counted before the token is checked)."""
    monkeypatch.setenv("RATE_LIMIT_API_ADDRESS", "5/60")
    auth = {"Authorization": f"Bearer {token}"}
    codes = [(await client.get("/api/v1/ordenes", headers=auth)).status_code for _ in range(6)]
    assert codes == [401] * 5 + [429]


def test_limits_are_configurable(monkeypatch):
    """RATE_LIMIT_* = "requests/seconds"."""
    monkeypatch.setenv("RATE_LIMIT_API_TOKEN", "50/10")
    assert ratelimit.limit("api_token") == ratelimit.Limit(50, 10)
    monkeypatch.delenv("RATE_LIMIT_API_TOKEN")
    assert ratelimit.limit("api_token") == ratelimit.Limit(300, 60)
