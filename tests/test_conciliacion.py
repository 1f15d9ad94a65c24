"""Conciliación SAE (issue 14): two snapshots with every kind of change, counts per plantel, applying per plantel
and all (idempotent), bajas out of validation and print orders, Excel, roles and hostile parameters."""
from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook

from app import conciliacion, db
from app.queries import conciliacion as q
from app.queries import ordenes as ordenes_q
from app.queries import validacion as validacion_q
from app.status import TransitionError
from app.validation import luhn_digit

from .conftest import actor, make_student, new_matricula, plantel_id, post, text_of

HEADERS = ["CURP", "Matrícula", "Folio", "Nombre", "Primer apellido", "Segundo apellido", "Plantel", "Grupo",
           "Correo institucional", "Estatus"]


@pytest.fixture(autouse=True)
async def empty_snapshot(app):
    """Each test starts with an empty SAE snapshot."""
    await db.execute("DELETE FROM sae_alumnos")


@pytest.fixture
def settings(app):
    """The app's Settings."""
    return app.config["SETTINGS"]


async def sae_of(s: dict, plantel: str | None = None, grupo: str | None = None, estatus: str = "INSCRITO") -> list:
    """The export row SAE would send for a local student (same data unless changed here)."""
    if plantel is None:
        plantel = await db.fetch_val("SELECT nombre FROM planteles WHERE id = :p", {"p": s["plantel_id"]})
    return [s["curp"], s["matricula"], s["folio"], s["nombre"].title(), s["primer_apellido"], s["segundo_apellido"],
            plantel, grupo or s["grupo"], s["correo"], estatus]


def new_row(plantel: str, grupo: str = "101-INFO18") -> list:
    """An SAE-only student."""
    pre = new_matricula("25077").split("-")[0]
    return ["BEML920313HMCLNS09", f"{pre}-{luhn_digit(pre)}", "000308941", "LUIS", "BELTRÁN", "MORA", plantel, grupo,
            "lbeltran@conalepmex.edu.mx", "INSCRITO"]


def write_csv(path, rows: list[list]) -> str:
    """An SAE export file."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(HEADERS)
        w.writerows(rows)
    return str(path)


@pytest.fixture
async def world(users):
    """Local students of every case (Ciudad Azteca = A, Toluca = T)."""
    return {
        "grupo": await make_student("enrolado", grupo="101-ELIN18"),
        "carrera": await make_student("capturado", grupo="101-ELIN18"),
        "plantel": await make_student("enrolado", plantel="Toluca", grupo="101-CONA18"),
        "validado": await make_student("validado", grupo="101-ELIN18"),
        "baja_a": await make_student("capturado", grupo="101-ELIN18"),
        "baja_t": await make_student("validado", plantel="Toluca", grupo="101-CONA18"),
        "igual": await make_student("enrolado", grupo="101-ELIN18"),
    }


async def first_snapshot(tmp_path, w: dict) -> tuple[conciliacion.Loaded, list]:
    """Snapshot 1 (partial): every kind of change, loaded as `load-sae` does."""
    nuevos = [new_row("Ciudad Azteca"), new_row("Toluca", "101-CONA18")]
    rows = [await sae_of(w["grupo"], grupo="102-ELIN18"), await sae_of(w["carrera"], grupo="101-INFO18"),
            await sae_of(w["plantel"], plantel="Ciudad Azteca"), await sae_of(w["validado"], grupo="102-ELIN18"),
            await sae_of(w["baja_a"], estatus="BAJA"), await sae_of(w["baja_t"], estatus="BAJA"),
            await sae_of(w["igual"]), *nuevos]
    return await conciliacion.load_and_reconcile(write_csv(tmp_path / "sae1.csv", rows)), nuevos


async def student(s: dict) -> dict:
    """The student's current row."""
    return await db.fetch_one("SELECT *, estatus::text AS estatus FROM alumnos WHERE id = :id", {"id": s["id"]})


async def events(s: dict) -> list[str]:
    """The student's event actions, oldest first."""
    return [r["accion"] for r in await db.fetch_all("SELECT accion FROM eventos WHERE alumno_id = :a ORDER BY id",
                                                    {"a": s["id"]})]


def per_plantel(counts: list[dict]) -> dict[str, dict[str, int]]:
    """{plantel: {tipo: n}}."""
    out: dict[str, dict[str, int]] = {}
    for r in counts:
        out.setdefault(r["plantel"], {})[r["tipo"]] = r["n"]
    return out


async def test_loading_computes_every_kind_and_changes_nothing(tmp_path, world):
    """The run lists each kind with its plantel; no student record changes and no event is written."""
    before = await db.fetch_val("SELECT count(*) FROM eventos")
    loaded, _ = await first_snapshot(tmp_path, world)
    assert per_plantel(await q.counts(loaded.run.id)) == {
        "Ciudad Azteca": {"nuevo": 1, "grupo": 2, "carrera": 1, "plantel": 1, "baja": 1},
        "Toluca": {"nuevo": 1, "baja": 1}}
    assert loaded.run.totals == {"nuevo": 2, "grupo": 2, "carrera": 1, "plantel": 1, "baja": 2}
    assert "Nada se aplicó" in " ".join(loaded.lines())
    assert (await student(world["grupo"]))["grupo"] == "101-ELIN18"
    assert (await student(world["baja_a"]))["baja_en"] is None
    assert await db.fetch_val("SELECT count(*) FROM eventos") == before
    audit = await db.fetch_one("SELECT accion, despues FROM cambios_admin WHERE entidad = 'conciliacion_sae'")
    assert audit["accion"] == "calcular"
    rows, total = await q.items(loaded.run.id, "plantel", None)
    assert total == 1 and rows[0]["antes"] == "Toluca · 101-CONA18" and rows[0]["despues"] == "Ciudad Azteca · 101-CONA18"


async def test_apply_per_plantel_then_all_is_idempotent(tmp_path, world, users, settings):
    """Toluca first touches only Toluca's findings; then all; a second "Aplicar" changes nothing."""
    loaded, nuevos = await first_snapshot(tmp_path, world)
    admin = actor(users["admin"])
    t = await conciliacion.apply(loaded.run.id, admin, settings, await plantel_id("Toluca"))
    assert (t.aplicados, t.no_aplicables, t.pendientes) == (2, 0, 0)
    assert (await student(world["baja_t"]))["baja_en"] is not None
    assert (await student(world["grupo"]))["grupo"] == "101-ELIN18"  # Ciudad Azteca's still pending
    everything = await conciliacion.apply(loaded.run.id, admin, settings)
    assert (everything.aplicados, everything.no_aplicables) == (5, 1)
    assert (await student(world["grupo"]))["grupo"] == "102-ELIN18"
    assert (await student(world["carrera"]))["carrera_codigo"] == "INFO"
    plantel_a = await plantel_id("Ciudad Azteca")
    moved = await student(world["plantel"])
    assert moved["plantel_id"] == plantel_a and moved["estatus"] == "enrolado"
    assert (await student(world["validado"]))["grupo"] == "101-ELIN18"
    assert (await student(world["baja_a"]))["baja_en"] is not None
    assert await db.fetch_val("SELECT count(*) FROM alumnos WHERE matricula = ANY(:m) AND estatus = 'enrolado'",
                              {"m": [n[1] for n in nuevos]}) == 2
    assert (await events(world["grupo"]))[-1] == "cambio_grupo_sae"
    assert (await events(world["plantel"]))[-1] == "cambio_plantel_sae"
    assert (await events(world["baja_a"]))[-1] == "baja_sae"
    refused, _ = await q.items(loaded.run.id, None, None, resultado="no_aplicable")
    assert [r["matricula"] for r in refused] == [world["validado"]["matricula"]]
    assert "Validado" in refused[0]["motivo"] and "ningún cambio" in refused[0]["motivo"]
    n_events = await db.fetch_val("SELECT count(*) FROM eventos")
    again = await conciliacion.apply(loaded.run.id, admin, settings)
    assert (again.aplicados, again.no_aplicables) == (0, 0)
    assert await db.fetch_val("SELECT count(*) FROM eventos") == n_events
    assert await db.fetch_val("SELECT count(*) FROM conciliacion_aplicaciones") == 3
    assert await db.fetch_val("SELECT count(*) FROM cambios_admin WHERE accion = 'aplicar'") == 3


async def test_bajas_leave_validation_and_print_order_candidates(tmp_path, world, users, settings):
    """A baja Capturado student leaves the validation lists; a baja Validado one leaves the order candidates."""
    plantel_a, plantel_t = await plantel_id("Ciudad Azteca"), await plantel_id("Toluca")
    pending_before, _ = await validacion_q.pendientes(plantel_a, "101-ELIN18", limit=100)
    assert world["baja_a"]["matricula"] in {r["matricula"] for r in pending_before}
    loaded, _ = await first_snapshot(tmp_path, world)
    await conciliacion.apply(loaded.run.id, actor(users["admin"]), settings)
    pending, total = await validacion_q.pendientes(plantel_a, "101-ELIN18", limit=100)
    assert world["baja_a"]["matricula"] not in {r["matricula"] for r in pending}
    assert total == len(pending)
    groups = {g["clave"]: g["pendientes"] for g in await validacion_q.grupos(plantel_a)}
    assert groups["101-ELIN18"] == len(pending)
    assert await validacion_q.siguiente(plantel_a, "101-ELIN18", world["carrera"]["matricula"]) != world["baja_a"]["matricula"]
    candidatos = {c["plantel_id"]: c for c in await ordenes_q.candidatos()}
    assert plantel_t not in candidatos  # Toluca's only Validado student is a baja
    assert candidatos[plantel_a]["validados"] == 1


async def test_second_snapshot_reappeared_and_absent_in_a_full_export(tmp_path, world, users, settings):
    """A baja back in SAE loses the mark when applied; in a full export (--reemplazar) an absent student is a baja."""
    loaded, nuevos = await first_snapshot(tmp_path, world)
    admin = actor(users["admin"])
    await conciliacion.apply(loaded.run.id, admin, settings)
    moved = await student(world["plantel"])
    rows = [await sae_of(await student(world[k])) for k in ("grupo", "carrera", "validado", "baja_t")]
    rows += [await sae_of(moved), await sae_of(world["baja_a"]), *nuevos]   # "igual" is gone from SAE
    second = await conciliacion.load_and_reconcile(write_csv(tmp_path / "sae2.csv", rows), replace=True)
    assert second.run.totals == {"reaparecido": 2, "baja": 1}
    with pytest.raises(TransitionError, match="más reciente"):
        await conciliacion.apply(loaded.run.id, admin, settings)
    assert (await student(world["baja_a"]))["baja_en"] is not None  # nothing applied yet
    out = await conciliacion.apply(second.run.id, admin, settings)
    assert (out.aplicados, out.no_aplicables) == (3, 0)
    assert (await student(world["baja_a"]))["baja_en"] is None
    assert (await events(world["baja_a"]))[-1] == "reingreso_sae"
    assert (await student(world["igual"]))["baja_en"] is not None


async def test_only_admin_applies(tmp_path, world, users, settings):
    """Estatal may look but not apply (the rule is checked in the function too)."""
    loaded, _ = await first_snapshot(tmp_path, world)
    with pytest.raises(TransitionError, match="Su perfil no permite"):
        await conciliacion.apply(loaded.run.id, actor(users["estatal"]), settings)


# ---- the pages ------------------------------------------------------------------------

async def test_page_counts_and_lists_for_estatal(tmp_path, world, signed_in):
    """Estatal sees the counts per plantel and the lists, with no "Aplicar" button."""
    loaded, _ = await first_snapshot(tmp_path, world)
    c = await signed_in("estatal")
    r = await c.get("/conciliacion")
    html = await r.get_data(as_text=True)
    assert r.status_code == 200 and "Conciliación SAE" in html and "Ciudad Azteca" in html
    assert "aplicar-todos" not in html and "la aplica la UITI" in html
    pid = await plantel_id("Ciudad Azteca")
    r = await c.get(f"/conciliacion/{loaded.run.id}/lista?tipo=grupo&plantel={pid}")
    text = text_of(await r.get_data(as_text=True))
    assert r.status_code == 200 and world["grupo"]["matricula"] in text and "102-ELIN18" in text
    assert world["carrera"]["matricula"] not in text
    r = await post(c, f"/conciliacion/{loaded.run.id}/aplicar")
    assert r.status_code == 403


async def test_admin_applies_per_plantel_through_the_page(tmp_path, world, signed_in):
    """The admin's per-plantel button applies that plantel only and the page reports the outcome."""
    loaded, _ = await first_snapshot(tmp_path, world)
    c = await signed_in("admin")
    html = await (await c.get("/conciliacion")).get_data(as_text=True)
    assert "aplicar-todos" in html and "Aplicar en Toluca" in html
    r = await post(c, f"/conciliacion/{loaded.run.id}/aplicar", {"plantel": str(await plantel_id("Toluca"))})
    text = text_of(await r.get_data(as_text=True))
    assert r.status_code == 200 and "Se aplicaron 2 cambios" in text
    assert (await student(world["baja_t"]))["baja_en"] is not None
    assert (await student(world["baja_a"]))["baja_en"] is None
    r = await post(c, f"/conciliacion/{loaded.run.id}/aplicar")
    assert "Se aplicaron 5 cambios" in text_of(await r.get_data(as_text=True))


async def test_excel_per_list_read_back_and_audited(tmp_path, world, signed_in, users, settings):
    """The Excel of a list holds its students (text stays text) and the download is audited."""
    loaded, _ = await first_snapshot(tmp_path, world)
    await conciliacion.apply(loaded.run.id, actor(users["admin"]), settings)
    c = await signed_in("estatal")
    r = await c.get(f"/conciliacion/{loaded.run.id}/lista.xlsx?tipo=grupo")
    assert r.status_code == 200
    ws = load_workbook(io.BytesIO(await r.get_data())).active
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][:4] == ("Matrícula", "Nombre", "Plantel", "Hallazgo")
    by_m = {row[0]: row for row in rows[1:]}
    assert set(by_m) == {world["grupo"]["matricula"], world["validado"]["matricula"]}
    assert by_m[world["grupo"]["matricula"]][4:8] == ("101-ELIN18", "102-ELIN18", "Enrolado", "Aplicado")
    assert by_m[world["validado"]["matricula"]][7] == "No aplicable" and "Validado" in by_m[world["validado"]["matricula"]][8]
    audit = await db.fetch_one("SELECT usuario_id, detalle FROM accesos_sensibles WHERE recurso = 'excel_conciliacion_sae'")
    assert audit["usuario_id"] == users["estatal"]["id"] and "grupo" in audit["detalle"]


@pytest.mark.parametrize("role", ["plantel", "plantel_b", "empresa"])
async def test_other_roles_cannot_open_it(tmp_path, world, signed_in, role):
    """Plantel and empresa users get 403 on every route and the menu does not offer it."""
    loaded, _ = await first_snapshot(tmp_path, world)
    c = await signed_in(role)
    for url in ("/conciliacion", f"/conciliacion/{loaded.run.id}", f"/conciliacion/{loaded.run.id}/lista?tipo=baja",
                f"/conciliacion/{loaded.run.id}/lista.xlsx?tipo=baja"):
        assert (await c.get(url)).status_code == 403, url
    assert (await post(c, f"/conciliacion/{loaded.run.id}/aplicar")).status_code == 403
    assert "Conciliación SAE" not in await (await c.get("/")).get_data(as_text=True)


@pytest.mark.parametrize("query", [
    "tipo=%3Cscript%3E", "tipo=nuevo&plantel=abc", "tipo=nuevo&plantel=99999999999999999999", "plantel=-1",
    "tipo=baja&plantel=999999", "resultado=hecho", "tipo=nuevo%00", "plantel=1%27%20OR%201=1",
])
async def test_hostile_parameters_are_a_spanish_400(tmp_path, world, signed_in, query):
    """Bad list parameters answer 400 with a Spanish message, never a 500."""
    loaded, _ = await first_snapshot(tmp_path, world)
    c = await signed_in("admin")
    for path in ("lista", "lista.xlsx"):
        r = await c.get(f"/conciliacion/{loaded.run.id}/{path}?{query}")
        assert r.status_code == 400, (path, query, r.status_code)
        assert "plantel" in (await r.get_data(as_text=True)) or "lista" in (await r.get_data(as_text=True))


async def test_hostile_run_ids_and_forms(tmp_path, world, signed_in):
    """Unknown or huge run ids are 404; a bad plantel in the form is 400; a big page number is an empty page."""
    loaded, _ = await first_snapshot(tmp_path, world)
    c = await signed_in("admin")
    for url in ("/conciliacion/999999", "/conciliacion/99999999999999", "/conciliacion/abc", "/conciliacion/0/lista"):
        assert (await c.get(url)).status_code == 404, url
    r = await post(c, f"/conciliacion/{loaded.run.id}/aplicar", {"plantel": "x' OR 1=1"})
    assert r.status_code == 400 and "No existe el plantel" in await r.get_data(as_text=True)
    r = await c.get(f"/conciliacion/{loaded.run.id}/lista?tipo=nuevo&pagina=99999")
    assert r.status_code == 200 and "No hay alumnos en esta lista" in await r.get_data(as_text=True)
    assert (await post(c, "/conciliacion/999999/aplicar")).status_code == 404


async def test_page_without_any_run(signed_in):
    """Before any load the page explains how a reconciliation is made."""
    c = await signed_in("admin")
    r = await c.get("/conciliacion")
    assert r.status_code == 200 and "sin-conciliacion" in await r.get_data(as_text=True)
