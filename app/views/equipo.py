"""Prueba de equipo: checks the camera, SigWeb and the secure context of this device."""
from __future__ import annotations

from quart import Blueprint, current_app

from ..auth import roles
from . import render
from .captura import full_page_only

bp = Blueprint("equipo", __name__)
SIGWEB_DOWNLOAD = "http://www.topazsystems.com/software/sigweb.exe"


@bp.route("/equipo")
@roles("plantel")
@full_page_only
async def prueba():
    """The checks run in the browser (static/js/capture.js); this page explains each remedy."""
    settings = current_app.config["SETTINGS"]
    return await render("equipo/prueba.html", sigweb_url=settings.sigweb_url, sigweb_download=SIGWEB_DOWNLOAD,
                        public_url=settings.public_url)
