"""Chronopost labels (SOAP ShippingServiceWS) and DHL Express labels (MyDHL API)."""

import base64
import json

import httpx
import pytest
import respx
from lxml import etree

from shipping.carriers import CarrierQuotaExceeded, PermanentCarrierError, RetryableCarrierError, get_adapter
from shipping.carriers.chronopost import SHIPPING_URL, TRACKING_URL

from .carrier_fixtures import FORT_DE_FRANCE, GENEVA, customs_declaration, label_request

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
CHRONO = {"account_number": "19869502", "password": "255562", "okapi_key": "okapi"}


def chrono_answer(error="0", message="", number="XW250342630FR", data=b"%PDF chrono"):
    result = (
        f"<resultMultiParcelValue><skybillNumber>{number}</skybillNumber>"
        f"<pdfEtiquette>{base64.b64encode(data).decode()}</pdfEtiquette></resultMultiParcelValue>"
        if error == "0"
        else ""
    )
    return f"""<soap:Envelope xmlns:soap="{SOAP}"><soap:Body><ns1:shippingMultiParcelV4Response
xmlns:ns1="http://cxf.shipping.soap.chronopost.fr/"><return><errorCode>{error}</errorCode>
<errorMessage>{message}</errorMessage>{result}</return></ns1:shippingMultiParcelV4Response></soap:Body></soap:Envelope>"""


@pytest.fixture
def chronopost():
    return get_adapter("chronopost", config=CHRONO)


@respx.mock
def test_chronopost_label_to_fort_de_france_carries_the_customs_value(chronopost):
    route = respx.post(SHIPPING_URL).mock(return_value=httpx.Response(200, text=chrono_answer()))
    label = chronopost.create_label(
        label_request(recipient=FORT_DE_FRANCE, service_code="chrono13", customs=customs_declaration())
    )
    assert label.tracking_number == "XW250342630FR" and label.pdf == b"%PDF chrono"
    root = etree.fromstring(route.calls.last.request.content)
    text = lambda name: root.find(f".//{name}").text  # noqa: E731
    assert text("accountNumber") == "19869502" and text("password") == "255562"
    assert text("productCode") == "01" and text("weight") == "1.20" and text("weightUnit") == "KGM"
    assert text("recipientZipCode") == "97200" and text("recipientCity") == "Fort-de-France"
    assert text("customsValue") == "54.30" and text("customsCurrency") == "EUR"
    assert text("mode") == "PDF"


@respx.mock
def test_chronopost_error_codes(chronopost):
    respx.post(SHIPPING_URL).mock(
        side_effect=[
            httpx.Response(200, text=chrono_answer("3", "Le compte ou le mot de passe est invalide")),
            httpx.Response(200, text=chrono_answer("1", "Erreur systeme")),
        ]
    )
    with pytest.raises(PermanentCarrierError) as refused:
        chronopost.create_label(label_request(service_code="chrono13"))
    assert (refused.value.message, refused.value.code) == (
        "Le compte ou le mot de passe est invalide",
        "error_3",
    )
    with pytest.raises(RetryableCarrierError):
        chronopost.create_label(label_request(service_code="chrono13"))


@respx.mock
def test_chronopost_return_label_zpl_and_cancel(chronopost):
    route = respx.post(SHIPPING_URL).mock(
        return_value=httpx.Response(200, text=chrono_answer(data=b"^XA^XZ"))
    )
    cancel = respx.post(TRACKING_URL).mock(
        return_value=httpx.Response(
            200,
            text=f"""<soap:Envelope xmlns:soap="{SOAP}"><soap:Body><ns1:cancelSkybillResponse
xmlns:ns1="http://cxf.tracking.soap.chronopost.fr/"><return><errorCode>0</errorCode></return>
</ns1:cancelSkybillResponse></soap:Body></soap:Envelope>""",
        )
    )
    label = chronopost.create_return_label(label_request(formats=("zpl",)))
    assert label.zpl == "^XA^XZ"
    root = etree.fromstring(route.calls.last.request.content)
    assert root.find(".//productCode").text == "4T" and root.find(".//mode").text == "ZPL"
    chronopost.cancel_label("XW250342630FR")
    assert (
        etree.fromstring(cancel.calls.last.request.content).find(".//skybillNumber").text == "XW250342630FR"
    )


DHL = "https://express.api.dhl.com/mydhlapi"
DHL_CONFIG = {
    "username": "apiXXX",
    "password": "secretYYY",
    "account_number": "123456789",
    "api_key": "track",
}


def dhl_created():
    return {
        "shipmentTrackingNumber": "1234567890",
        "trackingUrl": "https://express.api.dhl.com/mydhlapi/shipments/1234567890/tracking",
        "packages": [{"referenceNumber": 1, "trackingNumber": "JD014600003828392212"}],
        "documents": [
            {"imageFormat": "PDF", "content": base64.b64encode(b"%PDF dhl").decode(), "typeCode": "label"},
            {
                "imageFormat": "PDF",
                "content": base64.b64encode(b"%PDF invoice").decode(),
                "typeCode": "invoice",
            },
        ],
    }


@respx.mock
def test_dhl_express_label_with_export_declaration_and_logo():
    dhl = get_adapter("dhl_express", config=DHL_CONFIG)
    route = respx.post(f"{DHL}/shipments").mock(return_value=httpx.Response(201, json=dhl_created()))
    label = dhl.create_label(
        label_request(
            recipient=GENEVA,
            service_code="express-worldwide",
            customs=customs_declaration(),
            brand_logo=b"\x89PNG logo",
        )
    )
    assert (
        label.tracking_number == "1234567890"
        and label.pdf == b"%PDF dhl"
        and label.customs_pdf == b"%PDF invoice"
    )
    request = route.calls.last.request
    assert request.headers["Authorization"] == "Basic YXBpWFhYOnNlY3JldFlZWQ=="
    body = json.loads(request.content)
    assert body["productCode"] == "P" and body["accounts"] == [{"typeCode": "shipper", "number": "123456789"}]
    assert body["outputImageProperties"]["customerLogos"] == [
        {"fileFormat": "PNG", "content": base64.b64encode(b"\x89PNG logo").decode()}
    ]
    assert body["outputImageProperties"]["imageOptions"][0] == {
        "typeCode": "label",
        "templateName": "ECOM26_A6_002",
    }
    content = body["content"]
    assert content["isCustomsDeclarable"] is True and content["declaredValue"] == 54.3
    line = content["exportDeclaration"]["lineItems"][0]
    assert line == {
        "number": 1,
        "description": "T-shirt coton bio",
        "price": 19.9,
        "quantity": {"value": 2, "unitOfMeasurement": "PCS"},
        "commodityCodes": [{"typeCode": "outbound", "value": "610910"}],
        "exportReasonType": "permanent",
        "manufacturerCountry": "PT",
        "weight": {"netValue": 0.4, "grossValue": 0.4},
    }
    assert content["exportDeclaration"]["exportReason"] == "SALE"


@respx.mock
def test_dhl_express_problem_details_and_quota():
    dhl = get_adapter("dhl_express", config=DHL_CONFIG)
    respx.post(f"{DHL}/shipments").mock(
        side_effect=[
            httpx.Response(
                422,
                json={
                    "instance": "/expressapi/shipments",
                    "detail": "Multiple problems found, see Additional Details",
                    "title": "Validation error",
                    "status": "422",
                    "additionalDetails": ["postalCode is invalid for countryCode CH"],
                },
            ),
            httpx.Response(
                429, json={"title": "Too many requests", "status": 429}, headers={"Retry-After": "1"}
            ),
        ]
    )
    with pytest.raises(PermanentCarrierError) as refused:
        dhl.create_label(label_request(service_code="express-worldwide"))
    assert refused.value.message == (
        "Multiple problems found, see Additional Details; postalCode is invalid for countryCode CH"
    )
    with pytest.raises(CarrierQuotaExceeded):
        dhl.create_label(label_request(service_code="express-worldwide"))


@respx.mock
def test_dhl_express_return_label_payer_and_domestic_product_abroad():
    dhl = get_adapter("dhl_express", config=DHL_CONFIG)
    route = respx.post(f"{DHL}/shipments").mock(return_value=httpx.Response(201, json=dhl_created()))
    dhl.create_return_label(label_request(sender=GENEVA, service_code="express-domestic"))
    body = json.loads(route.calls.last.request.content)
    assert body["productCode"] == "P"  # a domestic product between two countries becomes Express Worldwide
    assert {"typeCode": "payer", "number": "123456789"} in body["accounts"]
