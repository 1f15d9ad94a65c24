"""Property test (issue 11 #7): EVERY route of app.url_map, as EVERY role, with hostile path values, query
strings, form fields, uploads and JSON bodies (hypothesis) — the answer is never a 5xx.

Hostile means: integers beyond PostgreSQL's (2^31, 2^63, 10^30, 5,000 digits), negatives, NUL bytes,
CR/LF, odd Unicode, SQL and path fragments, JSON of the wrong type, broken and bomb images. The
routes come from the URL map, so a new route is walked without touching this file. Time is bounded:
two fixed worst cases per route and role (every value an out-of-range integer; every value with NUL
and CR/LF) plus HOSTILE_EXAMPLES generated ones (default 4): ≈ 1,900 requests in ≈ 30 s.
"""
from __future__ import annotations

import asyncio
import os
from collections import Counter
import re
import struct
import zlib
from urllib.parse import quote

from hypothesis import HealthCheck, Phase, example, given, settings, strategies as st

from app import api_tokens, db, orders

from .conftest import FIXTURES, ROOT, actor, csrf_of, login, make_student, plantel_id

EXAMPLES = int(os.environ.get("HOSTILE_EXAMPLES") or 4)
ROLES = ("anon", "plantel", "estatal", "empresa", "admin")
API_ROLES = ("anon", "plantel", "token")
GOOD_JPEG = (FIXTURES / "photos" / "rostro-ok-600x800.jpg").read_bytes()
# Every form field the templates render and every query parameter the views read (found, not listed by hand).
FIELDS = sorted(set(re.findall(r'name="([a-z_]+)"', "".join(
    p.read_text() for p in (ROOT / "templates").rglob("*.html")))) | {"clave", "capturado_en", "capturado_por"})
PARAMS = sorted(set(re.findall(r'(?:args\.get|query_int|a\.get)\("([a-z_]+)"', "".join(
    p.read_text() for p in (ROOT / "app").rglob("*.py")))))

BIG_INTS = ["0", "-1", "-2147483649", "2147483647", "2147483648", "9223372036854775808", str(10**30), "9" * 5000,
            "1e9", "0x10", "00000000001", "１２３"]
NASTY = ["\x00", "a\x00b", "\r\n", "x\r\nSet-Cookie: a=b", "%00", "%0d%0a", "../../etc/passwd", "<script>x</script>",
         "' OR 1=1--", "/\\evil.example/", "//evil.example", "\t/evil", "\u202e", "\U0010ffff", "🙂" * 40, " ",
         "null", "[]", "{}", "250010001-0", "AAMY021208HDFLLHA4", "x" * 3000]
VALUES = st.one_of(st.sampled_from(BIG_INTS), st.sampled_from(NASTY), st.text(max_size=30),
                   st.integers(min_value=-(2**70), max_value=2**70).map(str))


def _png_bomb() -> bytes:
    """A small PNG declaring 6000×4000 RGBA with a zTXt bomb."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    bomb = zlib.compress(b"\x00" * (32 * 1024 * 1024), 9)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 6000, 4000, 8, 6, 0, 0, 0))
            + chunk(b"zTXt", b"c\x00\x00" + bomb) + chunk(b"IDAT", zlib.compress(b"\x00" * 24001, 9))
            + chunk(b"IEND", b""))


UPLOADS = st.sampled_from([GOOD_JPEG, GOOD_JPEG + b"<html>" + b"\x00" * 1000, GOOD_JPEG[:5000], _png_bomb(),
                           b"", b"GIF89a", os.urandom(2048)])
JSON = st.recursive(st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | st.floats()
                    | st.sampled_from(NASTY) | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
                        st.sampled_from(["estado", "x", "\x00"]) | st.text(max_size=8), inner, max_size=4),
                    max_leaves=8) | st.fixed_dictionaries({"estado": st.sampled_from(
                        ["en_impresion", "enviada", ["en_impresion"], {"a": 1}, 1, True, None, "\x00", "x" * 5000])})


def _routes(app) -> list[tuple[str, str]]:
    """(method, rule) of every route but static files."""
    return sorted((m, r.rule) for r in app.url_map.iter_rules() if r.endpoint != "static"
                  for m in r.methods - {"HEAD", "OPTIONS"})


async def _world(users) -> dict[str, list[str]]:
    """Real values for path parameters (so hostile requests also reach deep code), per parameter name."""
    s = await make_student("recibido")
    await make_student("validado")
    oid = (await orders.crear(actor(users["estatal"]), [await plantel_id("Ciudad Azteca")], True)).orden_id
    return {"matricula": [s["matricula"]], "alumno_id": [str(s["id"])], "bio_id": [str(s["foto_id"])],
            "orden_id": [str(oid)], "plantel_id": [str(s["plantel_id"])], "token": ["x"]}


async def _clients(app, users) -> dict:
    """A test client per role, signed in once; the API role is a cookie-less client with a bearer token."""
    clients = {"anon": app.test_client(), "token": app.test_client()}
    for role in ROLES[1:]:
        clients[role] = app.test_client()
        await login(clients[role], users[role]["email"])
    clients["bearer"] = await api_tokens.create_token(users["empresa"]["email"])
    clients["csrf"] = {r: await csrf_of(clients[r]) for r in ROLES}
    return clients


def _request(method: str, rule: str, roles: tuple[str, ...], world: dict):
    """Strategy of one hostile request to rule: (role, url, query, form, files, json)."""
    names = re.findall(r"<(?:[a-z]+:)?([a-z_]+)>", rule)
    path = st.tuples(*[st.one_of(st.sampled_from(world.get(n, ["1"])), VALUES) for n in names])
    query = st.dictionaries(st.sampled_from(PARAMS) | st.text(max_size=6), VALUES, max_size=4)
    form = st.dictionaries(st.sampled_from(FIELDS), VALUES, max_size=6) if method == "POST" else st.just({})
    files = (st.dictionaries(st.sampled_from(["foto", "firma"]), UPLOADS, max_size=2)
             if method == "POST" and "guardar" in rule else st.just({}))
    body = JSON if method == "POST" and rule.startswith("/api/") else st.just(None)
    return st.tuples(st.sampled_from(roles), path, query, form, files, body, st.booleans())


def _explicit(method: str, rule: str, roles: tuple[str, ...]) -> list[tuple]:
    """The fixed worst cases of a route, for every role: every parameter, field and path value an integer
    beyond PostgreSQL's, or text with NUL and CR/LF; uploads a bomb and a JPEG with a payload appended."""
    names = re.findall(r"<(?:[a-z]+:)?([a-z_]+)>", rule)
    out = []
    for value, upload, body in (("2147483648", _png_bomb(), {"estado": ["en_impresion"]}),
                                ("a\x00\r\nb", GOOD_JPEG + b"<html>", [{"estado": "enviada"}])):
        for role in roles:
            form = {f: value for f in FIELDS} if method == "POST" else {}
            files = {"foto": upload, "firma": upload} if method == "POST" and "guardar" in rule else {}
            json_body = body if method == "POST" and rule.startswith("/api/") else None
            out.append((role, tuple(value for _ in names), {p: value for p in PARAMS}, form, files, json_body, True))
    return out


def _url(rule: str, values: tuple[str, ...]) -> str:
    """rule with its placeholders replaced by the (percent-encoded) values."""
    it = iter(values)
    return re.sub(r"<(?:[a-z]+:)?[a-z_]+>", lambda _m: quote(next(it), safe=""), rule)


async def _send(clients: dict, method: str, rule: str, req) -> int:
    """Send one drawn request; its status code."""
    from quart.datastructures import FileStorage
    import io

    role, path, query, form, files, body, with_csrf = req
    client = clients[role]
    headers = {"Authorization": f"Bearer {clients['bearer']}"} if role == "token" else {}
    kw = {"query_string": query, "headers": headers}
    if method == "POST":
        if with_csrf and role in clients["csrf"]:
            form = {**form, "csrf_token": clients["csrf"][role]}
        if body is not None:
            kw["json"] = body
        elif files:
            kw["files"] = {k: FileStorage(io.BytesIO(v), filename=f"{k}.jpg") for k, v in files.items()}
            kw["form"] = form
        else:
            kw["form"] = form
    r = await client.open(_url(rule, path), method=method, **kw)
    await r.get_data()
    return r.status_code


async def test_every_route_every_role_never_5xx(app, users):
    """Walk every route × role with hostile values; collect every 5xx (with its request) and fail on any."""
    world = await _world(users)
    clients = await _clients(app, users)
    loop = asyncio.get_running_loop()
    failures: list[str] = []
    seen: Counter = Counter()

    def walk(method: str, rule: str) -> None:
        """Run hypothesis on one route (in a worker thread; requests run on the test's event loop)."""
        api = rule.startswith("/api/")
        roles = API_ROLES if api else tuple(r for r in ROLES if not (rule == "/logout" and r != "anon"))

        @settings(max_examples=EXAMPLES * len(roles), deadline=None, database=None, derandomize=True,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        @given(req=_request(method, rule, roles, world))
        def prop(req):
            code = asyncio.run_coroutine_threadsafe(_send(clients, method, rule, req), loop).result(timeout=120)
            seen[code // 100 * 100] += 1
            if code >= 500:
                failures.append(f"{method} {rule} {code}: {req!r}"[:600])

        for req in _explicit(method, rule, roles):
            prop = example(req=req)(prop)
        prop()

    def walk_all() -> None:
        """Every route."""
        for method, rule in _routes(app):
            walk(method, rule)

    await asyncio.to_thread(walk_all)
    assert failures == [], f"{len(failures)} respuestas 5xx:\n" + "\n".join(failures[:40])
    print(f"hostile walk: {sum(seen.values())} requests, by class {dict(seen)}")
    assert seen[200] > 100 and seen[400] > 500, seen  # the walk reached views, not only refusals
    assert await db.fetch_val("SELECT 1") == 1  # the database is still answering
