"""Bulk roster import (`python -m app import-students FILE`): CSV or XLSX, one row per student.

A file that cannot be read or lacks required columns changes nothing. Each row is imported
(new → Enrolado), updated (SAE data wins while still editable) or refused with its reason.
"""
from __future__ import annotations

import csv
import io
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from . import db
from .status import SYSTEM, TransitionError
from .students import Normalized, RefData, create_from_sae, normalize, update_from_sae

REQUIRED = ("matricula", "curp", "nombre", "primer_apellido", "plantel", "grupo")
ALIASES = {
    "correo_institucional": "correo", "email": "correo", "numero_de_afiliacion": "numero_afiliacion",
    "apellido_paterno": "primer_apellido", "apellido_materno": "segundo_apellido",
    "nombres": "nombre", "nombre_s": "nombre", "cct": "plantel", "clave_plantel": "plantel",
}
MAX_ROWS = 200_000


class RosterError(Exception):
    """The file as a whole is unusable (nothing was changed)."""


def header_key(name: Any) -> str:
    """'Primer apellido' → 'primer_apellido' (accents, case and spaces ignored)."""
    text = unicodedata.normalize("NFKD", str(name or "")).encode("ascii", "ignore").decode().lower()
    key = "_".join(text.replace("-", " ").replace(".", " ").split())
    return ALIASES.get(key, key)


def read_rows(path: str | Path, required: tuple[str, ...] = REQUIRED) -> Iterator[dict[str, Any]]:
    """Rows of a CSV (UTF-8 or Latin-1, comma/semicolon/tab) or XLSX file as dicts keyed by header_key;
    RosterError when a `required` column is missing."""
    path = Path(path)
    if not path.is_file():
        raise RosterError(f"No existe el archivo {path}.")
    if path.suffix.lower() == ".xlsx":
        yield from _xlsx_rows(path, required)
    elif path.suffix.lower() in (".csv", ".txt", ".tsv"):
        yield from _csv_rows(path, required)
    else:
        raise RosterError("El archivo debe ser CSV o XLSX.")


def _check_headers(headers: list[str], required: tuple[str, ...] = REQUIRED) -> None:
    """Refuse a file without the required columns."""
    missing = [c for c in required if c not in headers]
    if missing:
        raise RosterError("Faltan columnas obligatorias: " + ", ".join(missing) + ".")


def _csv_rows(path: Path, required: tuple[str, ...]) -> Iterator[dict[str, Any]]:
    """Rows of a delimited text file."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    headers = [header_key(h) for h in next(reader, [])]
    _check_headers(headers, required)
    for row in reader:
        if any(cell.strip() for cell in row):
            yield dict(zip(headers, (c.strip() for c in row)))


def _xlsx_rows(path: Path, required: tuple[str, ...]) -> Iterator[dict[str, Any]]:
    """Rows of the first sheet of a workbook."""
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as e:  # noqa: BLE001 — any parse failure means an unusable file
        raise RosterError(f"No se pudo leer el archivo XLSX ({type(e).__name__}).") from e
    rows = book.worksheets[0].iter_rows(values_only=True)
    headers = [header_key(h) for h in next(rows, ())]
    _check_headers(headers, required)
    for row in rows:
        if any(c not in (None, "") for c in row):
            yield {h: ("" if c is None else str(c).strip()) for h, c in zip(headers, row)}


@dataclass
class ImportResult:
    """Outcome per row: imported, updated or refused (with reasons)."""

    imported: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    refused: list[tuple[int, str, str]] = field(default_factory=list)  # (line, matricula, reason)
    warnings: list[tuple[int, str, str]] = field(default_factory=list)

    def lines(self) -> list[str]:
        """Human-readable report."""
        out = [f"Importados: {len(self.imported)}", f"Actualizados: {len(self.updated)}",
               f"Rechazados: {len(self.refused)}"]
        out += [f"  fila {n} ({m or 'sin matrícula'}): {why}" for n, m, why in self.refused]
        out += [f"  aviso fila {n} ({m}): {why}" for n, m, why in self.warnings]
        return out


async def import_roster(path: str | Path) -> ImportResult:
    """Import a roster file in one transaction."""
    rows = list(read_rows(path))
    if not rows:
        raise RosterError("El archivo no contiene alumnos.")
    if len(rows) > MAX_ROWS:
        raise RosterError(f"El archivo tiene más de {MAX_ROWS} filas.")
    ref = await RefData.load()
    result = ImportResult()
    seen: set[str] = set()
    async with db.get_db().transaction():
        for line, raw in enumerate(rows, start=2):
            await _import_row(line, raw, ref, seen, result)
    return result


async def _import_row(line: int, raw: dict, ref: RefData, seen: set[str], result: ImportResult) -> None:
    """Import, update or refuse one row."""
    rec: Normalized = normalize(raw, ref)
    matricula = rec.fields.get("matricula") or str(raw.get("matricula") or "")
    if rec.errors:
        result.refused.append((line, matricula, " ".join(rec.errors)))
        return
    if matricula in seen:
        result.refused.append((line, matricula, "Matrícula repetida en el archivo."))
        return
    seen.add(matricula)
    result.warnings += [(line, matricula, w) for w in rec.warnings]
    existing = await db.fetch_val("SELECT id FROM alumnos WHERE matricula = :m", {"m": matricula})
    try:
        async with db.get_db().transaction():  # a savepoint: a refused row leaves no trace
            if existing is None:
                await create_from_sae(rec.fields, SYSTEM)
                result.imported.append(matricula)
            else:
                await update_from_sae(existing, rec.fields, SYSTEM, comment="Actualizado por carga masiva")
                result.updated.append(matricula)
    except TransitionError as e:
        result.refused.append((line, matricula, str(e)))
