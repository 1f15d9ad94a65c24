"""Validar datos alumno — not built yet (issue 5)."""
from . import pending_blueprint

bp = pending_blueprint("validacion", "/validacion", "grupos", "Validar datos alumno", 5)
