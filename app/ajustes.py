"""Ajustes del ciclo escolar: the business settings an admin changes in Administración → Ajustes (docs/admin.md).

Each setting is one `Ajuste`: name, Spanish label, its rule (parse raises `Invalido` with the message shown
beside the field), its canonical text (what the form shows and the table `ajustes` stores) and its default.
The environment (app/config.py Settings, PHOTO_*, SOPORTE_*) is only the default of a setting nobody has
saved yet; once saved in the page the database wins.

Cache (decision): several app servers share the database, and these values are read by busy requests (every
capture, every SAE look-up). A process keeps the saved rows for CACHE_TTL = 30 s and drops them at once when
it saves, so the server that saved sees the change immediately and the others within 30 s. A version row
checked per request would still cost one query per request; 30 s of delay is harmless for these settings.
"""
from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, fields
from datetime import date, datetime
from typing import Any, Callable

from .catalogos import clean
from .config import Settings
from .formatting import TZ
from .photo_checks import Thresholds
from .queries import ajustes as q

log = logging.getLogger(__name__)
CACHE_TTL = 30.0
EMAIL = re.compile(r"[^@\s;]+@[^@\s;]+\.[A-Za-z]{2,}")
URL = re.compile(r"https?://[^\s\"'<>]+", re.IGNORECASE)
MAX_SEMESTRE = 6


class Invalido(ValueError):
    """A value a setting does not accept; str() is the Spanish message shown beside the field."""


@dataclass(frozen=True)
class Ajuste:
    """One setting: its rule, its canonical text and its default (from the environment)."""

    name: str
    label: str
    section: str
    parse: Callable[[str], Any]
    default: Callable[[Settings], Any]
    show: Callable[[Any], str] = str
    hint: str = ""
    kind: str = "text"                          # text | bool | choice
    choices: tuple[tuple[str, str], ...] = ()


# ---- rules ----------------------------------------------------------------------------------------

def _texto(max_len: int, required: bool = True) -> Callable[[str], str]:
    """One trimmed line of at most max_len characters."""
    def parse(raw: str) -> str:
        """Required (unless optional) and bounded."""
        v = clean(raw)
        if required and not v:
            raise Invalido("Escriba un valor.")
        if len(v) > max_len:
            raise Invalido(f"Admite a lo más {max_len} caracteres.")
        return v
    return parse


def _numero(lo: float, hi: float, kind: type) -> Callable[[str], float | int]:
    """A number (int or float; a decimal comma is accepted) from lo to hi."""
    def parse(raw: str) -> float | int:
        """In range, or the message naming the range."""
        text = clean(raw).replace(",", ".")
        try:
            v = kind(text)
        except ValueError:
            v = None
        if v is None or not lo <= v <= hi:
            raise Invalido(f"Escriba {'un entero' if kind is int else 'un número'} de {lo:g} a {hi:g}.")
        return v
    return parse


def _sino(raw: str) -> bool:
    """A checkbox: '1' is on."""
    return clean(raw) in ("1", "true", "on", "si", "sí")


def _eleccion(choices: tuple[tuple[str, str], ...]) -> Callable[[str], str]:
    """One of the choices' keys."""
    def parse(raw: str) -> str:
        """A known key."""
        if clean(raw) not in dict(choices):
            raise Invalido("Elija una de las opciones.")
        return clean(raw)
    return parse


def _lista(item: Callable[[str], str], max_items: int) -> Callable[[str], tuple[str, ...]]:
    """Values separated by ';' or line breaks, each checked by item, at least one, at most max_items."""
    def parse(raw: str) -> tuple[str, ...]:
        """The checked items, in order."""
        values = tuple(v.strip() for v in re.split(r"[;\r\n]+", raw or "") if v.strip())
        if not values:
            raise Invalido("Escriba al menos un valor (separe varios con «;»).")
        if len(values) > max_items:
            raise Invalido(f"Admite a lo más {max_items} valores.")
        return tuple(item(v) for v in values)
    return parse


def _correo(v: str) -> str:
    """An e-mail address."""
    if not EMAIL.fullmatch(v):
        raise Invalido(f"«{v}» no es un correo electrónico válido.")
    return v.lower()


def _telefono(v: str) -> str:
    """A phone number with at least 8 digits (an extension may follow: «55 5817 1619 ext. 1252»)."""
    if len(re.sub(r"\D", "", v.partition("ext")[0])) < 8 or len(v) > 40:
        raise Invalido(f"«{v}» no parece un teléfono (al menos 8 dígitos; extensión con «ext.»).")
    return clean(v)


def _url(raw: str) -> str:
    """Empty, or an http(s) address (the Ayuda page links it)."""
    v = clean(raw)
    if v and (not URL.fullmatch(v) or len(v) > 300):
        raise Invalido("Escriba una dirección que empiece con https:// (o déjelo vacío).")
    return v


def _semestres(raw: str) -> tuple[int, ...]:
    """Semesters 1 to MAX_SEMESTRE, separated by commas, without repeats."""
    parts = [p.strip() for p in re.split(r"[,;\s]+", raw or "") if p.strip()]
    if not parts:
        raise Invalido("Elija al menos un semestre.")
    if not all(p.isdigit() and 1 <= int(p) <= MAX_SEMESTRE for p in parts):
        raise Invalido(f"Los semestres van del 1 al {MAX_SEMESTRE}, separados por comas (p. ej. 1, 2, 3).")
    if len(set(parts)) != len(parts):
        raise Invalido("Hay semestres repetidos.")
    return tuple(sorted(int(p) for p in parts))


def _ciclo(raw: str) -> str:
    """A school cycle «2026-2027»: two consecutive years."""
    m = re.fullmatch(r"(\d{4})\s*-\s*(\d{4})", clean(raw))
    if not m or int(m.group(2)) != int(m.group(1)) + 1 or not 2000 <= int(m.group(1)) <= 2100:
        raise Invalido("Escriba el ciclo como dos años seguidos, p. ej. 2026-2027.")
    return f"{m.group(1)}-{m.group(2)}"


def _dia_mes(raw: str) -> tuple[int, int]:
    """A day and month «01/08» (a date valid every year: 29/02 is refused)."""
    m = re.fullmatch(r"(\d{1,2})/(\d{1,2})", clean(raw))
    try:
        day, month = (int(m.group(1)), int(m.group(2))) if m else (0, 0)
        date(2001, month, day)
    except ValueError:
        raise Invalido("Escriba día y mes como dd/mm, p. ej. 01/08 (válido todos los años).") from None
    return day, month


def _ciclo_por_fecha(settings: Settings) -> str:
    """The cycle running today (it starts in the month Settings.tablero_inicio_ciclo_mes, August by default)."""
    today = datetime.now(TZ).date()
    start = today.year if today.month >= settings.tablero_inicio_ciclo_mes else today.year - 1
    return f"{start}-{start + 1}"


def _soporte_default(attr: str) -> Callable[[Settings], Any]:
    """The SOPORTE_* environment value of one Ayuda contact (app/views/ayuda.py)."""
    def default(_settings: Settings) -> Any:
        """Read at call time (the environment may change in tests)."""
        from .views.ayuda import Soporte

        value = getattr(Soporte(), attr)
        return tuple(value) if isinstance(value, list) else value
    return default


def _threshold_default(name: str) -> Callable[[Settings], Any]:
    """The PHOTO_<NAME> environment value (or the calibrated default) of one photo threshold."""
    return lambda _settings: getattr(Thresholds.from_env(), name)


# ---- the settings ---------------------------------------------------------------------------------

VIGENCIA_REGLAS = (("egreso", "Fin de estudios: el año en que el alumno termina el 6.º semestre"),
                   ("ciclo", "Fin del ciclo escolar actual"))
# Photo thresholds (app/photo_checks.py Thresholds): label and range of each; pairs must keep min < max.
UMBRALES = {
    "detect_width": ("Ancho de la copia en que se buscan rostros (px)", 80, 600),
    "min_face_frac": ("Tamaño mínimo del rostro (fracción del ancho)", 0.05, 0.9),
    "scale_factor": ("Paso de la búsqueda de rostros (más alto: más rápido, menos fino)", 1.01, 1.5),
    "center_min": ("Centro del rostro: mínimo (fracción del ancho)", 0, 1),
    "center_max": ("Centro del rostro: máximo (fracción del ancho)", 0, 1),
    "eyes_min": ("Línea de los ojos: mínimo (fracción del alto)", 0, 1),
    "eyes_max": ("Línea de los ojos: máximo (fracción del alto)", 0, 1),
    "head_w_min": ("Ancho de la cabeza: mínimo (fracción del ancho)", 0, 1),
    "head_w_max": ("Ancho de la cabeza: máximo (fracción del ancho)", 0, 1.5),
    "head_h_min": ("Alto de la cabeza: mínimo (fracción del alto)", 0, 1),
    "head_h_max": ("Alto de la cabeza: máximo (fracción del alto)", 0, 1.5),
    "sharp_min": ("Nitidez mínima (varianza del laplaciano)", 0, 10000),
    "lum_min": ("Luminosidad del rostro: mínima (0–255)", 0, 255),
    "lum_max": ("Luminosidad del rostro: máxima (0–255)", 0, 255),
    "clip_max": ("Píxeles saturados: máximo (fracción)", 0, 1),
    "contrast_min": ("Contraste mínimo del rostro", 0, 128),
    "side_max": ("Diferencia entre mitades izquierda y derecha: máximo", 0, 1),
    "background": ("Revisar el fondo", 0, 1),
    "bg_std_max": ("Fondo: variación máxima", 0, 255),
    "bg_lum_min": ("Fondo: luminosidad mínima (0–255)", 0, 255),
}
PAIRS = (("center_min", "center_max"), ("eyes_min", "eyes_max"), ("head_w_min", "head_w_max"),
         ("head_h_min", "head_h_max"), ("lum_min", "lum_max"))
FOTO = "Revisión de la fotografía"


def _threshold(f) -> Ajuste:
    """The setting of one Thresholds field."""
    label, lo, hi = UMBRALES[f.name]
    if f.type in (bool, "bool"):
        return Ajuste(f"foto_{f.name}", label, FOTO, _sino, _threshold_default(f.name), lambda v: "1" if v else "0",
                      kind="bool")
    kind = int if f.type in (int, "int") else float
    return Ajuste(f"foto_{f.name}", label, FOTO, _numero(lo, hi, kind), _threshold_default(f.name), lambda v: f"{v:g}",
                  hint=f"De {lo:g} a {hi:g}; predeterminado {f.default:g}.")


# Retention of biometrics (app/privacy.py; defaults and their reasons: docs/privacy.md, «Conservación»).
CONSERVACION = "Conservación de biométricos"
RETENCION = tuple(
    Ajuste(name, label, CONSERVACION, _numero(0, hi, int), lambda s, name=name: getattr(s, name), hint=hint)
    for name, label, hi, hint in (
        ("retencion_entregado_meses", "Credencial entregada: meses que se conservan después de la vigencia", 120,
         "La foto y las firmas se eliminan al pasar la vigencia más estos meses (predeterminado 12)."),
        ("retencion_baja_dias", "Baja en SAE: días que se conservan después de la baja", 3650,
         "Predeterminado 90 días."),
        ("retencion_versiones_dias", "Versiones reemplazadas: días que se conservan después de la entrega", 3650,
         "Fotos y firmas anteriores a la vigente; predeterminado 30 días.")))

AJUSTES: tuple[Ajuste, ...] = (
    Ajuste("ciclo_escolar", "Ciclo escolar actual", "Ciclo escolar", _ciclo, _ciclo_por_fecha,
           hint="p. ej. 2026-2027; la vigencia sugerida se calcula desde este ciclo."),
    Ajuste("vigencia_regla", "Vigencia sugerida al validar", "Ciclo escolar", _eleccion(VIGENCIA_REGLAS),
           lambda s: "egreso", kind="choice", choices=VIGENCIA_REGLAS),
    Ajuste("vigencia_dia_mes", "Día y mes en que vence la vigencia", "Ciclo escolar", _dia_mes, lambda s: (1, 8),
           lambda v: f"{v[0]:02d}/{v[1]:02d}", hint="dd/mm, p. ej. 01/08 (1 de agosto)."),
    Ajuste("semestres_sae", "Semestres que se pueden importar de SAE", "Importación de SAE", _semestres,
           lambda s: tuple(s.allowed_semesters), lambda v: ", ".join(str(x) for x in v),
           hint=f"Números del 1 al {MAX_SEMESTRE} separados por comas."),
    *(_threshold(f) for f in fields(Thresholds)),
    *RETENCION,
    Ajuste("soporte_area", "Área de soporte", "Soporte (Ayuda)", _texto(120), _soporte_default("area")),
    Ajuste("soporte_correos", "Correos de soporte", "Soporte (Ayuda)", _lista(_correo, 10),
           _soporte_default("correos"), "; ".join, hint="Separe varios con «;»."),
    Ajuste("soporte_telefonos", "Teléfonos de soporte", "Soporte (Ayuda)", _lista(_telefono, 10),
           _soporte_default("telefonos"), "; ".join, hint="Separe varios con «;»; extensión con «ext.»."),
    Ajuste("soporte_foro", "Foro de apoyo", "Soporte (Ayuda)", _texto(60), _soporte_default("foro"),
           hint="p. ej. Telegram"),
    Ajuste("soporte_foro_url", "Dirección del foro", "Soporte (Ayuda)", _url, _soporte_default("foro_url"),
           hint="Opcional: https://…"),
)
BY_NAME = {a.name: a for a in AJUSTES}
SECCIONES = tuple(dict.fromkeys(a.section for a in AJUSTES))


# ---- reading (cached) ----------------------------------------------------------------------------

_cache: tuple[float, dict[str, dict]] | None = None


def invalidate() -> None:
    """Forget the cached rows (after a save in this process)."""
    global _cache
    _cache = None


async def _saved() -> dict[str, dict]:
    """The saved rows, read at most once every CACHE_TTL seconds."""
    global _cache
    now = time.monotonic()
    if _cache is None or now - _cache[0] >= CACHE_TTL:
        _cache = (now, await q.saved())
    return _cache[1]


def _settings(settings: Settings | None) -> Settings:
    """The app's Settings when none is given."""
    if settings is not None:
        return settings
    from quart import current_app

    return current_app.config["SETTINGS"]


async def actuales(settings: Settings | None = None) -> dict[str, Any]:
    """Every setting's typed value: the saved one, else the default (a saved value that no longer passes
    its rule is ignored and logged)."""
    settings = _settings(settings)
    saved, out = await _saved(), {}
    for a in AJUSTES:
        out[a.name] = a.default(settings)
        if a.name in saved:
            try:
                out[a.name] = a.parse(saved[a.name]["valor"])
            except Invalido as e:
                log.warning("ajuste %s guardado no válido (%s): se usa el predeterminado", a.name, e)
    return out


async def origen() -> dict[str, dict]:
    """Who saved each setting and when (settings not listed follow the environment)."""
    return await _saved()


# ---- what the consumers read ----------------------------------------------------------------------

def umbrales(valores: dict[str, Any]) -> Thresholds:
    """The photo-check thresholds (app/photo_checks.py)."""
    return Thresholds(**{f.name: valores[f"foto_{f.name}"] for f in fields(Thresholds)})


def vigencia_sugerida(semestre: int, valores: dict[str, Any]) -> date:
    """The vigencia proposed when validating: the rule's year from the current cycle, on the set day and month."""
    inicio = int(valores["ciclo_escolar"][:4])
    dia, mes = valores["vigencia_dia_mes"]
    if valores["vigencia_regla"] == "ciclo":
        return date(inicio + 1, mes, dia)
    year_of_study = (max(1, min(semestre, 6)) + 1) // 2
    return date(inicio + 4 - year_of_study, mes, dia)


def soporte(valores: dict[str, Any]) -> dict[str, Any]:
    """The Ayuda contacts as app/views/ayuda.py's Soporte fields."""
    return {"area": valores["soporte_area"], "correos": list(valores["soporte_correos"]),
            "telefonos": list(valores["soporte_telefonos"]), "foro": valores["soporte_foro"],
            "foro_url": valores["soporte_foro_url"]}


# ---- the form -------------------------------------------------------------------------------------

def read_form(form) -> tuple[dict[str, str], dict[str, Any], dict[str, str]]:
    """(texts as typed, typed values, errors per field) of the posted page."""
    texts, values, errors = {}, {}, {}
    for a in AJUSTES:
        texts[a.name] = form.get(a.name, "")
        try:
            values[a.name] = a.parse(texts[a.name])
        except Invalido as e:
            errors[a.name] = str(e)
    for lo, hi in PAIRS:
        a, b = f"foto_{lo}", f"foto_{hi}"
        if a in values and b in values and values[a] >= values[b]:
            errors[a] = f"Debe ser menor que «{BY_NAME[b].label}» ({values[b]:g})."
    return texts, values, errors


def changes(values: dict[str, Any], before: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(name, text before, text after) of each setting whose canonical text changes."""
    out = []
    for a in AJUSTES:
        old, new = a.show(before[a.name]), a.show(values[a.name])
        if old != new:
            out.append((a.name, old, new))
    return out


async def guardar(cambios: list[tuple[str, str, str]], usuario_id: int) -> None:
    """Store the changed settings (the caller commits, then calls invalidate())."""
    for name, _old, new in cambios:
        await q.save(name, new, usuario_id)
