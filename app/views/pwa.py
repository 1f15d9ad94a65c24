"""Health probe used by the offline layer and by load balancers."""
from __future__ import annotations

from quart import Blueprint, jsonify

from .. import db
from ..auth import public

bp = Blueprint("pwa", __name__)


@bp.route("/salud")
@public
async def health():
    """JSON health: 200 when the database answers, 503 otherwise."""
    try:
        await db.fetch_val("SELECT 1")
    except Exception:  # noqa: BLE001 — any failure means "not healthy"
        return jsonify(ok=False, db=False), 503
    return jsonify(ok=True, db=True)
