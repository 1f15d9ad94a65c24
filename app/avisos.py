"""Avisos: the e-mail notices that status changes and print orders produce (issue 15, docs/avisos.md).

Every notice is queued with `mail.enqueue_mail` on the caller's connection, inside the transaction
that makes it true: `status.transition()` calls `tras_evento` after the event row, `orders` calls
`orden_recibida` when an order becomes Recibida and `orden_enviada` when it is marked Enviada. A
rolled-back change therefore queues nothing, a committed one always has its mail queued (once).
Recipients are decided at that moment: staff who turned notices off (usuarios.avisos) and students
excluded at their request (avisos_exclusiones) get nothing. Bodies hold only names and the plantel.
"""
from __future__ import annotations

import re
from functools import lru_cache

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from . import db
from .config import ROOT
from .mail import enqueue_mail
from .validation import normalize_matricula

# The student's new status → (template, subject) of the notice it produces.
AVISOS_ALUMNO = {
    "recibido": ("alumno_lista", "Tu credencial está lista"),
    "aplazado": ("alumno_regresar", "Regresa a tu plantel: tu credencial necesita una corrección"),
    "retoma": ("alumno_regresar", "Regresa a tu plantel: se tomará una nueva fotografía"),
}
EXCLUIDO_SQL = """EXISTS (SELECT 1 FROM avisos_exclusiones x WHERE x.quitada_en IS NULL
                          AND (x.matricula = a.matricula OR lower(x.correo) = lower(a.correo)))"""


class AvisoError(Exception):
    """A refused change on the Mis avisos page; str() is the Spanish message."""


@lru_cache(maxsize=1)
def _env() -> Environment:
    """The Jinja environment of templates/avisos (HTML autoescaped, text not)."""
    return Environment(loader=FileSystemLoader(str(ROOT / "templates" / "avisos")), undefined=StrictUndefined,
                       autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)


def render(plantilla: str, **ctx) -> tuple[str, str]:
    """(text, html) of a notice from templates/avisos/<plantilla>.txt and .html."""
    env = _env()
    return env.get_template(f"{plantilla}.txt").render(**ctx), env.get_template(f"{plantilla}.html").render(**ctx)


async def _enviar(destinatarios: list[str], asunto: str, plantilla: str, **ctx) -> int | None:
    """Queue one mail to every address (one message, all in To); nothing when there is nobody."""
    if not destinatarios:
        return None
    text, html = render(plantilla, asunto=asunto, **ctx)
    return await enqueue_mail(", ".join(destinatarios), asunto, text, html)


async def personal(rol: str, plantel_id: int | None = None) -> list[str]:
    """Active staff of a role (of one plantel for 'plantel') who keep their notices on."""
    rows = await db.fetch_all(
        """SELECT email FROM usuarios WHERE rol = CAST(:rol AS rol) AND activo AND avisos
             AND (CAST(:p AS int) IS NULL OR plantel_id = CAST(:p AS int)) ORDER BY email""",
        {"rol": rol, "p": plantel_id})
    return [r["email"] for r in rows]


async def tras_evento(alumno_id: int, a: str, comentario: str) -> int | None:
    """The notice a student's new status produces (Recibido, Aplazado, Retoma), queued now; its job id."""
    if a not in AVISOS_ALUMNO:
        return None
    row = await db.fetch_one(
        f"""SELECT a.nombre, a.correo, p.nombre AS plantel FROM alumnos a JOIN planteles p ON p.id = a.plantel_id
            WHERE a.id = :id AND a.correo LIKE '%_@_%' AND NOT {EXCLUIDO_SQL}""", {"id": alumno_id})
    if row is None:
        return None
    plantilla, asunto = AVISOS_ALUMNO[a]
    return await _enviar([row["correo"].strip()], asunto, plantilla, nombre=row["nombre"].title(),
                         plantel=row["plantel"], estatus=a, razon=comentario.strip())


async def orden_recibida(orden_id: int) -> int:
    """One mail per plantel of an order just marked Recibida: its cards received per group; return mails queued."""
    rows = await db.fetch_all(
        """SELECT a.plantel_id, p.nombre AS plantel, a.grupo,
                  count(*) FILTER (WHERE e.accion = 'recibir') AS recibidas,
                  count(*) FILTER (WHERE e.accion = 'rechazar_recepcion') AS rechazadas
           FROM eventos e JOIN alumnos a ON a.id = e.alumno_id JOIN planteles p ON p.id = a.plantel_id
           WHERE e.orden_id = :o AND e.accion IN ('recibir', 'rechazar_recepcion')
           GROUP BY a.plantel_id, p.nombre, a.grupo ORDER BY p.nombre, a.grupo""", {"o": orden_id})
    queued = 0
    for plantel_id, grupos in _por_plantel(rows).items():
        total = sum(g["recibidas"] for g in grupos)
        if total and await _enviar(await personal("plantel", plantel_id), f"Orden de impresión {orden_id} recibida: "
                                   f"{total} credenciales de su plantel", "plantel_recibida", orden=orden_id,
                                   plantel=grupos[0]["plantel"], grupos=grupos, total=total,
                                   rechazadas=sum(g["rechazadas"] for g in grupos)):
            queued += 1
    return queued


def _por_plantel(rows: list[dict]) -> dict[int, list[dict]]:
    """Group rows by plantel_id, keeping their order."""
    out: dict[int, list[dict]] = {}
    for r in rows:
        out.setdefault(r["plantel_id"], []).append(r)
    return out


async def orden_enviada(orden_id: int) -> int | None:
    """The mail to the Dirección Estatal when a company marks an order Enviada; its job id."""
    row = await db.fetch_one(
        """SELECT coalesce(e.nombre, '') AS empresa,
                  (SELECT count(*) FROM orden_items i WHERE i.orden_id = o.id AND i.abierto) AS credenciales
           FROM ordenes_impresion o LEFT JOIN empresas e ON e.id = o.empresa_id WHERE o.id = :o""", {"o": orden_id})
    planteles = await db.fetch_all(
        """SELECT p.nombre, count(*) AS credenciales FROM orden_items i JOIN alumnos a ON a.id = i.alumno_id
           JOIN planteles p ON p.id = a.plantel_id WHERE i.orden_id = :o AND i.abierto
           GROUP BY p.nombre ORDER BY p.nombre""", {"o": orden_id})
    return await _enviar(await personal("estatal"), f"Orden de impresión {orden_id} enviada por la empresa",
                         "estatal_enviada", orden=orden_id, empresa=row["empresa"] if row else "",
                         credenciales=row["credenciales"] if row else 0, planteles=planteles)


# ---- Mis avisos: preferences and exclusions ------------------------------------------------------

async def preferencia(usuario_id: int) -> bool:
    """Whether the user receives notices."""
    return bool(await db.fetch_val("SELECT avisos FROM usuarios WHERE id = :u", {"u": usuario_id}))


async def cambiar_preferencia(usuario_id: int, activos: bool) -> None:
    """Turn the user's own notices on or off."""
    await db.execute("UPDATE usuarios SET avisos = :v WHERE id = :u", {"v": activos, "u": usuario_id})


async def exclusiones() -> list[dict]:
    """Active exclusions, newest first, with who recorded them."""
    return await db.fetch_all(
        """SELECT x.matricula, x.motivo, x.registrada_en, coalesce(u.email, 'sistema') AS registrada_por
           FROM avisos_exclusiones x LEFT JOIN usuarios u ON u.id = x.registrada_por
           WHERE x.quitada_en IS NULL ORDER BY x.registrada_en DESC, x.id DESC""")


def _matricula(texto: str) -> str:
    """The normalised matrícula typed or scanned, or a Spanish refusal."""
    m = normalize_matricula(texto or "")
    if not re.fullmatch(r"[0-9]{8,9}-[0-9]", m):
        raise AvisoError("Escriba una matrícula válida (por ejemplo 180010051-1).")
    return m


async def excluir(texto: str, motivo: str, usuario_id: int | None) -> str:
    """Record that a student asked for no notices; return the matrícula."""
    m = _matricula(texto)
    done = await db.fetch_val(
        """INSERT INTO avisos_exclusiones (matricula, correo, motivo, registrada_por)
           SELECT :m, (SELECT correo FROM alumnos WHERE matricula = :m), :motivo, :u
           ON CONFLICT (matricula) WHERE quitada_en IS NULL DO NOTHING RETURNING id""",
        {"m": m, "motivo": (motivo or "").strip()[:500], "u": usuario_id})
    if done is None:
        raise AvisoError(f"La matrícula {m} ya está excluida de los avisos.")
    return m


async def quitar_exclusion(texto: str, usuario_id: int | None) -> str:
    """Lift a student's exclusion (recorded: who and when); return the matrícula."""
    m = _matricula(texto)
    done = await db.fetch_val(
        """UPDATE avisos_exclusiones SET quitada_por = :u, quitada_en = now()
           WHERE matricula = :m AND quitada_en IS NULL RETURNING id""", {"m": m, "u": usuario_id})
    if done is None:
        raise AvisoError(f"La matrícula {m} no está excluida de los avisos.")
    return m
