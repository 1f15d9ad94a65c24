"""Conciliación SAE (issue 14): what a new SAE snapshot changes, and applying it under the status rules.

`compute()` runs after every `load-sae`: one set-based INSERT … SELECT (app/queries/conciliacion.py)
lists students new in SAE, changes of group, career or plantel, bajas and reappearances. Nothing
reaches `alumnos` until an admin applies the run (`apply()`, per plantel or all): each student goes
through app/sae.py's own `import_new` / `apply_update` (re-checked against the snapshot now, only
editable statuses change, one event each), bajas and reappearances set or clear `alumnos.baja_en`
with one event each (app.status.record_event). A refusal is kept as "no aplicable" with its reason.
Only the latest run may be applied (an older one could undo what a newer snapshot says).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from . import db
from .queries import admin as admin_q
from .queries import conciliacion as q
from .sae import FileSae, LoadResult, apply_update, import_new, load_snapshot
from .status import SYSTEM, Actor, TransitionError, record_event

APPLY_ROLES = frozenset({"admin"})
TIPO_LABEL = {"nuevo": "Nuevos en SAE", "grupo": "Cambio de grupo", "carrera": "Cambio de carrera",
              "plantel": "Cambio de plantel", "baja": "Bajas", "reaparecido": "Reaparecidos"}
# Reappearances first (a student back from baja may also have changed group), bajas last.
APPLY_STEPS = (("reaparecido",), ("plantel", "carrera", "grupo"), ("nuevo",), ("baja",))
BATCH = 100
TIME_BUDGET_S = 20.0  # one "Aplicar" stops after this; pressing it again continues (idempotent)
AUDIT_ENTITY = "conciliacion_sae"


@dataclass
class Run:
    """A computed run: its id, findings per kind and the time the diff took."""

    id: int
    totals: dict[str, int]
    ms: int

    def lines(self) -> list[str]:
        """Report lines for the command line."""
        kinds = ", ".join(f"{TIPO_LABEL[t].lower()} {self.totals.get(t, 0)}" for t in TIPO_LABEL)
        return [f"Conciliación SAE {self.id} calculada en {self.ms} ms: {kinds}.",
                "Nada se aplicó: revise y aplique en «Conciliación SAE»."]


@dataclass
class Loaded:
    """load-sae's outcome: the snapshot load and the run computed from it."""

    load: LoadResult
    run: Run

    def lines(self) -> list[str]:
        """Report lines for the command line."""
        return self.load.lines() + self.run.lines()


@dataclass
class Applied:
    """Outcome of one "Aplicar"."""

    aplicados: int = 0
    no_aplicables: int = 0
    pendientes: int = 0
    motivos: list[str] = field(default_factory=list)


async def _totals(run_id: int) -> dict[str, int]:
    """Findings per kind."""
    totals: dict[str, int] = {}
    for r in await q.counts(run_id):
        totals[r["tipo"]] = totals.get(r["tipo"], 0) + r["n"]
    return totals


async def compute(actor: Actor = SYSTEM, origen: str = "", completa: bool = False, ip: str = "") -> Run:
    """Compute a run from the current snapshot (nothing applied) and audit it."""
    start = time.perf_counter()
    async with db.get_db().transaction():
        run_id = await q.create_run(actor.id, origen, completa)
        await q.fill_run(run_id, completa)
        ms = round((time.perf_counter() - start) * 1000)
        await q.set_duration(run_id, ms)
        totals = await _totals(run_id)
        await admin_q.record_change(AUDIT_ENTITY, str(run_id), "calcular", None,
                                    {"origen": origen, "completa": completa, **totals}, actor.id, ip)
    return Run(run_id, totals, ms)


async def load_and_reconcile(path: str | Path, replace: bool = False) -> Loaded:
    """`load-sae`: load the export into the snapshot, then compute the run (a full load also finds absentees)."""
    result = await load_snapshot(path, replace=replace)
    origen = f"load-sae {Path(path).name}" + (" --reemplazar" if replace else "")
    return Loaded(result, await compute(SYSTEM, origen, completa=replace))


def check_may_apply(actor: Actor) -> None:
    """Only admin (UITI) applies; TransitionError otherwise."""
    if actor is not SYSTEM and actor.rol not in APPLY_ROLES:
        raise TransitionError("Su perfil no permite aplicar la conciliación SAE; solo la UITI (administración) "
                              "la aplica.")


async def _mark(item: dict, actor: Actor, baja: bool) -> str:
    """Set or clear the baja mark of one student with one event; the outcome text."""
    if item["alumno_id"] is None:
        raise TransitionError("El alumno ya no existe en la base de datos de credencialización.")
    async with db.get_db().transaction():
        estatus = await q.mark_baja(item["alumno_id"], baja)
        if estatus is None:
            raise TransitionError("El alumno ya estaba marcado como baja." if baja else
                                  "El alumno ya no estaba marcado como baja.")
        comment = ("Baja en SAE (Conciliación SAE): sale de las listas de validación y de las órdenes de impresión."
                   if baja else "Reinscrito en SAE (Conciliación SAE): se quita la marca de baja.")
        await record_event(item["alumno_id"], "baja_sae" if baja else "reingreso_sae", actor,
                           de=estatus, a=estatus, comment=comment)
    return "Marcado como baja." if baja else "Se quitó la marca de baja."


async def _apply_item(item: dict, actor: Actor, settings) -> str:
    """Apply one finding through the SAE import/update rules; the outcome text, or TransitionError."""
    tipo, matricula = item["tipo"], item["matricula"]
    if tipo == "nuevo":
        await import_new(matricula, actor, settings, FileSae())
        return "Importado con estatus Enrolado."
    if tipo in ("plantel", "carrera", "grupo"):
        await apply_update(matricula, tipo, actor, settings, FileSae())
        return f"Se aplicó «{TIPO_LABEL[tipo]}»."
    return await _mark(item, actor, baja=tipo == "baja")


async def _apply_batch(run_id: int, plantel_id: int | None, tipos: tuple[str, ...], actor: Actor,
                       settings, out: Applied) -> int:
    """Claim and apply one batch of pending items (one transaction); how many were claimed."""
    async with db.get_db().transaction():
        batch = await q.claim_pending(run_id, plantel_id, tipos, BATCH)
        for item in batch:
            try:
                motivo, resultado = await _apply_item(item, actor, settings), "aplicado"
                out.aplicados += 1
            except TransitionError as e:
                motivo, resultado = str(e), "no_aplicable"
                out.no_aplicables += 1
            await q.set_result(run_id, item["tipo"], item["matricula"], resultado, motivo, actor.id)
    return len(batch)


async def apply(run_id: int, actor: Actor, settings, plantel_id: int | None = None, ip: str = "") -> Applied:
    """Apply the latest run's pending findings (one plantel or all) within the time budget; audited."""
    check_may_apply(actor)
    if run_id != await q.latest_run_id():
        raise TransitionError("Solo se aplica la conciliación más reciente: esta fue reemplazada por una carga "
                              "posterior del SAE. No se cambió nada.")
    out, deadline = Applied(), time.monotonic() + TIME_BUDGET_S
    for tipos in APPLY_STEPS:
        while time.monotonic() < deadline and await _apply_batch(run_id, plantel_id, tipos, actor, settings, out) == BATCH:
            pass
    out.pendientes = (await q.items(run_id, None, plantel_id, limit=0, resultado="pendiente"))[1]
    await q.record_application(run_id, actor.id, plantel_id, out.aplicados, out.no_aplicables)
    await admin_q.record_change(AUDIT_ENTITY, str(run_id), "aplicar", None,
                                {"plantel_id": plantel_id, "aplicados": out.aplicados,
                                 "no_aplicables": out.no_aplicables, "pendientes": out.pendientes}, actor.id, ip)
    return out
