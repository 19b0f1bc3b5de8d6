import pytest
from playwright.sync_api import expect

from oms.roles import WAREHOUSE_STAFF
from tests.inventory.factories import LocationFactory
from tests.oms.factories import UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def picker(db):
    lyon = LocationFactory(code="lyon", name="Entrepôt Lyon Saint-Priest", kind="warehouse")
    LocationFactory(code="lille", name="Entrepôt Lille Lesquin", kind="warehouse")
    return UserFactory(username="picker", first_name="Wassim", role=WAREHOUSE_STAFF, locations=[lyon])


def test_warehouse_staff_logs_in_sees_dashboard_and_switches_to_english(
    page, live_server, login, picker, screenshot
):
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{live_server.url}/")
    expect(page.locator("h1")).to_have_text("Connexion au back-office")
    screenshot("login-desktop")

    login("picker")
    expect(page.locator("h1")).to_have_text("Tableau de bord")
    expect(page.get_by_text("Entrepôt Lyon Saint-Priest")).to_be_visible()
    expect(page.get_by_text("Entrepôt Lille Lesquin")).to_have_count(0)
    screenshot("dashboard-desktop-fr")

    page.select_option("#language", "en")
    expect(page.locator("h1")).to_have_text("Dashboard")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    screenshot("dashboard-desktop-en")


def test_handheld_menu_and_dashboard(page, live_server, login, picker, screenshot):
    page.set_viewport_size({"width": 360, "height": 740})
    login("picker")
    expect(page.locator("h1")).to_have_text("Tableau de bord")
    nav_link = page.locator(".nav--mobile a", has_text="Sites")
    expect(nav_link).to_be_hidden()
    screenshot("dashboard-handheld")
    page.click(".menu__toggle")
    # the floor's section is open first; the others fold (a short menu on a handheld)
    expect(page.locator(".nav--mobile .nav-section[open] > summary")).to_have_text("Opérations")
    page.click(".nav--mobile summary:has-text('Catalogue et stock')")
    expect(nav_link).to_be_visible()
    screenshot("dashboard-handheld-menu")
    nav_link.click()
    expect(page.locator("h1")).to_have_text("Sites")
    # no horizontal scrolling at 360 px
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
