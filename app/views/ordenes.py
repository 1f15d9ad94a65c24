"""Órdenes de impresión — not built yet (issue 5)."""
from . import pending_blueprint

bp = pending_blueprint("ordenes", "/ordenes", "lista", "Órdenes de impresión", 5)
