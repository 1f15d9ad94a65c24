"""Administración over HTTP: catalogs (rules, uniqueness, retire vs delete, change log) and the Bitácora
(filters, keyset paging, CSV export)."""
from __future__ import annotations

import csv
import io
import json
import re

import pytest

from app import db

from .conftest import csrf_of, make_student, text_of


@pytest.fixture
async def admin(signed_in):
    """A signed-in admin client; catalog rows added by the test are removed afterwards."""
    c = await signed_in("admin")
    yield c
    await db.execute("DELETE FROM carreras WHERE codigo LIKE 'ZZ%'")
    await db.execute("DELETE FROM instituciones_medicas WHERE clave LIKE 'ZZ%'")
    await db.execute("DELETE FROM planteles WHERE cct LIKE '99%'")
    await db.execute("UPDATE carreras SET vigente = true")
    await db.execute("UPDATE planteles SET activo = true")


async def post(client, url: str, **form):
    """A form POST with the client's CSRF token."""
    return await client.post(url, form={"csrf_token": await csrf_of(client), **form})


async def changes(entidad: str) -> list[dict]:
    """The change log of an entity, oldest first."""
    rows = await db.fetch_all("SELECT clave, accion, antes::text AS antes, despues::text AS despues, usuario_id "
                              "FROM cambios_admin WHERE entidad = :e ORDER BY id", {"e": entidad})
    return [{**dict(r), "antes": json.loads(r["antes"] or "null"), "despues": json.loads(r["despues"] or "null")}
            for r in rows]


async def test_only_admin_sees_administracion(signed_in):
    """The menu item and the pages are the admin's only."""
    for role in ("plantel", "estatal", "empresa"):
        c = await signed_in(role)
        assert "Administración" not in text_of(await (await c.get("/")).get_data(as_text=True)) or role == "empresa"
        assert (await c.get("/admin")).status_code == 403
        assert (await c.get("/admin/bitacora")).status_code == 403
    c = await signed_in("admin")
    html = await (await c.get("/admin")).get_data(as_text=True)
    assert "Planteles" in html and "Carreras" in html and "Instituciones médicas" in html and "Bitácora" in html


async def test_create_edit_and_log_a_career(admin, users):
    """A new career is checked field by field, unique, and every change is logged before → after."""
    r = await post(admin, "/admin/catalogos/carreras/nuevo", codigo="zz1", nombre="", nombre_impreso="x" * 200)
    html = text_of(await r.get_data(as_text=True))
    assert r.status_code == 422
    assert "4 letras mayúsculas" in html and "Escriba el nombre" in html and "a lo más 120" in html
    r = await post(admin, "/admin/catalogos/carreras/nuevo", codigo="zzab", nombre="Mecatrónica Avanzada",
                   nombre_impreso="PT-B en Mecatrónica Avanzada")
    assert r.status_code == 303
    row = await db.fetch_one("SELECT * FROM carreras WHERE codigo = 'ZZAB'")
    assert row["nombre_impreso"] == "PT-B en Mecatrónica Avanzada" and row["vigente"]
    r = await post(admin, "/admin/catalogos/carreras/nuevo", codigo="ZZAB", nombre="Otra", nombre_impreso="Otra")
    assert r.status_code == 422 and "Ya existe una carrera" in await r.get_data(as_text=True)
    r = await post(admin, "/admin/catalogos/carreras/ZZAB", nombre="Mecatrónica", nombre_impreso="PT-B en Mecatrónica",
                   codigo="XXXX")  # the key cannot be changed through the form
    assert r.status_code == 303
    assert await db.fetch_val("SELECT nombre FROM carreras WHERE codigo = 'ZZAB'") == "Mecatrónica"
    log = await changes("carreras")
    assert [c["accion"] for c in log] == ["crear", "editar"]
    assert log[1]["antes"]["nombre"] == "Mecatrónica Avanzada" and log[1]["despues"]["nombre"] == "Mecatrónica"
    assert log[1]["usuario_id"] == users["admin"]["id"]


async def test_entry_in_use_is_retired_never_deleted(admin):
    """A career students have can be retired (and reactivated) but not deleted; an unused one can be deleted."""
    await make_student("enrolado", grupo="102-ELIN18")
    r = await post(admin, "/admin/catalogos/carreras/ELIN/eliminar")
    assert r.status_code == 409 and "Retírela" in await r.get_data(as_text=True)
    assert await db.fetch_val("SELECT count(*) FROM carreras WHERE codigo = 'ELIN'") == 1
    assert (await post(admin, "/admin/catalogos/carreras/ELIN/estado", activo="0")).status_code == 303
    assert await db.fetch_val("SELECT vigente FROM carreras WHERE codigo = 'ELIN'") is False
    assert (await post(admin, "/admin/catalogos/carreras/ELIN/estado", activo="1")).status_code == 303
    await post(admin, "/admin/catalogos/carreras/nuevo", codigo="ZZCD", nombre="Sin uso", nombre_impreso="Sin uso")
    assert (await post(admin, "/admin/catalogos/carreras/ZZCD/eliminar")).status_code == 303
    assert await db.fetch_val("SELECT count(*) FROM carreras WHERE codigo = 'ZZCD'") == 0
    assert [c["accion"] for c in await changes("carreras")] == ["retirar", "reactivar", "crear", "eliminar"]


async def test_plantel_rules(admin):
    """A plantel needs a number, a unique name and a well-formed unique CCT; one with students is never deleted."""
    r = await post(admin, "/admin/catalogos/planteles/nuevo", numero="0", nombre="Nuevo", cct="15dpt001")
    html = await r.get_data(as_text=True)
    assert r.status_code == 422 and "entero de 1 a 999" in html and "La CCT tiene" in html
    existing = await db.fetch_one("SELECT id, nombre, cct FROM planteles ORDER BY id LIMIT 1")
    r = await post(admin, "/admin/catalogos/planteles/nuevo", numero="140", nombre=existing["nombre"].upper(),
                   cct=existing["cct"])
    assert r.status_code == 422 and "Ya existe un plantel" in await r.get_data(as_text=True)
    r = await post(admin, "/admin/catalogos/planteles/nuevo", numero="140", nombre="Plantel Nuevo", cct="99DPT0140A")
    assert r.status_code == 303
    pid = await db.fetch_val("SELECT id FROM planteles WHERE cct = '99DPT0140A'")
    s = await make_student("enrolado")
    r = await post(admin, f"/admin/catalogos/planteles/{s['plantel_id']}/eliminar")
    assert r.status_code == 409
    assert (await post(admin, f"/admin/catalogos/planteles/{pid}/estado", activo="0")).status_code == 303
    page = text_of(await (await admin.get("/admin/catalogos/planteles")).get_data(as_text=True))
    assert "Plantel Nuevo" in page and "Retirado" in page


@pytest.mark.parametrize("url", ["/admin/catalogos/nada", "/admin/catalogos/carreras/NOPE",
                                 "/admin/catalogos/planteles/99999999999999999999"])
async def test_unknown_catalog_or_entry_is_404(admin, url):
    """Unknown catalogs and keys answer 404 in Spanish, never 500."""
    r = await admin.get(url)
    assert r.status_code == 404
    assert (await post(admin, url + "/estado", activo="0")).status_code in (404, 405)


async def test_bitacora_filters_pages_and_exports(admin, users):
    """Events, sensitive reads, sign-ins and admin changes in one trail; filters by student, user and type;
    keyset pages never repeat or skip a row; the CSV has every filtered row and its download is audited."""
    s = await make_student("enrolado")
    for i in range(70):
        await db.execute("INSERT INTO eventos (alumno_id, usuario_id, accion, comentario, en) VALUES "
                         "(:a, :u, 'nota', :c, now() - make_interval(secs => :i))",
                         {"a": s["id"], "u": users["plantel"]["id"], "c": f"n{i}", "i": i})
    await db.execute("INSERT INTO accesos_sensibles (usuario_id, recurso, alumno_id) VALUES (:u, 'foto', :a)",
                     {"u": users["estatal"]["id"], "a": s["id"]})
    await post(admin, "/admin/catalogos/carreras/nuevo", codigo="ZZEF", nombre="Bitácora", nombre_impreso="Bitácora")
    first = await admin.get(f"/admin/bitacora?matricula={s['matricula']}")
    html = await first.get_data(as_text=True)
    assert first.status_code == 200 and "Más antiguos" in html and "Consulta de datos sensibles" in html
    seen = []
    url = f"/admin/bitacora?matricula={s['matricula']}"
    while url:
        page = await (await admin.get(url)).get_data(as_text=True)
        seen += [c for c in ("n%d" % i for i in range(70)) if f">nota<" in page and f"{c}<" in page]
        nxt = re.search(r'href="(/admin/bitacora\?despues=[^"]+)"', page)
        url = nxt.group(1).replace("&amp;", "&") if nxt else None
    assert sorted(set(seen)) == sorted(f"n{i}" for i in range(70)) and len(seen) == 70
    only_admin = text_of(await (await admin.get("/admin/bitacora?fuente=admin")).get_data(as_text=True))
    assert "carreras:crear" in only_admin and "nota" not in only_admin
    r = await admin.get(f"/admin/bitacora.csv?matricula={s['matricula']}")
    rows = list(csv.reader(io.StringIO((await r.get_data(as_text=True)).lstrip("\ufeff"))))
    assert rows[0][0] == "fecha" and len(rows) == 1 + 71
    assert await db.fetch_val("SELECT count(*) FROM accesos_sensibles WHERE recurso = 'bitacora_csv'") == 1
    by_user = text_of(await (await admin.get(f"/admin/bitacora?usuario={users['estatal']['email']}")).get_data(as_text=True))
    assert "foto" in by_user and "nota" not in by_user


@pytest.mark.parametrize("query,message", [
    ("desde=2026-13-01", "no es válida"), ("usuario=nadie@example.com", "No hay un usuario"),
    ("matricula=999999999-9", "No hay un alumno"), ("orden=abc", "debe ser un número"),
    ("despues=basura", "no es válido"), ("plantel=99999999999999", "debe ser un número"),
])
async def test_bitacora_bad_filters_are_explained(admin, query, message):
    """A filter that cannot apply is a Spanish 400 beside the form, never a 500."""
    r = await admin.get(f"/admin/bitacora?{query}")
    assert r.status_code == 400 and message in await r.get_data(as_text=True)
