"""Ayuda: support contacts of the manual's section 14 (Administración → Ajustes; SOPORTE_* are the defaults)."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from quart import Blueprint

from .. import ajustes
from ..auth import public
from . import render

bp = Blueprint("ayuda", __name__)


def _env_list(name: str, default: str) -> list[str]:
    """A ';'-separated environment list."""
    return [v.strip() for v in os.environ.get(name, default).split(";") if v.strip()]


@dataclass
class Soporte:
    """Support contacts (defaults: manual §14)."""

    area: str = field(default_factory=lambda: os.environ.get(
        "SOPORTE_AREA", "Coordinación de Innovación y Tecnologías Aplicadas"))
    correos: list[str] = field(default_factory=lambda: _env_list("SOPORTE_CORREOS", "cita@conalepmex.edu.mx"))
    telefonos: list[str] = field(default_factory=lambda: _env_list(
        "SOPORTE_TELEFONOS", "55 5817 1619 ext. 1252;722 217 6607 ext. 107"))
    foro: str = field(default_factory=lambda: os.environ.get("SOPORTE_FORO", "Telegram"))
    foro_url: str = field(default_factory=lambda: os.environ.get("SOPORTE_FORO_URL", ""))


def tel_href(phone: str) -> str:
    """A tel: link for «55 5817 1619 ext. 1252»: +52 number, the extension dialled after a pause (comma)."""
    number, _, ext = phone.partition("ext")
    digits = re.sub(r"\D", "", number)
    ext_digits = re.sub(r"\D", "", ext)
    return f"tel:+52{digits}" + (f",{ext_digits}" if ext_digits else "")


@bp.route("/ayuda")
@public
async def ayuda():
    """Soporte y apoyo, public: a user who cannot sign in must still find the contacts."""
    return await render("ayuda/ayuda.html", s=Soporte(**ajustes.soporte(await ajustes.actuales())), tel_href=tel_href)
