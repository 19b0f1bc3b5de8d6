"""Colissimo SLS labels and pickup points, against the documented answers (multipart/related labels,
JSON messages on refusal, ``errorCode`` in pickup answers)."""

import json

import httpx
import pytest
import respx

from shipping.carriers import (
    CarrierNotConfigured,
    CarrierQuotaExceeded,
    NotSupported,
    PermanentCarrierError,
    RelaySearch,
    RetryableCarrierError,
    get_adapter,
)
from shipping.carriers.colissimo import PICKUP_URL, SLS_URL, parse_multipart

from .carrier_fixtures import label_request

CONFIG = {"contract_number": "123456", "password": "secret", "okapi_key": "okapi"}
BOUNDARY = "uuid:1319cc1c-95c7-4233-ad64-0d0bba481500"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\r\n\x00\xff binary"
ZPL = "\ufeff^XA\n^FO1,4^GB1180,0,1^FS\n^XZ\n"


def multipart(info: dict, label: bytes) -> tuple[bytes, str]:
    body = (
        f"\r\n--{BOUNDARY}\r\nContent-Type: application/json;charset=UTF-8\r\n"
        "Content-Transfer-Encoding: binary\r\nContent-ID: <jsonInfos>\r\n\r\n".encode()
        + json.dumps(info).encode()
        + f"\r\n--{BOUNDARY}\r\nContent-Type: application/octet-stream\r\n"
        "Content-Transfer-Encoding: binary\r\nContent-ID: <label>\r\n\r\n".encode()
        + label
        + f"\r\n--{BOUNDARY}--".encode()
    )
    content_type = f'multipart/related; type="application/json"; boundary="{BOUNDARY}"; start="<jsonInfos>"'
    return body, content_type


OK_INFO = {
    "messages": [{"id": "0", "type": "INFOS", "messageContent": "La requête a été traitée avec succès"}],
    "labelXmlV2Reponse": None,
    "labelV2Response": {
        "parcelNumber": "9V34929818521",
        "parcelNumberPartner": "0075004119V3492981852802250G",
        "pdfUrl": None,
    },
}


@pytest.fixture
def colissimo():
    return get_adapter("colissimo", config=CONFIG)


@respx.mock
def test_pdf_label_from_the_multipart_answer(colissimo):
    body, content_type = multipart(OK_INFO, PDF)
    route = respx.post(SLS_URL).mock(
        return_value=httpx.Response(200, content=body, headers={"Content-Type": content_type})
    )
    label = colissimo.create_label(label_request())
    assert label.tracking_number == "9V34929818521"
    assert label.pdf == PDF and label.zpl is None
    assert label.tracking_url.endswith("code=9V34929818521")
    sent = json.loads(route.calls.last.request.content)
    assert sent["contractNumber"] == "123456" and sent["password"] == "secret"
    assert sent["outputFormat"]["outputPrintingType"] == "PDF_10x15_300dpi"
    letter = sent["letter"]
    assert letter["service"] == {
        "productCode": "DOM",
        "depositDate": "2026-11-25",
        "orderNumber": "CMD-000123-1",
        "commercialName": "Boutique Exemple SARL",
    }
    assert letter["parcel"] == {"weight": 1.2}
    assert letter["addressee"]["address"]["lastName"] == "Hugo"
    assert letter["addressee"]["address"]["firstName"] == "Victor"
    assert letter["addressee"]["address"]["zipCode"] == "75004"
    assert letter["sender"]["address"]["companyName"] == "Boutique Exemple SARL"


@respx.mock
def test_zpl_label_and_relay_product(colissimo):
    body, content_type = multipart(OK_INFO, ZPL.encode())
    route = respx.post(SLS_URL).mock(
        return_value=httpx.Response(200, content=body, headers={"Content-Type": content_type})
    )
    label = colissimo.create_label(
        label_request(
            formats=("zpl", "pdf"), service_code="point-retrait", relay_id="060567", relay_kind="BPR"
        )
    )
    assert label.zpl.startswith("^XA") and label.pdf is None
    sent = json.loads(route.calls.last.request.content)
    assert sent["outputFormat"]["outputPrintingType"] == "ZPL_10x15_203dpi"
    assert sent["letter"]["service"]["productCode"] == "BPR"
    assert sent["letter"]["parcel"]["pickupLocationId"] == "060567"


@respx.mock
def test_return_label_uses_the_return_product_and_the_api_key_header():
    adapter = get_adapter("colissimo", config={"api_key": "k-123"})
    body, content_type = multipart(OK_INFO, PDF)
    route = respx.post(SLS_URL).mock(
        return_value=httpx.Response(200, content=body, headers={"Content-Type": content_type})
    )
    adapter.create_return_label(label_request())
    request = route.calls.last.request
    assert request.headers["apiKey"] == "k-123"
    sent = json.loads(request.content)
    assert "password" not in sent and sent["letter"]["service"]["productCode"] == "CORE"


@respx.mock
def test_a_refused_label_carries_colissimos_message(colissimo):
    respx.post(SLS_URL).mock(
        return_value=httpx.Response(
            400,
            json={
                "messages": [
                    {
                        "id": "30301",
                        "type": "ERROR",
                        "messageContent": "Le poids du colis est incorrect",
                        "replacementValues": [],
                    }
                ]
            },
        )
    )
    with pytest.raises(PermanentCarrierError) as caught:
        colissimo.create_label(label_request(weight_g=35000))
    assert caught.value.message == "Le poids du colis est incorrect (30301)"
    assert caught.value.status == 400 and not caught.value.retryable


@respx.mock
def test_a_refusal_in_a_multipart_answer_is_read_too(colissimo):
    info = {
        "messages": [{"id": "30109", "type": "ERROR", "messageContent": "Le code postal est invalide"}],
        "labelV2Response": None,
    }
    body, content_type = multipart(info, b"")
    respx.post(SLS_URL).mock(
        return_value=httpx.Response(400, content=body, headers={"Content-Type": content_type})
    )
    with pytest.raises(PermanentCarrierError, match="code postal"):
        colissimo.create_label(label_request())


@respx.mock
@pytest.mark.parametrize(
    "response, error",
    [
        (httpx.Response(500, text="Internal error"), RetryableCarrierError),
        (httpx.Response(503, text="Service Unavailable"), RetryableCarrierError),
        (httpx.Response(429, text="Too many requests", headers={"Retry-After": "7"}), CarrierQuotaExceeded),
    ],
)
def test_server_errors_and_quota_are_retryable(colissimo, response, error):
    respx.post(SLS_URL).mock(return_value=response)
    with pytest.raises(error) as caught:
        colissimo.create_label(label_request())
    assert caught.value.retryable
    if error is CarrierQuotaExceeded:
        assert caught.value.retry_after == 7


@respx.mock
def test_a_timeout_is_retryable(colissimo):
    respx.post(SLS_URL).mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(RetryableCarrierError) as caught:
        colissimo.create_label(label_request())
    assert caught.value.code == "timeout"


def test_missing_credentials_and_unsupported_operations():
    adapter = get_adapter("colissimo", config={})
    with pytest.raises(CarrierNotConfigured) as caught:
        adapter.create_label(label_request())
    assert caught.value.details == {"missing": ["contract_number", "password"]}
    with pytest.raises(NotSupported):
        adapter.cancel_label("9V34929818521")
    with pytest.raises(PermanentCarrierError):
        get_adapter("colissimo", config=CONFIG).create_label(label_request(service_code="teleportation"))


PICKUP_ANSWER = {
    "errorCode": 0,
    "errorMessage": "Code retour OK",
    "qualiteReponse": 2,
    "listePointRetraitAcheminement": [
        {
            "identifiant": "060567",
            "nom": "BUREAU DE POSTE VILLEURBANNE BELLECOMBE RP",
            "adresse1": "13 RUE BELLECOMBE",
            "adresse2": "CARREFOUR CITY",
            "adresse3": "",
            "codePostal": "69100",
            "localite": "VILLEURBANNE",
            "coordGeolocalisationLatitude": "45.7695505",
            "coordGeolocalisationLongitude": "4.86314559",
            "horairesOuvertureLundi": "07:00-21:00 00:00-00:00",
            "horairesOuvertureMardi": "09:00-12:00 14:00-18:00",
            "horairesOuvertureMercredi": "07:00-21:00 00:00-00:00",
            "horairesOuvertureJeudi": "07:00-21:00 00:00-00:00",
            "horairesOuvertureVendredi": "07:00-21:00 00:00-00:00",
            "horairesOuvertureSamedi": "07:00-21:00 00:00-00:00",
            "horairesOuvertureDimanche": "00:00-00:00 00:00-00:00",
            "typeDePoint": "BPR",
            "poidsMaxi": 30000,
            "distanceEnMetre": 172,
            "codePays": "FR",
        }
    ],
    "rdv": False,
}


@respx.mock
def test_pickup_points_are_read_with_their_hours(colissimo):
    route = respx.post(PICKUP_URL).mock(return_value=httpx.Response(200, json=PICKUP_ANSWER))
    (point,) = colissimo.search_relay_points(
        RelaySearch(postcode="69100", city="Villeurbanne", address="27 rue Henri Rolland")
    )
    assert (point.id, point.kind, point.postcode, point.city) == ("060567", "BPR", "69100", "VILLEURBANNE")
    assert point.line2 == "CARREFOUR CITY"
    assert (point.latitude, point.longitude, point.distance_m) == (45.7695505, 4.86314559, 172)
    assert point.opening_hours.days[1] == [("07:00", "21:00")]
    assert point.opening_hours.days[2] == [("09:00", "12:00"), ("14:00", "18:00")]
    assert 7 not in point.opening_hours.days
    sent = json.loads(route.calls.last.request.content)
    assert (sent["accountNumber"], sent["zipCode"], sent["countryCode"]) == ("123456", "69100", "FR")


@respx.mock
def test_pickup_refusal_keeps_http_200_with_an_error_code(colissimo):
    respx.post(PICKUP_URL).mock(
        return_value=httpx.Response(200, json={"errorCode": 104, "errorMessage": "Code postal absent"})
    )
    with pytest.raises(PermanentCarrierError) as caught:
        colissimo.search_relay_points(RelaySearch(postcode=""))
    assert (caught.value.message, caught.value.code) == ("Code postal absent", "104")


def test_parse_multipart_keeps_binary_bytes():
    body, content_type = multipart(OK_INFO, PDF)
    parts = parse_multipart(content_type, body)
    assert parts["label"] == ("application/octet-stream", PDF)
    assert json.loads(parts["jsonInfos"][1])["labelV2Response"]["parcelNumber"] == "9V34929818521"
