"""Mondial Relay's SOAP service against its documented answers: the MD5 ``Security`` signature, relay
search, labels (and the PDF downloaded from ``URL_Etiquette``), ``STAT`` errors."""

import hashlib
import re
from pathlib import Path

import httpx
import pytest
import respx

from shipping.carriers import PermanentCarrierError, RelaySearch, RetryableCarrierError, get_adapter
from shipping.carriers.mondial_relay import API_URL, SEARCH_PARAMS, SITE_URL, security

CONFIG = {"enseigne": "BDTEST13", "private_key": "PrivateK", "collection_mode": "CCC"}

SEARCH_ANSWER = (Path(__file__).parent / "fixtures" / "mondial_relay_search.xml").read_text(encoding="utf-8")


def stat_answer(action: str, stat: str, extra: str = "") -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
        f'<soap:Body><{action}Response xmlns="http://www.mondialrelay.fr/webservice/"><{action}Result>'
        f"<STAT>{stat}</STAT>{extra}</{action}Result></{action}Response></soap:Body></soap:Envelope>"
    )


def sent_fields(request) -> dict:
    return dict(re.findall(r"<(\w+)>([^<]*)</\1>", request.content.decode()))


@pytest.fixture
def mondial_relay():
    return get_adapter("mondial_relay", config=CONFIG)


def test_security_is_the_md5_of_the_values_in_wsdl_order_and_the_key():
    values = {"Enseigne": "BDTEST13", "Pays": "FR", "CP": "69003", "NombreResultats": "10"}
    expected = hashlib.md5(b"BDTEST13FR6900310PrivateK").hexdigest().upper()  # noqa: S324 - the carrier's scheme
    assert security(values, "PrivateK", SEARCH_PARAMS) == expected


@respx.mock
def test_relay_search_sends_a_signed_request_and_reads_the_points(mondial_relay):
    route = respx.post(API_URL).mock(return_value=httpx.Response(200, text=SEARCH_ANSWER))
    (point,) = mondial_relay.search_relay_points(RelaySearch(postcode="69003", limit=10))
    assert (point.id, point.name, point.line1, point.postcode, point.city) == (
        "020110",
        "TABAC DE LA GARE",
        "12 RUE DE LA GARE",
        "69003",
        "LYON",
    )
    assert (point.latitude, point.longitude, point.distance_m) == (45.76, 4.859, 245)
    assert point.opening_hours.days == {
        1: [("09:00", "12:30"), ("14:00", "19:00")],
        2: [("09:00", "19:00")],
        4: [("09:00", "19:00")],
        5: [("09:00", "19:00")],
        6: [("09:00", "12:00")],
    }
    request = route.calls.last.request
    assert (
        request.headers["SOAPAction"] == '"http://www.mondialrelay.fr/webservice/WSI4_PointRelais_Recherche"'
    )
    fields = sent_fields(request)
    assert (fields["Enseigne"], fields["Pays"], fields["CP"], fields["Action"]) == (
        "BDTEST13",
        "FR",
        "69003",
        "24R",
    )
    signed = "".join(fields.get(name, "") for name in SEARCH_PARAMS) + "PrivateK"
    assert fields["Security"] == hashlib.md5(signed.encode("iso-8859-1")).hexdigest().upper()  # noqa: S324


@respx.mock
@pytest.mark.parametrize(
    "stat, error, message",
    [
        ("97", PermanentCarrierError, "Invalid security key."),
        ("99", RetryableCarrierError, "Generic error of the service."),
    ],
)
def test_stat_errors(mondial_relay, stat, error, message):
    respx.post(API_URL).mock(
        return_value=httpx.Response(200, text=stat_answer("WSI4_PointRelais_Recherche", stat))
    )
    with pytest.raises(error) as caught:
        mondial_relay.search_relay_points(RelaySearch(postcode="69003"))
    assert (caught.value.message, caught.value.code) == (message, f"STAT_{stat}")


@respx.mock
def test_label_is_created_then_its_pdf_downloaded_in_10x15(mondial_relay):
    path = "/ww2/PDF/StickerMaker2.aspx?ens=BDTEST1311&expedition=31236189&lg=FR&format=A4&crc=ABC"
    create = respx.post(API_URL).mock(
        return_value=httpx.Response(
            200,
            text=stat_answer(
                "WSI2_CreationEtiquette",
                "0",
                "<ExpeditionNum>31236189</ExpeditionNum>"
                f"<URL_Etiquette>{path.replace('&', '&amp;')}</URL_Etiquette>",
            ),
        )
    )
    download = respx.get(SITE_URL + path.replace("format=A4", "format=10x15")).mock(
        return_value=httpx.Response(200, content=b"%PDF-1.4 label")
    )
    from .carrier_fixtures import label_request

    label = mondial_relay.create_label(label_request(service_code="point-relais", relay_id="020110"))
    assert (label.tracking_number, label.pdf, label.zpl) == ("31236189", b"%PDF-1.4 label", None)
    assert download.called
    fields = sent_fields(create.calls.last.request)
    assert (fields["ModeCol"], fields["ModeLiv"], fields["LIV_Rel"], fields["LIV_Rel_Pays"]) == (
        "CCC",
        "24R",
        "020110",
        "FR",
    )
    assert (fields["Poids"], fields["Dest_CP"], fields["Dest_Ad1"]) == ("1200", "75004", "Victor Hugo")


def test_relay_delivery_without_relay_and_zpl_only_are_refused(mondial_relay):
    from .carrier_fixtures import label_request

    with pytest.raises(PermanentCarrierError, match="relay point"):
        mondial_relay.create_label(label_request(service_code="point-relais"))
    with pytest.raises(PermanentCarrierError, match="PDF"):
        mondial_relay.create_label(label_request(service_code="point-relais", relay_id="1", formats=("zpl",)))
