"""SQL metacharacters and script in text fields and search boxes are stored and shown literally."""
from __future__ import annotations

from app import db

from .conftest import csrf_of, make_student

NASTY = "Robert'); DROP TABLE alumnos; -- <script>alert('x')</script> \" & ñ"
ESCAPED = "&lt;script&gt;alert("


async def test_search_boxes_escape_and_do_not_execute(signed_in):
    """The Consultar alumno and capture search boxes echo the text escaped; the table survives."""
    await make_student("enrolado")
    c = await signed_in("plantel")
    for path, param in (("/consulta", "q"), ("/captura", "matricula"), ("/sae", "matricula"),
                        ("/temporal", "matricula"), ("/entrega", "matricula"), ("/rechazo", "matricula")):
        r = await c.get(path, query_string={param: NASTY})
        html = await r.get_data(as_text=True)
        assert r.status_code < 500, path
        assert "<script>alert(" not in html, path
    assert await db.fetch_val("SELECT count(*) FROM alumnos") == 1


async def test_comments_stored_literally_and_shown_escaped(signed_in):
    """An Aplazado comment with script and SQL is stored as typed and shown escaped in the history."""
    s = await make_student("capturado")
    c = await signed_in("plantel")
    token = await csrf_of(c)
    r = await c.post(f"/validacion/alumno/{s['matricula']}", form={
        "csrf_token": token, "evaluacion": "aplazado", "comentario": NASTY, "expected": "capturado"})
    assert r.status_code < 500
    stored = await db.fetch_val("SELECT comentario FROM eventos WHERE alumno_id = :id AND accion = 'aplazar'",
                                {"id": s["id"]})
    assert stored == NASTY
    estatal = await signed_in("estatal")
    html = await (await estatal.get(f"/consulta/{s['id']}")).get_data(as_text=True)
    assert ESCAPED in html and "<script>alert(" not in html


async def test_login_field_escaped(client):
    """The e-mail typed at sign-in is echoed escaped."""
    token = await csrf_of(client)
    r = await client.post("/login", form={"email": NASTY, "password": "x", "csrf_token": token})
    html = await r.get_data(as_text=True)
    assert "<script>alert(" not in html and ESCAPED in html
