"""The status machine: every allowed transition, a refusal for every other pair, and races."""
from __future__ import annotations

import asyncio
from datetime import date, datetime, timezone

import pytest

from app import db
from app.status import ESTATUS, RULES, SYSTEM, Actor, TransitionError, allowed_pairs, transition

from .conftest import actor, add_image, make_student

ACTOR_FOR = {"plantel": "plantel", "estatal": "estatal", "empresa": "empresa"}


def _rules_for(src: str, dst: str):
    """Rules that move src → dst."""
    return [r for r in RULES.values() if src in r.sources and r.target == dst]


def test_table_matches_domain():
    """The transitions table is exactly domain.md's."""
    expected = {
        ("enrolado", "capturado"), ("capturado", "capturado"), ("aplazado", "capturado"),
        ("retoma", "rechazado"), ("capturado", "validado"), ("aplazado", "validado"),
        ("capturado", "aplazado"), ("aplazado", "aplazado"), ("validado", "solicitado"),
        ("rechazado", "solicitado"), ("solicitado", "imprimiendo"), ("imprimiendo", "recibido"),
        ("imprimiendo", "rechazado"), ("recibido", "rechazado"), ("recibido", "retoma"),
        ("recibido", "entregado"),
    }
    assert allowed_pairs() == expected


async def _required_changes(action: str, alumno_id: int) -> dict:
    """The data an action must bring (validation fields, delivery signature)."""
    if action == "validar":
        return {"institucion_medica": "Instituto Mexicano del Seguro Social (IMSS)",
                "numero_afiliacion": "72795608040", "vigencia": date(2028, 8, 1)}
    if action in ("capturar", "retomar"):
        return {"foto_id": await add_image(alumno_id, "foto"), "firma_id": await add_image(alumno_id, "firma"),
                "fecha_biometricos": datetime.now(timezone.utc)}
    if action == "entregar":
        return {"firma_entrega_id": await add_image(alumno_id, "firma_entrega"),
                "fecha_entrega": datetime.now(timezone.utc)}
    return {}


@pytest.mark.parametrize("src,dst", sorted(allowed_pairs()))
async def test_every_allowed_transition(users, src, dst):
    """Each allowed pair succeeds and writes exactly one event with who/from/to/comment."""
    rule = _rules_for(src, dst)[0]
    student = await make_student(src)
    who = users[sorted(rule.roles)[0]] if sorted(rule.roles)[0] != "plantel" else users["plantel"]
    result = await transition(student["id"], rule.action, actor(who), comment="motivo de prueba",
                              changes=await _required_changes(rule.action, student["id"]))
    assert (result["de"], result["a"]) == (src, dst)
    row = await db.fetch_one("SELECT estatus::text AS e FROM alumnos WHERE id = :id", {"id": student["id"]})
    assert row["e"] == dst
    events = await db.fetch_all("SELECT usuario_id, de::text AS de, a::text AS a, comentario, accion FROM eventos "
                                "WHERE alumno_id = :id", {"id": student["id"]})
    assert events == [{"usuario_id": who["id"], "de": src, "a": dst, "comentario": "motivo de prueba",
                       "accion": rule.action}]


REFUSED = [(a, s) for a in sorted(RULES) for s in ESTATUS if s not in RULES[a].sources]


@pytest.mark.parametrize("action,src", REFUSED)
async def test_every_other_pair_is_refused(users, action, src):
    """An action from a status outside its sources is refused in Spanish and changes nothing."""
    rule = RULES[action]
    student = await make_student(src)
    who = users["plantel"] if "plantel" in rule.roles else users[sorted(rule.roles)[0]]
    with pytest.raises(TransitionError) as err:
        await transition(student["id"], action, actor(who), comment="x")
    assert "No se puede" in str(err.value) and src.capitalize() in str(err.value)
    assert await db.fetch_val("SELECT estatus::text FROM alumnos WHERE id = :id", {"id": student["id"]}) == src
    assert await db.fetch_val("SELECT count(*) FROM eventos WHERE alumno_id = :id", {"id": student["id"]}) == 0


async def test_wrong_role_is_refused(users):
    """The printing company cannot validate; a plantel user cannot build print orders."""
    s = await make_student("capturado")
    with pytest.raises(TransitionError, match="perfil"):
        await transition(s["id"], "validar", actor(users["empresa"]))
    v = await make_student("validado")
    with pytest.raises(TransitionError, match="perfil"):
        await transition(v["id"], "solicitar", actor(users["plantel"]))


async def test_other_plantel_is_refused(users):
    """A plantel user cannot act on a student of another plantel."""
    s = await make_student("capturado", plantel="Toluca")
    with pytest.raises(TransitionError, match="otro plantel"):
        await transition(s["id"], "validar", actor(users["plantel"]))
    assert await db.fetch_val("SELECT estatus::text FROM alumnos WHERE id = :id", {"id": s["id"]}) == "capturado"


async def test_comment_required(users):
    """Aplazar and the rejections need a comment."""
    s = await make_student("capturado")
    with pytest.raises(TransitionError, match="comentario"):
        await transition(s["id"], "aplazar", actor(users["plantel"]), comment="   ")


async def test_validated_message_says_no_changes(users):
    """After Validado, capture is refused with the manual's sentence."""
    s = await make_student("validado")
    with pytest.raises(TransitionError, match="no se podrá hacer ningún cambio"):
        await transition(s["id"], "capturar", actor(users["plantel"]))


async def test_missing_student():
    """An unknown id is refused clearly."""
    with pytest.raises(TransitionError, match="No existe"):
        await transition(999999, "validar", SYSTEM)


@pytest.mark.parametrize("first,second", [("validar", "validar"), ("validar", "aplazar"), ("aplazar", "validar"),
                                          ("aplazar", "aplazar")])
async def test_concurrent_attempts_one_wins(users, first, second):
    """Two people act on the same student they both saw Capturado: exactly one wins, one event."""
    s = await make_student("capturado")
    who = actor(users["plantel"])

    async def attempt(action):
        """Run one transition in its own task (its own connection)."""
        return await transition(s["id"], action, who, comment="c", expected="capturado",
                                changes=await _required_changes(action, s["id"]))

    results = await asyncio.gather(attempt(first), attempt(second), return_exceptions=True)
    wins = [r for r in results if isinstance(r, dict)]
    losses = [r for r in results if isinstance(r, TransitionError)]
    assert len(wins) == 1 and len(losses) == 1, results
    assert "No se puede" in str(losses[0]) or "Otra persona" in str(losses[0])
    assert await db.fetch_val("SELECT count(*) FROM eventos WHERE alumno_id = :id", {"id": s["id"]}) == 1


async def test_guard_refuses_when_biometrics_changed(users):
    """A validator who saw the old photo cannot validate after a new capture replaced it."""
    s = await make_student("capturado")
    seen = {"foto_id": s["foto_id"], "firma_id": s["firma_id"]}
    who = actor(users["plantel"])
    await transition(s["id"], "capturar", who, changes=await _required_changes("capturar", s["id"]))
    with pytest.raises(TransitionError, match="Otra persona modificó"):
        await transition(s["id"], "validar", who, expected="capturado", guard=seen,
                         changes=await _required_changes("validar", s["id"]))
    assert await db.fetch_val("SELECT estatus::text FROM alumnos WHERE id = :id", {"id": s["id"]}) == "capturado"
