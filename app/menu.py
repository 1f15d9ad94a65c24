"""The manual's menu: label, endpoint and the roles that see it (one list for the whole UI)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Item:
    """One menu entry."""

    label: str
    endpoint: str
    roles: frozenset[str]


def _item(label: str, endpoint: str, *roles: str) -> Item:
    """Build an Item."""
    return Item(label, endpoint, frozenset(roles))


MENU: tuple[Item, ...] = (
    _item("Inicio", "report.inicio", "plantel", "estatal", "empresa", "admin"),
    _item("Importar alumno SAE", "sae.buscar", "plantel", "admin"),
    _item("Conciliación SAE", "conciliacion.inicio", "estatal", "admin"),
    _item("Toma de biométricos", "captura.buscar", "plantel"),
    _item("Imprimir temporal", "temporal.buscar", "plantel"),
    _item("Validar datos alumno", "validacion.grupos", "plantel"),
    _item("Rechazar / reimprimir", "rechazo.buscar", "plantel"),
    _item("Entregar credencial", "entrega.buscar", "plantel"),
    _item("Revisión de fotografías", "revision.cola", "plantel"),
    _item("Consultar alumno", "consulta.buscar", "plantel", "estatal", "admin"),
    _item("Órdenes de impresión", "ordenes.lista", "estatal", "empresa", "admin"),
    _item("Seguimiento", "ordenes.seguimiento", "estatal", "admin"),
    _item("Tablero", "tablero.tablero", "plantel", "estatal", "admin"),
    _item("Pendientes", "pwa.pendientes", "plantel"),
    _item("Prueba de equipo", "equipo.prueba", "plantel"),
    _item("Administración", "admin.inicio", "admin"),
    _item("Ayuda", "ayuda.ayuda", "plantel", "estatal", "empresa", "admin"),
)


def menu_for(rol: str | None) -> list[Item]:
    """The entries a role sees."""
    return [m for m in MENU if rol in m.roles]
