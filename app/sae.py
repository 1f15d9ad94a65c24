"""SAE (Sistema de Administración Escolar): where student data comes from, and "Importar alumno SAE".

Two sources share one interface (`async lookup(matricula) -> dict | None`):
- `FileSae` reads the snapshot table `sae_alumnos`, loaded from an SAE export with
  `python -m app load-sae FILE` (the embedded default);
- `HttpSae` asks an SAE web service (contract in docs/sae.md) with a timeout and retries.
Either returns a record keyed like the snapshot's columns (see SNAPSHOT_COLS). A source that
fails raises `SaeError`, whose str() is the Spanish message for the operator; nothing changes.

The import rules (`examine`, `import_new`, `apply_update`) decide what a user may do with a
matrícula and call app.students for every write.
"""
from __future__ import annotations

import asyncio
import functools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

import httpx

from . import ajustes, db, validation as v
from .config import Settings
from .queries import alumnos as alumnos_q
from .roster import RosterError, _check_headers, header_key, read_rows
from .status import EDITABLE, LABEL, Actor, TransitionError
from .students import Normalized, RefData, create_from_sae, normalize, update_from_sae

TEXT_COLS = ("matricula", "prematricula", "curp", "folio", "nombre", "primer_apellido", "segundo_apellido",
             "plantel", "grupo", "carrera", "correo", "institucion_medica")
SNAPSHOT_COLS = TEXT_COLS + ("semestre", "inscrito", "estatus_sae")
INSCRITO_WORDS = frozenset({"1", "SI", "SÍ", "S", "TRUE", "VERDADERO", "X", "INSCRITO", "REINSCRITO"})
INSCRITO_STATUSES = frozenset({"INSCRITO", "REINSCRITO", "ACTIVO"})
NOTHING_CHANGED = "No se cambió nada."


class SaeError(Exception):
    """SAE could not answer (down, slow, error, bad data); str() is the Spanish message."""


class SaeSource(Protocol):
    """What the import page needs from SAE."""

    async def lookup(self, matricula: str) -> dict | None:
        """The SAE record of a matrícula, or None when SAE does not know it."""


# ---- records --------------------------------------------------------------------------

def _text(value: Any) -> str:
    """A cell or JSON value as trimmed text ('' for None; 2.0 → '2')."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _semestre(value: Any) -> int | None:
    """A semester number, or None when absent or unreadable."""
    text = _text(value)
    try:
        n = int(float(text)) if text else None
    except ValueError:
        return None
    return n if n is not None and 1 <= n <= 12 else None


def _inscrito(value: Any, estatus: str) -> bool:
    """Enrolment from an explicit flag, else from SAE's status text; inscribed when neither is given."""
    if isinstance(value, bool):
        return value
    if _text(value):
        return _text(value).upper() in INSCRITO_WORDS
    if estatus:
        return estatus.upper() in INSCRITO_STATUSES
    return True


_key = functools.lru_cache(maxsize=256)(header_key)  # the same few headers on every row


def sae_record(raw: dict[str, Any]) -> dict[str, Any]:
    """Canonical SAE record from a file row or a JSON object (header names as in the manual)."""
    r = {_key(k): val for k, val in raw.items()}
    out: dict[str, Any] = {k: _text(r.get(k)) for k in TEXT_COLS}
    out["matricula"] = v.normalize_matricula(out["matricula"])
    out["curp"] = out["curp"].upper()
    if not out["prematricula"] and "-" in out["matricula"]:
        out["prematricula"] = v.prematricula(out["matricula"])
    estatus = (_text(r.get("estatus_sae")) or _text(r.get("estatus"))).upper()
    out["semestre"] = _semestre(r.get("semestre"))
    out["inscrito"] = _inscrito(r.get("inscrito"), estatus)
    out["estatus_sae"] = estatus or ("INSCRITO" if out["inscrito"] else "NO INSCRITO")
    return out


# ---- sources --------------------------------------------------------------------------

class FileSae:
    """Look-ups in the snapshot loaded from an SAE export."""

    async def lookup(self, matricula: str) -> dict | None:
        """The snapshot row of a matrícula, or None."""
        row = await db.fetch_one(
            f"SELECT {', '.join(SNAPSHOT_COLS)}, cargado_en FROM sae_alumnos WHERE matricula = :m",
            {"m": matricula})
        return row


@dataclass
class HttpSae:
    """A client of the SAE web service: GET {base_url}/alumnos/{matrícula} with a bearer token."""

    base_url: str | None
    token: str | None = None
    timeout: float = 5.0
    retries: int = 2
    backoff: float = 0.2

    async def lookup(self, matricula: str) -> dict | None:
        """The SAE record, None on 404; SaeError after the retries are spent."""
        if not self.base_url:
            raise SaeError("El servicio web del SAE no está configurado (SAE_URL). Avise a la UITI. " + NOTHING_CHANGED)
        url = f"{self.base_url.rstrip('/')}/alumnos/{quote(matricula)}"
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        last: SaeError | None = None
        async with httpx.AsyncClient(timeout=self.timeout, headers=headers) as client:
            for attempt in range(self.retries + 1):
                try:
                    return await self._attempt(client, url, matricula)
                except _Retry as e:
                    last = SaeError(str(e))
                if attempt < self.retries:
                    await asyncio.sleep(self.backoff * (attempt + 1))
        assert last is not None
        raise last

    async def _attempt(self, client: httpx.AsyncClient, url: str, matricula: str) -> dict | None:
        """One request; _Retry for failures worth retrying, SaeError for final ones."""
        try:
            r = await asyncio.wait_for(client.get(url), self.timeout + 1)
        except (httpx.TimeoutException, asyncio.TimeoutError):
            raise _Retry(f"El SAE no respondió a tiempo (más de {self.timeout:g} s). Intente de nuevo en unos "
                         "minutos. " + NOTHING_CHANGED) from None
        except httpx.HTTPError:
            raise _Retry("No se pudo conectar con el SAE. Intente de nuevo en unos minutos. " + NOTHING_CHANGED) from None
        if r.status_code == 404:
            return None
        if r.status_code >= 500:
            raise _Retry(f"El SAE respondió con un error interno (HTTP {r.status_code}). Intente de nuevo en unos "
                         "minutos. " + NOTHING_CHANGED)
        if r.status_code in (401, 403):
            raise SaeError("El SAE rechazó las credenciales del sistema (SAE_TOKEN). Avise a la UITI. " + NOTHING_CHANGED)
        if r.status_code != 200:
            raise SaeError(f"El SAE respondió de forma inesperada (HTTP {r.status_code}). " + NOTHING_CHANGED)
        return parse_answer(r.content, matricula)


class _Retry(Exception):
    """A failure that another attempt may fix (timeout, connection, 5xx)."""


BAD_ANSWER = "El SAE respondió con datos no válidos; no se pudo leer al alumno. Avise a la UITI. " + NOTHING_CHANGED


def parse_answer(body: bytes, matricula: str) -> dict:
    """The record in a JSON answer; SaeError when it is not the contract of docs/sae.md."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise SaeError(BAD_ANSWER) from None
    if isinstance(data, dict) and isinstance(data.get("alumno"), dict):
        data = data["alumno"]
    if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
        raise SaeError(BAD_ANSWER)
    if "inscrito" not in data and "estatus" not in data:
        raise SaeError(BAD_ANSWER)
    rec = sae_record(data)
    if rec["matricula"] != matricula:
        raise SaeError(BAD_ANSWER)
    return rec


def source_for(settings: Settings) -> SaeSource:
    """The configured source: 'file' (snapshot, default) or 'http' (web service)."""
    if settings.sae_source == "http":
        return HttpSae(settings.sae_url, settings.sae_token, settings.sae_timeout, settings.sae_retries)
    return FileSae()


# ---- loading an export into the snapshot ------------------------------------------------

@dataclass
class LoadResult:
    """Rows stored and rows refused (line, matrícula, reason)."""

    loaded: int = 0
    refused: list[tuple[int, str, str]] = field(default_factory=list)

    def lines(self) -> list[str]:
        """Human-readable report."""
        out = [f"Registros SAE cargados: {self.loaded}", f"Rechazados: {len(self.refused)}"]
        return out + [f"  fila {n} ({m or 'sin matrícula'}): {why}" for n, m, why in self.refused]


def snapshot_rows(rows, result: LoadResult) -> list[tuple]:
    """Records ready for COPY; malformed matrículas and repeats are refused with the reason."""
    out, seen = [], set()
    for line, raw in enumerate(rows, start=2):
        rec = sae_record(raw)
        m = v.check_matricula(rec["matricula"])
        if m.level == "error":
            result.refused.append((line, rec["matricula"], m.message))
        elif rec["matricula"] in seen:
            result.refused.append((line, rec["matricula"], "Matrícula repetida en el archivo."))
        else:
            seen.add(rec["matricula"])
            out.append(tuple(rec[c] for c in SNAPSHOT_COLS))
    return out


def export_rows(path: str | Path):
    """Rows of an SAE export: XLSX through calamine (20× faster than openpyxl), CSV through roster.read_rows."""
    path = Path(path)
    if path.suffix.lower() != ".xlsx" or not path.is_file():
        return read_rows(path)
    from python_calamine import CalamineWorkbook

    try:
        rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python(skip_empty_area=False)
    except Exception as e:  # noqa: BLE001 — any parse failure means an unusable file
        raise RosterError(f"No se pudo leer el archivo XLSX ({type(e).__name__}).") from e
    headers = [header_key(h) for h in (rows[0] if rows else [])]
    _check_headers(headers)
    return (dict(zip(headers, row)) for row in rows[1:] if any(c not in (None, "") for c in row))


def _upsert_sql(rows: str) -> str:
    """INSERT … rows … into the snapshot, replacing the data of matrículas already there."""
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in SNAPSHOT_COLS[1:])
    return (f"INSERT INTO sae_alumnos ({', '.join(SNAPSHOT_COLS)}) {rows} "
            f"ON CONFLICT (matricula) DO UPDATE SET {updates}, cargado_en = now()")


async def load_snapshot(path: str | Path, replace: bool = False) -> LoadResult:
    """Load an SAE export (CSV/XLSX) into sae_alumnos with COPY; upsert, or replace everything."""
    result = LoadResult()
    records = await asyncio.to_thread(lambda: snapshot_rows(export_rows(path), result))
    if not records:
        raise RosterError("El archivo no contiene alumnos válidos.")
    async with db.raw_connection() as conn:
        async with conn.transaction():
            await conn.execute("CREATE TEMP TABLE sae_carga (LIKE sae_alumnos INCLUDING DEFAULTS) ON COMMIT DROP")
            await conn.copy_records_to_table("sae_carga", records=records, columns=list(SNAPSHOT_COLS))
            if replace:
                await conn.execute("DELETE FROM sae_alumnos")
            await conn.execute(_upsert_sql(f"SELECT {', '.join(SNAPSHOT_COLS)} FROM sae_carga"))
    result.loaded = len(records)
    return result


# ---- "Importar alumno SAE": what may be done with a matrícula ----------------------------

# (label, key) of the rows shown in both columns; keys compared for differences.
ROWS = (("CURP", "curp"), ("Matrícula", "matricula"), ("Folio", "folio"), ("Prematrícula", "prematricula"),
        ("Nombre", "nombre"), ("Primer apellido", "primer_apellido"), ("Segundo apellido", "segundo_apellido"),
        ("Plantel", "plantel"), ("Grupo", "grupo"), ("Carrera", "carrera"), ("Semestre", "semestre"),
        ("Correo institucional", "correo"), ("Institución médica", "institucion_medica"))
DATA_KEYS = ("curp", "folio", "nombre", "primer_apellido", "segundo_apellido", "correo")
COMPARED = DATA_KEYS + ("plantel", "grupo", "carrera", "semestre")


@dataclass(frozen=True)
class Option:
    """One allowed update: its form value, button label, event action and the fields it writes."""

    key: str
    label: str
    action: str
    fields: tuple[str, ...]


OPTIONS = {o.key: o for o in (
    Option("plantel", "Cambio de plantel", "cambio_plantel_sae",
           ("plantel_id", "grupo", "carrera_codigo", "semestre", "curp", "curp_revisar", "folio", "nombre",
            "primer_apellido", "segundo_apellido", "correo")),
    Option("carrera", "Cambio de carrera", "cambio_carrera_sae", ("carrera_codigo", "grupo", "semestre")),
    Option("grupo", "Cambio de grupo", "cambio_grupo_sae", ("grupo", "semestre")),
    Option("datos", "Actualizar datos", "actualizar_sae",
           ("curp", "curp_revisar", "folio", "nombre", "primer_apellido", "segundo_apellido", "correo", "semestre")),
)}
OPTION_KEYS = {"plantel": ("plantel", "grupo", "carrera", "semestre") + DATA_KEYS, "carrera": ("carrera", "grupo", "semestre"),
               "grupo": ("grupo", "semestre"), "datos": DATA_KEYS + ("semestre",)}


@dataclass
class Examen:
    """What the page shows for one matrícula: both records, differences, refusal or options."""

    matricula: str
    sae: dict[str, str] | None = None       # display values (ROWS keys)
    local: dict[str, str] | None = None
    local_record: dict | None = None
    fields: dict[str, Any] | None = None    # normalised SAE data ready to store
    refusal: str | None = None
    note: str | None = None                 # not a refusal: e.g. "coinciden con SAE"
    warnings: list[str] = field(default_factory=list)
    diffs: set[str] = field(default_factory=set)
    options: list[Option] = field(default_factory=list)

    @property
    def can_import(self) -> bool:
        """Only in SAE and nothing against it."""
        return self.refusal is None and self.local is None and self.fields is not None


async def _names_of(fields: dict | None) -> tuple[str | None, str | None]:
    """The plantel and career names of normalised SAE data (one small query)."""
    if not fields:
        return None, None
    row = await db.fetch_one(
        """SELECT (SELECT nombre FROM planteles WHERE id = :p) AS plantel,
                  (SELECT nombre FROM carreras WHERE codigo = :c) AS carrera""",
        {"p": fields["plantel_id"], "c": fields["carrera_codigo"]})
    return row["plantel"], row["carrera"]


def _carrera_label(code: str, name: str | None) -> str:
    """'INFO — Informática'."""
    return f"{code} — {name}" if name and name != code else code


def sae_view(raw: dict, rec: Normalized, plantel: str | None, carrera: str | None) -> dict[str, str]:
    """Display values of the SAE column (normalised where the data is usable, as sent otherwise)."""
    out = {k: _text(raw.get(k)) for _l, k in ROWS}
    f = rec.fields
    if f:
        out.update({k: _text(f.get(k)) for k in DATA_KEYS + ("grupo", "semestre", "folio")})
        out["plantel"] = plantel or out["plantel"]
        out["carrera"] = _carrera_label(f["carrera_codigo"], carrera)
    out["estatus_sae"] = _text(raw.get("estatus_sae"))
    return out


def local_view(rec: dict) -> dict[str, str]:
    """Display values of the credential-database column."""
    out = {k: _text(rec.get(k)) for _l, k in ROWS}
    out["carrera"] = _carrera_label(rec["carrera_codigo"], rec["carrera"])
    out["estatus"] = LABEL.get(rec["estatus"], rec["estatus"])
    return out


def allowed_options(diffs: set[str]) -> list[Option]:
    """The updates that make sense for these differences (a plantel change carries everything)."""
    if "plantel" in diffs:
        return [OPTIONS["plantel"]]
    opts = []
    if "carrera" in diffs:
        opts.append(OPTIONS["carrera"])
    elif "grupo" in diffs:
        opts.append(OPTIONS["grupo"])
    if diffs & set(DATA_KEYS) or diffs == {"semestre"}:
        opts.append(OPTIONS["datos"])
    return opts


def _refusal_for_sae(raw: dict, rec: Normalized, user: Actor, allowed: tuple[int, ...], plantel: str) -> str | None:
    """Why SAE's record may not be imported or applied by this user, or None."""
    if rec.errors:
        return "Los datos del alumno en SAE no son válidos: " + " ".join(rec.errors)
    if not raw.get("inscrito"):
        return (f"El alumno no está inscrito en SAE (estatus en SAE: {raw.get('estatus_sae') or 'sin estatus'}). "
                "Solo se importan alumnos inscritos.")
    sem = rec.fields["semestre"]
    if sem not in allowed:
        return (f"El alumno cursa el semestre {sem}, que no está entre los semestres permitidos "
                f"({', '.join(str(s) for s in allowed)}).")
    if user.rol == "plantel" and rec.fields["plantel_id"] != user.plantel_id:
        return (f"El alumno está inscrito en SAE en el plantel {plantel}; solo puede importar o actualizar "
                "alumnos inscritos en su plantel.")
    return None


async def examine(raw_matricula: str, user: Actor, settings: Settings, source: SaeSource | None = None) -> Examen:
    """Look a matrícula up in SAE and in the credential database and decide what is allowed."""
    m = v.check_matricula(raw_matricula)
    ex = Examen(matricula=m.value or (raw_matricula or "").strip())
    if m.level == "error":
        ex.refusal = m.message
        return ex
    if m.level == "warning":
        ex.warnings.append(m.message)
    raw = await (source or source_for(settings)).lookup(m.value)
    ex.local_record = await alumnos_q.by_matricula(m.value)
    if ex.local_record:
        ex.local = local_view(ex.local_record)
    if raw is None:
        ex.refusal = (f"La matrícula {m.value} no existe en SAE ni en la base de datos de credencialización."
                      if ex.local is None else
                      f"La matrícula {m.value} no se encontró en SAE; no se puede actualizar desde SAE.")
        return ex
    rec = normalize(raw, await RefData.load())
    ex.sae = sae_view(raw, rec, *await _names_of(rec.fields))
    ex.warnings += rec.warnings
    allowed = (await ajustes.actuales(settings))["semestres_sae"]  # Administración → Ajustes
    ex.refusal = _refusal_for_sae(raw, rec, user, allowed, ex.sae["plantel"])
    if ex.refusal:
        return ex
    ex.fields = rec.fields
    if ex.local_record:
        _compare(ex)
    return ex


def _compare(ex: Examen) -> None:
    """Differences, and the options (or the reason there are none) for a student in both databases."""
    assert ex.sae is not None and ex.local is not None and ex.local_record is not None
    ex.diffs = {k for k in COMPARED if ex.sae.get(k, "") != ex.local.get(k, "")}
    estatus = ex.local_record["estatus"]
    if estatus not in EDITABLE:
        ex.refusal = (f"El alumno está en estatus {LABEL[estatus]}: ya validados los registros no se podrá hacer "
                      "ningún cambio. Solo se actualizan alumnos Enrolados, Capturados o Aplazados.")
    elif not ex.diffs:
        ex.note = "Los datos del alumno coinciden con SAE; no hay nada que actualizar."
    else:
        ex.options = allowed_options(ex.diffs)


async def import_new(raw_matricula: str, user: Actor, settings: Settings, source: SaeSource | None = None) -> Examen:
    """"Importar": create the student as Enrolado; TransitionError with the reason otherwise."""
    ex = await examine(raw_matricula, user, settings, source)
    if ex.refusal:
        raise TransitionError(ex.refusal)
    if ex.local is not None:
        raise TransitionError(f"El alumno con matrícula {ex.matricula} ya existe en la base de datos de "
                              "credencialización; use las opciones de actualización.")
    await create_from_sae(ex.fields, user)
    return ex


async def apply_update(raw_matricula: str, option_key: str, user: Actor, settings: Settings,
                       source: SaeSource | None = None) -> Examen:
    """Apply one allowed update from SAE (re-checked now); TransitionError with the reason otherwise."""
    ex = await examine(raw_matricula, user, settings, source)
    if ex.refusal:
        raise TransitionError(ex.refusal)
    if ex.local_record is None:
        raise TransitionError("El alumno no existe en la base de datos de credencialización; use «Importar».")
    option = next((o for o in ex.options if o.key == option_key), None)
    if option is None:
        raise TransitionError("Esa actualización no está permitida para este alumno; revise las diferencias y "
                              "elija una de las opciones mostradas.")
    changes = {k: ex.fields[k] for k in option.fields}
    await update_from_sae(ex.local_record["id"], changes, user, action=option.action, comment=_describe(ex, option))
    return ex


def _describe(ex: Examen, option: Option) -> str:
    """The event comment: 'Actualizado desde SAE (Cambio de grupo): Grupo 101-ELIN18 → 102-ELIN18'."""
    labels = dict((k, label) for label, k in ROWS)
    parts = [f"{labels[k]} {ex.local.get(k) or '—'} → {ex.sae.get(k) or '—'}"
             for k in OPTION_KEYS[option.key] if k in ex.diffs]
    return f"Actualizado desde SAE ({option.label}): " + "; ".join(parts)


# ---- demo snapshot (called at the end of app.demo.seed_demo; matrículas listed in docs/sae.md) ----

# Only in SAE: (prematrícula, plantel, grupo, SAE status). 7xx groups are 7th semester (not allowed).
DEMO_SAE_ONLY = (
    ("250018001", "Ciudad Azteca", "101-INFO18", "INSCRITO"), ("250018002", "Ciudad Azteca", "301-ADMO18", "INSCRITO"),
    ("250018003", "Ciudad Azteca", "102-ELIN18", "INSCRITO"), ("250018004", "Ciudad Azteca", "103-CONA18", "INSCRITO"),
    ("250018005", "Ciudad Azteca", "501-INFO18", "BAJA"), ("250018006", "Ciudad Azteca", "701-INFO18", "INSCRITO"),
    ("250348001", "Toluca", "101-CONA18", "INSCRITO"), ("250348002", "Toluca", "301-INFO18", "INSCRITO"),
    ("250348003", "Toluca", "102-ADMO18", "BAJA"), ("250928001", "Ecatepec I", "101-ELIN18", "INSCRITO"),
    ("250638001", "Chalco", "301-ADMO18", "INSCRITO"),
)
# In both databases: (prematrícula, plantel and grupo in the credential db, plantel and grupo in SAE, other SAE changes).
DEMO_DIFFERENT = (
    ("250018101", ("Ciudad Azteca", "101-ELIN18"), ("Ciudad Azteca", "102-ELIN18"), {}),       # cambio de grupo
    ("250018102", ("Ciudad Azteca", "101-ELIN18"), ("Ciudad Azteca", "101-INFO18"), {}),       # cambio de carrera
    ("250018103", ("Ciudad Azteca", "101-ELIN18"), ("Ciudad Azteca", "101-ELIN18"),
     {"segundo_apellido": "SANDOVAL", "correo": "actualizado8103@conalepmex.edu.mx"}),          # actualizar datos
    ("250018104", ("Ciudad Azteca", "101-ELIN18"), ("Ciudad Azteca", "101-ELIN18"), {}),       # coincide
    ("250348101", ("Toluca", "101-CONA18"), ("Ciudad Azteca", "101-CONA18"), {}),              # cambio de plantel
    ("250348102", ("Toluca", "101-INFO18"), ("Toluca", "102-INFO18"), {}),                     # cambio de grupo
)
# The manual's two screenshots (mistyped CURPs kept as SAE sends them, flagged for review).
DEMO_MANUAL = (
    {"matricula": "181060495-7", "curp": "TEMGO30312HDFLRBA3", "folio": "000308941", "nombre": "JOSE GABRIEL",
     "primer_apellido": "TELLEZ", "segundo_apellido": "MARTINEZ", "plantel": "Tlalnepantla II",
     "grupo": "201-ATRO18", "carrera": "ATRO18", "correo": "jtellez1210@df.conalep.edu.mx",
     "institucion_medica": "1", "semestre": 2, "estatus": "INSCRITO"},
    {"matricula": "18190296-6", "curp": "AUEK030119MDFPESRA1", "folio": "400200042", "nombre": "KARLA ITZEL",
     "primer_apellido": "ARGUETA", "segundo_apellido": "ESQUIVEL", "plantel": "Huixquilucan",
     "grupo": "107-CONA18", "carrera": "CONA18", "correo": "karlita1918@conalepmex.edu.mx",
     "institucion_medica": "IMSS", "semestre": 1, "estatus": "INSCRITO"},
)


def demo_person(rng, pre: str, plantel: str, grupo: str, estatus: str = "INSCRITO") -> dict:
    """A generated SAE record (valid CURP, Luhn matrícula) for the demo."""
    from datetime import date, timedelta

    from .demo import APELLIDOS, NOMBRES_H, NOMBRES_M, make_curp

    sexo = rng.choice("HM")
    nombre = rng.choice(NOMBRES_H if sexo == "H" else NOMBRES_M)
    primer, segundo = rng.choice(APELLIDOS), rng.choice(APELLIDOS)
    born = date(2009, 1, 1) + timedelta(days=rng.randint(0, 700))
    user = "".join(c for c in (nombre[0] + primer).lower() if c.isascii() and c.isalpha())
    return {"matricula": f"{pre}-{v.luhn_digit(pre)}", "curp": make_curp(rng, primer, segundo, nombre, born, sexo),
            "folio": f"{rng.randint(1, 999_999_999):09d}", "nombre": nombre, "primer_apellido": primer,
            "segundo_apellido": segundo, "plantel": plantel, "grupo": grupo, "carrera": grupo[4:],
            "correo": f"{user}{pre[-4:]}@conalepmex.edu.mx", "institucion_medica": "IMSS",
            "semestre": int(grupo[0]), "estatus": estatus}


async def seed_demo_snapshot(seed: int = 2019) -> int:
    """Fill sae_alumnos: every student of the credential db, plus the demo cases above; return the count."""
    import random

    from .status import SYSTEM

    rng = random.Random(seed)
    await db.execute(
        """INSERT INTO sae_alumnos (matricula, prematricula, curp, folio, nombre, primer_apellido, segundo_apellido,
                                    plantel, grupo, carrera, correo, semestre)
           SELECT a.matricula, a.prematricula, a.curp, coalesce(a.folio, ''), a.nombre, a.primer_apellido,
                  a.segundo_apellido, p.nombre, a.grupo, split_part(a.grupo, '-', 2), coalesce(a.correo, ''), a.semestre
           FROM alumnos a JOIN planteles p ON p.id = a.plantel_id
           ON CONFLICT (matricula) DO NOTHING""")
    records = [demo_person(rng, *spec) for spec in DEMO_SAE_ONLY] + [sae_record(r) for r in DEMO_MANUAL]
    ref = await RefData.load()
    for pre, (lp, lg), (sp, sg), changes in DEMO_DIFFERENT:
        person = demo_person(rng, pre, lp, lg)
        local = normalize(person, ref)
        if await db.fetch_val("SELECT id FROM alumnos WHERE matricula = :m", {"m": local.fields["matricula"]}) is None:
            await create_from_sae(local.fields, SYSTEM)
        records.append({**person, "plantel": sp, "grupo": sg, "carrera": sg[4:], "semestre": int(sg[0]), **changes})
    await _upsert_snapshot([sae_record(r) for r in records])
    await db.execute(  # a Validado student whose SAE data changed: updating it is refused
        """UPDATE sae_alumnos SET correo = 'nuevo.' || correo WHERE matricula = (
             SELECT a.matricula FROM alumnos a JOIN planteles p ON p.id = a.plantel_id
             WHERE p.nombre = 'Ciudad Azteca' AND a.estatus = 'validado' ORDER BY a.matricula LIMIT 1)""")
    return await db.fetch_val("SELECT count(*) FROM sae_alumnos")


async def _upsert_snapshot(records: list[dict]) -> None:
    """Insert or replace snapshot rows."""
    params = ", ".join(f"${i + 1}" for i in range(len(SNAPSHOT_COLS)))
    async with db.raw_connection() as conn:
        await conn.executemany(_upsert_sql(f"VALUES ({params})"), [tuple(r[c] for c in SNAPSHOT_COLS) for r in records])
