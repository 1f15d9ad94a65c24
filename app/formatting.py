"""Spanish (es-MX) formatting of dates and statuses, as the manual shows them."""
from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

from .status import LABEL

TZ = ZoneInfo("America/Mexico_City")
MESES = ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto",
         "septiembre", "octubre", "noviembre", "diciembre")


def fecha(value: date | datetime | None, empty: str = "Sin fecha.") -> str:
    """'1 de agosto de 2021'."""
    if value is None:
        return empty
    if isinstance(value, datetime):
        value = value.astimezone(TZ).date()
    return f"{value.day} de {MESES[value.month - 1]} de {value.year}"


def fecha_hora(value: datetime | None, empty: str = "Sin fecha.") -> str:
    """'31 de enero de 2019, 20:11' in Mexico City time."""
    if value is None:
        return empty
    local = value.astimezone(TZ)
    return f"{fecha(local.date())}, {local.hour}:{local.minute:02d}"


def estatus(value: str | None) -> str:
    """'capturado' → 'Capturado'."""
    return LABEL.get(value or "", value or "")


# Event actions in words (Consultar alumno's history); an action missing here is still shown in words.
ACCIONES = {
    "importar": "Importado desde SAE", "actualizar_sae": "Actualización de datos desde SAE",
    "cambio_plantel_sae": "Cambio de plantel desde SAE", "cambio_carrera_sae": "Cambio de carrera desde SAE",
    "cambio_grupo_sae": "Cambio de grupo desde SAE", "capturar": "Toma de biométricos",
    "retomar": "Retoma de biométricos", "validar": "Validación", "aplazar": "Aplazado",
    "solicitar": "Incluido en orden de impresión", "imprimir": "En impresión",
    "recibir": "Recibido por la Dirección Estatal", "rechazar_recepcion": "Rechazado en recepción",
    "rechazar": "Rechazado / reimpresión", "rechazar_retoma": "Rechazado: requiere retoma",
    "entregar": "Credencial entregada", "credencial_temporal": "Credencial temporal impresa",
}


def accion(code: str | None) -> str:
    """'credencial_temporal' → 'Credencial temporal impresa'; unknown codes become words, never raw."""
    code = code or ""
    return ACCIONES.get(code) or code.replace("_", " ").strip().capitalize()


def carrera_impresa(nombre: str) -> str:
    """The career as printed: 'Electricidad Industrial' → 'PT-B en Electricidad Industrial' (SQL twin:
    queries.alumnos.CARRERA_SQL); already prefixed names and bare codes (no catalog name) stay as they are."""
    nombre = (nombre or "").strip()
    if not nombre or nombre.startswith(("PT-B", "PSB")) or re.fullmatch(r"[A-Z0-9]{2,8}", nombre):
        return nombre
    return f"PT-B en {nombre}"


def local_naive(value: datetime | None) -> datetime | None:
    """A Mexico City wall-clock datetime without tzinfo (what Excel cells hold)."""
    return value.astimezone(TZ).replace(tzinfo=None) if value is not None else None


def register_filters(app) -> None:
    """Install the filters in Jinja."""
    app.jinja_env.filters.update(fecha=fecha, fecha_hora=fecha_hora, estatus=estatus, accion=accion)
