"""The status machine: the ONE place that changes a student's estatus.

The table below is domain.md's transitions table. `transition()` performs one as a
conditional UPDATE plus an event row in one transaction, so two people acting on the
same student at once cannot both win; the loser gets a Spanish message.
Nothing else in the code base writes `alumnos.estatus`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import avisos, db

# Report column order (domain.md).
ESTATUS: tuple[str, ...] = (
    "enrolado", "aplazado", "capturado", "validado", "solicitado",
    "rechazado", "retoma", "imprimiendo", "recibido", "entregado",
)
LABEL = {s: s.capitalize() for s in ESTATUS}
# Statuses in which SAE data and biometrics may still change.
EDITABLE = frozenset({"enrolado", "capturado", "aplazado"})
CAPTURABLE = frozenset({"enrolado", "capturado", "aplazado", "retoma"})


@dataclass(frozen=True)
class Rule:
    """One row of the transitions table."""

    action: str
    sources: frozenset[str]
    target: str
    roles: frozenset[str]
    verb: str  # Spanish infinitive phrase for messages
    needs_comment: bool = False


def _rule(action, sources, target, roles, verb, needs_comment=False) -> Rule:
    """Build a Rule from plain literals."""
    return Rule(action, frozenset(sources), target, frozenset(roles), verb, needs_comment)


RULES: dict[str, Rule] = {r.action: r for r in (
    _rule("capturar", {"enrolado", "capturado", "aplazado"}, "capturado", {"plantel"}, "tomar biométricos"),
    _rule("retomar", {"retoma"}, "rechazado", {"plantel"}, "retomar biométricos"),
    _rule("validar", {"capturado", "aplazado"}, "validado", {"plantel"}, "validar"),
    _rule("aplazar", {"capturado", "aplazado"}, "aplazado", {"plantel"}, "aplazar", True),
    _rule("solicitar", {"validado", "rechazado"}, "solicitado", {"estatal"}, "incluir en una orden de impresión"),
    _rule("imprimir", {"solicitado"}, "imprimiendo", {"empresa", "estatal"}, "marcar en impresión"),
    _rule("recibir", {"imprimiendo"}, "recibido", {"estatal"}, "recibir la credencial"),
    _rule("rechazar_recepcion", {"imprimiendo"}, "rechazado", {"estatal"}, "rechazar en recepción", True),
    _rule("rechazar", {"recibido"}, "rechazado", {"plantel"}, "rechazar la credencial", True),
    _rule("rechazar_retoma", {"recibido"}, "retoma", {"plantel"}, "solicitar retoma", True),
    _rule("entregar", {"recibido"}, "entregado", {"plantel"}, "entregar la credencial"),
)}
ENROLL_ROLES = frozenset({"plantel", "admin"})

# Columns a transition may set besides the status (whitelist: names are never user input).
CHANGEABLE = frozenset({
    "foto_id", "firma_id", "firma_entrega_id", "fecha_biometricos", "fecha_entrega",
    "institucion_medica", "numero_afiliacion", "vigencia", "validado_por", "validado_en",
    "comentario", "orden_id",
})


@dataclass(frozen=True)
class Actor:
    """Who acts: a signed-in user or the system (command line)."""

    id: int | None
    rol: str
    plantel_id: int | None = None
    email: str = "sistema"


SYSTEM = Actor(id=None, rol="admin", email="sistema")


class TransitionError(Exception):
    """A refused transition; str(error) is the Spanish message for the user."""


def allowed_pairs() -> set[tuple[str, str]]:
    """Every (from, to) pair the table allows."""
    return {(s, r.target) for r in RULES.values() for s in r.sources}


def rule_for(action: str) -> Rule:
    """The rule of an action name."""
    return RULES[action]


def _refusal(rule: Rule, current: str) -> str:
    """Explain in Spanish why rule cannot apply to a student in status current."""
    if current in {"validado", "solicitado", "imprimiendo", "recibido", "entregado"} and rule.action in {
        "capturar", "validar", "aplazar"
    }:
        return (f"No se puede {rule.verb}: el alumno está en estatus {LABEL[current]}. "
                "Ya validados los registros no se podrá hacer ningún cambio.")
    allowed = ", ".join(LABEL[s] for s in ESTATUS if s in rule.sources)
    return (f"No se puede {rule.verb}: el alumno está en estatus {LABEL[current]} "
            f"(se requiere {allowed}).")


def check_actor(rule: Rule, actor: Actor) -> None:
    """Refuse when the actor's role may not perform rule."""
    if actor is not SYSTEM and actor.rol not in rule.roles:
        raise TransitionError(f"Su perfil no permite {rule.verb}.")


async def transition(alumno_id: int, action: str, actor: Actor, *, comment: str = "",
                     orden_id: int | None = None, changes: dict[str, Any] | None = None,
                     expected: str | None = None, guard: dict[str, Any] | None = None) -> dict:
    """Apply action to the student; return {'de', 'a', 'evento_id'} or raise TransitionError.

    `expected` is the status the user saw on screen and `guard` the values of other columns
    they saw (e.g. the photo and signature ids a validator looked at): when someone else changed
    the student in between, the action is refused instead of applied on top of their change.
    """
    rule = rule_for(action)
    check_actor(rule, actor)
    comment = (comment or "").strip()
    if rule.needs_comment and not comment:
        raise TransitionError(f"Para {rule.verb} escriba un comentario con la razón.")
    changes = dict(changes or {})
    bad = set(changes) - CHANGEABLE
    assert not bad, f"columns not changeable by a transition: {bad}"
    guard = dict(guard or {})
    assert not set(guard) - CHANGEABLE, f"columns not guardable: {set(guard) - CHANGEABLE}"
    sets = "".join(f", {col} = :c_{col}" for col in changes)
    checks = "".join(f" AND a.{col} IS NOT DISTINCT FROM :g_{col}" for col in guard)
    values = {f"c_{k}": v for k, v in changes.items()}
    values.update({f"g_{k}": v for k, v in guard.items()})
    sources = rule.sources & {expected} if expected else rule.sources
    values.update(id=alumno_id, target=rule.target, sources=sorted(sources),
                  plantel=actor.plantel_id if actor.rol == "plantel" else None)
    async with db.get_db().transaction():
        row = await db.fetch_one(
            f"""WITH old AS (SELECT id, estatus FROM alumnos WHERE id = :id FOR UPDATE)
                UPDATE alumnos a SET estatus = CAST(:target AS estatus), fecha_estatus = now(){sets}
                FROM old
                WHERE a.id = old.id AND old.estatus = ANY(CAST(:sources AS estatus[]))
                  AND (CAST(:plantel AS int) IS NULL OR a.plantel_id = CAST(:plantel AS int)){checks}
                RETURNING old.estatus::text AS de""",
            values,
        )
        if row is None:
            raise TransitionError(await _why_not(alumno_id, rule, actor, expected, bool(guard)))
        evento_id = await record_event(alumno_id, action, actor, de=row["de"], a=rule.target,
                                       comment=comment, orden_id=orden_id)
        await avisos.tras_evento(alumno_id, rule.target, comment)  # queued with the event (docs/avisos.md)
    return {"de": row["de"], "a": rule.target, "evento_id": evento_id}


async def _why_not(alumno_id: int, rule: Rule, actor: Actor, expected: str | None, guarded: bool) -> str:
    """The Spanish reason a conditional update matched no row."""
    cur = await db.fetch_one("SELECT estatus::text AS estatus, plantel_id FROM alumnos WHERE id = :id",
                             {"id": alumno_id})
    if cur is None:
        return "No existe el alumno."
    if actor.rol == "plantel" and cur["plantel_id"] != actor.plantel_id:
        return "El alumno pertenece a otro plantel; solo puede atender alumnos de su plantel."
    if expected and cur["estatus"] != expected and cur["estatus"] in rule.sources:
        return (f"Otra persona modificó al alumno mientras usted trabajaba (ahora está en estatus "
                f"{LABEL[cur['estatus']]}). Revise sus datos antes de continuar.")
    if guarded and cur["estatus"] in rule.sources:
        return ("Otra persona modificó al alumno mientras usted lo revisaba (por ejemplo, se tomaron "
                "nuevos biométricos). Revise de nuevo antes de continuar.")
    return _refusal(rule, cur["estatus"])


async def record_event(alumno_id: int, action: str, actor: Actor, *, de: str | None = None,
                       a: str | None = None, comment: str = "", orden_id: int | None = None) -> int:
    """Append one row to the audit trail and return its id."""
    return await db.fetch_val(
        """INSERT INTO eventos (alumno_id, usuario_id, accion, de, a, comentario, orden_id)
           VALUES (:alumno_id, :usuario_id, :accion, CAST(:de AS estatus), CAST(:a AS estatus),
                   :comentario, :orden_id) RETURNING id""",
        {"alumno_id": alumno_id, "usuario_id": actor.id, "accion": action, "de": de, "a": a,
         "comentario": comment, "orden_id": orden_id},
    )


async def enroll(fields: dict[str, Any], actor: Actor, comment: str = "") -> int:
    """Create a student as Enrolado (the none → enrolado transition); return its id."""
    if actor is not SYSTEM and actor.rol not in ENROLL_ROLES:
        raise TransitionError("Su perfil no permite importar alumnos.")
    if actor.rol == "plantel" and fields["plantel_id"] != actor.plantel_id:
        raise TransitionError("El alumno está inscrito en otro plantel; solo puede importar alumnos de su plantel.")
    cols = ", ".join(fields)
    params = ", ".join(f":{k}" for k in fields)
    async with db.get_db().transaction():
        await db.execute(
            "INSERT INTO grupos (plantel_id, clave) VALUES (:p, :g) ON CONFLICT DO NOTHING",
            {"p": fields["plantel_id"], "g": fields["grupo"]},
        )
        alumno_id = await db.fetch_val(
            f"INSERT INTO alumnos ({cols}) VALUES ({params}) ON CONFLICT (matricula) DO NOTHING RETURNING id",
            fields,
        )
        if alumno_id is None:
            raise TransitionError(f"El alumno con matrícula {fields['matricula']} ya existe.")
        await record_event(alumno_id, "importar", actor, a="enrolado", comment=comment)
    return alumno_id
