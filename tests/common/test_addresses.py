"""The address rules of common/addresses.py: ISO 3166-1 countries, postcode formats, canonical forms."""

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from common.addresses import address_clean, country_clean, error_messages, postcode_clean


@pytest.mark.parametrize(
    ("postcode", "country", "expected"),
    [
        ("69003", "FR", ("69003", "FR")),
        (" 75 004 ", "fr", ("75004", "FR")),
        ("01000", "FR", ("01000", "FR")),
        ("95000", "FR", ("95000", "FR")),
        ("20000", "FR", ("20000", "FR")),  # Corse-du-Sud
        ("20200", "FR", ("20200", "FR")),  # Haute-Corse
        ("97110", "FR", ("97110", "FR")),  # Guadeloupe
        ("97200", "FR", ("97200", "FR")),  # Martinique
        ("97300", "FR", ("97300", "FR")),  # Guyane
        ("97400", "FR", ("97400", "FR")),  # La Réunion
        ("97500", "FR", ("97500", "FR")),  # Saint-Pierre-et-Miquelon
        ("97600", "FR", ("97600", "FR")),  # Mayotte
        ("97133", "FR", ("97133", "FR")),  # Saint-Barthélemy
        ("97150", "FR", ("97150", "FR")),  # Saint-Martin
        ("98000", "FR", ("98000", "FR")),  # Monaco, in La Poste's range
        ("98000", "MC", ("98000", "MC")),
        ("98600", "FR", ("98600", "FR")),  # Wallis-et-Futuna
        ("98714", "PF", ("98714", "PF")),
        ("98800", "NC", ("98800", "NC")),
        ("97400", "RE", ("97400", "RE")),
        ("97133", "BL", ("97133", "BL")),
        ("10115", "DE", ("10115", "DE")),
        ("1000", "BE", ("1000", "BE")),
        ("28001", "ES", ("28001", "ES")),
        ("00184", "IT", ("00184", "IT")),
        ("1012ab", "nl", ("1012 AB", "NL")),
        ("00950", "PL", ("00-950", "PL")),
        ("1000 001", "PT", ("1000-001", "PT")),
        ("11455", "SE", ("114 55", "SE")),
        ("sw1a1aa", "GB", ("SW1A 1AA", "GB")),
        ("EC1A 1BB", "GB", ("EC1A 1BB", "GB")),
        ("d02x285", "IE", ("D02 X285", "IE")),
        ("LV-1050", "LV", ("LV-1050", "LV")),
        ("1009", "LU", ("1009", "LU")),
        ("L-1009", "LU", ("1009", "LU")),
        ("1204", "CH", ("1204", "CH")),
        ("0150", "NO", ("0150", "NO")),
        ("94105", "US", ("94105", "US")),  # no known format: any reasonable postcode
        ("K1A 0B1", "CA", ("K1A 0B1", "CA")),
    ],
)
def test_valid_addresses_are_normalised(postcode, country, expected):
    assert address_clean(postcode=postcode, country=country) == expected


@pytest.mark.parametrize(
    ("postcode", "country", "field", "message"),
    [
        ("ABCDE", "FR", "postcode", "“ABCDE” is not a valid postcode for France (for example 75004)."),
        ("6900", "FR", "postcode", "“6900” is not a valid postcode for France (for example 75004)."),
        ("00100", "FR", "postcode", "“00100” is not a valid postcode for France (for example 75004)."),
        ("96000", "FR", "postcode", "“96000” is not a valid postcode for France (for example 75004)."),
        ("97900", "FR", "postcode", "“97900” is not a valid postcode for France (for example 75004)."),
        ("98500", "FR", "postcode", "“98500” is not a valid postcode for France (for example 75004)."),
        ("99000", "FR", "postcode", "“99000” is not a valid postcode for France (for example 75004)."),
        ("75004", "GP", "postcode", "“75004” is not a valid postcode for Guadeloupe (for example 97100)."),
        ("75004", "MC", "postcode", "“75004” is not a valid postcode for Monaco (for example 98000)."),
        ("1234", "DE", "postcode", "“1234” is not a valid postcode for Germany (for example 10115)."),
        ("53000", "ES", "postcode", "“53000” is not a valid postcode for Spain (for example 28001)."),
        (
            "1012 SA",
            "NL",
            "postcode",
            "“1012 SA” is not a valid postcode for Netherlands (for example 1012 AB).",
        ),
        (
            "QQ1 1AA",
            "GB",
            "postcode",
            "“QQ1 1AA” is not a valid postcode for United Kingdom (for example SW1A 1AA).",
        ),
        ("12345", "CH", "postcode", "“12345” is not a valid postcode for Switzerland (for example 1204)."),
        ("#42", "US", "postcode", "“#42” is not a postcode: 1 to 12 letters or digits."),
        ("", "FR", "postcode", "A postcode is required."),
        (
            "69003",
            "XX",
            "country",
            "“XX” is not a country code: give the ISO 3166-1 alpha-2 code (FR, BE, DE, GB…).",
        ),
        (
            "69003",
            "FRA",
            "country",
            "“FRA” is not a country code: give the ISO 3166-1 alpha-2 code (FR, BE, DE, GB…).",
        ),
        (
            "69003",
            "",
            "country",
            "“” is not a country code: give the ISO 3166-1 alpha-2 code (FR, BE, DE, GB…).",
        ),
    ],
)
def test_invalid_addresses_name_the_field(postcode, country, field, message):
    with translation.override("en"):
        with pytest.raises(ValidationError) as caught:
            address_clean(postcode=postcode, country=country)
        assert error_messages(caught.value) == {field: [message]}


def test_a_relay_point_may_have_no_postcode():
    assert address_clean(postcode="", country="fr", postcode_required=False) == ("", "FR")


def test_messages_in_french():
    with translation.override("fr"):
        with pytest.raises(ValidationError) as caught:
            postcode_clean("ABCDE", country="DE")
        assert str(caught.value.messages[0]) == (
            "« ABCDE » n’est pas un code postal valide (pays : Allemagne ; par exemple 10115)."
        )
    with translation.override("fr"), pytest.raises(ValidationError) as caught:
        country_clean("XX")
    assert caught.value.code == "invalid_country"
