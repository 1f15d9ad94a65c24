"""Spanish (es-MX) formatting of dates and statuses, as the manual shows them."""
from __future__ import annotations

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


def local_naive(value: datetime | None) -> datetime | None:
    """A Mexico City wall-clock datetime without tzinfo (what Excel cells hold)."""
    return value.astimezone(TZ).replace(tzinfo=None) if value is not None else None


def register_filters(app) -> None:
    """Install the filters in Jinja."""
    app.jinja_env.filters.update(fecha=fecha, fecha_hora=fecha_hora, estatus=estatus)
