"""The catalogs the admin keeps (Administración → Planteles y catálogos): what each holds, the rule of
every field, and when an entry is in use. One declaration per catalog; the generic pages and queries
(app/views/admin.py, app/queries/admin.py) read it. An entry in use is retired, never deleted.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

CCT = re.compile(r"^[0-9]{2}[A-Z]{3}[0-9]{4}[A-Z]$")


@dataclass(frozen=True)
class Field:
    """One editable column: its form label, its rule (a Spanish complaint or None) and how it is typed."""

    name: str
    label: str
    check: Callable[[str], str | None]
    kind: str = "text"        # "text" | "int"
    hint: str = ""
    on_create_only: bool = False


@dataclass(frozen=True)
class Catalog:
    """A catalog table: its key, fields, the flag that retires an entry and the query counting its uses."""

    slug: str
    title: str
    singular: str
    table: str
    key: str
    key_generated: bool       # the key is a serial (planteles) instead of typed (carreras, instituciones)
    fields: tuple[Field, ...]
    active: str               # the boolean column: activo / vigente
    uses_sql: str             # count of rows that reference the entry (:k)
    order_by: str


def _text(max_len: int, label: str) -> Callable[[str], str | None]:
    """A required single-line text of at most max_len characters."""
    def check(v: str) -> str | None:
        """Required, one line, bounded."""
        if not v:
            return f"Escriba {label}."
        if len(v) > max_len:
            return f"{label.capitalize()} admite a lo más {max_len} caracteres."
        return None
    return check


def _pattern(regex: str, message: str) -> Callable[[str], str | None]:
    """A value that must match regex (message otherwise)."""
    rx = re.compile(regex)
    return lambda v: None if rx.fullmatch(v) else message


def _numero(v: str) -> str | None:
    """A plantel number: 1 to 999."""
    return None if v.isdigit() and 1 <= int(v) <= 999 else "El número de plantel es un entero de 1 a 999."


PLANTELES = Catalog(
    slug="planteles", title="Planteles", singular="plantel", table="planteles", key="id", key_generated=True,
    fields=(
        Field("numero", "Número", _numero, kind="int"),
        Field("nombre", "Nombre", _text(80, "el nombre")),
        Field("cct", "CCT", _pattern(r"[0-9]{2}[A-Z]{3}[0-9]{4}[A-Z]",
                                     "La CCT tiene 2 dígitos, 3 letras, 4 dígitos y una letra (p. ej. 15DPT0001Z)."),
              hint="Clave de centro de trabajo, p. ej. 15DPT0001Z"),
    ),
    active="activo",
    uses_sql="SELECT (SELECT count(*) FROM alumnos WHERE plantel_id = CAST(CAST(:k AS text) AS int)) + "
             "(SELECT count(*) FROM usuarios WHERE plantel_id = CAST(CAST(:k AS text) AS int))",
    order_by="numero, nombre",
)

CARRERAS = Catalog(
    slug="carreras", title="Carreras", singular="carrera", table="carreras", key="codigo", key_generated=False,
    fields=(
        Field("codigo", "Código", _pattern(r"[A-Z]{4}", "El código de carrera son 4 letras mayúsculas (p. ej. ELIN)."),
              on_create_only=True, hint="4 letras, como en el grupo 102-ELIN18"),
        Field("nombre", "Nombre", _text(120, "el nombre")),
        Field("nombre_impreso", "Nombre impreso en la credencial", _text(120, "el nombre impreso"),
              hint="p. ej. PT-B en Electricidad Industrial"),
    ),
    active="vigente",
    uses_sql="SELECT count(*) FROM alumnos WHERE carrera_codigo = :k",
    order_by="codigo",
)

INSTITUCIONES = Catalog(
    slug="instituciones", title="Instituciones médicas", singular="institución médica", table="instituciones_medicas",
    key="clave", key_generated=False,
    fields=(
        Field("clave", "Clave", _pattern(r"[A-Z0-9-]{2,20}", "La clave tiene de 2 a 20 letras mayúsculas, dígitos o guiones."),
              on_create_only=True, hint="p. ej. IMSS"),
        Field("nombre", "Nombre", _text(160, "el nombre"), hint="como se imprime en la credencial"),
    ),
    active="vigente",
    uses_sql="SELECT count(*) FROM alumnos WHERE institucion_medica = (SELECT nombre FROM instituciones_medicas "
             "WHERE clave = :k)",
    order_by="nombre",
)

def _optional(check: Callable[[str], str | None]) -> Callable[[str], str | None]:
    """A field that may be left empty; when typed, check applies."""
    return lambda v: None if v == "" else check(v)


EMPRESAS = Catalog(
    slug="empresas", title="Empresas de impresión", singular="empresa", table="empresas", key="id", key_generated=True,
    fields=(
        Field("nombre", "Nombre", _text(120, "el nombre")),
        Field("rfc", "RFC (opcional)", _optional(_pattern(r"[A-ZÑ&]{3,4}[0-9]{6}[A-Z0-9]{3}",
                                                          "El RFC tiene 3 o 4 letras, 6 dígitos (fecha) y 3 caracteres.")),
              hint="p. ej. IMP010203AB1"),
        Field("contacto", "Contacto (opcional)", _optional(_text(200, "el contacto")), hint="nombre, correo y teléfono"),
    ),
    active="activa",
    uses_sql="SELECT (SELECT count(*) FROM usuarios WHERE empresa_id = CAST(CAST(:k AS text) AS int)) + "
             "(SELECT count(*) FROM ordenes_impresion WHERE empresa_id = CAST(CAST(:k AS text) AS int))",
    order_by="nombre",
)

CATALOGS: dict[str, Catalog] = {c.slug: c for c in (EMPRESAS, PLANTELES, CARRERAS, INSTITUCIONES)}


def clean(value: object) -> str:
    """A form value as one trimmed line (NUL and line breaks never reach a catalog)."""
    return re.sub(r"[\x00-\x1f]+", " ", str(value or "")).strip()


def read_form(catalog: Catalog, form, creating: bool) -> tuple[dict, dict]:
    """(values, errors per field) of a submitted catalog form; codes and CCTs are upper-cased."""
    values, errors = {}, {}
    for f in catalog.fields:
        if f.on_create_only and not creating:
            continue
        v = clean(form.get(f.name, ""))
        if f.name in ("codigo", "clave", "cct", "rfc"):
            v = v.upper()
        values[f.name] = v
        if (problem := f.check(v)) is not None:
            errors[f.name] = problem
    return values, errors


def typed(catalog: Catalog, values: dict) -> dict:
    """Values with int fields as ints and an empty RFC as NULL (after read_form accepted them)."""
    kinds = {f.name: f.kind for f in catalog.fields}
    return {k: int(v) if kinds.get(k) == "int" else (None if k == "rfc" and v == "" else v) for k, v in values.items()}
