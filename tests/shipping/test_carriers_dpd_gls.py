"""DPD France (EPrint SOAP) and GLS (ShipIT REST) against their documented answers, faults and limits."""

import base64
import json

import httpx
import pytest
import respx
from lxml import etree

from shipping.carriers import CarrierQuotaExceeded, PermanentCarrierError, RetryableCarrierError, get_adapter
from shipping.carriers.dpd import DpdFranceAdapter

from .carrier_fixtures import label_request

DPD_URL = DpdFranceAdapter.base_url
DPD_CONFIG = {"login": "GEODIS", "password": "pw", "customer_number": "1064", "center_number": "77"}
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
NS = "http://www.cargonet.software"


def dpd_answer(action: str, label: bytes, kind="EPRINT") -> str:
    encoded = base64.b64encode(label).decode()
    return f"""<?xml version="1.0" encoding="utf-8"?>
<soap:Envelope xmlns:soap="{SOAP}"><soap:Body>
<{action}Response xmlns="{NS}"><{action}Result>
  <shipments><ShipmentBc><Shipment><Barcode>%0077000250012345678901</Barcode><BarcodeId>25012345678901</BarcodeId></Shipment></ShipmentBc></shipments>
  <labels><Label><label>{encoded}</label><type>{kind}</type></Label><Label><label>{encoded}</label><type>EPRINTATTACHMENT</type></Label></labels>
</{action}Result></{action}Response></soap:Body></soap:Envelope>"""


def fault(text: str) -> str:
    return f"""<?xml version="1.0" encoding="utf-8"?>
<soap:Envelope xmlns:soap="{SOAP}"><soap:Body><soap:Fault>
<faultcode>soap:Server</faultcode><faultstring>{text}</faultstring></soap:Fault></soap:Body></soap:Envelope>"""


@pytest.fixture
def dpd():
    return get_adapter("dpd_fr", config=DPD_CONFIG)


@respx.mock
def test_dpd_predict_label(dpd):
    route = respx.post(DPD_URL).mock(
        return_value=httpx.Response(200, text=dpd_answer("CreateShipmentWithLabelsBc", b"%PDF dpd"))
    )
    label = dpd.create_label(label_request(brand_text="Merci pour votre commande !"))
    assert label.tracking_number == "25012345678901" and label.pdf == b"%PDF dpd"
    assert label.tracking_url == "https://trace.dpd.fr/fr/trace/25012345678901"
    request = route.calls.last.request
    assert request.headers["SOAPAction"] == '"http://www.cargonet.software/CreateShipmentWithLabelsBc"'
    root = etree.fromstring(request.content)
    text = lambda name: root.find(f".//{{{NS}}}{name}").text  # noqa: E731
    assert text("userid") == "GEODIS" and text("password") == "pw"
    assert text("customer_centernumber") == "77" and text("customer_number") == "1064"
    assert text("customer_countrycode") == "250"
    assert text("type") == "Predict" and text("sms") == "+33600000000"
    assert root.find(f".//{{{NS}}}labelType/{{{NS}}}type").text == "PDF_A6"
    assert text("weight") == "1.20" and text("zipCode") == "75004"
    assert text("customLabelText") == "Merci pour votre commande !"


@respx.mock
def test_dpd_pickup_relay_zpl_and_return(dpd):
    route = respx.post(DPD_URL).mock(
        side_effect=[
            httpx.Response(200, text=dpd_answer("CreateShipmentWithLabelsBc", b"^XA^XZ", kind="BIC3")),
            httpx.Response(200, text=dpd_answer("CreateReverseInverseShipmentWithLabelsBc", b"%PDF ret")),
        ]
    )
    label = dpd.create_label(label_request(relay_id="P22895", formats=("zpl",), label_size="4x6"))
    assert label.zpl == "^XA^XZ"
    root = etree.fromstring(route.calls.last.request.content)
    assert root.find(f".//{{{NS}}}shopid").text == "P22895"
    assert root.find(f".//{{{NS}}}labelType/{{{NS}}}type").text == "ZPL"
    back = dpd.create_return_label(label_request())
    assert back.pdf == b"%PDF ret"
    assert b"CreateReverseInverseShipmentWithLabelsBc" in route.calls.last.request.content


@respx.mock
def test_dpd_fault_is_a_refusal_and_503_may_pass(dpd):
    respx.post(DPD_URL).mock(
        side_effect=[
            httpx.Response(500, text=fault("Invalid ZipCode for country FR")),
            httpx.Response(503, text="Service Unavailable"),
        ]
    )
    with pytest.raises(PermanentCarrierError) as refused:
        dpd.create_label(label_request())
    assert refused.value.message == "Invalid ZipCode for country FR"
    with pytest.raises(RetryableCarrierError):
        dpd.create_label(label_request())


@respx.mock
def test_dpd_tracking(dpd):
    respx.post(DPD_URL).mock(
        return_value=httpx.Response(
            200,
            text=f"""<?xml version="1.0"?><soap:Envelope xmlns:soap="{SOAP}"><soap:Body>
<GetShipmentTraceResponse xmlns="{NS}"><GetShipmentTraceResult><Traces>
<Trace><Date>2026-11-25T17:40:00</Date><Code>PICKUP</Code><Label>Colis pris en charge</Label>
<Center>Lyon</Center></Trace>
<Trace><Date>2026-11-26T08:05:00</Date><Code>OUT_FOR_DELIVERY</Code><Label>En cours de livraison</Label>
<Center>Paris</Center></Trace>
<Trace><Date>2026-11-26T12:30:00</Date><Code>DELIVERED</Code><Label>Livré</Label><Center>Paris</Center></Trace>
</Traces></GetShipmentTraceResult></GetShipmentTraceResponse></soap:Body></soap:Envelope>""",
        )
    )
    (update,) = dpd.track(["25012345678901"])
    assert [(e.code, e.status) for e in update.events] == [
        ("PICKUP", "handed_over"),
        ("OUT_FOR_DELIVERY", "out_for_delivery"),
        ("DELIVERED", "delivered"),
    ]
    assert update.final


GLS = "https://shipit-wbm-fr01.gls-group.eu:443/backend/rs"
GLS_CONFIG = {"username": "2764200001", "password": "pw", "contact_id": "276a165ggP"}


@pytest.fixture
def gls():
    return get_adapter("gls", config=GLS_CONFIG)


def gls_created(data: bytes):
    return {
        "CreatedShipment": {
            "ShipmentReference": ["CMD-000123-1"],
            "ParcelData": [{"TrackID": "ZSJTFW8J", "ParcelNumber": "08505112345"}],
            "PrintData": [{"Data": base64.b64encode(data).decode(), "LabelFormat": "PDF"}],
            "CustomerID": "2764200001",
        }
    }


@respx.mock
def test_gls_label_to_a_parcelshop(gls):
    route = respx.post(f"{GLS}/shipments").mock(
        return_value=httpx.Response(201, json=gls_created(b"%PDF gls"))
    )
    label = gls.create_label(label_request(relay_id="2500123456"))
    assert (label.tracking_number, label.carrier_reference, label.pdf) == (
        "ZSJTFW8J",
        "08505112345",
        b"%PDF gls",
    )
    request = route.calls.last.request
    assert request.headers["Content-Type"] == "application/glsVersion1+json"
    assert request.headers["Authorization"].startswith("Basic ")
    body = json.loads(request.content)
    assert body["Shipment"]["Shipper"] == {"ContactID": "276a165ggP"}
    assert body["Shipment"]["Consignee"]["Address"]["ZIPCode"] == "75004"
    assert body["Shipment"]["ShipmentUnit"][0]["Weight"] == 1.2
    assert body["Shipment"]["Service"] == [
        {"ShopDelivery": {"ServiceName": "service_shopdelivery", "ParcelShopID": "2500123456"}}
    ]
    assert body["PrintingOptions"] == {"ReturnLabels": {"TemplateSet": "NONE", "LabelFormat": "PDF"}}


@respx.mock
def test_gls_errors_in_headers_and_rate_limit(gls):
    respx.post(f"{GLS}/shipments").mock(
        side_effect=[
            httpx.Response(
                400, headers={"error": "E001", "message": "Invalid consignee ZIP code", "args": "75004X"}
            ),
            httpx.Response(429, headers={"Retry-After": "60"}),
        ]
    )
    with pytest.raises(PermanentCarrierError) as refused:
        gls.create_label(label_request())
    assert refused.value.message == "Invalid consignee ZIP code 75004X"
    with pytest.raises(CarrierQuotaExceeded) as quota:
        gls.create_label(label_request())
    assert quota.value.retry_after == 60.0


@respx.mock
def test_gls_tracking_and_cancel(gls):
    respx.post(f"{GLS}/tracking/references").mock(
        return_value=httpx.Response(
            200,
            json={
                "UnitItems": [
                    {
                        "TrackID": "ZSJTFW8J",
                        "Status": "DELIVEREDPS",
                        "History": [
                            {
                                "Date": "2026-11-25T18:00:00",
                                "StatusCode": "INTRANSIT",
                                "Description": "Le colis a été remis à GLS",
                                "Location": "Lyon",
                            },
                            {
                                "Date": "2026-11-26T10:00:00",
                                "StatusCode": "DELIVEREDPS",
                                "Description": "Disponible au ParcelShop",
                                "Location": "Paris",
                            },
                        ],
                    }
                ]
            },
        )
    )
    cancel = respx.post(f"{GLS}/shipments/cancel/ZSJTFW8J").mock(
        return_value=httpx.Response(200, json={"TrackID": "ZSJTFW8J", "result": "CANCELLED"})
    )
    update, unknown = gls.track(["ZSJTFW8J", "ZZZZZZZZ"])
    assert [(e.code, e.status) for e in update.events] == [
        ("INTRANSIT", "in_transit"),
        ("DELIVEREDPS", "available_for_pickup"),
    ]
    assert not update.final and unknown.error
    gls.cancel_label("ZSJTFW8J")
    assert cancel.called


@respx.mock
def test_dpd_pickup_points_from_mypudo():
    from shipping.carriers import RelaySearch
    from shipping.carriers.dpd import PUDO_URL

    dpd = get_adapter("dpd_fr", config={**DPD_CONFIG, "pudo_key": "deecd7bc81b71fcc0e292b53e826c48f"})
    route = respx.get(url__startswith=PUDO_URL).mock(
        return_value=httpx.Response(
            200,
            text="""<?xml version="1.0" encoding="utf-8"?>
<RESULTS quality="1"><PUDO_ITEMS><PUDO_ITEM active="true"><PUDO_ID>P22895</PUDO_ID><ORDER>1</ORDER>
<PUDO_TYPE>100</PUDO_TYPE><NAME>TABAC DE LA GARE</NAME><ADDRESS1>12 RUE DE LA GARE</ADDRESS1><ADDRESS2/>
<ADDRESS3/><ZIPCODE>69003</ZIPCODE><CITY>LYON</CITY><COUNTRY>FRA</COUNTRY><LONGITUDE>4,85</LONGITUDE>
<LATITUDE>45,76</LATITUDE><DISTANCE>333</DISTANCE><OPENING_HOURS_ITEMS>
<OPENING_HOURS_ITEM><DAY_ID>1</DAY_ID><START_TM>09:00</START_TM><END_TM>12:00</END_TM></OPENING_HOURS_ITEM>
<OPENING_HOURS_ITEM><DAY_ID>1</DAY_ID><START_TM>14:00</START_TM><END_TM>19:00</END_TM></OPENING_HOURS_ITEM>
</OPENING_HOURS_ITEMS></PUDO_ITEM></PUDO_ITEMS></RESULTS>""",
        )
    )
    (point,) = dpd.search_relay_points(RelaySearch(postcode="69003", city="Lyon"))
    assert (point.id, point.name, point.postcode, point.latitude, point.distance_m) == (
        "P22895",
        "TABAC DE LA GARE",
        "69003",
        45.76,
        333,
    )
    assert point.opening_hours.days == {1: [("09:00", "12:00"), ("14:00", "19:00")]}
    params = route.calls.last.request.url.params
    assert params["carrier"] == "EXA" and params["zipCode"] == "69003" and params["countrycode"] == "FR"


@respx.mock
def test_dpd_pickup_search_error():
    from shipping.carriers import RelaySearch
    from shipping.carriers.dpd import PUDO_URL

    dpd = get_adapter("dpd_fr", config={**DPD_CONFIG, "pudo_key": "k"})
    respx.get(url__startswith=PUDO_URL).mock(
        return_value=httpx.Response(200, text="<RESULTS><ERROR>Invalid key</ERROR></RESULTS>")
    )
    with pytest.raises(PermanentCarrierError) as caught:
        dpd.search_relay_points(RelaySearch(postcode="69003"))
    assert caught.value.message == "Invalid key"
