"""The pages work under the Content-Security-Policy (README "Content-Security-Policy"): on the demo data, each
role signs in and loads its main pages, a few htmx interactions run, the customer uses the portal, the
admin and the API docs load. Any CSP violation (the ``securitypolicyviolation`` event or a console
message), any uncaught script error and any failed htmx request fails the test, with the page it came
from."""

import io
import re

import pytest
from django.core.management import call_command
from django_celery_beat.models import CrontabSchedule
from playwright.sync_api import expect

from customers.accounts import account_set_password
from customers.models import Notification
from fulfillment import services as floor_services
from inventory.models import Location, Product, StaffProfile
from invoicing.models import Invoice
from orders.models import Channel, Order
from returns.models import Return
from shipping.models import CarrierService

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Runs in every page and frame before the page's own scripts: reports violations and htmx failures to
# Python (window.__report is bound by Playwright and survives navigations).
WATCH_SCRIPT = """
(() => {
  const report = (kind, text) => { if (window.__report) window.__report(kind, text); };
  document.addEventListener("securitypolicyviolation", (e) => report(
    "csp", `${e.effectiveDirective} refused ${e.blockedURI || "inline"} (${e.sourceFile}:${e.lineNumber})`));
  for (const name of ["htmx:responseError", "htmx:sendError", "htmx:swapError", "htmx:targetError",
                      "htmx:onLoadError", "htmx:evalDisallowedError", "htmx:syntax:error"]) {
    document.addEventListener(name, (e) => {
      const d = e.detail || {};
      const path = d.pathInfo ? d.pathInfo.requestPath : (d.requestConfig ? d.requestConfig.path : "");
      report("htmx", `${name} ${path} ${d.xhr ? d.xhr.status : ""}`.trim());
    });
  }
})();
"""


class Watch:
    """What went wrong, page by page."""

    def __init__(self, page, base_url):
        self.page = page
        self.base = base_url
        self.where = "(start)"
        self.problems: list[str] = []
        page.expose_function(
            "__report", lambda kind, text: self.problems.append(f"{self.where}: {kind}: {text}")
        )
        page.add_init_script(WATCH_SCRIPT)
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"{self.where}: script error: {error}"))

    def _console(self, message):
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            self.problems.append(f"{self.where}: console: {message.text}")

    def visit(self, path: str, status: int = 200, ready: str | None = None):
        """Load a page, check its status and its header; ``ready``: a selector that shows it has rendered."""
        self.where = path
        response = self.page.goto(f"{self.base}{path}")
        assert response is not None and response.status == status, f"{path}: {response and response.status}"
        assert "script-src 'self'" in response.headers.get("content-security-policy", ""), path
        if ready:
            expect(self.page.locator(ready).first).to_be_visible()
        self.page.wait_for_load_state("networkidle")

    def htmx(self, action, label: str):
        """Run an action that makes one htmx request and wait for its answer."""
        self.where = f"{self.where} [{label}]"
        with self.page.expect_response(lambda r: r.request.headers.get("hx-request") == "true"):
            action()
        self.page.wait_for_load_state("networkidle")
        self.page.wait_for_timeout(100)  # htmx settles the swap

    def sign_in(self, username: str, password: str, path: str = "/accounts/login/"):
        self.page.context.clear_cookies()
        self.visit(path)
        self.page.fill("#id_username", username)
        self.page.fill("#id_password", password)
        with self.page.expect_navigation():
            self.page.click("[type=submit]")
        assert "login" not in self.page.url, f"{username} could not sign in"


@pytest.fixture
def demo(settings, tmp_path):
    """The demo data (make run's): orders in every status, invoices, returns, messages, one user per role."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    call_command("seed_demo", stdout=io.StringIO())


@pytest.fixture
def watch(page, live_server):
    page.set_viewport_size({"width": 1280, "height": 900})
    return Watch(page, live_server.url)


def test_back_office_pages_run_under_the_policy(demo, watch, page):
    order = Order.objects.filter(notifications__isnull=False).order_by("number").first()
    message = Notification.objects.filter(order=order).exclude(body_html="").first()
    invoice = Invoice.objects.order_by("pk").first()
    ret = Return.objects.order_by("number").first()
    sku = Product.objects.order_by("sku").first().sku
    service = CarrierService.objects.order_by("pk").first()

    watch.sign_in("manager", "demo-manager-2026")
    watch.visit("/", ready=".tile, .figure, h1")

    # orders: the list with its htmx filter bar, an order with its htmx messages section, a message
    watch.visit("/orders/", ready="#order-results")
    watch.htmx(lambda: page.fill("#id_q", order.number), "search")
    expect(page.locator("#order-results")).to_contain_text(order.number)
    watch.visit(f"/orders/{order.number}/", ready="h1")
    expect(page.locator("#order-notifications")).to_be_visible()  # swapped in by htmx on load
    watch.visit(f"/orders/{order.number}/notifications/{message.pk}/", ready="iframe.email-preview")
    expect(page.frame_locator("iframe.email-preview").locator("body")).not_to_be_empty()
    watch.visit("/orders/late/")
    watch.visit("/notifications/")

    # a phone order: the relay-point picker (htmx search, then the choice) and more product rows
    watch.visit("/orders/new/", ready="form")
    page.check("input[name=delivery_mode][value=relay]")
    page.fill("#relay-search", "75004")
    page.evaluate("window.sameDocument = true")
    watch.htmx(lambda: page.press("#relay-search", "Enter"), "relay search")
    option = page.locator("#relay-results .relay-option").first
    expect(option).to_be_visible()
    watch.htmx(option.click, "relay choice")
    expect(page.locator("#relay-chosen")).not_to_be_empty()
    assert page.evaluate("window.sameDocument === true"), "Enter in the relay search submitted the order form"
    page.fill("#id_lines-0-code", sku)
    page.fill("#id_lines-0-quantity", "2")
    with page.expect_navigation():
        page.click("button[name=add_lines]")
    assert page.locator("table.table--entry tbody tr").count() == 1 + 5  # the line typed, five empty rows
    expect(page.locator("#id_lines-0-code")).to_have_value(sku)

    # stock, floor, dispatch, planning
    for path in (
        "/stock/",
        f"/stock/{sku}/",
        "/stock/adjust/",
        "/stock/transfers/",
        "/stock/transfers/new/",
        "/stock/incoming/new/",
        "/locations/",
        "/picking/",
        "/picking/settings/",
        "/packing/",
        "/pickup/",
        "/shipping/handover/",
        "/planning/",
    ):
        watch.visit(path, ready="h1")

    # settings
    for path in (
        "/settings/carriers/",
        f"/settings/carriers/services/{service.pk}/grids/",
        "/settings/carriers/rules/",
        "/settings/channels/",
        "/settings/channels/web/",
        "/settings/sourcing/",
        "/settings/invoicing/",
        "/accounts/password/",
    ):
        watch.visit(path, ready="h1")

    # invoices (htmx filter bar), reports with their SVG charts, returns
    watch.visit("/invoices/", ready="#document-results")
    watch.htmx(lambda: page.fill("#id_q", invoice.number), "search")
    expect(page.locator("#document-results")).to_contain_text(invoice.number)
    watch.visit(f"/invoices/{invoice.pk}/", ready="h1")
    watch.visit("/reports/", ready="svg.chart")
    for path in ("/reports/delivery/", "/reports/fulfilment/", "/reports/returns/", "/reports/reorder/"):
        watch.visit(path, ready="h1")
    watch.visit("/reports/forecast/", ready="h1")
    watch.visit(f"/reports/forecast/{sku}/", ready="h1")
    watch.visit("/returns/", ready="h1")
    watch.visit(f"/returns/{ret.number}/", ready="h1")
    watch.visit("/no-such-page/", status=404, ready="h1")

    # the language switch submits itself (a data attribute and our script, no inline handler)
    with page.expect_navigation():
        page.select_option("#language", "en")
    expect(page.locator("html")).to_have_attribute("lang", "en")

    # warehouse staff: the goods-receipt scan screen, a released wave's picking screen, the pack station
    watch.sign_in("warehouse", "demo-warehouse-2026")
    watch.visit("/stock/receive/", ready="#id_code")
    ean = Product.objects.exclude(ean="").order_by("sku").first().ean
    page.fill("#id_code", ean)
    watch.htmx(lambda: page.press("#id_code", "Enter"), "scan")
    expect(page.locator("#scan-feedback .scan-card")).to_be_visible()
    wave = floor_services.wave_release(location=Location.objects.get(code="lyon"))
    assert wave is not None, "the demo has orders to pick at Lyon"
    watch.visit(f"/picking/waves/{wave.pk}/", ready="#pick-code")
    page.fill("#pick-code", "NO-SUCH-BIN")
    watch.htmx(lambda: page.press("#pick-code", "Enter"), "scan")  # refused: a 422 that still swaps
    expect(page.locator(".scan-card--refused")).to_be_visible()
    watch.visit("/packing/", ready="#pack-code")
    page.fill("#pack-code", "NO-SUCH-TOTE")
    watch.htmx(lambda: page.press("#pack-code", "Enter"), "scan")
    expect(page.locator(".scan-card--refused")).to_be_visible()
    watch.visit("/settings/channels/", status=403, ready="h1")  # the 403 page

    # store staff: click & collect
    watch.sign_in("store", "demo-store-2026")
    pickup = Order.objects.filter(pickup_location__code="paris-marais").order_by("number").first()
    watch.visit("/pickup/", ready="h1")
    watch.visit(f"/pickup/{pickup.number}/", ready="h1")

    assert watch.problems == []

    # and the watch does see a violation: a style attribute written into the page is refused and reported
    page.evaluate(
        "document.querySelector('main').insertAdjacentHTML('beforeend', '<p style=\"color:red\">x</p>')"
    )
    page.wait_for_timeout(200)
    assert any("csp: style-src-attr refused inline" in problem for problem in watch.problems), watch.problems
    assert any("console: Applying inline style violates" in problem for problem in watch.problems)


def test_portal_admin_and_api_docs_run_under_the_policy(demo, watch, page, settings):
    settings.MERCHANT_COLOR = "#aa3300"
    order = (
        Order.objects.filter(status=Order.Status.DELIVERED, invoicing_documents__isnull=False)
        .order_by("-created_at")
        .first()
    )
    customer = order.customer
    account_set_password(customer=customer, password="Mot-de-passe-2026!")

    # the customer: lookup, the tracking page and its invoices fragment (htmx on load), a return request
    watch.visit("/track/", ready="form")
    page.fill("#id_number", "CMD-0000-000000")
    page.fill("#id_email", "nobody@example.fr")
    with page.expect_navigation():
        page.click("form [type=submit]")
    watch.visit(order.tracking_path, ready="h1")
    invoices = page.locator(f"a[href*='{order.tracking_path}invoices/']")
    expect(invoices.first).to_be_visible()  # the fragment has arrived
    computed = page.evaluate("getComputedStyle(document.querySelector('.p-header')).backgroundColor")
    assert computed == "rgb(170, 51, 0)"  # the merchant's colour, from /track/theme.css
    watch.visit(f"{order.tracking_path}returns/new/", ready="form")
    watch.visit("/track/not-a-token/", status=404)

    # the customer's account
    watch.visit("/account/signin/", ready="form")
    page.fill("form:has(input[value=password]) #id_email", customer.email)
    page.fill("form:has(input[value=password]) #id_password", "Mot-de-passe-2026!")
    with page.expect_navigation():
        page.click("form:has(input[value=password]) [type=submit]")
    for path in (
        "/account/",
        "/account/addresses/",
        "/account/addresses/new/",
        "/account/preferences/",
        "/account/password/",
        "/account/data/",
    ):
        watch.visit(path, ready="h1")

    # Django admin: index, a list, a change form, and the periodic task form's script (moved to a file)
    watch.sign_in("admin", "demo-admin-2026", path="/admin/login/")
    watch.visit("/admin/", ready="#content")
    watch.visit("/admin/orders/order/", ready="#result_list")
    watch.visit(f"/admin/orders/order/{order.pk}/change/", ready="form")
    # select2 autocomplete (the channel's locations) and the two-list selector (a staff profile's locations)
    watch.visit(f"/admin/orders/channel/{Channel.objects.get(code='web').pk}/change/", ready="form")
    page.locator(".select2-selection").first.click()
    # typed into select2's search field once it has the focus (typed at once after the click, the letters
    # could reach the page before the field: the options stayed those of the empty search)
    with page.expect_response(lambda r: "/admin/autocomplete/" in r.url and "term=ly" in r.url):
        page.locator(".select2-search__field:focus").press_sequentially("ly")
    expect(page.locator(".select2-results__option").first).to_contain_text("Lyon")
    profile = StaffProfile.objects.get(user__username="warehouse")
    watch.visit(f"/admin/inventory/staffprofile/{profile.pk}/change/", ready=".selector")
    page.locator(".selector-chooseall").first.click()
    crontab = CrontabSchedule.objects.create(minute="30", hour="2")
    watch.visit("/admin/django_celery_beat/periodictask/add/", ready="form")
    page.select_option("#id_crontab", str(crontab.pk))
    expect(page.locator(".field-crontab .help").first).to_contain_text("Translation:")

    # the API docs, served offline
    watch.visit("/api/v1/docs/", ready=".swagger-ui .opblock")
    watch.visit("/api/v1/redoc/", ready="[role=search], h1")
    expect(page.locator("h1").first).to_contain_text(re.compile("OMS"))

    assert watch.problems == []
