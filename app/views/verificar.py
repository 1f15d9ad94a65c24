"""Public verification page of a credential's QR code (signed link; minimal personal data)."""
from __future__ import annotations

from quart import Blueprint, current_app, render_template, request

from .. import ratelimit
from ..auth import public
from ..credential import verify

bp = Blueprint("verificar", __name__)


@bp.route("/verificar/<token>")
@public
async def verificar(token: str):
    """Whether the credential is valid now, with the bearer's name, plantel and masked matrícula
    (rate-limited per address: the page must not serve as an oracle for guessing tokens)."""
    await ratelimit.check("verificar", request.remote_addr or "",
                          "Demasiadas verificaciones desde esta dirección. Espere un momento e intente de nuevo.")
    verdict = await verify(current_app.config["SETTINGS"].secret_key, token[:200])
    html = await render_template("verificar/verificar.html", v=verdict)
    return html, (200 if verdict.kind or verdict.valid else 404), {
        "Cache-Control": "no-store", "X-Robots-Tag": "noindex, nofollow", "Referrer-Policy": "no-referrer"}
