import pytest
from playwright.sync_api import expect

from fulfillment import services
from fulfillment.models import Box, Preparation
from tests.e2e.test_floor import scan, wave_steps
from tests.fulfillment.conftest import Floor

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def floor(db):
    return Floor()


def test_shots(page, live_server, login, floor, screenshot):
    import os
    tag = os.environ["SHOT_TAG"]
    Box.objects.create(code="m", name="M", length_mm=350, width_mm=250, height_mm=150, tare_g=220)
    floor.order([("MUG", 2), ("SHIRT", 1)])
    floor.order([("SHIRT", 1)])
    page.set_viewport_size({"width": 1280, "height": 900})
    login("picker")
    page.goto(f"{live_server.url}/picking/")
    page.click(".tile form button[type=submit]")
    expect(page.locator(".pick-step__bin")).to_contain_text("B-01-1")
    scan(page, "#pick-code", "B-01-1")
    scan(page, "#pick-code", floor.mug.ean)
    expect(page.locator(".scan-card--ok")).to_be_visible()
    page.wait_for_timeout(300)
    screenshot(f"floor21u-pick-{tag}", full_page=False)
    scan(page, "#pick-code", floor.mug.ean)
    scan(page, "#pick-code", "A-03-2")
    scan(page, "#pick-code", floor.shirt.ean)
    scan(page, "#pick-code", floor.shirt.ean)
    expect(page.locator(".pick-done")).to_be_visible()
    prep = Preparation.objects.order_by("pk").first()
    page.goto(f"{live_server.url}/packing/")
    scan(page, "#pack-code", prep.order_number)
    page.wait_for_url(f"**/packing/{prep.pk}/")
    scan(page, "#pack-code", floor.mug.ean)
    expect(page.locator(".scan-card--ok")).to_be_visible()
    page.wait_for_timeout(300)
    screenshot(f"floor21u-pack-{tag}", full_page=False)
    page.click(".close-parcel button[type=submit]")
    expect(page.locator(".scan-card--ok a")).to_be_visible()
    page.wait_for_timeout(300)
    screenshot(f"floor21u-closed-{tag}", full_page=False)
