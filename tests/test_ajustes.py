"""Administración → Ajustes del ciclo escolar: every rule refused beside its field, nothing saved on a refusal,
each change logged, the cache, and each consumer reading the saved value (SAE import, photo checks, vigencia,
Ayuda)."""
from __future__ import annotations

import json

import pytest

from app import ajustes, db

from .conftest import csrf_of, make_student, text_of
from .test_captura import save
from .test_sae import mat, put_sae, sae_row


@pytest.fixture
def settings(app):
    """The app's Settings (the defaults' source)."""
    return app.config["SETTINGS"]


@pytest.fixture
async def admin(signed_in):
    """A signed-in admin client; saved settings are removed afterwards (and the process cache dropped)."""
    ajustes.invalidate()
    yield await signed_in("admin")
    await db.execute("DELETE FROM ajustes")
    ajustes.invalidate()


async def current_form(client) -> dict[str, str]:
    """The form as the page fills it (every setting's current text)."""
    values = await ajustes.actuales(client.app.config["SETTINGS"])
    return {a.name: a.show(values[a.name]) for a in ajustes.AJUSTES if not (a.kind == "bool" and not values[a.name])}


async def submit(client, **changes):
    """POST the settings page with the current values plus changes."""
    form = {**await current_form(client), **changes}
    return await client.post("/admin/ajustes", form={"csrf_token": await csrf_of(client), **form})


async def test_page_shows_environment_defaults(admin, settings, app):
    """Nothing saved: every field shows the environment's value, marked as such."""
    html = text_of(await (await admin.get("/admin/ajustes")).get_data(as_text=True))
    assert "Ciclo escolar actual" in html and "Valor del entorno (predeterminado)" in html
    values = await ajustes.actuales(settings)
    assert values["semestres_sae"] == tuple(settings.allowed_semesters)
    assert values["foto_sharp_min"] == 100.0 and values["soporte_correos"] == ("cita@conalepmex.edu.mx",)


async def test_linked_from_administracion(admin):
    """Administración links both pages."""
    r = await admin.get("/admin")
    html = await r.get_data(as_text=True)
    assert r.status_code == 200 and "/admin/ajustes" in html and "/admin/diseno" in html


@pytest.mark.parametrize("field, value, message", [
    ("semestres_sae", "1, 7", "Los semestres van del 1 al 6"),
    ("semestres_sae", "0", "Los semestres van del 1 al 6"),
    ("semestres_sae", "", "Elija al menos un semestre"),
    ("semestres_sae", "2, 2", "Hay semestres repetidos"),
    ("ciclo_escolar", "2026-2028", "dos años seguidos"),
    ("vigencia_dia_mes", "29/02", "válido todos los años"),
    ("vigencia_regla", "siempre", "Elija una de las opciones"),
    ("foto_sharp_min", "mucho", "Escriba un número de 0 a 10000"),
    ("foto_sharp_min", "-1", "Escriba un número de 0 a 10000"),
    ("foto_detect_width", "12.5", "Escriba un entero de 80 a 600"),
    ("foto_center_min", "0.7", "Debe ser menor que «Centro del rostro: máximo"),
    ("soporte_correos", "mesa@conalepmex.edu.mx; no-es-correo", "«no-es-correo» no es un correo"),
    ("soporte_telefonos", "123", "no parece un teléfono"),
    ("soporte_foro_url", "javascript:alert(1)", "https://"),
    ("soporte_area", "", "Escriba un valor"),
])
async def test_each_rule_refused_beside_its_field(admin, field, value, message):
    """A refused value: 422, the message next to that field, nothing saved (not even the valid fields)."""
    r = await submit(admin, **{field: value, "ciclo_escolar": "2030-2031"} if field != "ciclo_escolar" else {field: value})
    html = await r.get_data(as_text=True)
    assert r.status_code == 422
    assert f'id="error-{field}"' in html and message in text_of(html)
    assert await db.fetch_val("SELECT count(*) FROM ajustes") == 0
    assert await db.fetch_val("SELECT count(*) FROM cambios_admin") == 0


async def test_save_logs_each_change_before_after(admin, users):
    """Only changed settings are stored; each is one change-log row by the admin with before → after."""
    r = await submit(admin, ciclo_escolar="2030-2031", foto_sharp_min="120,5")
    assert r.status_code == 303 and "Se guardaron 2 ajustes" in r.headers["Location"].replace("+", " ").replace("%20", " ")
    rows = await db.fetch_all("SELECT clave, antes::text, despues::text, usuario_id FROM cambios_admin "
                              "WHERE entidad = 'ajustes' ORDER BY clave")
    assert [r["clave"] for r in rows] == ["ciclo_escolar", "foto_sharp_min"]
    assert json.loads(rows[1]["antes"]) == {"valor": "100"} and json.loads(rows[1]["despues"]) == {"valor": "120.5"}
    assert all(r["usuario_id"] == users["admin"]["id"] for r in rows)
    html = text_of(await (await admin.get("/admin/ajustes")).get_data(as_text=True))
    assert "Guardado por admin@conalepmex.edu.mx" in html
    assert (await submit(admin)).headers["Location"].endswith("aviso=No+hubo+cambios.")


async def test_csrf_and_roles(admin, signed_in):
    """Without the CSRF token: 400; other roles: 403 on the page and the save."""
    r = await admin.post("/admin/ajustes", form={"ciclo_escolar": "2030-2031"})
    assert r.status_code == 400
    for role in ("plantel", "estatal", "empresa"):
        c = await signed_in(role)
        assert (await c.get("/admin/ajustes")).status_code == 403
        r = await c.post("/admin/ajustes", form={"csrf_token": await csrf_of(c), "ciclo_escolar": "2030-2031"})
        assert r.status_code == 403
    assert await db.fetch_val("SELECT count(*) FROM ajustes") == 0


async def test_removed_semester_makes_sae_import_refuse(admin, signed_in):
    """Semester 1 allowed by default; removed in the page, the same import is refused with the new list."""
    await put_sae(sae_row("250019000"), sae_row("250019001"))
    plantel = await signed_in("plantel")
    r = await plantel.post("/sae/importar", form={"csrf_token": await csrf_of(plantel), "matricula": mat("250019000")})
    assert r.status_code == 200
    assert (await submit(admin, semestres_sae="3, 4, 5, 6")).status_code == 303
    r = await plantel.post("/sae/importar", form={"csrf_token": await csrf_of(plantel), "matricula": mat("250019001")})
    assert r.status_code == 422
    assert "semestre 1, que no está entre los semestres permitidos (3, 4, 5, 6)" in text_of(await r.get_data(as_text=True))


async def test_stricter_photo_threshold_makes_capture_warn(admin, signed_in):
    """The good fixture passes; with «Nitidez mínima» raised in the page the same photo asks for confirmation."""
    plantel = await signed_in("plantel")
    a, b = await make_student("enrolado"), await make_student("enrolado")
    first = await save(plantel, a["matricula"])
    assert first.status_code == 200, await first.get_data(as_text=True)
    assert (await submit(admin, foto_sharp_min="9999")).status_code == 303
    r = await save(plantel, b["matricula"])
    body = await r.get_json()
    assert r.status_code == 422 and body["requiere_confirmacion"]
    assert any("Foto borrosa" in w for w in body["advertencias"]), body


async def test_vigencia_rule_and_cycle_set_the_suggestion(admin, settings, signed_in):
    """Validation proposes the vigencia of the saved rule: end of cycle 2030-2031 on 15/07 → 2031-07-15."""
    s = await make_student("capturado", grupo="301-ELIN18")
    plantel = await signed_in("plantel")
    html = await (await plantel.get(f"/validacion/alumno/{s['matricula']}")).get_data(as_text=True)
    default = ajustes.vigencia_sugerida(3, await ajustes.actuales(settings))
    assert f'value="{default.isoformat()}"' in html
    assert (await submit(admin, ciclo_escolar="2030-2031", vigencia_regla="ciclo", vigencia_dia_mes="15/07")).status_code == 303
    html = await (await plantel.get(f"/validacion/alumno/{s['matricula']}")).get_data(as_text=True)
    assert 'value="2031-07-15"' in html
    assert (await submit(admin, vigencia_regla="egreso")).status_code == 303  # 3rd semester: 2nd year → 2032
    html = await (await plantel.get(f"/validacion/alumno/{s['matricula']}")).get_data(as_text=True)
    assert 'value="2032-07-15"' in html


async def test_support_contacts_in_ayuda(admin, client):
    """Ayuda (public) shows the contacts saved in the page."""
    r = await submit(admin, soporte_correos="mesa@conalepmex.edu.mx; soporte2@conalepmex.edu.mx",
                     soporte_foro_url="https://t.me/soporte_conalep")
    assert r.status_code == 303
    html = await (await client.get("/ayuda")).get_data(as_text=True)
    assert "mesa@conalepmex.edu.mx" in html and "soporte2@conalepmex.edu.mx" in html
    assert "cita@conalepmex.edu.mx" not in html and 'href="https://t.me/soporte_conalep"' in html


async def test_other_servers_see_a_change_within_the_ttl(admin, settings, app):
    """A row saved by another server is read once this process's cached copy is CACHE_TTL old; a value that no
    longer passes its rule falls back to the default."""
    assert (await ajustes.actuales(settings))["ciclo_escolar"] != "2040-2041"
    await db.execute("INSERT INTO ajustes (clave, valor) VALUES ('ciclo_escolar', '2040-2041'), "
                     "('semestres_sae', '9')")
    assert (await ajustes.actuales(settings))["ciclo_escolar"] != "2040-2041"  # cached
    stamp, rows = ajustes._cache
    ajustes._cache = (stamp - ajustes.CACHE_TTL, rows)
    values = await ajustes.actuales(settings)
    assert values["ciclo_escolar"] == "2040-2041"
    assert values["semestres_sae"] == tuple(settings.allowed_semesters)
