"""Addresses: the rules every edge applies (the order API, the phone-order form, file imports, the channel
adapters, the customer's address book, the locations, the promise API), in one place.

- A country is an ISO 3166-1 alpha-2 code (the ``pycountry`` list), stored upper-case: ``fr`` → ``FR``.
- A postcode is checked against the country's format and stored in its canonical form (upper-case, the
  spaces and dashes where the country writes them: ``75 004`` → ``75004``, ``sw1a1aa`` → ``SW1A 1AA``,
  ``1012ab`` → ``1012 AB``). France: metropolitan départements 01 to 95 (Corsica is 20xxx), overseas
  départements 971 to 976, overseas collectivités 975, 977, 978 and 984 to 988, and Monaco's 980xx (La
  Poste's range). The overseas territories and Monaco under their own ISO codes (GP, MQ, GF, RE, PM, YT,
  BL, MF, TF, WF, PF, NC, MC) take their French range. Formats are known for the European Union, the United
  Kingdom, Switzerland, Norway, Liechtenstein and Iceland; any other country takes a reasonable postcode
  (1 to 12 letters or digits, with inner spaces or dashes).

Errors are Django ``ValidationError`` keyed by field (``{"postcode": [...]}``), which forms and DRF
serializers both turn into a message on the right field."""

import functools
import gettext
import re
from collections.abc import Callable

import pycountry
from django.core.exceptions import ValidationError
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

COUNTRIES = frozenset(country.alpha_2 for country in pycountry.countries)

# The French ranges (first three digits).
_FR_OVERSEAS = {"971", "972", "973", "974", "975", "976", "977", "978"}
_FR_PACIFIC_AND_OTHERS = {"984", "986", "987", "988"}  # TAAF, Wallis-et-Futuna, Polynésie, Nouvelle-Calédonie
_MONACO = "980"
# ISO codes of the French overseas territories and Monaco → the postcode prefixes they use.
_FRENCH_RANGES = {
    "GP": ("971",),
    "MQ": ("972",),
    "GF": ("973",),
    "RE": ("974",),
    "PM": ("975",),
    "YT": ("976",),
    "BL": ("977", "97133"),
    "MF": ("978", "97150"),
    "TF": ("984",),
    "WF": ("986",),
    "PF": ("987",),
    "NC": ("988",),
    "MC": (_MONACO,),
}


def _french(code: str) -> bool:
    if not re.fullmatch(r"\d{5}", code):
        return False
    head = code[:3]
    return (
        "01" <= code[:2] <= "95" or head in _FR_OVERSEAS or head in _FR_PACIFIC_AND_OTHERS or head == _MONACO
    )


def _compact(value: str) -> str:
    return re.sub(r"[\s\-]", "", value)


def _split(at: int, sep: str = " ") -> Callable[[str], str]:
    """Canonical form: the compact code with ``sep`` inserted ``at`` characters from the start (negative:
    from the end)."""
    return lambda compact: f"{compact[:at]}{sep}{compact[at:]}"


_UK = re.compile(
    r"(GIR0AA|[A-PR-UWYZ](\d{1,2}|[A-HK-Y]\d{1,2}|\d[A-HJKPSTUW]|[A-HK-Y]\d[ABEHMNPRVWXY])\d[ABD-HJLNP-UW-Z]{2})"
)
_EIRCODE = re.compile(r"([AC-FHKNPRTV-Y]\d{2}|D6W)[0-9AC-FHKNPRTV-Y]{4}")

# country → (pattern of the compact form (no spaces, no dashes), canonical form of the compact code,
# an example shown in the error). The prefix of LV / LT / LU / SI codes is optional on input.
_FORMATS: dict[str, tuple[Callable[[str], bool], Callable[[str], str], str]] = {
    "FR": (_french, str, "75004"),
    "AT": (lambda c: bool(re.fullmatch(r"[1-9]\d{3}", c)), str, "1010"),
    "BE": (lambda c: bool(re.fullmatch(r"[1-9]\d{3}", c)), str, "1000"),
    "BG": (lambda c: bool(re.fullmatch(r"\d{4}", c)), str, "1000"),
    "HR": (lambda c: bool(re.fullmatch(r"[1-5]\d{4}", c)), str, "10000"),
    "CY": (lambda c: bool(re.fullmatch(r"\d{4}", c)), str, "1010"),
    "CZ": (lambda c: bool(re.fullmatch(r"[1-7]\d{4}", c)), _split(3), "110 00"),
    "DK": (lambda c: bool(re.fullmatch(r"\d{4}", c)), str, "1050"),
    "EE": (lambda c: bool(re.fullmatch(r"\d{5}", c)), str, "10111"),
    "FI": (lambda c: bool(re.fullmatch(r"\d{5}", c)), str, "00100"),
    "DE": (lambda c: bool(re.fullmatch(r"\d{5}", c)), str, "10115"),
    "GR": (lambda c: bool(re.fullmatch(r"[1-8]\d{4}", c)), _split(3), "105 57"),
    "HU": (lambda c: bool(re.fullmatch(r"[1-9]\d{3}", c)), str, "1051"),
    "IE": (lambda c: bool(_EIRCODE.fullmatch(c)), _split(3), "D02 X285"),
    "IT": (lambda c: bool(re.fullmatch(r"\d{5}", c)), str, "00184"),
    "LV": (lambda c: bool(re.fullmatch(r"(LV)?\d{4}", c)), lambda c: f"LV-{c[-4:]}", "LV-1050"),
    "LT": (lambda c: bool(re.fullmatch(r"(LT)?\d{5}", c)), lambda c: f"LT-{c[-5:]}", "LT-01100"),
    "LU": (lambda c: bool(re.fullmatch(r"L?\d{4}", c)), lambda c: c[-4:], "1009"),
    "MT": (lambda c: bool(re.fullmatch(r"[A-Z]{3}\d{4}", c)), _split(3), "VLT 1117"),
    "NL": (lambda c: bool(re.fullmatch(r"[1-9]\d{3}(?!SA|SD|SS)[A-Z]{2}", c)), _split(4), "1012 AB"),
    "PL": (lambda c: bool(re.fullmatch(r"\d{5}", c)), _split(2, "-"), "00-950"),
    "PT": (lambda c: bool(re.fullmatch(r"[1-9]\d{6}", c)), _split(4, "-"), "1000-001"),
    "RO": (lambda c: bool(re.fullmatch(r"\d{6}", c)), str, "010011"),
    "SK": (lambda c: bool(re.fullmatch(r"[089]\d{4}", c)), _split(3), "811 01"),
    "SI": (lambda c: bool(re.fullmatch(r"(SI)?[1-9]\d{3}", c)), lambda c: c[-4:], "1000"),
    "ES": (lambda c: bool(re.fullmatch(r"(0[1-9]|[1-4]\d|5[0-2])\d{3}", c)), str, "28001"),
    "SE": (lambda c: bool(re.fullmatch(r"[1-9]\d{4}", c)), _split(3), "114 55"),
    "GB": (lambda c: bool(_UK.fullmatch(c)), _split(-3), "SW1A 1AA"),
    "CH": (lambda c: bool(re.fullmatch(r"[1-9]\d{3}", c)), str, "1204"),
    "LI": (lambda c: bool(re.fullmatch(r"94(8[5-9]|9[0-8])", c)), str, "9490"),
    "NO": (lambda c: bool(re.fullmatch(r"\d{4}", c)), str, "0150"),
    "IS": (lambda c: bool(re.fullmatch(r"\d{3}", c)), str, "101"),
}
for _iso, _prefixes in _FRENCH_RANGES.items():
    _FORMATS[_iso] = (
        lambda c, p=_prefixes: bool(re.fullmatch(r"\d{5}", c)) and c.startswith(p),
        str,
        f"{_prefixes[-1]}{'0' * (5 - len(_prefixes[-1]))}",
    )
_REASONABLE = re.compile(r"[A-Z0-9](?:[A-Z0-9 \-]{0,10}[A-Z0-9])?")


def country_normalise(value) -> str:
    return str(value or "").strip().upper()


def country_valid(value) -> bool:
    return country_normalise(value) in COUNTRIES


def country_clean(value) -> str:
    """The ISO 3166-1 alpha-2 code, upper-case; ``ValidationError`` (code ``invalid_country``) otherwise."""
    country = country_normalise(value)
    if country not in COUNTRIES:
        raise ValidationError(
            _("“%(value)s” is not a country code: give the ISO 3166-1 alpha-2 code (FR, BE, DE, GB…)."),
            code="invalid_country",
            params={"value": str(value or "")[:20]},
        )
    return country


def postcode_clean(value, *, country: str) -> str:
    """The postcode in the canonical form of ``country`` (an already valid ISO code); ``ValidationError``
    (code ``invalid_postcode``) when it does not follow the country's format."""
    text = re.sub(r"\s+", " ", str(value or "").strip().upper())
    rule = _FORMATS.get(country)
    if rule is None:
        if _REASONABLE.fullmatch(text):
            return text
        raise ValidationError(
            _("“%(value)s” is not a postcode: 1 to 12 letters or digits."),
            code="invalid_postcode",
            params={"value": text[:20]},
        )
    valid, canonical, example = rule
    compact = _compact(text)
    if valid(compact):
        return canonical(compact)
    raise ValidationError(
        _("“%(value)s” is not a valid postcode for %(country)s (for example %(example)s)."),
        code="invalid_postcode",
        params={"value": text[:20], "country": _country_name(country), "example": example},
    )


def address_clean(*, postcode, country, postcode_required: bool = True) -> tuple[str, str]:
    """``(postcode, country)`` normalised, or a ``ValidationError`` keyed by the field at fault
    (``{"country": [...]}`` or ``{"postcode": [...]}``). A blank postcode is refused when required and
    kept blank otherwise (a relay point known by its id alone)."""
    try:
        country = country_clean(country)
    except ValidationError as exc:
        raise ValidationError({"country": exc.error_list}) from None
    if not str(postcode or "").strip():
        if postcode_required:
            raise ValidationError(
                {"postcode": [ValidationError(_("A postcode is required."), code="required")]}
            )
        return "", country
    try:
        return postcode_clean(postcode, country=country), country
    except ValidationError as exc:
        raise ValidationError({"postcode": exc.error_list}) from None


def form_address_clean(
    form,
    cleaned: dict,
    *,
    postcode: str = "postcode",
    country: str = "country",
    postcode_required: bool = True,
    default_country: str = "FR",
) -> None:
    """In a form's ``clean``: check the postcode and country fields, put their normalised values in
    ``cleaned``, or add the error to the field at fault. A country field the form does not have counts as
    ``default_country``."""
    if postcode in form.errors or country in form.errors:
        return
    try:
        cleaned[postcode], value = address_clean(
            postcode=cleaned.get(postcode, ""),
            country=cleaned.get(country) or default_country,
            postcode_required=postcode_required,
        )
    except ValidationError as exc:
        for field, errors in exc.error_dict.items():
            form.add_error(postcode if field == "postcode" else country, errors)
        return
    if country in form.fields:
        cleaned[country] = value


def error_messages(exc: ValidationError) -> dict[str, list[str]]:
    """``{"postcode": ["..."]}`` from an ``address_clean`` error, as plain strings."""
    return {field: [str(m) for m in messages] for field, messages in exc.message_dict.items()}


def _country_name(code: str) -> str:
    """The country's name in the active language (French or English), from pycountry's catalogues."""
    country = pycountry.countries.get(alpha_2=code)
    name = getattr(country, "name", code)
    if (get_language() or "").startswith("fr"):
        return _french_names().gettext(name)
    return getattr(country, "common_name", None) or name


@functools.cache
def _french_names():
    try:
        return gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=["fr"])
    except OSError:
        return gettext.NullTranslations()
