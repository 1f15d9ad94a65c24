"""Data rules of domain.md (CURP, matrícula, NSS, folio, e-mail, names) — used by every feature.

Each check returns a Check: ok / warning / error with a Spanish message, so callers can
refuse (error), ask for confirmation (warning) or accept.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

CURP_RE = re.compile(
    r"^[A-Z][AEIOUX][A-Z]{2}\d{6}[HMX]"
    r"(AS|BC|BS|CC|CL|CM|CS|CH|DF|DG|GT|GR|HG|JC|MC|MN|MS|NT|NL|OC|PL|QT|QR|SP|SL|SR|TC|TS|TL|VZ|YN|ZS|NE)"
    r"[B-DF-HJ-NP-TV-Z]{3}[0-9A-Z]\d$"
)
CURP_ALPHABET = "0123456789ABCDEFGHIJKLMNÑOPQRSTUVWXYZ"
MATRICULA_RE = re.compile(r"^\d{8,9}-\d$")
FOLIO_RE = re.compile(r"^\d{9}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
GRUPO_RE = re.compile(r"^([1-9])(\d{2})-([A-Z]{4})(\d{2})$")
INSTITUTIONAL_DOMAIN = "@conalepmex.edu.mx"
MATRICULA_DIGITO = "El dígito después del guion no coincide; verifique la matrícula (dígito verificador)."


@dataclass(frozen=True)
class Check:
    """Outcome of one rule: level is 'ok', 'warning' or 'error'."""

    level: str = "ok"
    message: str = ""
    value: str = ""

    @property
    def ok(self) -> bool:
        """True when nothing is wrong at all."""
        return self.level == "ok"


def _error(msg: str, value: str = "") -> Check:
    """An error Check."""
    return Check("error", msg, value)


def curp_check_digit(first17: str) -> int:
    """The CURP check digit of its first 17 characters."""
    total = sum(CURP_ALPHABET.index(c) * (18 - i) for i, c in enumerate(first17))
    return (10 - total % 10) % 10


def check_curp(raw: str) -> Check:
    """Validate a typed CURP: pattern, birth date and check digit."""
    value = (raw or "").strip().upper()
    if not value:
        return _error("Escriba la CURP.")
    if len(value) != 18:
        return _error(f"La CURP debe tener 18 caracteres; tiene {len(value)}.", value)
    if not CURP_RE.match(value):
        hint = " (¿escribió la letra O en lugar del cero?)" if "O" in value[4:10] else ""
        return _error(f"La CURP no tiene el formato correcto{hint}.", value)
    yy, mm, dd = int(value[4:6]), int(value[6:8]), int(value[8:10])
    century = 2000 if value[16].isalpha() else 1900
    try:
        date(century + yy, mm, dd)
    except ValueError:
        return _error("La fecha de nacimiento de la CURP no es válida.", value)
    if curp_check_digit(value[:17]) != int(value[17]):
        return _error("El dígito verificador de la CURP no coincide; verifique la CURP.", value)
    return Check("ok", "", value)


def luhn_digit(digits: str) -> int:
    """The Luhn check digit for a string of digits."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2 == 0:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return (10 - total % 10) % 10


def luhn_valid(number: str) -> bool:
    """True when the last digit of number is its Luhn check digit."""
    return number.isdigit() and len(number) > 1 and luhn_digit(number[:-1]) == int(number[-1])


def normalize_matricula(raw: str) -> str:
    """Trim, turn a scanner's apostrophe (Spanish keyboard) into the dash, and add the dash to 10 bare digits."""
    value = (raw or "").strip().replace("'", "-").replace("’", "-")
    if len(value) == 10 and value.isdigit():  # a scan without the dash: 9-digit prematrícula + check digit
        value = f"{value[:9]}-{value[9]}"
    return value


def check_matricula(raw: str) -> Check:
    """Validate a matrícula; a Luhn mismatch is only a warning."""
    value = normalize_matricula(raw)
    if not value:
        return _error("Escriba la matrícula.")
    if not MATRICULA_RE.match(value):
        return _error("La matrícula debe tener 8 o 9 dígitos, un guion y un dígito (ej. 180010051-1).", value)
    pre, digit = value.split("-")
    if luhn_digit(pre) != int(digit):
        return Check("warning", MATRICULA_DIGITO, value)
    return Check("ok", "", value)


def matricula_not_found(check: Check) -> str:
    """Why a looked-up matrícula has no student: a wrong check digit first, else «impórtelo desde SAE»."""
    if check.level == "warning":
        return f"No existe un alumno con la matrícula {check.value}: {check.message[0].lower()}{check.message[1:]}"
    return f"No existe un alumno con la matrícula {check.value}. Si es nuevo, impórtelo desde SAE."


def prematricula(matricula: str) -> str:
    """The matrícula without its check digit."""
    return matricula.split("-")[0]


def check_nss(raw: str) -> Check:
    """Validate an IMSS número de afiliación; a Luhn mismatch asks for confirmation."""
    value = (raw or "").strip().replace(" ", "").replace("-", "")
    if not re.fullmatch(r"\d{11}", value):
        return _error("El número de afiliación del IMSS (NSS) debe tener 11 dígitos.", value)
    if not luhn_valid(value):
        return Check("warning", "El dígito verificador del NSS no coincide; confirme que el número es correcto.", value)
    return Check("ok", "", value)


def check_afiliacion(institucion: str, raw: str) -> Check:
    """Validate a número de afiliación for its institution (NSS rules for IMSS)."""
    if institucion and "IMSS" in institucion.upper() and "BIENESTAR" not in institucion.upper():
        return check_nss(raw)
    value = (raw or "").strip()
    if not 1 <= len(value) <= 20:
        return _error("El número de afiliación debe tener entre 1 y 20 caracteres.", value)
    return Check("ok", "", value)


def check_folio(raw: str) -> Check:
    """Validate a folio: 9 digits kept as text (leading zeros matter)."""
    value = (raw or "").strip()
    if value.isdigit() and len(value) < 9:
        value = value.zfill(9)
    if not FOLIO_RE.match(value):
        return _error("El folio debe tener 9 dígitos.", value)
    return Check("ok", "", value)


def check_email(raw: str) -> Check:
    """Validate a correo institucional; another domain only warns."""
    value = (raw or "").strip().lower()
    if not EMAIL_RE.match(value):
        return _error("El correo electrónico no es válido.", value)
    if not value.endswith(INSTITUTIONAL_DOMAIN):
        return Check("warning", f"El correo institucional debería terminar en {INSTITUTIONAL_DOMAIN}.", value)
    return Check("ok", "", value)


def check_grupo(raw: str) -> Check:
    """Validate a grupo such as 102-ELIN18."""
    value = (raw or "").strip().upper()
    if not GRUPO_RE.match(value):
        return _error("El grupo debe tener la forma 102-ELIN18.", value)
    return Check("ok", "", value)


def grupo_parts(grupo: str) -> tuple[int, str]:
    """(semestre, carrera code) encoded in a grupo key."""
    m = GRUPO_RE.match(grupo)
    assert m, grupo
    return int(m.group(1)), m.group(3)


def clean_name(raw: str) -> str:
    """Names are stored uppercase with accents kept, single-spaced."""
    return " ".join((raw or "").upper().split())


def suggest_vigencia(semestre: int, today: date | None = None) -> date:
    """End of the student's expected last cycle: 1 August of the year they finish 6th semester."""
    today = today or date.today()
    school_year = today.year if today.month >= 8 else today.year - 1  # cycles start in August
    year_of_study = (max(1, min(semestre, 6)) + 1) // 2
    return date(school_year + 4 - year_of_study, 8, 1)
