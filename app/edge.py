"""Input validation at the edge: bounded ids in URLs, bounded integers in query strings and forms,
one parser for API JSON bodies, and a guard against NUL bytes and stray line breaks.

Hostile input must end in a 4xx with a Spanish message, never in a database error (a 500):
PostgreSQL refuses NUL in text and integers beyond its column types, so both are stopped here.
New routes use `<id:name>` for numeric ids (never `<int:name>`) and `query_int()` for numbers in
the query string.
"""
from __future__ import annotations

from typing import Any

from quart import Quart, jsonify, render_template, request
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.routing import IntegerConverter

INT32_MAX = 2**31 - 1        # PostgreSQL integer (serial ids, counts); bigint ids never get near it
MAX_INT_DIGITS = 10          # len(str(INT32_MAX)): longer digit strings are refused before int()
MULTILINE_FIELDS = frozenset({"comentario", "motivo", "simplificado", "integral"})  # textareas (the last two: the privacy notice); every other field is one line
JSON_TYPES = {str: "texto", int: "número entero", bool: "verdadero o falso", list: "lista", dict: "objeto"}


class EdgeError(Exception):
    """Input refused at the edge; str() is the Spanish message."""

    def __init__(self, message: str, code: int = 400):
        super().__init__(message)
        self.code = code


class IdConverter(IntegerConverter):
    """`<id:name>`: a positive id that fits PostgreSQL's integer (1 … 2^31-1); anything else is 404."""

    regex = rf"\d{{1,{MAX_INT_DIGITS}}}"

    def __init__(self, map, *args, **kwargs):  # noqa: A002 — werkzeug's signature
        super().__init__(map, min=1, max=INT32_MAX)


def bounded_int(raw: Any, lo: int = -INT32_MAX, hi: int = INT32_MAX) -> int:
    """int(raw) when it is a plain integer in [lo, hi]; ValueError otherwise (never a huge int)."""
    text = str(raw).strip()
    if not text.lstrip("+-").isdigit() or not text.isascii() or len(text.lstrip("+-")) > MAX_INT_DIGITS:
        raise ValueError(f"no es un entero acotado: {text[:20]!r}")
    value = int(text)
    if not lo <= value <= hi:
        raise ValueError(f"fuera de rango: {value}")
    return value


class BoundedMultiDict(ImmutableMultiDict):
    """Query strings and forms whose `.get(k, type=int)` / `.getlist(k, type=int)` never yield an
    integer beyond PostgreSQL's integer: such values count as malformed (the default is used)."""

    def get(self, key, default=None, type=None):  # noqa: A002 — werkzeug's signature
        """As MultiDict.get, with int bounded."""
        return super().get(key, default, bounded_int if type is int else type)

    def getlist(self, key, type=None):  # noqa: A002
        """As MultiDict.getlist, with int bounded."""
        return super().getlist(key, bounded_int if type is int else type)


def query_int(name: str, default: int | None = None, lo: int = 1, hi: int = INT32_MAX) -> int | None:
    """A number from the query string, clamped to [lo, hi]; default when missing or malformed."""
    try:
        value = bounded_int(request.args[name], -INT32_MAX, INT32_MAX)
    except (KeyError, ValueError):
        return default
    return max(lo, min(hi, value))


def form_ints(form, name: str, hi: int = INT32_MAX) -> list[int]:
    """Every positive integer value of a repeated form field (malformed ones dropped)."""
    out = []
    for raw in form.getlist(name):
        try:
            out.append(bounded_int(raw, 1, hi))
        except ValueError:
            continue
    return out


async def json_body(fields: dict[str, type]) -> dict[str, Any]:
    """The request's JSON object with each declared field of the declared type (missing ones None);
    EdgeError(422) for anything else (not JSON, not an object, a list where text is expected…)."""
    try:
        body = await request.get_json(force=True, silent=False, cache=True) if await request.get_data() else {}
    except Exception:  # noqa: BLE001 — any decoding failure is the client's
        raise EdgeError("El cuerpo debe ser un objeto JSON válido (UTF-8).", 422) from None
    if not isinstance(body, dict):
        raise EdgeError("El cuerpo debe ser un objeto JSON, p. ej. {\"estado\": \"en_impresion\"}.", 422)
    out = {}
    for name, kind in fields.items():
        value = body.get(name)
        if value is not None and (not isinstance(value, kind) or (kind is int and isinstance(value, bool))):
            raise EdgeError(f"«{name}» debe ser {JSON_TYPES.get(kind, kind.__name__)}.", 422)
        if isinstance(value, str) and "\x00" in value:
            raise EdgeError(f"«{name}» contiene caracteres no permitidos.", 422)
        out[name] = value
    return out


def _bad_text(name: str, value: str, multiline: bool) -> bool:
    """True for a value PostgreSQL or a header cannot take: NUL anywhere, CR/LF in one-line fields."""
    return "\x00" in name or "\x00" in value or (not multiline and ("\r" in value or "\n" in value))


async def guard_text() -> None:
    """Refuse (400) NUL bytes in the path, query or form and line breaks outside multi-line fields."""
    if "\x00" in request.path or any(_bad_text(k, v, False) for k, v in request.args.items(multi=True)):
        raise EdgeError("La dirección contiene caracteres no permitidos.")
    if request.method in ("POST", "PUT", "PATCH") and request.mimetype in (
            "application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.form
        if any(_bad_text(k, v, k in MULTILINE_FIELDS) for k, v in form.items(multi=True)):
            raise EdgeError("El formulario contiene caracteres no permitidos (caracteres nulos o saltos de línea "
                            "en un campo de una sola línea). Corrija el texto e intente de nuevo.")


async def edge_error(e: EdgeError):
    """JSON for the API, the Spanish error page for everything else (429s say when to retry)."""
    headers = {"Cache-Control": "no-store"}
    if getattr(e, "retry_after", None):
        headers["Retry-After"] = str(e.retry_after)
    if request.path.startswith("/api/"):
        return jsonify(error=str(e)), e.code, headers
    return await render_template("errors/error.html", code=e.code, message=str(e)), e.code, headers


def install(app: Quart) -> None:
    """Register the id converter, bounded query/form dicts, the text guard and the error handler."""
    app.url_map.converters["id"] = IdConverter
    app.request_class = type("EdgeRequest", (app.request_class,), {"parameter_storage_class": BoundedMultiDict})
    app.before_request(guard_text)
    app.register_error_handler(EdgeError, edge_error)
