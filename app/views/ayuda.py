"""Ayuda — not built yet (issue 4)."""
from . import pending_blueprint

bp = pending_blueprint("ayuda", "/ayuda", "ayuda", "Ayuda", 4)
