"""Personal data of minors (issue 14, docs/privacy.md): the privacy notice, the retention purge with proof,
and the ARCO rights (export of everything held, cancellation of the biometrics).

The purge never deletes a row: it sets `biometricos.datos` to NULL (and `purgado_en`) and writes one
`purgas` row per student with the image ids and their sha256, the rule, who and when — the proof, without
the data. Students in an open print order are never touched (checked again under the row lock).
"""
from __future__ import annotations

import hashlib
import io
import json
import logging
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

from . import db, jobs, offload
from .formatting import fecha, fecha_hora
from .queries import admin as admin_q
from .queries import alumnos as alumnos_q
from .queries import biometricos as biometricos_q
from .queries import consulta as consulta_q
from .queries import privacidad as q

log = logging.getLogger(__name__)
MEXICO = ZoneInfo("America/Mexico_City")
MAX_TEXT = 50_000
EXT = {"image/jpeg": "jpg", "image/png": "png"}


class PrivacyError(Exception):
    """A refused privacy action; str() is the Spanish message, .status the HTTP code."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


# ---- Aviso de privacidad ----------------------------------------------------------------------

ACK_LABEL = "El alumno conoce el aviso de privacidad"


def paragraphs(text: str) -> list[list[str]]:
    """The notice text as paragraphs (blank-line separated), each a list of lines."""
    blocks = [b.strip() for b in text.replace("\r\n", "\n").split("\n\n")]
    return [[line.strip() for line in b.split("\n")] for b in blocks if b]


async def acknowledged_version(raw: object) -> int:
    """The notice version the operator confirmed at Guardar; PrivacyError (422) when absent or unknown."""
    text = str(raw or "").strip()
    if not text:
        raise PrivacyError(f"Marque «{ACK_LABEL}» antes de guardar: la captura no se guardó.")
    if not text.isdigit() or len(text) > 9 or not await q.aviso_exists(int(text)):
        raise PrivacyError(f"La versión del aviso de privacidad «{text[:20]}» no existe; recargue la página, "
                           f"marque «{ACK_LABEL}» y guarde de nuevo.")
    return int(text)


async def record_notice(clave, version: int) -> None:
    """Store on the capture row the notice version acknowledged."""
    await db.execute("UPDATE capturas SET aviso_version = :v WHERE clave = :k", {"v": version, "k": clave})


async def publish(form: dict, user, ip: str) -> int:
    """Publish a new notice version from the admin form (logged before → after); its number."""
    texts = {k: str(form.get(k, "")).replace("\r\n", "\n").strip() for k in ("simplificado", "integral", "nota")}
    errors = [f"Escriba el aviso {name}." for name in ("simplificado", "integral") if not texts[name]]
    errors += [f"El aviso {n} es demasiado largo (máximo {MAX_TEXT:,} caracteres)." for n in ("simplificado", "integral")
               if len(texts[n]) > MAX_TEXT]
    if errors:
        raise PrivacyError(" ".join(errors))
    current = await q.aviso()
    if current and (current["simplificado"], current["integral"]) == (texts["simplificado"], texts["integral"]):
        raise PrivacyError("El texto es igual al de la versión vigente; no se publicó una nueva versión.")
    async with db.get_db().transaction():
        version = await q.insert_aviso(texts["simplificado"], texts["integral"], texts["nota"][:500], user.id)
        await admin_q.record_change("aviso_privacidad", str(version), "publicar",
                                    _notice_summary(current), _notice_summary({**texts, "version": version}), user.id, ip)
    return version


def _notice_summary(row: dict | None) -> dict | None:
    """A notice version for the change log: its texts and their sha256."""
    if row is None:
        return None
    return {"version": row["version"], "nota": row.get("nota", ""), "simplificado": row["simplificado"],
            "integral": row["integral"],
            "sha256": hashlib.sha256((row["simplificado"] + "\0" + row["integral"]).encode()).hexdigest()}


# ---- retention policy and purge -------------------------------------------------------------------

@dataclass(frozen=True)
class Rule:
    """One retention rule: its code, the setting holding its period and how to say it."""

    regla: str
    setting: str
    texto: str


POLICY = (
    Rule("entregado_vigencia", "retencion_entregado_meses", "credencial entregada: vigencia más {n} meses"),
    Rule("baja", "retencion_baja_dias", "baja en SAE: {n} días después de la baja"),
    Rule("versiones_anteriores", "retencion_versiones_dias",
         "versiones reemplazadas: {n} días después de la entrega de la credencial"),
)
RULE_TEXT = {r.regla: r.texto for r in POLICY} | {"cancelacion": "cancelación a solicitud del titular (derechos ARCO)"}


async def periods(settings) -> dict[str, int]:
    """The retention period of each rule: Administración → Ajustes, else the environment (app/config.py)."""
    from . import ajustes

    valores = await ajustes.actuales(settings)
    return {r.regla: valores[r.setting] for r in POLICY}


async def policy_lines(settings) -> list[str]:
    """The retention policy in words, with the configured periods."""
    n = await periods(settings)
    return [r.texto.format(n=n[r.regla]) for r in POLICY]


@dataclass
class PurgeReport:
    """What a purge run found (dry run) or deleted: per rule, students and images."""

    dry_run: bool
    por_regla: dict[str, dict[str, int]] = field(default_factory=dict)
    registros: list[int] = field(default_factory=list)  # purgas ids written
    periodos: dict[str, int] = field(default_factory=dict)  # the period of each rule, as applied

    def add(self, regla: str, alumnos: int, imagenes: int) -> None:
        """Count one batch."""
        tally = self.por_regla.setdefault(regla, {"alumnos": 0, "imagenes": 0})
        tally["alumnos"] += alumnos
        tally["imagenes"] += imagenes

    @property
    def imagenes(self) -> int:
        """Images due (dry run) or deleted."""
        return sum(t["imagenes"] for t in self.por_regla.values())

    def lines(self) -> list[str]:
        """The report for the command line."""
        verb = "se eliminarían" if self.dry_run else "eliminadas"
        out = [f"{RULE_TEXT[r].format(n=self.periodos.get(r, ''))}: {t['alumnos']} alumnos, {t['imagenes']} imágenes {verb}"
               for r, t in self.por_regla.items()]
        head = "Simulación (--dry-run): no se eliminó nada." if self.dry_run else \
            f"Purga terminada: {len(self.registros)} registros de purga escritos."
        return [head, *out, f"Total: {self.imagenes} imágenes."]


def _now_params(now: datetime | None) -> tuple[date, datetime]:
    """(today in Mexico City, now) for the rules."""
    now = now or datetime.now(timezone.utc)
    return now.astimezone(MEXICO).date(), now


async def run_purge(settings, dry_run: bool = False, origen: str = "comando", now: datetime | None = None) -> PurgeReport:
    """Apply every retention rule in batches of settings.purga_lote students (dry_run: only count)."""
    n = await periods(settings)
    report = PurgeReport(dry_run, periodos=n)
    hoy, ahora = _now_params(now)
    for rule in POLICY:
        params = q.rule_params(rule.regla, hoy, ahora, n[rule.regla])
        report.add(rule.regla, 0, 0)
        after = 0
        while batch := await q.due(rule.regla, params, after, settings.purga_lote):
            after = batch[-1]["alumno_id"]
            if dry_run:
                report.add(rule.regla, len(batch), sum(len(b["ids"]) for b in batch))
                continue
            async with db.get_db().transaction():
                done = await q.purge(rule.regla, origen, [b["alumno_id"] for b in batch], [i for b in batch for i in b["ids"]])
            report.add(rule.regla, len(done), sum(d["cantidad"] for d in done))
            report.registros += [d["id"] for d in done]
    log.info("purga de biométricos (%s): %s", origen, "; ".join(report.lines()))
    return report


@jobs.scheduled("purga_biometricos", lambda settings: settings.purga_cron)
async def scheduled_purge(settings, url: str) -> PurgeReport:
    """The worker's daily purge (with its own database pool when the worker process has none)."""
    if db.db is not None and db.db.is_connected:
        return await run_purge(settings, origen="programada")
    database = db.make_database(url, 2)
    await database.connect()
    db.set_db(database)
    try:
        return await run_purge(settings, origen="programada")
    finally:
        db.set_db(None)
        await database.disconnect()


async def cancel(alumno_id: int, form: dict, user, ip: str) -> dict:
    """Cancelación (ARCO): delete one student's images on request, with the reason and the request's folio;
    refused while the student is in (or waits for) a print order. The proof row written."""
    motivo, folio = (str(form.get(k, "")).strip() for k in ("motivo", "folio"))
    errors = [m for ok, m in ((len(motivo) >= 5, "Escriba el motivo de la solicitud (al menos 5 caracteres)."),
                              (folio, "Escriba el folio o referencia de la solicitud del titular."),
                              (form.get("aviso") in ("1", "on"), "Marque que se informó al titular de las consecuencias."))
              if not ok]
    if errors:
        raise PrivacyError(" ".join(errors))
    alumno = await alumnos_q.by_id(alumno_id)
    if alumno is None:
        raise PrivacyError("No existe el alumno.", 404)
    await _check_cancellable(alumno)
    aviso = await q.aviso()
    async with db.get_db().transaction():
        batch = await q.due("cancelacion", {"alumno": alumno_id}, 0, 1)
        if not batch:
            raise PrivacyError("El alumno no tiene fotografía ni firmas guardadas: no hay biométricos que eliminar.", 409)
        done = await q.purge("cancelacion", "cancelacion", [alumno_id], batch[0]["ids"], user.id, motivo[:500], folio[:100],
                             aviso["version"] if aviso else None)
        if not done:
            raise PrivacyError("El alumno entró a una orden de impresión abierta; no se eliminó nada.", 409)
        await admin_q.record_change("alumnos", alumno["matricula"], "cancelar_biometricos",
                                    {"biometricos": batch[0]["ids"]}, {"purga": done[0]["id"], "motivo": motivo[:500],
                                                                       "folio": folio[:100]}, user.id, ip)
    return done[0]


WAITING = {"validado": "está Validado y entrará a la siguiente orden de impresión",
           "rechazado": "espera su reimpresión en la siguiente orden de impresión"}


async def _check_cancellable(alumno: dict) -> None:
    """Refuse a cancellation while the card is being printed (open order) or about to be."""
    orden = await q.in_open_order(alumno["id"])
    if orden:
        raise PrivacyError(f"No se pueden eliminar los biométricos: el alumno está en la orden de impresión {orden}, "
                           "abierta. Podrá hacerse cuando la orden se reciba o se rechace.", 409)
    if alumno["estatus"] in WAITING:
        raise PrivacyError(f"No se pueden eliminar los biométricos: el alumno {WAITING[alumno['estatus']]} y la "
                           "credencial se imprimiría sin fotografía. Podrá hacerse cuando se entregue la credencial "
                           "o el alumno sea baja.", 409)


# ---- Consultar alumno ------------------------------------------------------------------------------

async def consulta_context(alumno: dict) -> dict:
    """What Consultar alumno shows about privacy: the acknowledged notice, purged images and the purges."""
    purgas = await q.purges_of(alumno["id"])
    return {"aviso": await q.notice_of(alumno["id"], alumno["foto_id"]), "purgados": await q.purged_images(alumno["id"]),
            "purgas": [{**p, "texto": RULE_TEXT.get(p["regla"], p["regla"])} for p in purgas]}


# ---- ARCO: acceso (everything held, as a ZIP) -----------------------------------------------------

def _json_value(v):
    """Dates, UUIDs and the like as text for the JSON."""
    return v.isoformat() if isinstance(v, (date, datetime)) else str(v)


async def gather(alumno_id: int) -> tuple[dict, dict[str, bytes]] | None:
    """(every datum held about a student, the image files by name), or None for an unknown student."""
    alumno = await alumnos_q.by_id(alumno_id)
    if alumno is None:
        return None
    files, versions = {}, []
    for img in await q.images_of(alumno_id):
        name = None
        if img["datos"] is not None:
            name = f"biometricos/{img['tipo']}-{img['id']}.{EXT.get(img['mime'], 'bin')}"
            files[name] = biometricos_q.plain(img["datos"])
        versions.append({**{k: v for k, v in img.items() if k != "datos"}, "archivo": name,
                         "vigente": img["id"] in (alumno["foto_id"], alumno["firma_id"], alumno["firma_entrega_id"])})
    data = {"generado_en": datetime.now(timezone.utc), "alumno": alumno, "biometricos": versions,
            "historial": await consulta_q.history(alumno_id), "capturas": await q.captures_of(alumno_id),
            "accesos": await q.accesses_of(alumno_id), "purgas": await q.purges_of(alumno_id)}
    return json.loads(json.dumps(data, default=_json_value)), files


def build_zip(data: dict, files: dict[str, bytes]) -> bytes:
    """datos.json, resumen.pdf and the images in one ZIP (CPU: run through offload)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("datos.json", json.dumps(data, ensure_ascii=False, indent=2))
        z.writestr("resumen.pdf", summary_pdf(data))
        for name, content in files.items():
            z.writestr(name, content)
    return buf.getvalue()


async def export_zip(alumno_id: int) -> tuple[str, bytes] | None:
    """(file name, ZIP bytes) of everything held about a student, or None."""
    found = await gather(alumno_id)
    if found is None:
        return None
    data, files = found
    return f"datos-alumno-{data['alumno']['matricula']}.zip", await offload.cpu(build_zip, data, files)


def date_text(value: str | None) -> str:
    """An ISO date or datetime of the JSON in Spanish."""
    if not value:
        return ""
    parsed = datetime.fromisoformat(value)
    return fecha(parsed.date()) if len(value) == 10 else fecha_hora(parsed)


# (label, key) of the student fields in the PDF summary; dates are shown in Spanish.
PDF_FIELDS = (("Matrícula", "matricula"), ("Prematrícula", "prematricula"), ("CURP", "curp"), ("Folio", "folio"),
              ("Nombre", "nombre"), ("Primer apellido", "primer_apellido"), ("Segundo apellido", "segundo_apellido"),
              ("Plantel", "plantel"), ("Grupo", "grupo"), ("Carrera", "carrera_impresa"), ("Semestre", "semestre"),
              ("Correo institucional", "correo"), ("Institución médica", "institucion_medica"),
              ("Número de afiliación", "numero_afiliacion"), ("Vigencia credencial", "vigencia"), ("Estatus", "estatus"),
              ("Fecha toma de biométricos", "fecha_biometricos"), ("Fecha actualización estatus", "fecha_estatus"),
              ("Fecha entrega alumno", "fecha_entrega"), ("Fecha actualización desde SAE", "fecha_sae"),
              ("Fecha de validación", "validado_en"), ("Comentario", "comentario"), ("Orden de impresión", "orden_id"))
DATE_KEYS = {"vigencia", "fecha_biometricos", "fecha_estatus", "fecha_entrega", "fecha_sae", "validado_en", "en",
             "creado_en", "purgado_en", "received_at"}


def _cell(key: str, value) -> str:
    """One value as PDF text."""
    if value is None:
        return ""
    return date_text(value) if key in DATE_KEYS else str(value)


def _pdf_table(header: list[str], keys: list[str], rows: list[dict], widths: list[float]):
    """A wrapped, gridded table of rows (or a line saying there are none)."""
    from reportlab.lib import colors
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import Paragraph, Table, TableStyle
    from xml.sax.saxutils import escape

    small = getSampleStyleSheet()["BodyText"].clone("small", fontSize=7.5, leading=9)
    if not rows:
        return Paragraph("Sin registros.", small)
    data = [[Paragraph(f"<b>{escape(h)}</b>", small) for h in header]]
    data += [[Paragraph(escape(_cell(k, r.get(k))), small) for k in keys] for r in rows]
    table = Table(data, colWidths=widths, repeatRows=1)
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.25, colors.grey), ("VALIGN", (0, 0), (-1, -1), "TOP"),
                               ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#DDEBDA"))]))
    return table


def summary_pdf(data: dict) -> bytes:
    """The PDF summary of the export: every field, image versions, history, accesses and purges."""
    from reportlab.lib.pagesizes import letter
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

    buf, styles, a = io.BytesIO(), getSampleStyleSheet(), data["alumno"]
    doc = SimpleDocTemplate(buf, pagesize=letter, leftMargin=14 * mm, rightMargin=14 * mm, topMargin=14 * mm,
                            bottomMargin=14 * mm, title=f"Datos del alumno {a['matricula']}", author="CONALEP Estado de México")
    w = doc.width
    fields = [{"campo": label, "valor": _cell(key, a.get(key))} for label, key in PDF_FIELDS]
    sections = [
        ("Datos del alumno", _pdf_table(["Campo", "Valor"], ["campo", "valor"], fields, [0.35 * w, 0.65 * w])),
        ("Fotografías y firmas", _pdf_table(
            ["Id", "Tipo", "Tomada", "Por", "sha256", "Eliminada", "Archivo"],
            ["id", "tipo", "creado_en", "creado_por", "sha256", "purgado_en", "archivo"], data["biometricos"],
            [w * f for f in (0.06, 0.1, 0.14, 0.16, 0.24, 0.12, 0.18)])),
        ("Aviso de privacidad en cada captura", _pdf_table(
            ["Recibida", "Tipo", "Usuario", "Versión del aviso"], ["received_at", "tipo", "email", "aviso_version"],
            data["capturas"], [w * f for f in (0.3, 0.2, 0.3, 0.2)])),
        ("Historial de estatus", _pdf_table(
            ["Fecha", "Acción", "Usuario", "De", "A", "Comentario", "Orden"],
            ["en", "accion", "email", "de", "a", "comentario", "orden_id"], data["historial"],
            [w * f for f in (0.16, 0.14, 0.2, 0.1, 0.1, 0.22, 0.08)])),
        ("Quién consultó o descargó sus datos", _pdf_table(
            ["Fecha", "Usuario", "Recurso", "Detalle", "Dirección"], ["en", "email", "recurso", "detalle", "ip"],
            data["accesos"], [w * f for f in (0.2, 0.25, 0.15, 0.25, 0.15)])),
        ("Eliminaciones de biométricos", _pdf_table(
            ["Fecha", "Regla", "Imágenes", "Motivo", "Folio"], ["en", "regla", "cantidad", "motivo", "folio_solicitud"],
            data["purgas"], [w * f for f in (0.2, 0.25, 0.1, 0.3, 0.15)])),
    ]
    story = [Paragraph("CONALEP Estado de México — Datos personales del alumno", styles["Title"]),
             Paragraph(f"{a['matricula']} · {a['primer_apellido']} {a['segundo_apellido']} {a['nombre']}", styles["Heading2"]),
             Paragraph(f"Generado: {date_text(data['generado_en'])}. Las imágenes están en la carpeta biometricos/ "
                       "del archivo ZIP; datos.json contiene lo mismo en formato legible por máquina.", styles["Normal"])]
    for title, table in sections:
        story += [Spacer(1, 4 * mm), Paragraph(title, styles["Heading3"]), table]
    doc.build(story)
    return buf.getvalue()
