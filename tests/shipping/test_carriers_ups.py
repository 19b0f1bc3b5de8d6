"""UPS REST APIs (OAuth, Shipping, Tracking, Locator) against their documented answers and errors."""

import base64
import io
import json

import httpx
import pytest
import respx
from django.core.cache import cache
from PIL import Image
from pypdf import PdfReader

from shipping.carriers import CarrierQuotaExceeded, PermanentCarrierError, RelaySearch, get_adapter

from .carrier_fixtures import GENEVA, customs_declaration, label_request

API = "https://onlinetools.ups.com"
CONFIG = {"client_id": "ups-client", "client_secret": "ups-secret", "account_number": "R5W90F"}
TOKEN = {
    "token_type": "Bearer",
    "issued_at": "1700000000000",
    "client_id": "ups-client",
    "access_token": "ups.token",
    "expires_in": "14399",
    "status": "approved",
}


def gif() -> bytes:
    out = io.BytesIO()
    Image.new("L", (1200, 800), 255).save(out, "GIF")  # UPS labels come landscape
    return out.getvalue()


def ship_answer(image: bytes, code="GIF"):
    return {
        "ShipmentResponse": {
            "Response": {"ResponseStatus": {"Code": "1", "Description": "Success"}},
            "ShipmentResults": {
                "ShipmentIdentificationNumber": "1Z9R5W900490000001",
                "PackageResults": [
                    {
                        "TrackingNumber": "1Z9R5W906890000001",
                        "ShippingLabel": {
                            "ImageFormat": {"Code": code},
                            "GraphicImage": base64.b64encode(image).decode(),
                        },
                    }
                ],
                "Form": {
                    "Code": "01",
                    "Image": {
                        "ImageFormat": {"Code": "PDF"},
                        "GraphicImage": base64.b64encode(b"%PDF invoice").decode(),
                    },
                },
            },
        }
    }


@pytest.fixture(autouse=True)
def _no_cached_token():
    cache.clear()


@pytest.fixture
def ups():
    return get_adapter("ups", config=CONFIG)


@respx.mock
def test_label_gif_laid_on_a_pdf_page_with_international_forms(ups):
    token = respx.post(f"{API}/security/v1/oauth/token").mock(return_value=httpx.Response(200, json=TOKEN))
    ship = respx.post(f"{API}/api/shipments/v2409/ship").mock(
        return_value=httpx.Response(200, json=ship_answer(gif()))
    )
    label = ups.create_label(
        label_request(
            recipient=GENEVA, service_code="standard", customs=customs_declaration(), label_size="4x6"
        )
    )
    assert label.tracking_number == "1Z9R5W906890000001"
    assert label.carrier_reference == "1Z9R5W900490000001"
    assert label.customs_pdf == b"%PDF invoice"
    page = PdfReader(io.BytesIO(label.pdf)).pages[0]
    assert (round(float(page.mediabox.width)), round(float(page.mediabox.height))) == (
        288,
        432,
    )  # 4 × 6 in, upright
    assert token.calls.last.request.headers["Authorization"] == "Basic dXBzLWNsaWVudDp1cHMtc2VjcmV0"
    body = json.loads(ship.calls.last.request.content)["ShipmentRequest"]
    shipment = body["Shipment"]
    assert shipment["Shipper"]["ShipperNumber"] == "R5W90F"
    assert shipment["Service"] == {"Code": "11"}
    assert shipment["ShipTo"]["Address"] == {
        "AddressLine": ["12 rue du Rhône"],
        "City": "Genève",
        "PostalCode": "1204",
        "CountryCode": "CH",
    }
    assert shipment["Package"][0]["PackageWeight"] == {"UnitOfMeasurement": {"Code": "KGS"}, "Weight": "1.2"}
    forms = shipment["ShipmentServiceOptions"]["InternationalForms"]
    assert forms["ReasonForExport"] == "SALE" and forms["CurrencyCode"] == "EUR"
    assert forms["Product"][1] == {
        "Description": ["Mug en grès"],
        "CommodityCode": "691200",
        "OriginCountryCode": "FR",
        "Unit": {"Number": "1", "Value": "14.50", "UnitOfMeasurement": {"Code": "PCS"}},
        "ProductWeight": {"UnitOfMeasurement": {"Code": "KGS"}, "Weight": "0.5"},
    }
    assert body["LabelSpecification"]["LabelImageFormat"] == {"Code": "GIF"}


@respx.mock
def test_zpl_label_and_return_service(ups):
    respx.post(f"{API}/security/v1/oauth/token").mock(return_value=httpx.Response(200, json=TOKEN))
    ship = respx.post(f"{API}/api/shipments/v2409/ship").mock(
        return_value=httpx.Response(200, json=ship_answer(b"^XA^FDups^FS^XZ", code="ZPL"))
    )
    label = ups.create_return_label(label_request(service_code="standard", formats=("zpl",)))
    assert label.zpl == "^XA^FDups^FS^XZ" and label.pdf is None
    body = json.loads(ship.calls.last.request.content)["ShipmentRequest"]
    assert body["Shipment"]["ReturnService"] == {"Code": "9"}
    assert body["LabelSpecification"]["LabelImageFormat"] == {"Code": "ZPL"}


@respx.mock
def test_access_point_delivery(ups):
    respx.post(f"{API}/security/v1/oauth/token").mock(return_value=httpx.Response(200, json=TOKEN))
    ship = respx.post(f"{API}/api/shipments/v2409/ship").mock(
        return_value=httpx.Response(200, json=ship_answer(gif()))
    )
    ups.create_label(label_request(service_code="access-point", relay_id="U45678912"))
    shipment = json.loads(ship.calls.last.request.content)["ShipmentRequest"]["Shipment"]
    assert shipment["Service"] == {"Code": "70"}
    assert shipment["ShipmentIndicationType"] == {"Code": "01"}
    assert shipment["AlternateDeliveryAddress"]["UPSAccessPointID"] == "U45678912"


@respx.mock
def test_refusal_and_quota(ups):
    respx.post(f"{API}/security/v1/oauth/token").mock(return_value=httpx.Response(200, json=TOKEN))
    respx.post(f"{API}/api/shipments/v2409/ship").mock(
        side_effect=[
            httpx.Response(
                400,
                json={
                    "response": {
                        "errors": [
                            {"code": "120802", "message": "Address Validation Error on ShipTo address"}
                        ]
                    }
                },
            ),
            httpx.Response(
                429, json={"response": {"errors": [{"code": "429", "message": "Too Many Requests"}]}}
            ),
        ]
    )
    with pytest.raises(PermanentCarrierError) as refused:
        ups.create_label(label_request(service_code="standard"))
    assert refused.value.message == "Address Validation Error on ShipTo address (120802)"
    with pytest.raises(CarrierQuotaExceeded):
        ups.create_label(label_request(service_code="standard"))


@respx.mock
def test_tracking_maps_activity_status(ups):
    respx.post(f"{API}/security/v1/oauth/token").mock(return_value=httpx.Response(200, json=TOKEN))
    respx.get(f"{API}/api/track/v1/details/1Z9R5W906890000001").mock(
        return_value=httpx.Response(
            200,
            json={
                "trackResponse": {
                    "shipment": [
                        {
                            "inquiryNumber": "1Z9R5W906890000001",
                            "package": [
                                {
                                    "trackingNumber": "1Z9R5W906890000001",
                                    "activity": [
                                        {
                                            "location": {"address": {"city": "Genève", "countryCode": "CH"}},
                                            "status": {
                                                "type": "D",
                                                "description": "DELIVERED",
                                                "code": "KB",
                                                "statusCode": "011",
                                            },
                                            "date": "20261127",
                                            "time": "101200",
                                        },
                                        {
                                            "location": {"address": {"city": "Genève"}},
                                            "status": {
                                                "type": "I",
                                                "description": "Out For Delivery Today",
                                                "code": "OT",
                                                "statusCode": "021",
                                            },
                                            "date": "20261127",
                                            "time": "071000",
                                        },
                                        {
                                            "location": {"address": {"city": "Lyon"}},
                                            "status": {
                                                "type": "P",
                                                "description": "Pickup Scan",
                                                "code": "PU",
                                                "statusCode": "038",
                                            },
                                            "date": "20261125",
                                            "time": "180200",
                                        },
                                        {
                                            "status": {
                                                "type": "M",
                                                "description": "Shipper created a label",
                                                "code": "MP",
                                                "statusCode": "003",
                                            },
                                            "date": "20261125",
                                            "time": "100000",
                                        },
                                    ],
                                }
                            ],
                        }
                    ]
                }
            },
        )
    )
    respx.get(f"{API}/api/track/v1/details/1Z0000000000000000").mock(
        return_value=httpx.Response(
            200,
            json={
                "trackResponse": {
                    "shipment": [
                        {
                            "inquiryNumber": "1Z0000000000000000",
                            "warnings": [{"code": "TW0001", "message": "Tracking Information Not Found"}],
                        }
                    ]
                }
            },
        )
    )
    delivered, unknown = ups.track(["1Z9R5W906890000001", "1Z0000000000000000"])
    assert [(e.code, e.status) for e in delivered.events] == [
        ("003", "labelled"),
        ("038", "handed_over"),
        ("021", "out_for_delivery"),
        ("011", "delivered"),
    ]
    assert delivered.final
    assert unknown.error == "Tracking Information Not Found"


@respx.mock
def test_access_points_search(ups):
    respx.post(f"{API}/security/v1/oauth/token").mock(return_value=httpx.Response(200, json=TOKEN))
    respx.post(f"{API}/api/locations/v3/search/availabilities/64").mock(
        return_value=httpx.Response(
            200,
            json={
                "LocatorResponse": {
                    "SearchResults": {
                        "DropLocation": [
                            {
                                "LocationID": "123456",
                                "AccessPointInformation": {"PublicAccessPointID": "U45678912"},
                                "AddressKeyFormat": {
                                    "ConsigneeName": "TABAC DU PARC",
                                    "AddressLine": "4 RUE DE LA PAIX",
                                    "PoliticalDivision2": "LYON",
                                    "PostcodePrimaryLow": "69003",
                                    "CountryCode": "FR",
                                },
                                "Geocode": {"Latitude": "45.7597", "Longitude": "4.8422"},
                                "Distance": {"Value": "0.4", "UnitOfMeasurement": {"Code": "KM"}},
                                "OperatingHours": {
                                    "StandardHours": {
                                        "HoursType": "10",
                                        "DayOfWeek": [
                                            {"Day": "2", "OpenHours": "0900", "CloseHours": "1900"},
                                            {"Day": "1", "ClosedIndicator": ""},
                                        ],
                                    }
                                },
                            }
                        ]
                    }
                }
            },
        )
    )
    (point,) = ups.search_relay_points(RelaySearch(postcode="69003", city="Lyon"))
    assert (point.id, point.name, point.city, point.distance_m, point.kind) == (
        "U45678912",
        "TABAC DU PARC",
        "LYON",
        400,
        "AP",
    )
    assert point.opening_hours.days == {1: [("09:00", "19:00")]}
