"""Prueba de equipo — not built yet (issue 4)."""
from . import pending_blueprint

bp = pending_blueprint("equipo", "/equipo", "prueba", "Prueba de equipo", 4)
