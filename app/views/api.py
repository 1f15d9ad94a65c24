"""JSON API for the printing company's systems — not built yet (issue 5)."""
from quart import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")
