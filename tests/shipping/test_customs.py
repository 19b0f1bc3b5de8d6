"""Customs declarations: which parcels need one, a refusal that names the product and what it lacks, and a
parcel to Fort-de-France and one to Geneva carrying their customs data end to end (order → pack station →
label request → stored declaration → CN23 printed with the label, or sent to the carrier that takes it)."""

import io
from datetime import time
from decimal import Decimal

import pytest
from django.utils import translation
from pypdf import PdfReader

from fulfillment import services as fulfillment
from fulfillment.models import Preparation
from inventory.models import Product
from shipping import customs
from shipping.carriers import CustomsDeclaration
from shipping.carriers.sandbox import SandboxAdapter
from shipping.models import Carrier, CarrierService, Shipment, ShipmentLine
from tests.fulfillment.conftest import Floor


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.mark.parametrize(
    ("country", "postcode", "needed"),
    [
        ("FR", "69003", False),  # metropolitan France
        ("FR", "20000", False),  # Corsica
        ("MC", "98000", False),  # Monaco ships as France
        ("FR", "97200", True),  # Martinique (Fort-de-France)
        ("FR", "97400", True),  # La Réunion
        ("FR", "97600", True),  # Mayotte
        ("FR", "98800", True),  # Nouvelle-Calédonie
        ("GP", "97110", True),  # Guadeloupe by its own code
        ("PF", "98714", True),  # Polynésie française
        ("DE", "10115", False),  # Berlin
        ("DE", "27498", True),  # Heligoland
        ("ES", "28013", False),  # Madrid
        ("ES", "35001", True),  # Las Palmas (Canaries)
        ("IT", "23041", True),  # Livigno
        ("CH", "1204", True),  # Geneva
        ("GB", "SW1A 1AA", True),  # London
        ("NO", "0150", True),
        ("US", "10001", True),
    ],
)
def test_which_parcels_need_a_customs_declaration(country, postcode, needed):
    assert customs.needs_customs(country=country, postcode=postcode) is needed


@pytest.mark.parametrize(
    ("origin", "origin_postcode", "country", "postcode", "needed"),
    [
        ("FR", "97200", "FR", "69003", True),  # a return label from Fort-de-France to Lyon
        ("FR", "97200", "FR", "97232", False),  # within Martinique
        ("FR", "97200", "FR", "97110", True),  # Martinique to Guadeloupe (octroi de mer)
        ("CH", "1204", "FR", "69003", True),  # a return from Geneva
        ("CH", "1204", "CH", "8001", False),
        ("DE", "10115", "FR", "69003", False),
    ],
)
def test_customs_between_two_addresses(origin, origin_postcode, country, postcode, needed):
    assert (
        customs.needs_customs(
            country=country, postcode=postcode, origin=origin, origin_postcode=origin_postcode
        )
        is needed
    )


@pytest.fixture
def floor(db):
    floor = Floor()
    Product.objects.filter(pk=floor.shirt.pk).update(
        customs_code="610910", origin_country="PT", price=Decimal("19.90")
    )
    Product.objects.filter(pk=floor.mug.pk).update(customs_code="691200", origin_country="FR")
    floor.sandbox = Carrier.objects.create(code="sbx", name="Sandbox", adapter="sandbox")
    floor.fedex = Carrier.objects.create(code="fedex", name="FedEx", adapter="fedex", sandbox=True)
    floor.gls = Carrier.objects.create(code="gls", name="GLS", adapter="gls", sandbox=True)
    for carrier in (floor.sandbox, floor.fedex, floor.gls):
        CarrierService.objects.create(
            carrier=carrier,
            code="international-priority" if carrier.adapter == "fedex" else "home",
            name="Home",
            delivery_mode="home",
            cutoff_time=time(16),
        )
    return floor


def pack(floor, *, address, service, django_capture_on_commit_callbacks, lines=(("SHIRT", 2), ("MUG", 1))):
    order = floor.order(list(lines), delivery={"mode": "home", "address": address})
    wave = fulfillment.wave_release(location=floor.lyon)
    while (step := fulfillment.current_step(wave=wave)) is not None:
        fulfillment.pick_scan(wave=wave, code=step.bin_code, actor=floor.picker)
        fulfillment.pick_scan(
            wave=wave, code=step.ean, quantity=step.left, bin_confirmed=step.bin_code, actor=floor.picker
        )
    prep = Preparation.objects.get(order=order)
    Preparation.objects.filter(pk=prep.pk).update(service=service)
    prep.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        for line in prep.lines.all():
            fulfillment.pack_scan(preparation=prep, code=line.ean, quantity=line.quantity, actor=floor.picker)
        shipment = fulfillment.parcel_close(preparation=prep, box=None, weight_g=1300, actor=floor.picker)
    shipment.refresh_from_db()
    return order, shipment


FORT_DE_FRANCE = {
    "line1": "2 rue Victor Hugo",
    "postcode": "97200",
    "city": "Fort-de-France",
    "country": "FR",
}
GENEVA = {"line1": "12 rue du Rhône", "postcode": "1204", "city": "Genève", "country": "CH"}


def pdf_text(field) -> list[str]:
    field.open("rb")
    return [page.extract_text() for page in PdfReader(io.BytesIO(field.read())).pages]


def test_a_parcel_to_fort_de_france_prints_our_cn23_with_a_carrier_that_takes_no_customs_lines(
    floor, django_capture_on_commit_callbacks
):
    service = floor.gls.services.get()
    order, shipment = pack(
        floor,
        address=FORT_DE_FRANCE,
        service=service,
        django_capture_on_commit_callbacks=django_capture_on_commit_callbacks,
    )
    assert shipment.status == Shipment.Status.LABELLED, shipment.label_error
    unit_price = {line.sku: line.unit_price for line in order.lines.all()}
    assert shipment.customs == {
        "reason": "sale",
        "currency": "EUR",
        "total_value": str((unit_price["SHIRT"] * 2 + unit_price["MUG"]).quantize(Decimal("0.01"))),
        "lines": [
            {
                "sku": "SHIRT",
                "description": "T-shirt",
                "hs_code": "610910",
                "origin_country": "PT",
                "quantity": 2,
                "unit_value": str(unit_price["SHIRT"]),
                "value": str(unit_price["SHIRT"] * 2),
                "weight_g": 400,
            },
            {
                "sku": "MUG",
                "description": "Mug",
                "hs_code": "691200",
                "origin_country": "FR",
                "quantity": 1,
                "unit_value": str(unit_price["MUG"]),
                "value": str(unit_price["MUG"]),
                "weight_g": 400,
            },
        ],
    }
    label_page, cn23 = pdf_text(shipment.label_pdf)
    assert "GLS" in label_page and "97200 FORT-DE-FRANCE" in label_page.upper()
    assert "CN 23" in cn23 and "610910" in cn23 and "691200" in cn23 and "PT" in cn23
    assert "☒ Vente de marchandises / Sale of goods" in cn23
    assert "Fort-de-France" in cn23


def test_a_parcel_to_geneva_sends_its_declaration_in_the_label_request(
    floor, django_capture_on_commit_callbacks, monkeypatch
):
    sent = []
    original = SandboxAdapter.create_label

    def spy(self, request):
        sent.append(request)
        return original(self, request)

    monkeypatch.setattr(SandboxAdapter, "create_label", spy)
    service = floor.fedex.services.get()
    _order, shipment = pack(
        floor,
        address=GENEVA,
        service=service,
        django_capture_on_commit_callbacks=django_capture_on_commit_callbacks,
    )
    assert shipment.status == Shipment.Status.LABELLED, shipment.label_error
    (request,) = sent
    assert isinstance(request.customs, CustomsDeclaration)  # FedEx takes the lines in the label request
    assert [
        (line.sku, line.hs_code, line.origin_country, line.quantity, line.weight_g)
        for line in request.customs.lines
    ] == [
        ("SHIRT", "610910", "PT", 2, 400),
        ("MUG", "691200", "FR", 1, 400),
    ]
    assert request.customs.reason == "sale" and request.recipient.country == "CH"
    assert request.value == request.customs.total_value
    pages = pdf_text(shipment.label_pdf)
    assert len(pages) == 2 and "FEDEX" in pages[0] and "CN 23" in pages[1] and "Genève" in pages[1]
    assert shipment.customs["lines"][0]["hs_code"] == "610910"


def test_a_declaration_missing_data_is_refused_naming_each_product_and_what_it_lacks(
    floor, django_capture_on_commit_callbacks
):
    Product.objects.filter(pk=floor.mug.pk).update(customs_code="", origin_country="")
    Product.objects.filter(pk=floor.shirt.pk).update(origin_country="")
    service = floor.fedex.services.get()
    _order, shipment = pack(
        floor,
        address=GENEVA,
        service=service,
        django_capture_on_commit_callbacks=django_capture_on_commit_callbacks,
    )
    assert shipment.status == Shipment.Status.LABEL_FAILED and shipment.alert == "label_failed"
    assert shipment.label_error == (
        "Customs declaration refused: SHIRT (T-shirt) lacks country of origin; "
        "MUG (Mug) lacks customs code (HS), country of origin. "
        "Complete the products, then ask for the label again."
    )
    assert not shipment.tracking_number and not shipment.label_pdf and shipment.customs == {}


def test_declaration_build_names_a_missing_value(floor, django_capture_on_commit_callbacks):
    service = floor.gls.services.get()
    _order, shipment = pack(
        floor,
        address=FORT_DE_FRANCE,
        service=service,
        django_capture_on_commit_callbacks=django_capture_on_commit_callbacks,
    )
    ShipmentLine.objects.filter(shipment=shipment, sku="MUG").update(unit_value=None)
    with pytest.raises(customs.CustomsIncomplete) as caught:
        customs.declaration_build(shipment=shipment)
    assert caught.value.details == {"products": [{"sku": "MUG", "name": "Mug", "missing": ["value"]}]}


def test_a_parcel_inside_france_carries_no_declaration(floor, django_capture_on_commit_callbacks):
    service = floor.gls.services.get()
    _order, shipment = pack(
        floor,
        address={"line1": "3 rue X", "postcode": "69003", "city": "Lyon"},
        service=service,
        django_capture_on_commit_callbacks=django_capture_on_commit_callbacks,
    )
    assert shipment.status == Shipment.Status.LABELLED and shipment.customs == {}
    assert len(pdf_text(shipment.label_pdf)) == 1


def test_the_return_label_from_fort_de_france_carries_its_own_cn23(floor, django_capture_on_commit_callbacks):
    from shipping.models import ChannelShippingSettings, ParcelReturnLabel

    ChannelShippingSettings.objects.create(channel=floor.channel, return_label_in_parcel=True)
    service = floor.gls.services.get()
    _order, shipment = pack(
        floor,
        address=FORT_DE_FRANCE,
        service=service,
        django_capture_on_commit_callbacks=django_capture_on_commit_callbacks,
    )
    back = ParcelReturnLabel.objects.get(shipment=shipment)
    assert back.status == ParcelReturnLabel.Status.READY, back.error
    label_page, cn23 = pdf_text(back.label_pdf)
    assert "RETOUR / RETURN" in label_page
    assert "☒ Retour de marchandises / Returned goods" in cn23 and "610910" in cn23
    assert "Fort-de-France" in cn23.split("À / To")[0]  # the customer is the sender of the way back


def test_a_zpl_label_still_gets_its_customs_papers_as_a_pdf(
    floor, django_capture_on_commit_callbacks, settings
):
    settings.LABEL_FORMAT = "zpl"
    from shipping.carriers.sandbox import SandboxAdapter

    original = SandboxAdapter.create_label

    def zpl_only(self, request):
        from dataclasses import replace

        return replace(original(self, request), pdf=None)

    import pytest as _pytest

    with _pytest.MonkeyPatch.context() as patch:
        patch.setattr(SandboxAdapter, "create_label", zpl_only)
        _order, shipment = pack(
            floor,
            address=GENEVA,
            service=floor.gls.services.get(),
            django_capture_on_commit_callbacks=django_capture_on_commit_callbacks,
        )
    assert shipment.label_zpl and shipment.label_zpl.read().startswith(b"^XA")
    (cn23,) = pdf_text(shipment.label_pdf)
    assert "CN 23" in cn23 and "Genève" in cn23
