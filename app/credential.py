"""The temporary credential (PDF) and the signed verification links of QR codes.

Each issue is a row in credenciales_temporales plus a "credencial_temporal" event. The QR holds
`<PUBLIC_URL>/verificar/<token>`: the token is signed with the app's SECRET_KEY (itsdangerous),
so it cannot be forged or guessed, and it names the issue (temporary) or the student (definitive
credential, for print orders). The verification page reads the *current* state, so a credential
stops verifying when it is no longer valid.
"""
from __future__ import annotations

import dataclasses
import io
from dataclasses import dataclass
from datetime import date, datetime, timezone

from itsdangerous import BadSignature, URLSafeSerializer
from reportlab.lib.pagesizes import letter
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from . import db, disenos, offload
from .cards import CardData, card_size, draw_back, draw_front
from .formatting import TZ, fecha_hora
from .queries.biometricos import open_row
from .status import Actor, record_event
from .urls import public_url

SALT = "verificar-credencial"
TEMPORAL, DEFINITIVA = "t", "d"


# ---- tokens ---------------------------------------------------------------------------------

def _serializer(secret_key: str) -> URLSafeSerializer:
    """The signer of verification tokens."""
    return URLSafeSerializer(secret_key, salt=SALT)


def make_token(secret_key: str, kind: str, ref: int) -> str:
    """A signed token naming a temporary issue (kind 't') or a student's definitive card ('d')."""
    return _serializer(secret_key).dumps([kind, ref])


def read_token(secret_key: str, token: str) -> tuple[str, int] | None:
    """(kind, ref) of a genuine token, or None when forged, altered or malformed."""
    try:
        kind, ref = _serializer(secret_key).loads(token)
    except (BadSignature, ValueError, TypeError):
        return None
    return (kind, int(ref)) if kind in (TEMPORAL, DEFINITIVA) and isinstance(ref, int) else None


def verify_url(public_url: str, secret_key: str, kind: str, ref: int) -> str:
    """The absolute URL printed in a QR code."""
    return f"{public_url.rstrip('/')}/verificar/{make_token(secret_key, kind, ref)}"


def definitive_verify_url(settings, alumno_id: int) -> str:
    """QR URL for a student's printed (definitive) credential; used by the print-order package."""
    return verify_url(public_url(settings), settings.secret_key, DEFINITIVA, alumno_id)


# ---- the PDF --------------------------------------------------------------------------------

CARD_SQL = """
SELECT a.id, a.matricula, a.prematricula, a.nombre, a.primer_apellido, a.segundo_apellido, a.curp, a.correo,
       a.institucion_medica, a.numero_afiliacion, a.vigencia, a.estatus::text AS estatus, a.foto_id, a.firma_id,
       p.nombre AS plantel, c.nombre AS carrera, f.datos AS foto, s.datos AS firma
FROM alumnos a JOIN planteles p ON p.id = a.plantel_id JOIN carreras c ON c.codigo = a.carrera_codigo
JOIN biometricos f ON f.id = a.foto_id JOIN biometricos s ON s.id = a.firma_id
WHERE a.id = :id
"""


def card_data(row: dict, vigencia_texto: str, url: str | None, leyenda: str = "") -> CardData:
    """CardData of a CARD_SQL row."""
    return CardData(
        matricula=row["matricula"], prematricula=row["prematricula"], nombre=row["nombre"],
        primer_apellido=row["primer_apellido"], segundo_apellido=row["segundo_apellido"] or "",
        plantel=row["plantel"], carrera=row["carrera"], curp=row["curp"], correo=row["correo"] or "",
        institucion_medica=row["institucion_medica"] or "", numero_afiliacion=row["numero_afiliacion"] or "",
        vigencia_texto=vigencia_texto, foto_jpeg=bytes(row["foto"]), firma_png=bytes(row["firma"]),
        verify_url=url, leyenda=leyenda)


def temporary_pdf(card: CardData, issued: datetime) -> bytes:
    """Letter page with the card's front and back at true CR80 size, and cutting instructions."""
    buf = io.BytesIO()
    c = Canvas(buf, pagesize=letter, pageCompression=0)
    c.setTitle(f"Credencial temporal {card.matricula}")
    c.setAuthor("CONALEP Estado de México")
    w, h = card_size()
    page_w, page_h = letter
    x = (page_w - w) / 2
    c.setFont("Helvetica-Bold", 12)
    c.drawCentredString(page_w / 2, page_h - 25 * mm, "Credencial temporal")
    c.setFont("Helvetica", 8)
    c.drawCentredString(page_w / 2, page_h - 31 * mm,
                        f"Emitida el {fecha_hora(issued)}. Imprima al 100 % (tamaño real), recorte por el contorno de "
                        "ambas caras y doble entre ellas.")
    top = page_h - 40 * mm - h
    draw_front(c, x, top, card)
    draw_back(c, x, top - h - 6 * mm, card)
    c.setFont("Helvetica", 7)
    c.drawCentredString(page_w / 2, top - h - 14 * mm,
                        "Al recibir la credencial definitiva se debe entregar esta credencial temporal; "
                        "de no contar con ella, se considerará trámite de reposición.")
    c.showPage()
    c.save()
    return buf.getvalue()


@dataclass
class Issued:
    """A generated temporary credential."""

    id: int
    pdf: bytes
    filename: str


async def issue_temporary(alumno_id: int, actor: Actor, settings) -> Issued:
    """Record an issue, then draw its PDF (the student must have photo and signature)."""
    row = await db.fetch_one(CARD_SQL, {"id": alumno_id})
    if row is None:
        raise ValueError("El alumno no tiene fotografía y firma capturadas.")
    row = open_row(row, "foto", "firma")  # before recording the issue: purged or unreadable images refuse it
    now = datetime.now(timezone.utc)
    year = now.astimezone(TZ).year
    design = await disenos.current()  # Administración → Diseño de la credencial; the issue records its version
    async with db.get_db().transaction():
        issue_id = await db.fetch_val(
            """INSERT INTO credenciales_temporales (alumno_id, foto_id, firma_id, vigencia, emitida_por, diseno_id)
               VALUES (:a, :f, :s, :v, :u, (SELECT id FROM disenos_credencial WHERE id = :d)) RETURNING id""",
            {"a": alumno_id, "f": row["foto_id"], "s": row["firma_id"], "v": year, "u": actor.id,
             "d": design.version})
        await record_event(alumno_id, "credencial_temporal", actor, de=row["estatus"], a=row["estatus"],
                           comment=f"Credencial temporal núm. {issue_id}")
    url = verify_url(public_url(settings), settings.secret_key, TEMPORAL, issue_id)
    card = dataclasses.replace(card_data(row, str(year), url, "CREDENCIAL TEMPORAL"), diseno=design)
    pdf = await offload.cpu(temporary_pdf, card, now)
    return Issued(issue_id, pdf, f"credencial-temporal-{row['matricula']}.pdf")


# ---- verification ---------------------------------------------------------------------------

@dataclass
class Verdict:
    """What the public verification page shows."""

    valid: bool
    reason: str
    kind: str = ""
    nombre: str = ""
    plantel: str = ""
    matricula: str = ""
    vigencia: str = ""
    estatus: str = ""


def mask_matricula(matricula: str) -> str:
    """Enough of the matrícula to compare with the card, not enough to harvest it: 18****51-1."""
    pre, _, digit = matricula.partition("-")
    return f"{pre[:2]}{'*' * max(0, len(pre) - 4)}{pre[-2:]}-{digit}"


def initials_name(row: dict) -> str:
    """Given names in full plus surnames: what the bearer's card shows, to match the person."""
    return " ".join(p for p in (row["nombre"], row["primer_apellido"], row["segundo_apellido"]) if p)


async def verify(secret_key: str, token: str, today: date | None = None) -> Verdict:
    """Check a QR token against the current data."""
    read = read_token(secret_key, token)
    if read is None:
        return Verdict(False, "El código no es válido: no fue emitido por el sistema de credencialización.")
    kind, ref = read
    today = today or datetime.now(TZ).date()
    if kind == TEMPORAL:
        return await _verify_temporary(ref, today)
    return await _verify_definitive(ref, today)


BASE_SQL = """SELECT a.id, a.nombre, a.primer_apellido, a.segundo_apellido, a.matricula, a.estatus::text AS estatus,
       a.foto_id, a.vigencia, p.nombre AS plantel FROM alumnos a JOIN planteles p ON p.id = a.plantel_id"""


def _verdict(row: dict, kind: str, valid: bool, reason: str, vigencia: str) -> Verdict:
    """A Verdict with the minimal personal data."""
    from .formatting import estatus

    return Verdict(valid, reason, kind, initials_name(row), row["plantel"], mask_matricula(row["matricula"]),
                   vigencia, estatus(row["estatus"]))


async def _verify_temporary(issue_id: int, today: date) -> Verdict:
    """A temporary credential is valid in its year, for the current photo, until delivery of the definitive."""
    row = await db.fetch_one(
        BASE_SQL + ", credenciales_temporales t WHERE t.alumno_id = a.id AND t.id = :id",
        {"id": issue_id})
    if row is None:
        return Verdict(False, "La credencial no existe en el sistema.")
    t = await db.fetch_one("SELECT foto_id, vigencia FROM credenciales_temporales WHERE id = :id", {"id": issue_id})
    vig = str(t["vigencia"])
    if row["estatus"] == "entregado":
        return _verdict(row, "temporal", False, "Credencial temporal cancelada: el alumno ya recibió su credencial "
                                                "definitiva.", vig)
    if t["vigencia"] < today.year:
        return _verdict(row, "temporal", False, f"Credencial temporal vencida (vigencia {vig}).", vig)
    if t["foto_id"] != row["foto_id"]:
        return _verdict(row, "temporal", False, "Credencial temporal reemplazada: se tomaron nuevos biométricos.", vig)
    return _verdict(row, "temporal", True, "Credencial temporal vigente.", vig)


async def _verify_definitive(alumno_id: int, today: date) -> Verdict:
    """A definitive credential is valid once delivered to the student, until its vigencia."""
    from .formatting import fecha

    row = await db.fetch_one(BASE_SQL + " WHERE a.id = :id", {"id": alumno_id})
    if row is None:
        return Verdict(False, "La credencial no existe en el sistema.")
    vig = fecha(row["vigencia"], "")
    if row["estatus"] != "entregado":
        return _verdict(row, "definitiva", False, "La credencial no está vigente: aún no se entrega al alumno "
                                                  "o fue reemplazada.", vig)
    if row["vigencia"] is None or row["vigencia"] < today:
        return _verdict(row, "definitiva", False, f"Credencial vencida (vigencia {vig}).", vig)
    return _verdict(row, "definitiva", True, "Credencial vigente.", vig)
