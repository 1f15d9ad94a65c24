"""Validar datos alumno: the rules of the validation form (manual §10), testable without HTTP.

"Validado" needs every printed field (institución médica, número de afiliación, vigencia);
"Aplazado" needs a comment. The fields are saved as part of the status transition, so they
can never change after Validado (the machine refuses any later validar/aplazar).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any

from . import status, validation as v
from .queries import validacion as q

EVALUACIONES = {"validado": "validar", "aplazado": "aplazar"}
VIGENCIA_MAX_YEARS = 6
# The printed fields "Validado" needs: their label and the message shown beside an empty one.
REQUIRED = {"institucion_medica": ("Institución médica", "Para validar elija la institución médica."),
            "numero_afiliacion": ("Número de afiliación", "Para validar escriba el número de afiliación."),
            "vigencia": ("Vigencia", "Para validar escriba la vigencia.")}


@dataclass
class Form:
    """What the user typed, the problems found, and the values ready to store."""

    evaluacion: str = ""
    institucion_medica: str = ""
    numero_afiliacion: str = ""
    vigencia: str = ""
    comentario: str = ""
    confirmar_afiliacion: bool = False
    expected: str = ""
    seen: dict[str, int | None] = field(default_factory=dict)  # photo and signature ids on screen
    errors: dict[str, str] = field(default_factory=dict)  # field name → the message shown beside it
    warnings: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)      # required fields left empty
    changes: dict[str, Any] = field(default_factory=dict)

    @property
    def summary(self) -> str:
        """One line beside «Guardar»: what is missing, or how many fields to fix ('' when none)."""
        if self.evaluacion == "validado" and self.missing:
            return "Para validar falta: " + ", ".join(REQUIRED[f][0] for f in self.missing) + "."
        if not self.errors:
            return ""
        return "Revise el campo marcado." if len(self.errors) == 1 else f"Revise los {len(self.errors)} campos marcados."

    @classmethod
    def from_form(cls, form) -> "Form":
        """Read the posted form (every value kept as typed)."""
        return cls(evaluacion=(form.get("evaluacion") or "").strip(),
                   institucion_medica=(form.get("institucion_medica") or "").strip(),
                   numero_afiliacion=(form.get("numero_afiliacion") or "").strip(),
                   vigencia=(form.get("vigencia") or "").strip(),
                   comentario=(form.get("comentario") or "").strip(),
                   confirmar_afiliacion=form.get("confirmar_afiliacion") == "1",
                   expected=(form.get("expected") or "").strip(),
                   seen={k: _int(form.get(k)) for k in ("foto_id", "firma_id") if k in form})

    @classmethod
    def for_student(cls, alumno: dict, today: date | None = None, sugerida: date | None = None) -> "Form":
        """The initial form: stored values, vigencia suggested when empty (sugerida: by the ajustes' rule)."""
        vig = alumno.get("vigencia") or sugerida or v.suggest_vigencia(alumno["semestre"], today)
        return cls(institucion_medica=alumno.get("institucion_medica") or "",
                   numero_afiliacion=alumno.get("numero_afiliacion") or "",
                   vigencia=vig.isoformat(), comentario="", expected=alumno["estatus"],
                   seen={"foto_id": alumno["foto_id"], "firma_id": alumno["firma_id"]})


def _int(raw) -> int | None:
    """An id from a hidden field (None when empty or malformed)."""
    return int(raw) if raw and str(raw).isdigit() else None


def parse_vigencia(raw: str, today: date | None = None) -> tuple[date | None, str]:
    """A vigencia date from yyyy-mm-dd (or dd/mm/aaaa), or an error message."""
    today = today or date.today()
    try:
        if "/" in raw:
            d, m, y = (int(x) for x in raw.split("/"))
            value = date(y, m, d)
        else:
            value = date.fromisoformat(raw)
    except ValueError:
        return None, "La vigencia no es una fecha válida (use dd/mm/aaaa)."
    if value < today:
        return None, "La vigencia no puede ser una fecha pasada."
    if value.year > today.year + VIGENCIA_MAX_YEARS:
        return None, f"La vigencia no puede ser posterior a {today.year + VIGENCIA_MAX_YEARS}."
    return value, ""


async def check(form: Form, today: date | None = None) -> Form:
    """Fill form.errors / warnings / changes; the server checks everything the browser checks."""
    if form.evaluacion not in EVALUACIONES:
        form.errors["evaluacion"] = "Elija la evaluación: Validado o Aplazado."
    form.missing = [f for f in REQUIRED if not getattr(form, f)]
    if form.institucion_medica:
        if not await q.institucion_vigente(form.institucion_medica):
            form.errors["institucion_medica"] = "Elija una institución médica del catálogo vigente."
        else:
            form.changes["institucion_medica"] = form.institucion_medica
    _check_afiliacion(form)
    _check_vigencia(form, today)
    if form.evaluacion == "validado":
        for f in form.missing:
            form.errors[f] = REQUIRED[f][1]
    if form.evaluacion == "aplazado" and not form.comentario:
        form.errors["comentario"] = "Para aplazar escriba un comentario con la razón."
    return form


def _check_vigencia(form: Form, today: date | None) -> None:
    """A typed vigencia must be a future date within the allowed years."""
    if not form.vigencia:
        return
    value, problem = parse_vigencia(form.vigencia, today)
    if problem:
        form.errors["vigencia"] = problem
    else:
        form.changes["vigencia"] = value


def _check_afiliacion(form: Form) -> None:
    """Número de afiliación by its institution's rules; a Luhn mismatch must be confirmed."""
    if not form.numero_afiliacion:
        return
    c = v.check_afiliacion(form.institucion_medica, form.numero_afiliacion)
    if c.level == "error":
        form.errors["numero_afiliacion"] = c.message
        return
    if c.level == "warning" and not form.confirmar_afiliacion:
        form.warnings.append(c.message)
        form.errors["numero_afiliacion"] = "Confirme el número de afiliación marcando la casilla, o corríjalo."
        return
    form.numero_afiliacion = c.value
    form.changes["numero_afiliacion"] = c.value


async def guardar(alumno_id: int, form: Form, actor: status.Actor) -> dict:
    """Apply the evaluation as one transition (fields included), only if the student still has the
    status, photo and signature the user judged; TransitionError when refused."""
    changes = dict(form.changes)
    changes["comentario"] = form.comentario
    if form.evaluacion == "validado":
        changes.update(validado_por=actor.id, validado_en=datetime.now(timezone.utc))
    return await status.transition(alumno_id, EVALUACIONES[form.evaluacion], actor, comment=form.comentario,
                                   changes=changes, expected=form.expected or None, guard=form.seen)


def revision_items(revision: Any) -> list[tuple[str, str, str]]:
    """The photo-check results as (name, level, text) rows, whatever their shape."""
    if isinstance(revision, str):
        try:
            revision = json.loads(revision)
        except ValueError:
            return [("revisión", "", revision)]
    if isinstance(revision, list):
        revision = {str(i + 1): item for i, item in enumerate(revision)}
    if not isinstance(revision, dict):
        return []
    if "advertencias" in revision or "bloqueos" in revision:
        return _capture_review(revision)
    return [_revision_row(k, val) for k, val in revision.items()]


def _capture_review(rev: dict) -> list[tuple[str, str, str]]:
    """The capture station's report (app.photo_checks): blocks, warnings, the operator's reason."""
    rows = [("Bloqueo", "error", _msg(f)) for f in rev.get("bloqueos") or []]
    rows += [("Advertencia", "warning", _msg(f)) for f in rev.get("advertencias") or []]
    rows += [("Firma", "warning", _msg(f)) for f in rev.get("firma_advertencias") or []]
    if isinstance(rev.get("confirmado"), dict) and rev["confirmado"].get("motivo"):
        rows.append(("Aceptada por el operador", "info", str(rev["confirmado"]["motivo"])))
    if not rows:
        rows.append(("Revisión automática", "ok", "La fotografía pasó todas las revisiones."))
    return rows


def _msg(finding: Any) -> str:
    """The text of one finding (a dict with message/mensaje, or a plain string)."""
    if isinstance(finding, dict):
        return str(finding.get("message") or finding.get("mensaje") or finding.get("code") or finding)
    return str(finding)


def _revision_row(name: str, value: Any) -> tuple[str, str, str]:
    """One photo-check result for display."""
    if isinstance(value, dict):
        level = str(value.get("level") or value.get("nivel") or ("ok" if value.get("ok") else "") or "")
        text = value.get("mensaje") or value.get("message") or value.get("texto") or json.dumps(
            {k: x for k, x in value.items() if k not in ("level", "nivel")}, ensure_ascii=False)
        return str(value.get("nombre") or value.get("name") or name), level, str(text)
    if isinstance(value, bool):
        return name, "ok" if value else "warning", "Correcto" if value else "Revisar"
    return name, "", str(value)
