"""Consultar alumno — not built yet (issue 3)."""
from . import pending_blueprint

bp = pending_blueprint("consulta", "/consulta", "buscar", "Consultar alumno", 3)
