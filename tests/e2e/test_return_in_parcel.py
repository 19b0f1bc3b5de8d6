"""A packer prints the outbound and the return label together; the return appears in the back office when
the sandbox carrier scans the return label. Also looked at: the dispatch page's rate shopping, the order
page's parcels fragment and the branding settings, at 1280 and 360 px."""

import hashlib
import hmac
import io
import json
from datetime import time

import pytest
from django.utils import timezone
from playwright.sync_api import expect
from pypdf import PdfReader

from fulfillment import services
from fulfillment.models import Preparation
from oms.roles import MANAGER
from returns.models import Return
from shipping.models import (
    Carrier,
    CarrierService,
    ChannelShippingSettings,
    ParcelReturnLabel,
    Shipment,
    ShippingRule,
)
from tests.e2e.test_floor import scan, wave_steps
from tests.fulfillment.conftest import Floor
from tests.oms.factories import UserFactory
from tests.shipping.factories import with_grids

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
SECRET = "e2e-webhook-secret"


@pytest.fixture
def floor(db, settings):
    settings.SANDBOX_WEBHOOK_SECRET = SECRET
    floor = Floor()
    floor.carrier = Carrier.objects.create(code="sbx", name="Sandbox Express", adapter="sandbox")
    floor.service = CarrierService.objects.create(
        carrier=floor.carrier, code="home", name="Domicile", delivery_mode="home", cutoff_time=time(16)
    )
    with_grids(floor.service)
    fedex = Carrier.objects.create(code="fedex", name="FedEx", adapter="fedex", sandbox=True)
    express = CarrierService.objects.create(
        carrier=fedex,
        code="priority",
        name="Priority",
        delivery_mode="home",
        cutoff_time=time(17),
        is_express=True,
    )
    with_grids(express)
    ShippingRule.objects.create(
        position=1, name="Domicile par défaut", delivery_mode="home", service=floor.service
    )
    ChannelShippingSettings.objects.create(channel=floor.channel, return_label_in_parcel=True)
    floor.manager = UserFactory(username="boss", role=MANAGER)
    return floor


def picked(floor, lines):
    order = floor.order(lines)
    wave = services.wave_release(location=floor.lyon)
    for step in wave_steps(wave):
        services.pick_scan(wave=wave, code=step.bin_code, actor=floor.picker)
        services.pick_scan(
            wave=wave, code=step.ean, quantity=step.left, bin_confirmed=step.bin_code, actor=floor.picker
        )
    return order


def no_horizontal_scroll(page):
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def test_packer_prints_both_labels_and_the_carriers_scan_opens_the_return(
    page, live_server, login, floor, screenshot
):
    order = picked(floor, [("MUG", 1), ("SHIRT", 2)])
    prep = Preparation.objects.get(order=order)
    page.set_viewport_size({"width": 1280, "height": 900})
    login("picker")
    page.goto(f"{live_server.url}/packing/")
    scan(page, "#pack-code", prep.tote_code)
    page.wait_for_url(f"**/packing/{prep.pk}/")
    scan(page, "#pack-code", floor.mug.ean)
    page.fill("#pack-qty", "2")
    scan(page, "#pack-code", floor.shirt.ean)
    page.click(".close-parcel button[type=submit]")
    link = page.locator("[data-print-labels]")
    expect(link).to_be_visible()
    expect(link).to_contain_text("retour")  # "Étiquettes : aller + retour (PDF)"
    expect(page.locator(".scan-card--ok")).to_contain_text("Glissez l'étiquette retour dans le colis")
    screenshot("return-in-parcel-pack-station")

    # the packer prints: one PDF, the outbound label then the return label
    labels = page.request.get(f"{live_server.url}{link.get_attribute('href')}")
    assert labels.ok
    pages = PdfReader(io.BytesIO(labels.body())).pages
    shipment = Shipment.objects.get(order=order)
    back = ParcelReturnLabel.objects.get(shipment=shipment)
    assert len(pages) == 2
    assert shipment.tracking_number in pages[0].extract_text()
    assert back.tracking_number in pages[1].extract_text() and "RETOUR" in pages[1].extract_text()
    shipment.refresh_from_db()
    assert shipment.label_printed_at is not None
    assert not Return.objects.filter(order=order).exists()

    # the parcel leaves with the driver
    page.goto(f"{live_server.url}/shipping/handover/")
    page.click("form:has(input[name=carrier]) button[type=submit]")
    page.wait_for_url("**/shipping/manifests/*/")

    # weeks later the customer drops the parcel with the return label: the sandbox carrier scans it
    body = json.dumps(
        {
            "tracking_number": back.tracking_number,
            "events": [{"code": "SBX_PC", "at": timezone.now().isoformat(), "place": "LYON"}],
        }
    ).encode()
    signature = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    pushed = page.request.post(
        f"{live_server.url}/webhooks/carriers/sbx/",
        data=body,
        headers={"Content-Type": "application/json", "X-Sandbox-Signature": signature},
    )
    assert pushed.ok and pushed.json()["updated"] == 1

    ret = Return.objects.get(order=order)
    page.goto(f"{live_server.url}/returns/")
    row = page.locator("tr", has_text=ret.number)
    expect(row).to_be_visible()
    screenshot("return-in-parcel-returns-list")
    page.goto(f"{live_server.url}/returns/{ret.number}/")
    expect(page.locator("main")).to_contain_text(back.tracking_number)
    screenshot("return-in-parcel-return-detail")
    assert ret.source == Return.Source.PARCEL and ret.status == "label_sent"
    assert sorted(ret.lines.values_list("order_line__sku", "quantity")) == [("MUG", 1), ("SHIRT", 2)]


@pytest.mark.parametrize("width", [1280, 360])
def test_rate_shopping_on_the_dispatch_and_order_pages(page, live_server, login, floor, screenshot, width):
    order = picked(floor, [("MUG", 1)])
    prep = Preparation.objects.get(order=order)
    for line in prep.lines.all():
        services.pack_scan(preparation=prep, code=line.ean, quantity=line.quantity, actor=floor.picker)
    services.parcel_close(preparation=prep, box=None, weight_g=600, actor=floor.picker)
    page.set_viewport_size({"width": width, "height": 900})
    login("boss")
    page.goto(f"{live_server.url}/shipping/handover/")
    page.click(".row--detail summary")
    expect(page.locator(".parcel-rates")).to_contain_text("Règle d'expédition « Domicile par défaut »")
    expect(page.locator(".row--chosen")).to_contain_text("Domicile")
    no_horizontal_scroll(page)
    screenshot(f"rates-dispatch-{width}")
    page.goto(f"{live_server.url}/orders/{order.number}/")
    fragment = page.locator("#order-parcels")
    expect(fragment).to_contain_text("FedEx Priority")
    screenshot(f"rates-order-page-{width}")
    # change by hand before the label is printed
    page.select_option("#order-parcels select[name=service]", label="FedEx Priority · 5,00 €")
    page.fill("#order-parcels input[name=note]", "Client pressé")
    page.click("#order-parcels button[type=submit]")
    page.wait_for_url(f"**/orders/{order.number}/")
    expect(page.locator("#order-parcels .row--chosen")).to_contain_text("FedEx Priority")
    expect(page.locator("#order-parcels")).to_contain_text("Choisi à la main par boss. Client pressé")
    shipment = Shipment.objects.get(order=order)
    assert shipment.service.carrier.code == "fedex" and shipment.status == "labelled"
    page.goto(f"{live_server.url}/settings/carriers/branding/")
    expect(page.locator(".brand-preview")).to_be_visible()
    no_horizontal_scroll(page)
    screenshot(f"branding-settings-{width}")
