"""Rechazar / reimprimir — not built yet (issue 5)."""
from . import pending_blueprint

bp = pending_blueprint("rechazo", "/rechazo", "buscar", "Rechazar / reimprimir", 5)
