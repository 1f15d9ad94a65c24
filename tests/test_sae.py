"""SAE snapshot loading (`load-sae`), the import/update rules and the "Importar alumno SAE" page."""
from __future__ import annotations

import csv
import os
import subprocess
import sys

import pytest
from openpyxl import Workbook

from app import db
from app.roster import RosterError
from app.sae import FileSae, apply_update, examine, import_new, load_snapshot, sae_record, source_for
from app.status import TransitionError
from app.validation import luhn_digit

from .conftest import ROOT, actor, make_student, post, text_of

HEADERS = ["CURP", "Matrícula", "Folio", "Prematrícula", "Nombre", "Primer apellido", "Segundo apellido", "Plantel",
           "Grupo", "Carrera", "Correo institucional", "Institución médica", "Semestre", "Estatus"]


def mat(pre: str) -> str:
    """A matrícula with its Luhn digit."""
    return f"{pre}-{luhn_digit(pre)}"


def sae_row(pre: str, plantel: str = "Ciudad Azteca", grupo: str = "101-INFO18", estatus: str = "INSCRITO",
            **kw) -> dict:
    """A snapshot record (as SAE exports it)."""
    rec = {"matricula": mat(pre), "curp": "BEML920313HMCLNS09", "folio": "000308941", "nombre": "LUIS",
           "primer_apellido": "BELTRÁN", "segundo_apellido": "MORA", "plantel": plantel, "grupo": grupo,
           "carrera": grupo[4:], "correo": "lbeltran@conalepmex.edu.mx", "institucion_medica": "IMSS",
           "semestre": int(grupo[0]), "estatus": estatus}
    rec.update(kw)
    return rec


async def put_sae(*records: dict) -> None:
    """Insert records into the snapshot."""
    from app.sae import _upsert_snapshot

    await _upsert_snapshot([sae_record(r) for r in records])


@pytest.fixture(autouse=True)
async def empty_snapshot(app):
    """Each test starts with an empty SAE snapshot."""
    await db.execute("DELETE FROM sae_alumnos")


@pytest.fixture
def settings(app):
    """The app's Settings (file source)."""
    return app.config["SETTINGS"]


def write_csv(path, rows: list[list]) -> str:
    """A CSV file with the manual's headers."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(HEADERS)
        w.writerows(rows)
    return str(path)


def row(pre_or_mat: str, grupo: str = "101-INFO18", estatus: str = "INSCRITO", plantel: str = "Ciudad Azteca") -> list:
    """One export row in HEADERS order."""
    m = pre_or_mat if "-" in pre_or_mat or "'" in pre_or_mat else mat(pre_or_mat)
    return ["BEML920313HMCLNS09", m, "308941", m[:9].split("-")[0].split("'")[0], "Luis", "Beltrán", "Mora", plantel,
            grupo, grupo[4:], "lbeltran@conalepmex.edu.mx", "IMSS", grupo[0], estatus]


# ---- load-sae ------------------------------------------------------------------------

async def test_load_csv_keeps_data_as_sent_and_refuses_bad_matriculas(tmp_path):
    """Rows are stored as SAE sends them; bad or repeated matrículas are refused with the line and reason."""
    scanner = "250019001'" + str(luhn_digit("250019001"))
    path = write_csv(tmp_path / "sae.csv", [row("250019000"), row(scanner), row("12-3"), row("250019000"),
                                            row("250019002", estatus="BAJA")])
    result = await load_snapshot(path)
    assert result.loaded == 3
    assert [(n, why) for n, _m, why in result.refused] == [
        (4, "La matrícula debe tener 8 o 9 dígitos, un guion y un dígito (ej. 180010051-1)."),
        (5, "Matrícula repetida en el archivo.")]
    rec = await FileSae().lookup(mat("250019001"))  # the scanner's apostrophe became the dash
    assert rec["nombre"] == "Luis" and rec["folio"] == "308941" and rec["semestre"] == 1 and rec["inscrito"]
    baja = await FileSae().lookup(mat("250019002"))
    assert baja["inscrito"] is False and baja["estatus_sae"] == "BAJA"


async def test_load_xlsx_updates_and_replace_removes_the_rest(tmp_path):
    """A later export updates matrículas already loaded; --reemplazar drops what it doesn't hold."""
    await load_snapshot(write_csv(tmp_path / "a.csv", [row("250019000"), row("250019001")]))
    wb = Workbook()
    ws = wb.active
    ws.append(HEADERS)
    ws.append(row("250019000", grupo="102-INFO18"))
    wb.save(tmp_path / "b.xlsx")
    assert (await load_snapshot(tmp_path / "b.xlsx")).loaded == 1
    assert (await FileSae().lookup(mat("250019000")))["grupo"] == "102-INFO18"
    assert await FileSae().lookup(mat("250019001")) is not None
    await load_snapshot(tmp_path / "b.xlsx", replace=True)
    assert await FileSae().lookup(mat("250019001")) is None
    assert await db.fetch_val("SELECT count(*) FROM sae_alumnos") == 1


async def test_xlsx_numbers_and_broken_workbook(tmp_path):
    """Numeric XLSX cells (folio, semestre) load as text/ints; a corrupt workbook is refused."""
    wb = Workbook()
    ws = wb.active
    ws.append(HEADERS)
    r = row("250019000")
    r[2], r[12] = 308941, 3
    ws.append(r)
    ws.append([None] * len(HEADERS))  # blank rows are skipped
    wb.save(tmp_path / "n.xlsx")
    assert (await load_snapshot(tmp_path / "n.xlsx")).loaded == 1
    rec = await FileSae().lookup(mat("250019000"))
    assert (rec["folio"], rec["semestre"], rec["nombre"]) == ("308941", 3, "Luis")
    broken = tmp_path / "roto.xlsx"
    broken.write_bytes(b"PK not really a workbook")
    with pytest.raises(RosterError, match="No se pudo leer el archivo XLSX"):
        await load_snapshot(broken)


async def test_unusable_file_changes_nothing(tmp_path):
    """Missing columns or no valid rows: the file is refused and the snapshot kept."""
    await put_sae(sae_row("250019000"))
    bad = tmp_path / "bad.csv"
    bad.write_text("matricula,nombre\n250019000-1,X\n", encoding="utf-8")
    with pytest.raises(RosterError, match="Faltan columnas obligatorias"):
        await load_snapshot(bad)
    with pytest.raises(RosterError, match="no contiene alumnos válidos"):
        await load_snapshot(write_csv(tmp_path / "x.csv", [row("1-1")]), replace=True)
    assert await db.fetch_val("SELECT count(*) FROM sae_alumnos") == 1


async def test_load_sae_command(tmp_path, database_url):
    """`python -m app load-sae FILE` loads the snapshot and prints the counts; a bad file exits 2."""
    path = write_csv(tmp_path / "sae.csv", [row("250019000"), row("250019001"), row("9-9")])
    env = {**os.environ, "DATABASE_URL": database_url}
    out = subprocess.run([sys.executable, "-m", "app", "load-sae", path], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "Registros SAE cargados: 2" in out.stdout and "Rechazados: 1" in out.stdout
    assert await db.fetch_val("SELECT count(*) FROM sae_alumnos") == 2
    bad = subprocess.run([sys.executable, "-m", "app", "load-sae", str(tmp_path / "nada.csv")], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "no se cambió nada" in bad.stdout


# ---- the rules -----------------------------------------------------------------------

async def test_import_only_in_sae_creates_enrolado(users, settings):
    """A student only in SAE, inscribed in the user's plantel: Importar creates it as Enrolado with an event."""
    await put_sae(sae_row("250019000"))
    ex = await examine(mat("250019000"), actor(users["plantel"]), settings)
    assert ex.can_import and ex.local is None and ex.sae["plantel"] == "Ciudad Azteca"
    await import_new(mat("250019000").replace("-", "'"), actor(users["plantel"]), settings)
    a = await db.fetch_one("SELECT *, estatus::text AS e FROM alumnos WHERE matricula = :m", {"m": mat("250019000")})
    assert a["e"] == "enrolado" and a["fecha_sae"] is not None and a["primer_apellido"] == "BELTRÁN"
    assert a["carrera_codigo"] == "INFO" and a["semestre"] == 1
    ev = await db.fetch_one("SELECT * FROM eventos WHERE alumno_id = :id", {"id": a["id"]})
    assert ev["accion"] == "importar" and ev["usuario_id"] == users["plantel"]["id"] and ev["a"] == "enrolado"
    with pytest.raises(TransitionError, match="coinciden|ya existe"):
        await import_new(mat("250019000"), actor(users["plantel"]), settings)


async def test_mistyped_curp_from_sae_is_kept_and_flagged(users, settings):
    """The manual's 19-character CURP arrives from SAE: stored as sent, flagged for review, with a warning."""
    await put_sae(sae_row("250019000", curp="AUEK030119MDFPESRA1"))
    ex = await import_new(mat("250019000"), actor(users["plantel"]), settings)
    assert any("CURP marcada para revisión" in w for w in ex.warnings)
    a = await db.fetch_one("SELECT curp, curp_revisar FROM alumnos WHERE matricula = :m", {"m": mat("250019000")})
    assert a == {"curp": "AUEK030119MDFPESRA1", "curp_revisar": True}


@pytest.mark.parametrize("record, who, reason", [
    (sae_row("250019000", estatus="BAJA"), "plantel", "no está inscrito en SAE (estatus en SAE: BAJA)"),
    (sae_row("250019000", plantel="Toluca"), "plantel", "inscrito en SAE en el plantel Toluca"),
    (sae_row("250019000", grupo="701-INFO18"), "plantel", "semestre 7, que no está entre los semestres permitidos"),
    (sae_row("250019000", grupo="701-INFO18"), "admin", "semestre 7"),
    (sae_row("250019000", grupo="10-INFO"), "plantel", "Los datos del alumno en SAE no son válidos"),
])
async def test_refusals_with_reason_change_nothing(users, settings, record, who, reason):
    """Not inscribed, other plantel, semester not allowed, unusable SAE data: refused with the reason."""
    await put_sae(record)
    ex = await examine(record["matricula"], actor(users[who]), settings)
    assert reason in ex.refusal and not ex.can_import
    with pytest.raises(TransitionError, match=reason.split(" (")[0]):
        await import_new(record["matricula"], actor(users[who]), settings)
    assert await db.fetch_val("SELECT count(*) FROM alumnos") == 0


async def test_admin_imports_for_any_plantel(users, settings):
    """UITI (admin) may import a student of any plantel."""
    await put_sae(sae_row("250019000", plantel="Toluca"))
    await import_new(mat("250019000"), actor(users["admin"]), settings)
    assert await db.fetch_val("SELECT p.nombre FROM alumnos a JOIN planteles p ON p.id = a.plantel_id") == "Toluca"


async def test_malformed_and_unknown_matriculas(users, settings):
    """A malformed matrícula is refused before any look-up; an unknown one says it exists nowhere."""
    ex = await examine("18001", actor(users["plantel"]), settings)
    assert "8 o 9 dígitos" in ex.refusal
    ex = await examine(mat("250019999"), actor(users["plantel"]), settings)
    assert ex.refusal == f"La matrícula {mat('250019999')} no existe en SAE ni en la base de datos de credencialización."
    s = await make_student("enrolado")
    ex = await examine(s["matricula"], actor(users["plantel"]), settings)
    assert "no se encontró en SAE" in ex.refusal and ex.local["matricula"] == s["matricula"]


async def test_luhn_mismatch_only_warns(users, settings):
    """A matrícula whose digit fails Luhn is still looked up, with a warning."""
    bad = "250019000-" + str((luhn_digit("250019000") + 1) % 10)
    await put_sae(sae_row("250019000", matricula=bad))
    ex = await examine(bad, actor(users["plantel"]), settings)
    assert ex.can_import and any("verifique la matrícula" in w for w in ex.warnings)


async def _both(grupo_local="101-ELIN18", plantel_local="Ciudad Azteca", estatus="enrolado", **sae):
    """A student in the credential db and in SAE (SAE differing by **sae)."""
    s = await make_student(estatus, plantel=plantel_local, grupo=grupo_local, curp="BEML920313HMCLNS09",
                           nombre="LUIS", primer_apellido="BELTRÁN", segundo_apellido="MORA", folio="000308941",
                           correo="lbeltran@conalepmex.edu.mx")
    rec = sae_row(s["prematricula"], **{"grupo": grupo_local, "plantel": plantel_local, **sae})
    await put_sae(rec)
    return s


async def test_group_change(users, settings):
    """SAE moved the student to another group: only "Cambio de grupo" is offered; applying it records the event."""
    s = await _both(grupo="102-ELIN18")
    ex = await examine(s["matricula"], actor(users["plantel"]), settings)
    assert ex.diffs == {"grupo"} and [o.key for o in ex.options] == ["grupo"]
    with pytest.raises(TransitionError, match="no está permitida"):
        await apply_update(s["matricula"], "plantel", actor(users["plantel"]), settings)
    await apply_update(s["matricula"], "grupo", actor(users["plantel"]), settings)
    a = await db.fetch_one("SELECT grupo, fecha_sae, estatus::text AS e FROM alumnos WHERE id = :id", {"id": s["id"]})
    assert a["grupo"] == "102-ELIN18" and a["fecha_sae"] is not None and a["e"] == "enrolado"
    ev = await db.fetch_one("SELECT * FROM eventos WHERE alumno_id = :id", {"id": s["id"]})
    assert ev["accion"] == "cambio_grupo_sae" and ev["usuario_id"] == users["plantel"]["id"]
    assert "Grupo 101-ELIN18 → 102-ELIN18" in ev["comentario"]
    ex = await examine(s["matricula"], actor(users["plantel"]), settings)
    assert not ex.diffs and not ex.options and "coinciden con SAE" in ex.note


async def test_career_change_and_data_update(users, settings):
    """A career change (group with it) and a data update are separate options with their own events."""
    s = await _both(grupo="101-INFO18", correo="nuevo@conalepmex.edu.mx", segundo_apellido="SANDOVAL")
    ex = await examine(s["matricula"], actor(users["plantel"]), settings)
    assert ex.diffs == {"grupo", "carrera", "correo", "segundo_apellido"}
    assert [o.key for o in ex.options] == ["carrera", "datos"]
    await apply_update(s["matricula"], "carrera", actor(users["plantel"]), settings)
    a = await db.fetch_one("SELECT grupo, carrera_codigo, correo FROM alumnos WHERE id = :id", {"id": s["id"]})
    assert a == {"grupo": "101-INFO18", "carrera_codigo": "INFO", "correo": "lbeltran@conalepmex.edu.mx"}
    await apply_update(s["matricula"], "datos", actor(users["plantel"]), settings)
    a = await db.fetch_one("SELECT correo, segundo_apellido FROM alumnos WHERE id = :id", {"id": s["id"]})
    assert a == {"correo": "nuevo@conalepmex.edu.mx", "segundo_apellido": "SANDOVAL"}
    acciones = [r["accion"] for r in await db.fetch_all("SELECT accion FROM eventos WHERE alumno_id = :id ORDER BY id",
                                                        {"id": s["id"]})]
    assert acciones == ["cambio_carrera_sae", "actualizar_sae"]


async def test_plantel_change_is_done_by_the_destination(users, settings):
    """SAE moved a Toluca student to Ciudad Azteca: Ciudad Azteca applies it; Toluca is refused."""
    s = await _both(plantel_local="Toluca", plantel="Ciudad Azteca", grupo="103-ELIN18")
    toluca = await examine(s["matricula"], actor(users["plantel_b"]), settings)
    assert "inscrito en SAE en el plantel Ciudad Azteca" in toluca.refusal and not toluca.options
    ex = await examine(s["matricula"], actor(users["plantel"]), settings)
    assert [o.key for o in ex.options] == ["plantel"] and {"plantel", "grupo"} <= ex.diffs
    await apply_update(s["matricula"], "plantel", actor(users["plantel"]), settings)
    a = await db.fetch_one("SELECT plantel_id, grupo FROM alumnos WHERE id = :id", {"id": s["id"]})
    assert a == {"plantel_id": users["plantel"]["plantel_id"], "grupo": "103-ELIN18"}
    assert await db.fetch_val("SELECT accion FROM eventos WHERE alumno_id = :id", {"id": s["id"]}) == "cambio_plantel_sae"


@pytest.mark.parametrize("estatus", ["validado", "solicitado", "recibido", "entregado"])
async def test_no_changes_after_validation(users, settings, estatus):
    """A Validado (or later) student is not updated from SAE, with the manual's reason."""
    s = await _both(estatus=estatus, grupo="102-ELIN18")
    ex = await examine(s["matricula"], actor(users["plantel"]), settings)
    assert "ya validados los registros no se podrá hacer ningún cambio" in ex.refusal and not ex.options
    with pytest.raises(TransitionError, match="ya validados"):
        await apply_update(s["matricula"], "grupo", actor(users["plantel"]), settings)
    assert await db.fetch_val("SELECT grupo FROM alumnos WHERE id = :id", {"id": s["id"]}) == "101-ELIN18"


async def test_capturado_and_aplazado_can_be_updated(users, settings):
    """Capturado and Aplazado are still editable: the update applies and the status stays."""
    for estatus in ("capturado", "aplazado"):
        s = await _both(estatus=estatus, grupo="102-ELIN18")
        await apply_update(s["matricula"], "grupo", actor(users["plantel"]), settings)
        a = await db.fetch_one("SELECT grupo, estatus::text AS e FROM alumnos WHERE id = :id", {"id": s["id"]})
        assert a == {"grupo": "102-ELIN18", "e": estatus}


def test_source_follows_settings(settings):
    """SAE_SOURCE picks the adapter: file (default) or http."""
    from dataclasses import replace

    from app.sae import HttpSae

    assert isinstance(source_for(settings), FileSae)
    http = source_for(replace(settings, sae_source="http", sae_url="http://sae.local/api", sae_token="t",
                              sae_timeout=3, sae_retries=4))
    assert isinstance(http, HttpSae) and (http.base_url, http.token, http.timeout, http.retries) == (
        "http://sae.local/api", "t", 3, 4)


# ---- the page --------------------------------------------------------------------------

async def test_page_shows_two_columns_with_differences(signed_in, users):
    """In both databases: a comparison with the different rows marked and only the allowed options."""
    s = await _both(grupo="102-ELIN18")
    c = await signed_in("plantel")
    r = await c.get(f"/sae?matricula={s['matricula'].replace('-', chr(39))}")
    html = await r.get_data(as_text=True)
    assert r.status_code == 200
    assert "Base de Datos de credencialización" in html and "SAE" in html
    assert html.count('class="diff"') == 1 and "102-ELIN18" in html and "101-ELIN18" in html
    assert "Cambio de grupo" in html and "Cambio de plantel" not in html and "Importar</button>" not in html


async def test_page_import_and_refusal(signed_in, users):
    """Importar creates the student; a student of another plantel gets the reason (422) and nothing changes."""
    await put_sae(sae_row("250019000"), sae_row("250019001", plantel="Toluca"))
    c = await signed_in("plantel")
    html = await (await c.get(f"/sae?matricula={mat('250019000')}")).get_data(as_text=True)
    assert "El alumno no existe en la Base de Datos del sistema" in html and "Importar</button>" in html
    assert "Regresar" in html
    r = await post(c, "/sae/importar", {"matricula": mat("250019000")})
    text = text_of(await r.get_data(as_text=True))
    assert r.status_code == 200 and "se importó con estatus Enrolado" in text
    r = await post(c, "/sae/importar", {"matricula": mat("250019001")})
    assert r.status_code == 422
    assert "inscrito en SAE en el plantel Toluca" in text_of(await r.get_data(as_text=True))
    assert await db.fetch_val("SELECT count(*) FROM alumnos") == 1


async def test_page_update_option(signed_in, users):
    """Applying an option through the page updates the record and shows that nothing is left to update."""
    s = await _both(grupo="102-ELIN18")
    c = await signed_in("plantel")
    r = await post(c, "/sae/actualizar", {"matricula": s["matricula"], "opcion": "grupo"})
    text = text_of(await r.get_data(as_text=True))
    assert r.status_code == 200 and "Se aplicó «Cambio de grupo»" in text and "coinciden con SAE" in text
    r = await post(c, "/sae/actualizar", {"matricula": s["matricula"], "opcion": "grupo"})
    assert r.status_code == 422 and "no está permitida" in text_of(await r.get_data(as_text=True))


async def test_page_htmx_partial_and_roles(signed_in, users):
    """htmx gets only the result area; estatal and empresa may not import; the form keeps what was typed."""
    c = await signed_in("admin")
    r = await c.get("/sae?matricula=18001", headers={"HX-Request": "true"})
    html = await r.get_data(as_text=True)
    assert "<html" not in html and "8 o 9 dígitos" in html
    full = await (await c.get("/sae?matricula=18001")).get_data(as_text=True)
    assert 'value="18001"' in full
    for who in ("estatal", "empresa"):
        assert (await (await signed_in(who)).get("/sae")).status_code == 403
    r = await post(await signed_in("estatal"), "/sae/importar", {"matricula": mat("250019000")})
    assert r.status_code == 403
