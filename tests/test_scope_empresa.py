"""A company (empresa) user sees only its own company's orders, packages and reprint requests, in the
pages and the API, always: an account without a company sees nothing (and is told why), orders
without a company reach no company, and `create-user … empresa --empresa` sets the company."""
from __future__ import annotations

import asyncio
import os
import sys

import pytest

from app import api_tokens, db, orders
from app.queries.ordenes import SIN_EMPRESA

from .mailtools import drain
from .conftest import ROOT, actor, make_student, plantel_id, post, text_of


async def _company(nombre: str) -> int:
    """A printing company's id (created)."""
    return await db.fetch_val("INSERT INTO empresas (nombre) VALUES (:n) RETURNING id", {"n": nombre})


async def _order_for(users, empresa_id: int | None) -> int:
    """An order of one validated Ciudad Azteca student, for empresa_id (NULL: a pre-company order)."""
    await make_student("validado")
    res = await orders.crear(actor(users["estatal"]), [await plantel_id("Ciudad Azteca")], True, empresa_id or 1)
    await db.execute("UPDATE ordenes_impresion SET empresa_id = :e WHERE id = :o", {"e": empresa_id, "o": res.orden_id})
    return res.orden_id


async def _reprint(orden_id: int | None) -> dict:
    """A rejected card waiting for reprint whose previous order is orden_id."""
    return await make_student("rechazado", orden_id=orden_id)


@pytest.fixture
async def world(app, users):
    """Company 1 (the users fixture's) and company B, with one order each, one order without company and
    one reprint request per order; removed afterwards (empresas is a catalog the cleaner keeps)."""
    otra = await _company("Imprenta B")
    mine, theirs, legacy = (await _order_for(users, 1), await _order_for(users, otra), await _order_for(users, None))
    reprints = {k: await _reprint(o) for k, o in (("mine", mine), ("theirs", theirs), ("legacy", legacy))}
    await drain(app)  # the worker builds the packages (app/paquetes.py)
    yield {"mine": mine, "theirs": theirs, "legacy": legacy, "otra": otra, "reprints": reprints}
    await db.execute("TRUNCATE ordenes_impresion, orden_items, eventos, api_tokens RESTART IDENTITY CASCADE")
    await db.execute("UPDATE usuarios SET empresa_id = 1 WHERE empresa_id = :e", {"e": otra})
    await db.execute("DELETE FROM empresas WHERE id = :e", {"e": otra})


async def _visible_in_pages(client, world) -> set[str]:
    """Which of the world's orders and reprint requests the signed-in client sees or may open."""
    page = text_of(await (await client.get("/ordenes")).get_data(as_text=True))
    seen = {k for k in ("mine", "theirs", "legacy") if f"Orden {world[k]}" in page}
    seen |= {f"reimpresion_{k}" for k, s in world["reprints"].items() if s["matricula"] in page}
    for k in ("mine", "theirs", "legacy"):
        for path in (f"/ordenes/{world[k]}", f"/ordenes/{world[k]}/paquete.zip"):
            if (await client.get(path)).status_code == 200:
                seen.add(f"{k}:{path.rsplit('/', 1)[-1]}")
    return seen


async def test_company_pages_show_only_its_company(signed_in, world):
    """Company 1 sees its order (page, package) and its reprint; not company B's, not the company-less one."""
    seen = await _visible_in_pages(await signed_in("empresa"), world)
    mine = str(world["mine"])
    assert seen == {"mine", "reimpresion_mine", f"mine:{mine}", "mine:paquete.zip"}


async def test_staff_see_every_order(signed_in, world):
    """Estatal and admin see every order, the company-less one included, and every reprint request."""
    for who in ("estatal", "admin"):
        seen = await _visible_in_pages(await signed_in(who), world)
        assert {"mine", "theirs", "legacy", "reimpresion_mine", "reimpresion_theirs", "reimpresion_legacy"} <= seen


async def test_company_user_without_company_sees_nothing(signed_in, users, world):
    """An empresa account with no company: no orders, no reprints, no package, a Spanish notice; it
    cannot mark an order either."""
    await db.execute("UPDATE usuarios SET empresa_id = NULL WHERE id = :u", {"u": users["empresa"]["id"]})
    c = await signed_in("empresa")
    assert await _visible_in_pages(c, world) == set()
    page = text_of(await (await c.get("/ordenes")).get_data(as_text=True))
    assert SIN_EMPRESA in page
    r = await post(c, f"/ordenes/{world['legacy']}/estado", {"estado": "en_impresion"})
    assert r.status_code == 404
    assert await db.fetch_val("SELECT estado::text FROM ordenes_impresion WHERE id = :o",
                              {"o": world["legacy"]}) == "solicitada"


def _auth(token: str) -> dict:
    """The Authorization header."""
    return {"Authorization": f"Bearer {token}"}


async def test_api_shows_only_its_company(client, users, world):
    """The API: list, detail, package, state change and reprint requests are the company's only."""
    token = await api_tokens.create_token(users["empresa"]["email"])
    listed = await (await client.get("/api/v1/ordenes", headers=_auth(token))).get_json()
    assert [o["id"] for o in listed["ordenes"]] == [world["mine"]]
    for k, code in (("mine", 200), ("theirs", 404), ("legacy", 404)):
        for path in (f"/api/v1/ordenes/{world[k]}", f"/api/v1/ordenes/{world[k]}/paquete"):
            assert (await client.get(path, headers=_auth(token))).status_code == code, (k, path)
    r = await client.post(f"/api/v1/ordenes/{world['legacy']}/estado", headers=_auth(token),
                          json={"estado": "en_impresion"})
    assert r.status_code == 404
    rep = await (await client.get("/api/v1/reimpresiones", headers=_auth(token))).get_json()
    assert [x["matricula"] for x in rep["reimpresiones"]] == [world["reprints"]["mine"]["matricula"]]


async def test_api_token_of_account_without_company_is_refused(client, users, world):
    """A token of an empresa account without company: 403 with the Spanish notice on every route."""
    token = await api_tokens.create_token(users["empresa"]["email"])
    await db.execute("UPDATE usuarios SET empresa_id = NULL WHERE id = :u", {"u": users["empresa"]["id"]})
    for path in ("/api/v1/ordenes", "/api/v1/reimpresiones", f"/api/v1/ordenes/{world['legacy']}",
                 f"/api/v1/ordenes/{world['legacy']}/paquete"):
        r = await client.get(path, headers=_auth(token))
        assert r.status_code == 403 and (await r.get_json())["error"] == SIN_EMPRESA, path
    r = await client.post(f"/api/v1/ordenes/{world['legacy']}/estado", headers=_auth(token),
                          json={"estado": "en_impresion"})
    assert r.status_code == 403


async def test_marcar_without_company_matches_nothing(users, world):
    """orders.marcar derives the scope from the account: a company-less empresa user cannot mark any order."""
    await db.execute("UPDATE usuarios SET empresa_id = NULL WHERE id = :u", {"u": users["empresa"]["id"]})
    with pytest.raises(orders.OrderError, match="No existe"):
        await orders.marcar(world["legacy"], "en_impresion", actor(users["empresa"]))


async def test_new_orders_always_have_a_company(signed_in, users):
    """An order goes to the only company by default; with several one must be chosen; an unknown id on the
    form is a Spanish refusal (never a 500 or an order nobody sees)."""
    await make_student("validado")
    pid = await plantel_id("Ciudad Azteca")
    res = await orders.crear(actor(users["estatal"]), [pid], True)
    assert await db.fetch_val("SELECT empresa_id FROM ordenes_impresion WHERE id = :o", {"o": res.orden_id}) == 1
    await make_student("validado")
    c = await signed_in("estatal")
    for form_empresa in ("999", "99999999999999", "-1"):
        form = {"plantel": str(pid), "reimpresiones": "1", "empresa": form_empresa}
        r = await post(c, "/ordenes/nueva/revisar", form)
        assert r.status_code == 422, form_empresa
        r = await post(c, "/ordenes/nueva", form)
        body = text_of(await r.get_data(as_text=True))
        assert r.status_code in (409, 422) and "empresa" in body.lower(), (form_empresa, r.status_code)
    otra = await _company("Imprenta C")
    try:
        with pytest.raises(orders.OrderError, match="Elija la empresa"):
            await orders.crear(actor(users["estatal"]), [pid], True)
    finally:
        await db.execute("DELETE FROM empresas WHERE id = :e", {"e": otra})


async def _cli(database_url: str, *args: str) -> tuple[int, str]:
    """Run `python -m app create-user …`; (exit code, stdout+stderr)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app", "create-user", *args, cwd=ROOT,
        env={**os.environ, "DATABASE_URL": database_url, "NEW_USER_PASSWORD": "Credencial-Segura-2026"},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await proc.communicate()
    return proc.returncode, out.decode()


async def test_create_user_sets_the_company(app, database_url):
    """`create-user EMAIL empresa --empresa NAME|ID` stores the company; without it (or unknown) refused."""
    code, out = await _cli(database_url, "imprenta@x.mx", "empresa", "--empresa", "Empresa de impresión")
    assert code == 0, out
    assert await db.fetch_val("SELECT empresa_id FROM usuarios WHERE email = 'imprenta@x.mx'") == 1
    code, out = await _cli(database_url, "imprenta2@x.mx", "empresa", "--empresa", "1")
    assert code == 0, out
    code, out = await _cli(database_url, "sin@x.mx", "empresa")
    assert code != 0 and "--empresa" in out
    code, out = await _cli(database_url, "otra@x.mx", "empresa", "--empresa", "No existe SA")
    assert code != 0 and "No existe la empresa" in out
    assert await db.fetch_val("SELECT count(*) FROM usuarios WHERE email IN ('sin@x.mx', 'otra@x.mx')") == 0


async def test_demo_company_account_has_a_company(app):
    """The demo's empresa account belongs to the demo's company and its orders do too (the demo shows them)."""
    from app.demo import Plan, seed_demo

    await seed_demo(Plan(per_plantel={"Ciudad Azteca": 60}))
    row = await db.fetch_one("SELECT empresa_id FROM usuarios WHERE email = 'empresa@conalepmex.edu.mx'")
    assert row["empresa_id"] == 1
    assert await db.fetch_val("SELECT count(*) FROM ordenes_impresion WHERE empresa_id IS DISTINCT FROM 1") == 0
    assert await db.fetch_val("SELECT count(*) FROM ordenes_impresion") == 3
