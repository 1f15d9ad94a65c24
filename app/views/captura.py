"""Toma de biométricos — not built yet (issue 4)."""
from . import pending_blueprint

bp = pending_blueprint("captura", "/captura", "buscar", "Toma de biométricos", 4)
