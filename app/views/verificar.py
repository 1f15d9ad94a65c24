"""Public verification page of a credential's QR code — not built yet (issue 4)."""
from quart import Blueprint

bp = Blueprint("verificar", __name__)
