"""Importar alumno SAE — not built yet (issue 3)."""
from . import pending_blueprint

bp = pending_blueprint("sae", "/sae", "buscar", "Importar alumno SAE", 3)
