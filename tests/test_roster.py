"""Bulk roster import (python -m app import-students FILE)."""
from __future__ import annotations

import csv

import openpyxl
import pytest

from app import db
from app.roster import RosterError, import_roster

from .conftest import make_student, new_matricula

HEADER = ["Matrícula", "CURP", "Folio", "Nombre", "Primer apellido", "Segundo apellido", "Plantel", "Grupo",
          "Correo institucional"]


def _row(matricula, **kw):
    """A valid roster row."""
    base = {"Matrícula": matricula, "CURP": "BEML920313HMCLNS09", "Folio": "308941", "Nombre": "José Gabriel",
            "Primer apellido": "Téllez", "Segundo apellido": "Martínez", "Plantel": "Ciudad Azteca",
            "Grupo": "201-ATRO18", "Correo institucional": "jtellez@conalepmex.edu.mx"}
    base.update(kw)
    return base


def _write_csv(path, rows):
    """Write rows as a UTF-8 CSV."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=HEADER)
        w.writeheader()
        w.writerows(rows)
    return path


async def test_import_new_update_and_refuse(app, tmp_path):
    """New rows become Enrolado, editable ones are updated, validated and bad ones are refused."""
    editable = await make_student("capturado", grupo="102-ELIN18")
    locked = await make_student("validado")
    new = new_matricula()
    rows = [_row(new), _row(editable["matricula"], Grupo="103-ELIN18"), _row(locked["matricula"]),
            _row("12-3"), _row(new_matricula(), CURP="TEMGO30312HDFLRBA3"), _row(new_matricula(), Plantel="Narnia")]
    result = await import_roster(_write_csv(tmp_path / "lista.csv", rows))
    assert result.imported == [new, rows[4]["Matrícula"]]
    assert result.updated == [editable["matricula"]]
    reasons = {m: why for _, m, why in result.refused}
    assert "no se podrá hacer ningún cambio" in reasons[locked["matricula"]]
    assert "matrícula" in reasons["12-3"]
    assert "Narnia" in reasons[rows[5]["Matrícula"]]
    created = await db.fetch_one("SELECT *, estatus::text AS e FROM alumnos WHERE matricula = :m", {"m": new})
    assert created["e"] == "enrolado" and created["folio"] == "000308941"
    assert created["nombre"] == "JOSÉ GABRIEL" and created["carrera_codigo"] == "ATRO" and created["semestre"] == 2
    flagged = await db.fetch_one("SELECT curp, curp_revisar FROM alumnos WHERE matricula = :m", {"m": rows[4]["Matrícula"]})
    assert flagged == {"curp": "TEMGO30312HDFLRBA3", "curp_revisar": True}  # stored as sent, flagged
    assert await db.fetch_val("SELECT grupo FROM alumnos WHERE id = :id", {"id": editable["id"]}) == "103-ELIN18"
    assert await db.fetch_val("SELECT count(*) FROM eventos WHERE accion = 'importar'") == 2
    lines = "\n".join(result.lines())
    assert "Importados: 2" in lines and "Actualizados: 1" in lines and "Rechazados: 3" in lines


async def test_xlsx_roster(app, tmp_path):
    """XLSX files are read the same way."""
    book = openpyxl.Workbook()
    ws = book.active
    ws.append(HEADER)
    m = new_matricula()
    ws.append(list(_row(m).values()))
    book.save(tmp_path / "lista.xlsx")
    result = await import_roster(tmp_path / "lista.xlsx")
    assert result.imported == [m]


async def test_bad_file_changes_nothing(app, tmp_path):
    """Missing columns, an unreadable file or an empty one are refused whole."""
    bad = tmp_path / "sin_columnas.csv"
    bad.write_text("matricula,nombre\n180010051-1,JUAN\n")
    with pytest.raises(RosterError, match="Faltan columnas"):
        await import_roster(bad)
    corrupt = tmp_path / "roto.xlsx"
    corrupt.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(RosterError, match="XLSX"):
        await import_roster(corrupt)
    with pytest.raises(RosterError, match="no contiene"):
        await import_roster(_write_csv(tmp_path / "vacio.csv", []))
    assert await db.fetch_val("SELECT count(*) FROM alumnos") == 0


async def test_duplicate_rows_in_file(app, tmp_path):
    """The same matrícula twice in one file: the second row is refused."""
    m = new_matricula()
    result = await import_roster(_write_csv(tmp_path / "dup.csv", [_row(m), _row(m)]))
    assert result.imported == [m] and "repetida" in result.refused[0][2]


async def test_command_line(app, database_url, tmp_path):
    """`python -m app import-students` and `create-user` work against the configured database."""
    import asyncio
    import os
    import sys

    async def run(*args, **env):
        """Run the command line in a subprocess; return (code, output)."""
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "app", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, "DATABASE_URL": database_url, **env})
        out, _ = await proc.communicate()
        return proc.returncode, out.decode()

    m = new_matricula()
    code, out = await run("import-students", str(_write_csv(tmp_path / "l.csv", [_row(m), _row("x")])))
    assert code == 0 and "Importados: 1" in out and "Rechazados: 1" in out
    code, out = await run("import-students", str(tmp_path / "no-existe.csv"))
    assert code == 2 and "no se cambió nada" in out
    code, out = await run("create-user", "nuevo@conalepmex.edu.mx", "plantel", "--plantel", "Toluca",
                          NEW_USER_PASSWORD="una-clave-larga")
    assert code == 0, out
    row = await db.fetch_one("SELECT rol::text AS rol, plantel_id FROM usuarios WHERE email = 'nuevo@conalepmex.edu.mx'")
    assert row["rol"] == "plantel" and row["plantel_id"] is not None
    code, out = await run("create-user", "otro@conalepmex.edu.mx", "plantel", NEW_USER_PASSWORD="una-clave-larga")
    assert code != 0 and "requiere --plantel" in out
