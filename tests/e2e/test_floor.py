"""The warehouse floor in a browser: a picker picks a wave on a 360 px handheld by "scanning" (typing a code
and Enter), a packer packs an order into two parcels, a store hands a click & collect order over."""

import pytest
from playwright.sync_api import expect

from fulfillment import services
from fulfillment.models import Box, Preparation
from orders.models import Order
from shipping.models import Shipment
from tests.fulfillment.conftest import Floor
from tests.orders.factories import stock

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def floor(db):
    return Floor()


def scan(page, selector, code):
    """What a scanner does: the code then Enter; the next scan waits for the screen's answer, swapped in and
    settled by htmx (a fixed pause was too short on a loaded machine: the next scan went out on the old
    panel, without the bin just confirmed)."""
    page.fill(selector, code)
    page.evaluate(
        "() => { window.__scanSettled = false; document.body.addEventListener("
        "'htmx:afterSettle', () => { window.__scanSettled = true; }, {once: true}); }"
    )
    with page.expect_response(lambda r: r.request.method == "POST"):
        page.press(selector, "Enter")
    # settled, or a new page (the answer navigated: the flag is gone with the old page)
    page.wait_for_function("() => window.__scanSettled !== false", timeout=10_000)


def no_horizontal_scroll(page):
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def test_picker_picks_a_wave_by_scanning_on_a_handheld(page, live_server, login, floor, screenshot):
    first = floor.order([("MUG", 2), ("SHIRT", 1)])
    second = floor.order([("SHIRT", 1)])
    page.set_viewport_size({"width": 360, "height": 740})
    login("picker")
    page.goto(f"{live_server.url}/picking/")
    page.click(".tile form button[type=submit]")
    expect(page.locator(".pick-step__bin")).to_contain_text("B-01-1")  # aisle B first (walking order)
    no_horizontal_scroll(page)
    screenshot("picking-handheld-start")

    scan(page, "#pick-code", floor.mug.ean)  # the product before its bin: refused
    expect(page.locator(".scan-card--refused")).to_be_visible()
    screenshot("picking-handheld-refused")
    scan(page, "#pick-code", "B-01-1")
    expect(page.locator(".pick-step__bin--ok")).to_be_visible()
    expect(page.locator("#pick-code")).to_be_focused()
    scan(page, "#pick-code", floor.shirt.ean)  # wrong product
    expect(page.locator(".scan-card--refused")).to_contain_text("SHIRT")
    page.fill("#pick-qty", "2")
    scan(page, "#pick-code", floor.mug.ean)
    expect(page.locator(".scan-card--ok")).to_be_visible()
    expect(page.locator(".pick-step__bin")).to_contain_text("A-03-2")
    scan(page, "#pick-code", "A-03-2")
    expect(page.locator(".pick-step__bin--ok")).to_be_visible()
    scan(page, "#pick-code", floor.shirt.ean)
    expect(page.locator(".pick-step__totes")).to_contain_text("T2")
    screenshot("picking-handheld-progress")
    scan(page, "#pick-code", floor.shirt.ean)
    expect(page.locator(".pick-done")).to_be_visible()
    no_horizontal_scroll(page)
    screenshot("picking-handheld-done")
    for order in (first, second):
        order.refresh_from_db()
        assert order.status == Order.Status.IN_PREPARATION
        assert Preparation.objects.get(order=order).status == "to_pack"


def test_packer_packs_an_order_into_two_parcels(page, live_server, login, floor, screenshot):
    Box.objects.create(code="m", name="M", length_mm=350, width_mm=250, height_mm=150, tare_g=220)
    order = floor.order([("MUG", 2), ("SHIRT", 1)])
    wave = services.wave_release(location=floor.lyon)
    for step in wave_steps(wave):
        services.pick_scan(wave=wave, code=step.bin_code, actor=floor.picker)
        services.pick_scan(
            wave=wave, code=step.ean, quantity=step.left, bin_confirmed=step.bin_code, actor=floor.picker
        )
    page.set_viewport_size({"width": 1024, "height": 800})
    login("picker")
    page.goto(f"{live_server.url}/packing/")
    prep = Preparation.objects.get(order=order)
    scan(page, "#pack-code", prep.tote_code)  # the tote's label
    page.wait_for_url(f"**/packing/{prep.pk}/")
    scan(page, "#pack-code", floor.cap.ean)  # not in the order
    expect(page.locator(".scan-card--refused")).to_be_visible()
    scan(page, "#pack-code", floor.mug.ean)
    expect(page.locator(".scan-card--ok")).to_be_visible()
    scan(page, "#pack-code", floor.mug.ean)
    scan(page, "#pack-code", floor.mug.ean)  # one too many
    expect(page.locator(".scan-card--refused")).to_be_visible()
    page.select_option("#box", "m")
    page.fill("#weight", "1050")
    screenshot("packing-parcel-open")
    page.click(".close-parcel button[type=submit]")
    expect(page.locator(".scan-card--ok a")).to_be_visible()  # the slip's link
    scan(page, "#pack-code", floor.shirt.ean)
    page.click(".close-parcel button[type=submit]")
    expect(page.locator(".scan-card--ok a")).to_be_visible()
    screenshot("packing-two-parcels")
    shipments = Shipment.objects.filter(order=order).order_by("pk")
    assert [(s.weight_g, s.box) for s in shipments] == [(1050, "m"), (200, "")]
    assert floor.level(floor.mug).on_hand == 18
    slip = page.request.get(f"{live_server.url}/packing/parcels/{shipments[0].parcel.pk}/slip.pdf")
    assert slip.ok and slip.body().startswith(b"%PDF")


def wave_steps(wave):
    from fulfillment.selectors import wave_pick_steps

    return wave_pick_steps(wave=wave)


def test_store_hands_over_a_click_and_collect_order_with_its_code(
    page, live_server, login, floor, screenshot
):
    stock(floor.cap, floor.paris, 3)
    order = floor.order([("CAP", 1)], delivery={"mode": "store", "store": "paris"})
    page.set_viewport_size({"width": 390, "height": 800})
    login("seller")
    page.goto(f"{live_server.url}/pickup/")
    page.click(f"form[action$='/pickup/{order.number}/prepare/'] button")
    page.wait_for_url("**/picking/waves/*/")
    scan(page, "#pick-code", "CAP")
    expect(page.locator(".pick-done")).to_be_visible()
    page.goto(f"{live_server.url}/pickup/")
    page.click(f"form[action$='/pickup/{order.number}/ready/'] button")
    expect(page.locator(f"a[href$='/pickup/{order.number}/']").first).to_be_visible()
    screenshot("pickup-list")
    page.goto(f"{live_server.url}/pickup/{order.number}/")
    page.fill("#code", "ZZZZZ9")
    page.click("form.scan__form button[type=submit]")
    expect(page.locator(".scan-card--refused")).to_be_visible()
    order.refresh_from_db()
    page.fill("#code", order.pickup_code.lower())
    screenshot("pickup-handover")
    page.click("form.scan__form button[type=submit]")
    page.wait_for_url("**/pickup/")
    order.refresh_from_db()
    assert order.status == Order.Status.DELIVERED
    no_horizontal_scroll(page)


def test_picker_puts_back_cancelled_units_on_a_handheld(page, live_server, login, floor, screenshot):
    from orders.services.edits import order_lines_cancel

    order = floor.order([("SHIRT", 3)])
    page.set_viewport_size({"width": 360, "height": 740})
    login("picker")
    page.goto(f"{live_server.url}/picking/")
    page.click(".tile form button[type=submit]")
    scan(page, "#pick-code", "A-03-2")
    page.fill("#pick-qty", "3")
    scan(page, "#pick-code", floor.shirt.ean)
    expect(page.locator(".pick-done")).to_be_visible()
    # customer service cancels two of the shirts already in the tote
    shirt = order.lines.get(sku="SHIRT")
    order_lines_cancel(order=Order.objects.get(pk=order.pk), quantities={shirt.pk: 2}, reason="client")

    page.reload()
    expect(page.locator(".put-back")).to_contain_text("Remettre 2 × SHIRT dans l'emplacement A-03-2")
    no_horizontal_scroll(page)
    box = page.locator(".put-back button").bounding_box()
    assert box is not None and box["height"] >= 44 and box["x"] + box["width"] <= 360
    screenshot("picking-handheld-put-back")
    with page.expect_response(lambda r: r.request.method == "POST"):
        page.click(".put-back button")
    expect(page.locator(".scan-card--ok")).to_contain_text("2 × SHIRT remis dans l'emplacement A-03-2.")
    expect(page.locator(".put-back")).to_have_count(0)
    no_horizontal_scroll(page)
    assert Preparation.objects.get(order=order).lines.get(sku="SHIRT").put_back == 0
