"""Saving a capture: photo + signature ("Guardar" in Toma de biométricos) or a delivery signature.

One request carries everything plus the device's idempotency key (`clave`, a UUID). The key is
stored with the capture under a unique constraint in the same transaction as the images and the
status change, so a doubled or retried request stores once: same key + same content → the
original answer again; same key + other content → refused (422).
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from . import biocrypt, db, images, offload, photo_checks
from .audit import record_read
from .privacy import PrivacyError, acknowledged_version, record_notice
from .status import Actor, TransitionError, transition


MEXICO = ZoneInfo("America/Mexico_City")


class CaptureError(Exception):
    """A refused capture; str() is the Spanish message, .status the HTTP code, .data extra JSON."""

    def __init__(self, message: str, status: int = 422, **data: Any) -> None:
        super().__init__(message)
        self.status = status
        self.data = data


@dataclass
class Upload:
    """What the device sent (raw bytes as received)."""

    foto: bytes = b""
    firma: bytes = b""
    clave: str | None = None
    capturado_en: str | None = None
    confirmar: bool = False
    motivo: str = ""
    expected: str | None = None  # the status the operator saw
    extra: dict = field(default_factory=dict)


def parse_key(raw: str | None) -> uuid.UUID | None:
    """The idempotency key as a UUID (None when absent); a malformed key is refused."""
    if not raw:
        return None
    try:
        return uuid.UUID(str(raw))
    except ValueError:
        raise CaptureError("La clave de la captura no es válida (se espera un UUID).", 400) from None


def parse_device_time(raw: str | None) -> datetime | None:
    """The device's capture time (ISO 8601), or None when absent or unreadable."""
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def payload_digest(tipo: str, alumno_id: int, *parts: bytes) -> str:
    """sha256 identifying a capture's content (student and raw image bytes)."""
    h = hashlib.sha256(f"{tipo}:{alumno_id}".encode())
    for p in parts:
        h.update(len(p).to_bytes(8, "big"))
        h.update(p)
    return h.hexdigest()


# ---- image preparation (CPU, off the event loop) ------------------------------------------

@dataclass
class Prepared:
    """Normalised images and the photo-check report."""

    foto: images.Normalized | None
    firma: images.Normalized
    report: photo_checks.Report | None
    firma_warnings: list[str]


def prepare_biometrics(foto: bytes, firma: bytes, thresholds: photo_checks.Thresholds) -> Prepared:
    """Decode, normalise and check a photo and a signature (raises ImageError)."""
    photo = images.normalize_photo(foto)
    sig = images.normalize_signature(firma)
    return Prepared(photo, sig, photo_checks.check_photo(photo.image, thresholds), images.signature_warnings(sig))


def prepare_signature(firma: bytes) -> Prepared:
    """Decode and normalise a delivery signature (raises ImageError)."""
    sig = images.normalize_signature(firma, "firma de entrega")
    return Prepared(None, sig, None, images.signature_warnings(sig))


def review(prep: Prepared, up: Upload) -> dict:
    """The revision JSON of the photo; raises CaptureError for hard failures or unconfirmed warnings."""
    rep = prep.report.as_json() if prep.report else {"advertencias": [], "bloqueos": []}
    if rep["bloqueos"]:
        raise CaptureError("La fotografía no se puede usar: " + " ".join(f["message"] for f in rep["bloqueos"]),
                           422, bloqueos=[f["message"] for f in rep["bloqueos"]])
    warnings = [f["message"] for f in rep["advertencias"]] + prep.firma_warnings
    if warnings and not (up.confirmar and up.motivo.strip()):
        msg = ("Revise la captura: " + " ".join(warnings) +
               " Si aun así es correcta, marque «Confirmo que la captura es correcta», escriba el motivo y guarde.")
        raise CaptureError(msg, 422, advertencias=warnings, requiere_confirmacion=True)
    if warnings:
        rep["confirmado"] = {"motivo": up.motivo.strip()[:500]}
    rep["firma_advertencias"] = prep.firma_warnings
    return rep


# ---- storing --------------------------------------------------------------------------------

# Claim the key and store the images in ONE round trip (raw asyncpg: no per-query compile, the
# ~80 KB photo is sent once). When the key exists, nothing is inserted and both ids are NULL.
# datos is the sealed blob (app/biocrypt.py); sha256 and bytes ($18, $19) are those of the plaintext.
CLAIM_AND_STORE = """
WITH k AS (
  INSERT INTO capturas (clave, tipo, alumno_id, usuario_id, payload_sha256, device_captured_at)
  VALUES ($1::uuid, $2::text, $3::bigint, $4::int, $5::text, $6::timestamptz) ON CONFLICT (clave) DO NOTHING RETURNING alumno_id),
f AS (
  INSERT INTO biometricos (alumno_id, tipo, mime, datos, sha256, bytes, ancho, alto, revision, creado_por)
  SELECT alumno_id, 'foto', $7::text, $8::bytea, $9::text, $18::int, $10::int, $11::int, $12::jsonb, $4
  FROM k WHERE $8::bytea IS NOT NULL
  RETURNING id),
s AS (
  INSERT INTO biometricos (alumno_id, tipo, mime, datos, sha256, bytes, ancho, alto, creado_por)
  SELECT alumno_id, $13::biometrico_tipo, 'image/png', $14::bytea, $15::text, $19::int, $16::int,
         $17::int, $4 FROM k RETURNING id)
SELECT (SELECT count(*) FROM k) AS claimed, (SELECT id FROM f) AS foto_id, (SELECT id FROM s) AS firma_id
"""


async def claim_and_store(clave: uuid.UUID, tipo: str, alumno_id: int, actor: Actor, digest: str,
                          device_at: datetime | None, foto: images.Normalized | None, firma: images.Normalized,
                          revision: dict | None) -> tuple[int | None, int] | None:
    """(foto_id, firma_id) of the stored images, or None when the key was already used.

    Runs on the task's connection, so it belongs to the caller's transaction."""
    async with db.raw_connection() as conn:
        row = await conn.fetchrow(
            CLAIM_AND_STORE, clave, tipo, alumno_id, actor.id, digest, device_at,
            foto.mime if foto else None, biocrypt.seal(foto.data) if foto else None, foto.sha256 if foto else None,
            foto.width if foto else None, foto.height if foto else None, json.dumps(revision or {}),
            "firma" if tipo == "biometricos" else "firma_entrega", biocrypt.seal(firma.data), firma.sha256, firma.width,
            firma.height, len(foto.data) if foto else None, len(firma.data))
    return (row["foto_id"], row["firma_id"]) if row["claimed"] else None


async def replay(clave: uuid.UUID, tipo: str, alumno_id: int, digest: str) -> dict | None:
    """The stored answer for an already used key, or None; other content under it is refused."""
    row = await db.fetch_one("SELECT tipo, alumno_id, payload_sha256, response FROM capturas WHERE clave = :k",
                             {"k": clave})
    if row is None:
        return None
    if row["tipo"] != tipo or row["alumno_id"] != alumno_id or row["payload_sha256"] != digest:
        raise CaptureError("Esta clave de captura ya se usó con otro contenido; la captura no se guardó. "
                           "Vuelva a tomar la captura.", 422)
    resp = row["response"]
    return {**(json.loads(resp) if isinstance(resp, str) else resp), "repetida": True}


async def _finish(clave: uuid.UUID, foto_id: int | None, firma_id: int, response: dict) -> None:
    """Store the ids and the answer with the key."""
    await db.execute("UPDATE capturas SET foto_id = :f, firma_id = :s, response = CAST(:r AS jsonb) WHERE clave = :k",
                     {"f": foto_id, "s": firma_id, "r": json.dumps(response, default=str), "k": clave})


async def save_biometrics(alumno: dict, up: Upload, actor: Actor,
                          thresholds: photo_checks.Thresholds | None = None) -> dict:
    """Store photo + signature and move the student (capturar, or retomar from Retoma)."""
    clave = parse_key(up.clave) or uuid.uuid4()
    digest = payload_digest("biometricos", alumno["id"], up.foto, up.firma)
    if (old := await replay(clave, "biometricos", alumno["id"], digest)) is not None:
        return old
    try:
        prep = await offload.cpu(prepare_biometrics, up.foto, up.firma, thresholds or photo_checks.Thresholds())
    except images.ImageError as e:
        raise CaptureError(str(e), 422) from None
    revision = review(prep, up)
    aviso = await acknowledged_notice(up)
    device_at = parse_device_time(up.capturado_en)
    other = await taken_by_other(up, actor)
    async with student_transaction(alumno["id"]) as current:
        check_newer_capture(current, up, device_at)
        action = "retomar" if current["estatus"] == "retoma" else "capturar"
        ids = await claim_and_store(clave, "biometricos", alumno["id"], actor, digest,
                                    device_at, prep.foto, prep.firma, revision)
        if ids is None:
            return await replay(clave, "biometricos", alumno["id"], digest)  # a concurrent twin won
        foto_id, firma_id = ids
        now = datetime.now(timezone.utc)
        moved = await _transition(alumno["id"], action, actor, Upload(), comment=capture_comment(revision, other),
                                  changes={"foto_id": foto_id, "firma_id": firma_id, "fecha_biometricos": now})
        response = {"ok": True, "clave": str(clave), "matricula": alumno["matricula"], "estatus": moved["a"],
                    "de": moved["de"], "foto_id": foto_id, "firma_id": firma_id, "fecha": now.isoformat(),
                    "advertencias": [f["message"] for f in revision["advertencias"]] + revision["firma_advertencias"]}
        await _finish(clave, foto_id, firma_id, response)
        await record_notice(clave, aviso)
        if other:
            await record_read("envio_a_nombre", alumno_id=alumno["id"], detalle=f"captura de {other} enviada por {actor.email}")
    return response


async def acknowledged_notice(up: Upload) -> int:
    """The privacy-notice version the operator confirmed at Guardar; refused (422) without it (app/privacy.py)."""
    try:
        return await acknowledged_version(up.extra.get("aviso_version"))
    except PrivacyError as e:
        raise CaptureError(str(e), e.status, campo="aviso_version") from None


@contextlib.asynccontextmanager
async def student_transaction(alumno_id: int):
    """A transaction that locks the student's row FIRST (images, key and status change come after, so two
    devices saving one student queue instead of deadlocking); yields the locked row."""
    try:
        async with db.get_db().transaction():
            yield await lock_student(alumno_id)
    except (asyncpg.exceptions.DeadlockDetectedError, asyncpg.exceptions.SerializationError):
        raise CaptureError("Otra persona guardaba a este alumno en el mismo momento; intente de nuevo.", 409,
                           codigo="concurrente") from None


async def lock_student(alumno_id: int) -> dict:
    """Lock the student's row for this transaction; its status and the time of its current capture."""
    row = await db.fetch_one(
        """SELECT a.estatus::text AS estatus, a.fecha_biometricos,
                  (SELECT coalesce(c.device_captured_at, c.received_at) FROM capturas c
                   WHERE c.foto_id = a.foto_id LIMIT 1) AS capturada_en
           FROM alumnos a WHERE a.id = :id FOR UPDATE OF a""", {"id": alumno_id})
    if row is None:
        raise CaptureError("No existe el alumno.", 404)
    return dict(row)


def check_newer_capture(current: dict, up: Upload, device_at: datetime | None) -> None:
    """Refuse a capture older than the student's current one, or one taken before a Retoma request.

    Captures supersede captures (the later one wins, whoever sent it first); the status the operator
    saw only matters when Retoma (a reprint) was requested or settled in between."""
    if up.expected and (up.expected == "retoma") != (current["estatus"] == "retoma"):
        raise CaptureError("Otra persona modificó al alumno mientras usted trabajaba (ahora está en estatus "
                           f"{current['estatus'].capitalize()}). Revise sus datos antes de continuar.", 409,
                           codigo="modificado")
    stored = current["capturada_en"] or current["fecha_biometricos"]
    taken = device_at or datetime.now(timezone.utc)
    if stored is not None and taken <= stored:
        when = stored.astimezone(MEXICO).strftime("%d/%m/%Y %H:%M")
        raise CaptureError(f"Ya hay una captura más reciente de este alumno (tomada el {when}); esta captura es "
                           "anterior y no se guardó.", 409, codigo="captura_anterior")


async def taken_by_other(up: Upload, actor: Actor) -> str:
    """The e-mail of the colleague who took this capture on a shared device ("Enviar a mi nombre"),
    '' when the sender took it; a user of another plantel is refused."""
    raw = str(up.extra.get("capturado_por") or "")
    if not raw or raw == str(actor.id):
        return ""
    row = await db.fetch_one("SELECT email, plantel_id FROM usuarios WHERE id = :id",
                             {"id": int(raw)}) if raw.isdigit() and len(raw) < 10 else None
    if row is None or row["plantel_id"] != actor.plantel_id:
        raise CaptureError("La captura pertenece a un usuario de otro plantel; no se puede enviar a su nombre.", 403)
    return row["email"]


def capture_comment(revision: dict, other: str) -> str:
    """The event comment: the operator's reason for confirming warnings, and who took it on the device."""
    parts = [revision.get("confirmado", {}).get("motivo", "")]
    if other:
        parts.append(f"Capturada en este equipo por {other}; enviada a su nombre por quien la registra.")
    return " ".join(p for p in parts if p)


async def save_delivery(alumno: dict, up: Upload, actor: Actor) -> dict:
    """Store the delivery signature and move the student to Entregado."""
    clave = parse_key(up.clave) or uuid.uuid4()
    digest = payload_digest("entrega", alumno["id"], up.firma)
    if (old := await replay(clave, "entrega", alumno["id"], digest)) is not None:
        return old
    try:
        prep = await offload.cpu(prepare_signature, up.firma)
    except images.ImageError as e:
        raise CaptureError(str(e), 422) from None
    async with student_transaction(alumno["id"]):
        ids = await claim_and_store(clave, "entrega", alumno["id"], actor, digest,
                                    parse_device_time(up.capturado_en), None, prep.firma, None)
        if ids is None:
            return await replay(clave, "entrega", alumno["id"], digest)
        firma_id = ids[1]
        now = datetime.now(timezone.utc)
        moved = await _transition(alumno["id"], "entregar", actor, up,
                                  changes={"firma_entrega_id": firma_id, "fecha_entrega": now})
        response = {"ok": True, "clave": str(clave), "matricula": alumno["matricula"], "estatus": moved["a"],
                    "de": moved["de"], "firma_entrega_id": firma_id, "fecha": now.isoformat()}
        await _finish(clave, None, firma_id, response)
    return response


async def _transition(alumno_id: int, action: str, actor: Actor, up: Upload, comment: str = "",
                      changes: dict | None = None) -> dict:
    """The status change; a refusal becomes a 409 CaptureError (the transaction rolls back)."""
    try:
        return await transition(alumno_id, action, actor, comment=comment, changes=changes, expected=up.expected or None)
    except TransitionError as e:
        raise CaptureError(str(e), 409) from None


# ---- finding the student --------------------------------------------------------------------

async def lookup(user, raw: str) -> dict:
    """The student of a typed or scanned matrícula within the user's plantel (CaptureError otherwise)."""
    from . import validation
    from .auth import plantel_scope
    from .queries import alumnos

    check = validation.check_matricula(raw)
    if check.level == "error":
        raise CaptureError(check.message, 400)
    alumno = await alumnos.by_matricula(check.value)
    if alumno is None:
        raise CaptureError(validation.matricula_not_found(check), 404)
    scope = plantel_scope(user)
    if scope is not None and alumno["plantel_id"] != scope:
        raise CaptureError("El alumno pertenece a otro plantel; solo puede atender alumnos de su plantel.", 403)
    return alumno
