"""Imprimir temporal — not built yet (issue 4)."""
from . import pending_blueprint

bp = pending_blueprint("temporal", "/temporal", "buscar", "Imprimir temporal", 4)
