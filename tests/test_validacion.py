"""Validar datos alumno: the list, the form rules, the next student, and every refusal."""
from __future__ import annotations

import asyncio
import re
from datetime import date

from app import db, validacion as service
from app.status import TransitionError

from .conftest import actor, add_image, make_student, post, text_of

IMSS = "Instituto Mexicano del Seguro Social (IMSS)"
GOOD = {"institucion_medica": IMSS, "numero_afiliacion": "72795608040", "vigencia": "2029-08-01"}


async def _row(aid: int) -> dict:
    """The stored student with its status as text."""
    return await db.fetch_one("SELECT *, estatus::text AS estatus FROM alumnos WHERE id = :id", {"id": aid})


async def test_list_shows_only_pending_students_of_the_group(signed_in, users):
    """Capturado and Aplazado of the chosen group appear; other statuses, groups and planteles don't."""
    cap = await make_student("capturado", nombre="ADAN")
    apl = await make_student("aplazado", nombre="OSCAR")
    val = await make_student("validado", nombre="VALIDADA")
    other = await make_student("capturado", grupo="101-ELIN18", nombre="OTROGRUPO")
    toluca = await make_student("capturado", plantel="Toluca", nombre="TOLUQUENO")
    c = await signed_in("plantel")
    html = await (await c.get("/validacion?grupo=102-ELIN18")).get_data(as_text=True)
    text = text_of(html)
    assert cap["matricula"] in text and apl["matricula"] in text
    for s in (val, other, toluca):
        assert s["matricula"] not in text
    assert "Validar alumno" in text and "Mostrar" in text and "102-ELIN18 (2 por validar)" in text
    unknown = text_of(await (await c.get("/validacion?grupo=999-XXXX99")).get_data(as_text=True))
    assert "El grupo 999-XXXX99 no existe en su plantel" in unknown


async def test_list_pages_and_searches(signed_in, users):
    """"Mostrar 5 entradas" pages the list; the search narrows it by name."""
    for i in range(7):
        await make_student("capturado", nombre=f"ALUMNO{i}", primer_apellido=f"APELLIDO{i}")
    c = await signed_in("plantel")
    page1 = text_of(await (await c.get("/validacion/lista?grupo=102-ELIN18&n=5")).get_data(as_text=True))
    assert "Mostrando 1 a 5 de 7 entradas" in page1 and "Página 1 de 2" in page1
    page2 = text_of(await (await c.get("/validacion/lista?grupo=102-ELIN18&n=5&pagina=2")).get_data(as_text=True))
    assert "Mostrando 6 a 7 de 7 entradas" in page2
    found = text_of(await (await c.get("/validacion/lista?grupo=102-ELIN18&q=apellido3")).get_data(as_text=True))
    assert "ALUMNO3" in found and "ALUMNO4" not in found


async def test_validar_saves_fields_records_who_and_opens_next(signed_in, users):
    """Validado stores the fields, validado_por/en and an event, then the next pending student opens."""
    a = await make_student("capturado", primer_apellido="AAA")
    b = await make_student("capturado", primer_apellido="BBB")
    c = await signed_in("plantel")
    r = await post(c, f"/validacion/alumno/{a['matricula']}", {**GOOD, "evaluacion": "validado",
                                                               "expected": "capturado"})
    assert r.status_code == 302 and b["matricula"] in r.headers["Location"]
    row = await _row(a["id"])
    assert row["estatus"] == "validado" and row["institucion_medica"] == IMSS
    assert row["numero_afiliacion"] == "72795608040" and row["vigencia"] == date(2029, 8, 1)
    assert row["validado_por"] == users["plantel"]["id"] and row["validado_en"] is not None
    ev = await db.fetch_one("SELECT * FROM eventos WHERE alumno_id = :a AND accion = 'validar'", {"a": a["id"]})
    assert ev["usuario_id"] == users["plantel"]["id"]
    nxt = text_of(await (await c.get(r.headers["Location"])).get_data(as_text=True))
    assert f"Alumno {a['matricula']} guardado como Validado" in nxt and b["matricula"] in nxt


async def test_validado_names_every_missing_field_and_keeps_input(signed_in, users):
    """Validado without afiliación and vigencia is refused naming both; the typed institution stays."""
    a = await make_student("capturado")
    c = await signed_in("plantel")
    r = await post(c, f"/validacion/alumno/{a['matricula']}", {"institucion_medica": IMSS, "numero_afiliacion": "",
                                                               "vigencia": "", "evaluacion": "validado"})
    html = await r.get_data(as_text=True)
    assert r.status_code == 422
    assert "Para validar falta: Número de afiliación, Vigencia." in text_of(html)
    assert f'value="{IMSS}" selected' in html
    assert (await _row(a["id"]))["estatus"] == "capturado"


async def test_aplazado_requires_comment_and_then_saves_it(signed_in, users):
    """Aplazado without a comment is refused; with one the student is Aplazado with that comment."""
    a = await make_student("capturado")
    c = await signed_in("plantel")
    r = await post(c, f"/validacion/alumno/{a['matricula']}", {"evaluacion": "aplazado", "comentario": ""})
    assert r.status_code == 422 and "Para aplazar escriba un comentario" in await r.get_data(as_text=True)
    r = await post(c, f"/validacion/alumno/{a['matricula']}", {"evaluacion": "aplazado",
                                                               "comentario": "Foto borrosa"})
    assert r.status_code == 302
    row = await _row(a["id"])
    assert row["estatus"] == "aplazado" and row["comentario"] == "Foto borrosa"
    again = text_of(await (await c.get(f"/validacion/alumno/{a['matricula']}")).get_data(as_text=True))
    assert "Comentario anterior: Foto borrosa" in again and "Guardar" in again  # Aplazado can be re-evaluated


async def test_nss_luhn_mismatch_asks_to_confirm(signed_in, users):
    """The manual's NSS 26180366723 fails Luhn: first refused with a confirm box, then accepted."""
    a = await make_student("capturado")
    c = await signed_in("plantel")
    form = {**GOOD, "numero_afiliacion": "26180366723", "evaluacion": "validado"}
    r = await post(c, f"/validacion/alumno/{a['matricula']}", form)
    html = await r.get_data(as_text=True)
    assert r.status_code == 422 and "confirme que el número es correcto" in html and 'name="confirmar_afiliacion"' in html
    r = await post(c, f"/validacion/alumno/{a['matricula']}", {**form, "confirmar_afiliacion": "1"})
    assert r.status_code == 302 and (await _row(a["id"]))["numero_afiliacion"] == "26180366723"


async def test_bad_values_are_refused(signed_in, users):
    """A 10-digit NSS, a past vigencia and a historic institution are each refused with a reason."""
    a = await make_student("capturado")
    c = await signed_in("plantel")
    cases = [({"numero_afiliacion": "1234567890"}, "debe tener 11 dígitos"),
             ({"vigencia": "2001-01-01"}, "no puede ser una fecha pasada"),
             ({"institucion_medica": "Seguro Popular"}, "catálogo vigente")]
    for change, msg in cases:
        r = await post(c, f"/validacion/alumno/{a['matricula']}", {**GOOD, **change, "evaluacion": "validado"})
        assert r.status_code == 422 and msg in await r.get_data(as_text=True), change
    assert (await _row(a["id"]))["estatus"] == "capturado"


async def test_nothing_changes_after_validado(signed_in, users):
    """A validated student: the page shows no form, and posting again (validar or aplazar) is refused."""
    a = await make_student("validado")
    c = await signed_in("plantel")
    html = text_of(await (await c.get(f"/validacion/alumno/{a['matricula']}")).get_data(as_text=True))
    assert "no se podrá hacer ningún cambio" in html and "Guardar" not in html
    for ev in ("validado", "aplazado"):
        r = await post(c, f"/validacion/alumno/{a['matricula']}", {**GOOD, "numero_afiliacion": "12345678903",
                                                                   "evaluacion": ev, "comentario": "x"})
        assert r.status_code == 409 and "no se podrá hacer ningún cambio" in await r.get_data(as_text=True)
    assert (await _row(a["id"]))["numero_afiliacion"] == "72795608040"


async def test_other_plantel_and_other_roles_refused(signed_in, users):
    """Toluca cannot open or validate a Ciudad Azteca student; estatal cannot use the page at all."""
    a = await make_student("capturado")
    t = await signed_in("plantel_b")
    assert (await t.get(f"/validacion/alumno/{a['matricula']}")).status_code == 403
    r = await post(t, f"/validacion/alumno/{a['matricula']}", {**GOOD, "evaluacion": "validado"})
    assert r.status_code == 403
    e = await signed_in("estatal")
    assert (await e.get("/validacion")).status_code == 403
    assert (await _row(a["id"]))["estatus"] == "capturado"


async def test_stale_screen_and_concurrent_saves_have_one_winner(users):
    """Validar and aplazar at the same moment on one student: exactly one succeeds."""
    a = await make_student("capturado")
    who = actor(users["plantel"])
    forms = []
    for ev, com in (("validado", ""), ("aplazado", "Revisar foto")):
        f = service.Form(evaluacion=ev, comentario=com, expected="capturado", confirmar_afiliacion=False,
                         **GOOD)
        forms.append(await service.check(f))
    results = await asyncio.gather(*(service.guardar(a["id"], f, who) for f in forms), return_exceptions=True)
    assert sum(isinstance(r, TransitionError) for r in results) == 1
    assert sum(isinstance(r, dict) for r in results) == 1


async def test_new_biometrics_while_reviewing_are_not_validated(signed_in, users):
    """The photo is retaken while the validator looks at the old one: Guardar is refused."""
    a = await make_student("capturado")
    c = await signed_in("plantel")
    html = await (await c.get(f"/validacion/alumno/{a['matricula']}")).get_data(as_text=True)
    assert f'name="foto_id" value="{a["foto_id"]}"' in html
    new_photo = await add_image(a["id"], "foto")
    await db.execute("UPDATE alumnos SET foto_id = :f WHERE id = :a", {"f": new_photo, "a": a["id"]})
    r = await post(c, f"/validacion/alumno/{a['matricula']}", {**GOOD, "evaluacion": "validado", "expected": "capturado",
                                                               "foto_id": str(a["foto_id"]), "firma_id": str(a["firma_id"])})
    assert r.status_code == 409 and "Otra persona modificó al alumno" in await r.get_data(as_text=True)
    assert (await _row(a["id"]))["estatus"] == "capturado"


def test_revision_items_accepts_any_shape():
    """Photo-check results are shown whatever their JSON shape."""
    rows = service.revision_items('{"rostro": {"ok": true, "mensaje": "Un rostro detectado"}, "nitidez": false}')
    assert ("rostro", "ok", "Un rostro detectado") in rows and ("nitidez", "warning", "Revisar") in rows
    assert service.revision_items("{}") == []
    capture = {"version": 1, "ok": False, "bloqueos": [], "medidas": {"rostros": 1},
               "advertencias": [{"code": "oscura", "message": "La foto está oscura.", "hard": False}],
               "firma_advertencias": [], "confirmado": {"motivo": "Luz del aula"}}
    assert service.revision_items(capture) == [("Advertencia", "warning", "La foto está oscura."),
                                               ("Aceptada por el operador", "info", "Luz del aula")]
    assert service.revision_items({"version": 1, "ok": True, "bloqueos": [], "advertencias": []}) == [
        ("Revisión automática", "ok", "La fotografía pasó todas las revisiones.")]


async def test_field_errors_sit_beside_their_fields(signed_in, users):
    """Each problem is beside its field (aria-invalid + aria-describedby to the message); the summary
    beside «Guardar» names what is missing; valid fields are not marked."""
    a = await make_student("capturado")
    c = await signed_in("plantel")
    r = await post(c, f"/validacion/alumno/{a['matricula']}", {"institucion_medica": IMSS, "numero_afiliacion": "1234567890",
                                                               "vigencia": "", "evaluacion": "validado"})
    html = await r.get_data(as_text=True)
    assert r.status_code == 422
    for name, message in (("numero_afiliacion", "debe tener 11 dígitos"), ("vigencia", "Para validar escriba la vigencia")):
        field = re.search(rf'<input[^>]*id="{name}"[^>]*>', html).group(0)
        assert 'aria-invalid="true"' in field and f'aria-describedby="error-{name}' in field, field
        error = re.search(rf'<p class="campo-error" id="error-{name}">([^<]*)</p>', html)
        assert error and message in error.group(1)
        assert html.index(f'id="{name}"') < error.start() < html.index(f'id="{name}"') + 1200  # right after the field
    assert 'aria-invalid' not in re.search(r'<select[^>]*id="institucion_medica"[^>]*>', html).group(0)
    assert "Para validar falta: Vigencia." in re.search(r'id="validar-resumen">([^<]*)<', html).group(1)
    assert html.index('id="validar-resumen"') > html.index('id="comentario"')  # beside Guardar, not at the top


async def test_aplazado_without_comment_marks_the_comment(signed_in, users):
    """Aplazado needs a comment: the message is under «Comentario», which is marked invalid."""
    a = await make_student("capturado")
    c = await signed_in("plantel")
    html = await (await post(c, f"/validacion/alumno/{a['matricula']}", {**GOOD, "evaluacion": "aplazado"})).get_data(as_text=True)
    area = re.search(r'<textarea[^>]*id="comentario"[^>]*>', html).group(0)
    assert 'aria-invalid="true"' in area and 'id="error-comentario"' in html
    html = await (await post(c, f"/validacion/alumno/{a['matricula']}", GOOD)).get_data(as_text=True)
    assert 'id="error-evaluacion"' in html and "Elija la evaluación" in html


async def test_scanned_matricula_opens_the_student_whatever_group(signed_in, users):
    """«Buscar» with a whole matrícula (scanner form: ' for -, or 10 bare digits) opens that student,
    whatever group is selected (or none); an unknown or foreign one is explained in the list."""
    a = await make_student("capturado", grupo="101-ELIN18")
    await make_student("capturado", grupo="102-ELIN18")
    toluca = await make_student("capturado", plantel="Toluca")
    c = await signed_in("plantel")
    target = f"/validacion/alumno/{a['matricula']}?grupo=101-ELIN18"
    for q in (a["matricula"], a["matricula"].replace("-", "'"), a["matricula"].replace("-", "")):
        r = await c.get(f"/validacion/lista?grupo=102-ELIN18&q={q}", headers={"HX-Request": "true"})
        assert r.status_code == 200 and r.headers["HX-Redirect"] == target, q
    r = await c.get(f"/validacion?q={a['matricula']}")
    assert r.status_code == 303 and r.headers["Location"] == target
    text = text_of(await (await c.get(f"/validacion/lista?grupo=102-ELIN18&q={toluca['matricula']}",
                                      headers={"HX-Request": "true"})).get_data(as_text=True))
    assert "pertenece a otro plantel" in text
    text = text_of(await (await c.get("/validacion?grupo=102-ELIN18&q=999999999-9")).get_data(as_text=True))
    assert "No existe un alumno con la matrícula 999999999-9" in text
    partial = await c.get("/validacion/lista?grupo=102-ELIN18&q=2500", headers={"HX-Request": "true"})
    assert "HX-Redirect" not in partial.headers  # a prefix still filters the group's list
