"""Entregar credencial — not built yet (issue 5)."""
from . import pending_blueprint

bp = pending_blueprint("entrega", "/entrega", "buscar", "Entregar credencial", 5)
