"""Validation at the edge (app/edge.py; issue 11 #7): bounded ids in URLs, bounded integers in queries
and forms, one parser for API bodies, NUL and CR/LF refused in Spanish; API answers never cached."""
from __future__ import annotations

import pytest
from werkzeug.routing import ValidationError

from app import api_tokens, orders
from app.edge import INT32_MAX, BoundedMultiDict, IdConverter, bounded_int

from .conftest import actor, make_student, plantel_id, post, text_of


def test_no_route_uses_unbounded_int(app):
    """Every numeric path parameter goes through the bounded `id` converter."""
    assert [r.rule for r in app.url_map.iter_rules() if "<int:" in r.rule] == []
    assert any(isinstance(c, IdConverter) for r in app.url_map.iter_rules() for c in r._converters.values())


@pytest.mark.parametrize("raw", ["0", "2147483648", "9" * 11, "9" * 5000])
def test_id_converter_refuses_out_of_range(app, raw):
    """0 and anything beyond PostgreSQL's integer do not match (404), without converting huge strings."""
    conv = IdConverter(app.url_map)
    if len(raw) > 10:
        import re
        assert not re.fullmatch(conv.regex, raw)
    else:
        with pytest.raises(ValidationError):
            conv.to_python(raw)


@pytest.mark.parametrize("raw, ok", [("1", 1), ("-5", -5), (" 7 ", 7), (str(INT32_MAX), INT32_MAX),
                                     (str(INT32_MAX + 1), None), (str(10**30), None), ("9" * 5000, None),
                                     ("1e3", None), ("0x10", None), ("１２", None), ("", None)])
def test_bounded_int(raw, ok):
    """Plain ASCII integers within PostgreSQL's integer only."""
    if ok is None:
        with pytest.raises(ValueError):
            bounded_int(raw)
    else:
        assert bounded_int(raw) == ok


def test_bounded_multidict_type_int():
    """request.args/form .get(type=int) give the default for out-of-range values, in every view."""
    d = BoundedMultiDict([("pagina", str(10**30)), ("n", "20"), ("p", "3"), ("p", "99999999999")])
    assert d.get("pagina", 1, type=int) == 1 and d.get("n", type=int) == 20
    assert d.getlist("p", type=int) == [3]


URLS = ["/ordenes/2147483648", "/ordenes/99999999999999999999", "/ordenes/-1", "/ordenes/1?pagina=" + str(10**30),
        "/ordenes/1?pagina=-3", "/ordenes/seguimiento/espera?plantel=99999999999&estatus=validado",
        "/consulta/2147483648", "/biometricos/2147483648", "/reporte/plantel/2147483648.xlsx",
        "/consulta?q=GARCIA&pagina=" + str(10**30), "/validacion?pagina=" + str(10**30), "/ordenes?creada=" + str(10**30)]


async def test_out_of_range_integers_never_500(signed_in, users):
    """Huge or negative ids and page numbers: 200 (clamped) or 404, never 500."""
    await make_student("validado")
    await orders.crear(actor(users["estatal"]), [await plantel_id("Ciudad Azteca")], True)
    for who in ("estatal", "plantel"):
        c = await signed_in(who)
        for url in URLS:
            r = await c.get(url)
            assert r.status_code in (200, 302, 403, 404), (who, url, r.status_code)


async def test_nul_and_line_breaks_refused_in_spanish(signed_in):
    """NUL anywhere, CR/LF in one-line fields: a Spanish 400 before any view or query runs."""
    c = await signed_in("estatal")
    for form in ({"matricula": "250010001-0\x00"}, {"comentario": "ok\x00"}, {"\x00": "x"},
                 {"matricula": "250010001-0\r\nX-Evil: 1"}, {"email": "a@b.mx\n"}):
        r = await post(c, "/ordenes/1/recepcion/escanear", form)
        assert r.status_code == 400 and "caracteres no permitidos" in text_of(await r.get_data(as_text=True)), form


async def test_line_breaks_allowed_in_comments(signed_in, users):
    """A multi-line comment (textarea) is accepted."""
    s = await make_student("recibido")
    c = await signed_in("plantel")
    r = await post(c, f"/rechazo/{s['matricula']}", {"comentario": "Color deficiente\r\ny laminado", "retoma": "1"})
    assert r.status_code == 200


async def test_nul_in_query_and_path(signed_in):
    """NUL in the query string or the path: Spanish 400."""
    c = await signed_in("plantel")
    for url in ("/captura?matricula=25%00", "/validacion/alumno/25%00", "/login?next=%2F%00"):
        r = await c.get(url)
        assert r.status_code == 400 and "caracteres no permitidos" in text_of(await r.get_data(as_text=True)), url


async def _api(client, users):
    """(order id, token) for the company API."""
    await make_student("validado")
    oid = (await orders.crear(actor(users["estatal"]), [await plantel_id("Ciudad Azteca")], True)).orden_id
    return oid, await api_tokens.create_token(users["empresa"]["email"])


@pytest.mark.parametrize("body", [["en_impresion"], {"estado": ["en_impresion"]}, {"estado": 1}, {"estado": True},
                                  {"estado": {"x": 1}}, {"estado": None}, "en_impresion", 7, None,
                                  {"estado": "en_impresion\x00"}])
async def test_api_body_of_odd_types_is_422(client, users, body):
    """A list where text is expected, numbers, objects, null, NUL: JSON 422 with a Spanish message."""
    oid, token = await _api(client, users)
    r = await client.post(f"/api/v1/ordenes/{oid}/estado", headers={"Authorization": f"Bearer {token}"}, json=body)
    assert r.status_code == 422 and (await r.get_json())["error"], (body, r.status_code)


@pytest.mark.parametrize("data", [b"\xff\xfe not utf-8", b"{", b"[1,", b"{\"estado\": \"en_impresion\"" + b" " * 10])
async def test_api_body_not_json_is_422(client, users, data):
    """Bytes that are not a JSON document: 422."""
    oid, token = await _api(client, users)
    r = await client.post(f"/api/v1/ordenes/{oid}/estado", data=data, headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    assert r.status_code == 422


async def test_api_answers_are_never_cached(client, users):
    """Cache-Control: no-store on every API answer: 200, 401, 403, 404, 422 (they carry CURP and NSS)."""
    oid, token = await _api(client, users)
    auth = {"Authorization": f"Bearer {token}"}
    answers = [await client.get("/api/v1/ordenes", headers=auth), await client.get(f"/api/v1/ordenes/{oid}", headers=auth),
               await client.get("/api/v1/reimpresiones", headers=auth), await client.get("/api/v1/ordenes"),
               await client.get("/api/v1/ordenes/999", headers=auth),
               await client.post(f"/api/v1/ordenes/{oid}/estado", headers=auth, json=[])]
    assert [r.status_code for r in answers] == [200, 200, 200, 401, 404, 422]
    assert all("no-store" in r.headers.get("Cache-Control", "") for r in answers)
