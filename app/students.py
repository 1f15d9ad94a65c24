"""Student records from SAE data: normalising a record, creating and updating students.

SAE is the system of record: its data wins, but only while the student is Enrolado,
Capturado or Aplazado (domain.md). Used by the roster import, the SAE snapshot and
"Importar alumno SAE".
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from . import db, validation as v
from .formatting import estatus as estatus_label
from .status import EDITABLE, Actor, TransitionError, enroll, record_event

# Fields SAE owns (what an update from SAE may change).
SAE_FIELDS = ("curp", "curp_revisar", "folio", "nombre", "primer_apellido", "segundo_apellido",
              "plantel_id", "grupo", "carrera_codigo", "semestre", "correo")


@dataclass
class RefData:
    """Catalog look-ups for normalising records."""

    planteles: dict[str, int]  # folded name, CCT and number → id
    carreras: set[str]

    @classmethod
    async def load(cls) -> "RefData":
        """Read the catalogs once."""
        planteles: dict[str, int] = {}
        for p in await db.fetch_all("SELECT id, numero, nombre, cct FROM planteles"):
            planteles[_fold(p["nombre"])] = p["id"]
            planteles[p["cct"].upper()] = p["id"]
        carreras = {r["codigo"] for r in await db.fetch_all("SELECT codigo FROM carreras")}
        return cls(planteles, carreras)

    def plantel_id(self, raw: str) -> int | None:
        """The plantel of a name (accents and case ignored, "Plantel " prefix allowed) or CCT."""
        key = (raw or "").strip()
        return self.planteles.get(key.upper()) or self.planteles.get(_fold(key).removeprefix("PLANTEL "))


def _fold(s: str) -> str:
    """Uppercase without accents (matches SQL fold())."""
    return " ".join(s.upper().translate(str.maketrans("ÁÉÍÓÚÜÑ", "AEIOUUN")).split())


@dataclass
class Normalized:
    """A record ready to store, or the reasons it cannot be."""

    fields: dict[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def normalize(raw: dict[str, Any], ref: RefData) -> Normalized:
    """Check and clean one SAE/roster record (keys as in SAE_FIELDS plus matricula, plantel, grupo)."""
    out = Normalized()
    m = v.check_matricula(str(raw.get("matricula") or ""))
    if m.level == "error":
        out.errors.append(m.message)
    elif m.level == "warning":
        out.warnings.append(m.message)
    curp_raw = str(raw.get("curp") or "").strip().upper()
    curp = v.check_curp(curp_raw)
    if not curp_raw:
        out.errors.append("Falta la CURP.")
    elif not curp.ok:  # SAE data is stored as sent and flagged for review, never dropped
        out.warnings.append(f"CURP marcada para revisión: {curp.message}")
    g = v.check_grupo(str(raw.get("grupo") or ""))
    if g.level == "error":
        out.errors.append(g.message)
    plantel_id = ref.plantel_id(str(raw.get("plantel") or ""))
    if plantel_id is None:
        out.errors.append(f"El plantel «{raw.get('plantel') or ''}» no existe en el catálogo.")
    nombre, primer = v.clean_name(str(raw.get("nombre") or "")), v.clean_name(str(raw.get("primer_apellido") or ""))
    if not nombre or not primer:
        out.errors.append("Faltan el nombre o el primer apellido.")
    folio = str(raw.get("folio") or "").strip()
    if folio and not (f := v.check_folio(folio)).ok:
        out.errors.append(f.message)
    correo = str(raw.get("correo") or "").strip()
    if correo and (c := v.check_email(correo)).level != "ok":
        (out.errors if c.level == "error" else out.warnings).append(c.message)
    if out.errors:
        return out
    semestre, carrera = v.grupo_parts(g.value)
    if raw.get("semestre") not in (None, ""):
        semestre = int(raw["semestre"])
    out.fields = {
        "matricula": m.value, "prematricula": v.prematricula(m.value), "curp": curp_raw,
        "curp_revisar": not curp.ok, "folio": v.check_folio(folio).value if folio else None,
        "nombre": nombre, "primer_apellido": primer,
        "segundo_apellido": v.clean_name(str(raw.get("segundo_apellido") or "")), "plantel_id": plantel_id,
        "grupo": g.value, "carrera_codigo": carrera, "semestre": semestre, "correo": correo.lower() or None,
    }
    if carrera not in ref.carreras:
        out.warnings.append(f"La carrera {carrera} no estaba en el catálogo; se agregó.")
    return out


async def ensure_carrera(codigo: str) -> None:
    """Add an unknown career code to the catalog (its name can be fixed later)."""
    await db.execute("INSERT INTO carreras (codigo, nombre) VALUES (:c, :c) ON CONFLICT DO NOTHING", {"c": codigo})


async def create_from_sae(fields: dict[str, Any], actor: Actor) -> int:
    """Create a student as Enrolado from normalised SAE data."""
    await ensure_carrera(fields["carrera_codigo"])
    return await enroll({**fields, "fecha_sae": datetime.now(timezone.utc)}, actor, comment="Importado desde SAE")


async def update_from_sae(alumno_id: int, fields: dict[str, Any], actor: Actor, action: str = "actualizar_sae",
                          comment: str = "") -> None:
    """Overwrite SAE-owned fields while the student is still editable; record one event."""
    changes = {k: fields[k] for k in SAE_FIELDS if k in fields}
    if changes.get("carrera_codigo"):
        await ensure_carrera(changes["carrera_codigo"])
    sets = ", ".join(f"{k} = :{k}" for k in changes)
    async with db.get_db().transaction():
        if "grupo" in changes:
            await db.execute("INSERT INTO grupos (plantel_id, clave) VALUES (:p, :g) ON CONFLICT DO NOTHING",
                             {"p": changes.get("plantel_id") or await _plantel_of(alumno_id), "g": changes["grupo"]})
        row = await db.fetch_one(
            f"""UPDATE alumnos SET {sets}, fecha_sae = now()
                WHERE id = :id AND estatus = ANY(CAST(:editable AS estatus[]))
                RETURNING estatus::text AS estatus""",
            {**changes, "id": alumno_id, "editable": sorted(EDITABLE)},
        )
        if row is None:
            current = await db.fetch_val("SELECT estatus::text FROM alumnos WHERE id = :id", {"id": alumno_id})
            raise TransitionError(
                f"No se puede actualizar desde SAE: el alumno está en estatus {estatus_label(current)}. "
                "Solo se actualizan alumnos Enrolados, Capturados o Aplazados; "
                "ya validados los registros no se podrá hacer ningún cambio.")
        await record_event(alumno_id, action, actor, de=row["estatus"], a=row["estatus"], comment=comment)


async def _plantel_of(alumno_id: int) -> int:
    """The student's current plantel."""
    return await db.fetch_val("SELECT plantel_id FROM alumnos WHERE id = :id", {"id": alumno_id})
