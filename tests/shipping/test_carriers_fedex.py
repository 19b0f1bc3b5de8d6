"""FedEx REST APIs (OAuth, Ship, Track) against their documented answers, errors and rate limits."""

import base64
import json

import httpx
import pytest
import respx
from django.core.cache import cache

from shipping.carriers import (
    CarrierNotConfigured,
    CarrierQuotaExceeded,
    PermanentCarrierError,
    RetryableCarrierError,
    get_adapter,
)

from .carrier_fixtures import GENEVA, customs_declaration, label_request

API = "https://apis.fedex.com"
CONFIG = {"client_id": "l7xx-client", "client_secret": "s3cr3t", "account_number": "740561073"}
PDF = b"%PDF-1.7 fedex label"
INVOICE = b"%PDF-1.7 commercial invoice"
TOKEN = {"access_token": "eyJhbGciOi.token", "token_type": "bearer", "expires_in": 3599, "scope": "CXS-TP"}


def ship_answer(label=PDF, doc_type="PDF"):
    return {
        "transactionId": "624deea6-b709-470c-8c39-4b5511281492",
        "output": {
            "transactionShipments": [
                {
                    "masterTrackingNumber": "794953535000",
                    "serviceType": "FEDEX_INTERNATIONAL_PRIORITY",
                    "shipDatestamp": "2026-11-25",
                    "pieceResponses": [
                        {
                            "trackingNumber": "794953535000",
                            "packageDocuments": [
                                {
                                    "contentType": "LABEL",
                                    "copiesToPrint": 1,
                                    "encodedLabel": base64.b64encode(label).decode(),
                                    "docType": doc_type,
                                }
                            ],
                        }
                    ],
                    "shipmentDocuments": [
                        {
                            "contentType": "COMMERCIAL_INVOICE",
                            "encodedLabel": base64.b64encode(INVOICE).decode(),
                            "docType": "PDF",
                        }
                    ],
                }
            ]
        },
    }


@pytest.fixture(autouse=True)
def _no_cached_token():
    cache.clear()


@pytest.fixture
def fedex():
    return get_adapter("fedex", config=CONFIG)


@respx.mock
def test_label_with_customs_and_the_commercial_invoice(fedex):
    token = respx.post(f"{API}/oauth/token").mock(return_value=httpx.Response(200, json=TOKEN))
    ship = respx.post(f"{API}/ship/v1/shipments").mock(return_value=httpx.Response(200, json=ship_answer()))
    label = fedex.create_label(
        label_request(recipient=GENEVA, service_code="international-priority", customs=customs_declaration())
    )
    assert label.tracking_number == "794953535000"
    assert label.pdf == PDF and label.zpl is None and label.customs_pdf == INVOICE
    assert label.tracking_url == "https://www.fedex.com/fedextrack/?trknbr=794953535000"
    form = dict(x.split("=") for x in token.calls.last.request.content.decode().split("&"))
    assert form == {"grant_type": "client_credentials", "client_id": "l7xx-client", "client_secret": "s3cr3t"}
    request = ship.calls.last.request
    assert request.headers["Authorization"] == "Bearer eyJhbGciOi.token"
    body = json.loads(request.content)
    assert body["accountNumber"] == {"value": "740561073"}
    shipment = body["requestedShipment"]
    assert shipment["serviceType"] == "FEDEX_INTERNATIONAL_PRIORITY"
    assert shipment["recipients"][0]["address"] == {
        "streetLines": ["12 rue du Rhône"],
        "city": "Genève",
        "postalCode": "1204",
        "countryCode": "CH",
    }
    assert shipment["labelSpecification"] == {
        "imageType": "PDF",
        "labelStockType": "PAPER_4X6",
        "labelFormatType": "COMMON2D",
    }
    assert shipment["requestedPackageLineItems"][0]["weight"] == {"units": "KG", "value": 1.2}
    clearance = shipment["customsClearanceDetail"]
    assert clearance["commercialInvoice"]["shipmentPurpose"] == "SOLD"
    assert clearance["totalCustomsValue"] == {"amount": 54.3, "currency": "EUR"}
    assert clearance["commodities"][0] == {
        "description": "T-shirt coton bio",
        "harmonizedCode": "610910",
        "countryOfManufacture": "PT",
        "quantity": 2,
        "quantityUnits": "PCS",
        "unitPrice": {"amount": 19.9, "currency": "EUR"},
        "customsValue": {"amount": 39.8, "currency": "EUR"},
        "weight": {"units": "KG", "value": 0.4},
    }
    assert shipment["shippingDocumentSpecification"]["shippingDocumentTypes"] == ["COMMERCIAL_INVOICE"]


@respx.mock
def test_the_token_is_asked_once_then_cached_and_asked_again_after_a_401(fedex):
    token = respx.post(f"{API}/oauth/token").mock(return_value=httpx.Response(200, json=TOKEN))
    ship = respx.post(f"{API}/ship/v1/shipments").mock(
        side_effect=[
            httpx.Response(200, json=ship_answer()),
            httpx.Response(200, json=ship_answer()),
            httpx.Response(
                401, json={"errors": [{"code": "NOT.AUTHORIZED.ERROR", "message": "Access token expired."}]}
            ),
            httpx.Response(200, json=ship_answer()),
        ]
    )
    fedex.create_label(label_request(service_code="domicile"))
    fedex.create_label(label_request(service_code="domicile"))
    assert token.call_count == 1
    fedex.create_label(label_request(service_code="domicile"))
    assert token.call_count == 2 and ship.call_count == 4


@respx.mock
def test_zpl_label_and_4x6_stock(fedex):
    respx.post(f"{API}/oauth/token").mock(return_value=httpx.Response(200, json=TOKEN))
    ship = respx.post(f"{API}/ship/v1/shipments").mock(
        return_value=httpx.Response(200, json=ship_answer(label=b"^XA^FDfedex^FS^XZ", doc_type="ZPLII"))
    )
    label = fedex.create_label(label_request(service_code="domicile", formats=("zpl",), label_size="4x6"))
    assert label.zpl == "^XA^FDfedex^FS^XZ" and label.pdf is None
    spec = json.loads(ship.calls.last.request.content)["requestedShipment"]["labelSpecification"]
    assert spec["imageType"] == "ZPLII" and spec["labelStockType"] == "STOCK_4X6"


@respx.mock
def test_return_label_asks_for_a_print_return_label(fedex):
    respx.post(f"{API}/oauth/token").mock(return_value=httpx.Response(200, json=TOKEN))
    ship = respx.post(f"{API}/ship/v1/shipments").mock(return_value=httpx.Response(200, json=ship_answer()))
    fedex.create_return_label(label_request(service_code="domicile"))
    special = json.loads(ship.calls.last.request.content)["requestedShipment"]["shipmentSpecialServices"]
    assert special == {
        "specialServiceTypes": ["RETURN_SHIPMENT"],
        "returnShipmentDetail": {"returnType": "PRINT_RETURN_LABEL"},
    }


@respx.mock
def test_a_refusal_carries_fedex_message(fedex):
    respx.post(f"{API}/oauth/token").mock(return_value=httpx.Response(200, json=TOKEN))
    respx.post(f"{API}/ship/v1/shipments").mock(
        return_value=httpx.Response(
            400,
            json={
                "transactionId": "x",
                "errors": [
                    {"code": "RECIPIENT.POSTALCODE.INVALID", "message": "Recipient postal code is invalid."}
                ],
            },
        )
    )
    with pytest.raises(PermanentCarrierError) as caught:
        fedex.create_label(label_request(service_code="domicile"))
    assert caught.value.message == "Recipient postal code is invalid. (RECIPIENT.POSTALCODE.INVALID)"
    assert not caught.value.retryable


@respx.mock
def test_quota_and_server_errors_are_retryable(fedex):
    respx.post(f"{API}/oauth/token").mock(return_value=httpx.Response(200, json=TOKEN))
    respx.post(f"{API}/ship/v1/shipments").mock(
        side_effect=[
            httpx.Response(
                429,
                headers={"Retry-After": "10"},
                json={
                    "errors": [
                        {"code": "TOO.MANY.REQUESTS", "message": "We have received too many requests."}
                    ]
                },
            ),
            httpx.Response(503, json={"errors": [{"code": "SERVICE.UNAVAILABLE.ERROR", "message": "Down."}]}),
        ]
    )
    with pytest.raises(CarrierQuotaExceeded) as quota:
        fedex.create_label(label_request(service_code="domicile"))
    assert quota.value.retry_after == 10.0 and quota.value.status == 429
    with pytest.raises(RetryableCarrierError) as down:
        fedex.create_label(label_request(service_code="domicile"))
    assert down.value.status == 503


@respx.mock
def test_refused_credentials_say_so(fedex):
    respx.post(f"{API}/oauth/token").mock(
        return_value=httpx.Response(
            401,
            json={
                "errors": [
                    {
                        "code": "NOT.AUTHORIZED.ERROR",
                        "message": "The given client credentials were not valid.",
                    }
                ]
            },
        )
    )
    with pytest.raises(PermanentCarrierError) as caught:
        fedex.create_label(label_request(service_code="domicile"))
    assert caught.value.code == "bad_credentials"
    assert "client credentials were not valid" in caught.value.message


def test_missing_credentials_name_them():
    with pytest.raises(CarrierNotConfigured) as caught:
        get_adapter("fedex", config={"client_id": "x"}).create_label(label_request(service_code="domicile"))
    assert caught.value.details == {"missing": ["client_secret", "account_number"]}


@respx.mock
def test_tracking_maps_scan_events_and_reports_unknown_numbers(fedex):
    respx.post(f"{API}/oauth/token").mock(return_value=httpx.Response(200, json=TOKEN))
    track = respx.post(f"{API}/track/v1/trackingnumbers").mock(
        return_value=httpx.Response(
            200,
            json={
                "transactionId": "t",
                "output": {
                    "completeTrackResults": [
                        {
                            "trackingNumber": "794953535000",
                            "trackResults": [
                                {
                                    "latestStatusDetail": {"code": "DL", "description": "Delivered"},
                                    "scanEvents": [
                                        {
                                            "date": "2026-11-27T10:12:00+01:00",
                                            "eventType": "DL",
                                            "eventDescription": "Delivered",
                                            "scanLocation": {"city": "GENEVE", "countryCode": "CH"},
                                        },
                                        {
                                            "date": "2026-11-26T07:40:00+01:00",
                                            "eventType": "OD",
                                            "eventDescription": "On FedEx vehicle for delivery",
                                            "scanLocation": {"city": "GENEVE"},
                                        },
                                        {
                                            "date": "2026-11-25T18:02:00+01:00",
                                            "eventType": "PU",
                                            "eventDescription": "Picked up",
                                            "scanLocation": {"city": "LYON"},
                                        },
                                    ],
                                }
                            ],
                        },
                        {
                            "trackingNumber": "000000000000",
                            "trackResults": [
                                {
                                    "error": {
                                        "code": "TRACKING.TRACKINGNUMBER.NOTFOUND",
                                        "message": "Tracking number cannot be found. "
                                        "Please correct the tracking number and try again.",
                                    }
                                }
                            ],
                        },
                    ]
                },
            },
        )
    )
    delivered, unknown = fedex.track(["794953535000", "000000000000"])
    assert [(e.code, e.status, e.place) for e in delivered.events] == [
        ("PU", "handed_over", "LYON"),
        ("OD", "out_for_delivery", "GENEVE"),
        ("DL", "delivered", "GENEVE"),
    ]
    assert delivered.final and delivered.status == "delivered"
    assert unknown.events == [] and "cannot be found" in unknown.error
    sent = json.loads(track.calls.last.request.content)
    assert sent["includeDetailedScans"] is True and len(sent["trackingInfo"]) == 2


@respx.mock
def test_cancel_deletes_the_shipment(fedex):
    respx.post(f"{API}/oauth/token").mock(return_value=httpx.Response(200, json=TOKEN))
    cancel = respx.put(f"{API}/ship/v1/shipments/cancel").mock(
        return_value=httpx.Response(200, json={"transactionId": "c", "output": {"cancelledShipment": True}})
    )
    fedex.cancel_label("794953535000")
    assert json.loads(cancel.calls.last.request.content) == {
        "accountNumber": {"value": "740561073"},
        "trackingNumber": "794953535000",
        "deletionControl": "DELETE_ALL_PACKAGES",
    }


@respx.mock
def test_the_documented_rate_is_kept_across_workers(fedex, monkeypatch):
    from shipping.carriers.ratelimit import RateLimiter, RateLimitTimeout

    slots = []

    def acquire(self, *, max_wait=10.0):
        slots.append((self.name, self.per_second))
        if len(slots) > 2:
            raise RateLimitTimeout("carrier:fedex: no call allowed within 5 s.")

    monkeypatch.setattr(RateLimiter, "acquire", acquire)
    respx.post(f"{API}/oauth/token").mock(return_value=httpx.Response(200, json=TOKEN))
    ship = respx.post(f"{API}/ship/v1/shipments").mock(return_value=httpx.Response(200, json=ship_answer()))
    fedex.create_label(label_request(service_code="domicile"))  # token + label: two slots
    assert slots == [("carrier:fedex", 140), ("carrier:fedex", 140)]
    with pytest.raises(CarrierQuotaExceeded) as caught:
        fedex.create_label(label_request(service_code="domicile"))
    assert caught.value.retry_after == 1 and ship.call_count == 1
