"""Data rules of domain.md (app/validation.py): the examples there, valid and invalid."""
from __future__ import annotations

from datetime import date

import pytest

from app import validation as v


@pytest.mark.parametrize("curp", ["BEML920313HMCLNS09", "HEGG560427MVZRRL04", "PEGL890909MJCRMS08",
                                  "AAMY021208HDFLLHA4", "beml920313hmclns09 "])
def test_valid_curps(curp):
    """domain.md's valid CURPs and the manual's AAMY… verify (case and spaces ignored)."""
    check = v.check_curp(curp)
    assert check.level == "ok", check.message
    assert check.value == curp.strip().upper()


@pytest.mark.parametrize("curp, reason", [
    ("TEMGO30312HDFLRBA3", "letra O en lugar del cero"),     # manual screenshot: O for 0
    ("AUEK030119MDFPESRA1", "18 caracteres; tiene 19"),      # manual screenshot: 19 characters
    ("BEML920313HMCLNS08", "dígito verificador"),            # check digit off by one
    ("BEML921313HMCLNS09", "fecha de nacimiento"),           # month 13
    ("BEML920230HMCLNS09", "fecha de nacimiento"),           # 30 February
    ("BEML920313HZZCLNS0", "formato"),                       # unknown state code
    ("", "Escriba la CURP"),
])
def test_invalid_curps_say_why(curp, reason):
    """Mistyped CURPs are refused with the reason in Spanish."""
    check = v.check_curp(curp)
    assert check.level == "error"
    assert reason in check.message


def test_curp_check_digit_algorithm():
    """The check digit is (10 − Σ value·(18−i) mod 10) mod 10 over the first 17 characters."""
    assert v.curp_check_digit("BEML920313HMCLNS0") == 9
    assert v.curp_check_digit("HEGG560427MVZRRL0") == 4
    assert v.curp_check_digit("AAMY021208HDFLLHA") == 4


@pytest.mark.parametrize("raw, value", [("180010051-1", "180010051-1"), ("181060495-7", "181060495-7"),
                                        ("18190296-6", "18190296-6"), ("180010051'1", "180010051-1"),
                                        (" 181060495’7 ", "181060495-7"), ("1810604957", "181060495-7")])
def test_valid_matriculas_and_scanner_apostrophe(raw, value):
    """Known matrículas pass Luhn; a scanner's apostrophe stands for the dash; 10 bare digits get it."""
    check = v.check_matricula(raw)
    assert (check.level, check.value) == ("ok", value)


def test_matricula_luhn_mismatch_is_a_warning():
    """A wrong digit after the dash asks to verify; it does not refuse."""
    check = v.check_matricula("180010051-2")
    assert check.level == "warning" and "verifique la matrícula (dígito verificador)" in check.message


def test_not_found_message_names_the_check_digit():
    """A missing student with a wrong check digit says so instead of «impórtelo desde SAE»."""
    assert "dígito verificador" in v.matricula_not_found(v.check_matricula("1800100512"))
    assert "impórtelo desde SAE" in v.matricula_not_found(v.check_matricula("180010051-1"))


@pytest.mark.parametrize("raw", ["1800-1", "18001005110", "180010051-12", "ABCDEFGHI-1", "1234567-1", ""])
def test_malformed_matriculas_are_refused(raw):
    """Anything but 8–9 digits, dash, digit is an error."""
    assert v.check_matricula(raw).level == "error"


def test_prematricula():
    """The matrícula without its check digit."""
    assert v.prematricula("180010051-1") == "180010051"


def test_nss_rules():
    """NSS: 11 digits; Luhn mismatch (the manual's own example) only asks for confirmation."""
    assert v.check_nss("72795608040").level == "ok"
    manual = v.check_nss("26180366723")
    assert manual.level == "warning" and "confirme" in manual.message
    assert v.check_nss("7279560804").level == "error"
    assert v.check_nss("7279560804A").level == "error"
    assert v.check_nss("727-956-080-40").value == "72795608040"


def test_afiliacion_depends_on_institution():
    """IMSS uses the NSS rules; other institutions accept 1–20 characters of free text."""
    assert v.check_afiliacion("Instituto Mexicano del Seguro Social (IMSS)", "123").level == "error"
    assert v.check_afiliacion("ISSSTE", "ABC-123").level == "ok"
    assert v.check_afiliacion("ISSSTE", "").level == "error"
    assert v.check_afiliacion("ISSSTE", "X" * 21).level == "error"


def test_folio_is_nine_digits_kept_as_text():
    """Leading zeros matter; short numeric folios (Excel lost the zeros) are padded."""
    assert v.check_folio("000308941").value == "000308941"
    assert v.check_folio("308941").value == "000308941"
    assert v.check_folio("1234567890").level == "error"
    assert v.check_folio("00030894A").level == "error"


def test_email_institutional_domain():
    """@conalepmex.edu.mx is expected; another domain (the manual's df.conalep.edu.mx) warns."""
    assert v.check_email("KARLITA1918@conalepmex.edu.mx").value == "karlita1918@conalepmex.edu.mx"
    other = v.check_email("jtellez1210@df.conalep.edu.mx")
    assert other.level == "warning" and "@conalepmex.edu.mx" in other.message
    assert v.check_email("sin-arroba").level == "error"


def test_grupo_rules_and_parts():
    """Grupo 102-ELIN18 = semester 1, group 02, career ELIN, curriculum 18."""
    assert v.check_grupo("102-elin18").value == "102-ELIN18"
    assert v.grupo_parts("102-ELIN18") == (1, "ELIN")
    assert v.grupo_parts("201-ATRO18") == (2, "ATRO")
    assert v.check_grupo("1022-ELIN18").level == "error"
    assert v.check_grupo("102-EL18").level == "error"


def test_names_uppercase_with_accents_kept():
    """Names are stored uppercase, single-spaced, accents and Ñ kept."""
    assert v.clean_name("  josé   peña ") == "JOSÉ PEÑA"


def test_vigencia_suggestion_matches_manual():
    """A student who entered in 2018 (1st semester in autumn 2018) gets 1 August 2021, as in the manual."""
    assert v.suggest_vigencia(1, date(2018, 9, 15)) == date(2021, 8, 1)
    assert v.suggest_vigencia(2, date(2019, 2, 1)) == date(2021, 8, 1)
    assert v.suggest_vigencia(6, date(2021, 3, 1)) == date(2021, 8, 1)
