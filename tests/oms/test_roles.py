"""Every back-office URL with each role: 200 or 403 exactly as the matrix says."""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from oms.roles import CUSTOMER_SERVICE, MANAGER, ROLE_NAMES, STORE_STAFF, WAREHOUSE_STAFF
from tests.fulfillment.factories import floor_matrix_objects
from tests.orders.factories import MATRIX_CUSTOMER, MATRIX_KEY_ID, MATRIX_ORDER, role_matrix_objects

ALL_STAFF = {WAREHOUSE_STAFF, STORE_STAFF, CUSTOMER_SERVICE, MANAGER}

# url name -> (kwargs, roles that get 200). Everyone else logged in gets 403; anonymous users are sent to
# the login page. A new back-office page must be added here (test_matrix_covers_every_page).
MATRIX = {
    "dashboard": ({}, ALL_STAFF),
    "inventory:location_list": ({}, ALL_STAFF),
    "inventory:location_create": ({}, {MANAGER}),
    "inventory:location_edit": ({"code": "lyon"}, {MANAGER}),
    "inventory:product_list": ({}, ALL_STAFF),
    "inventory:product_stock": ({"sku": "MATRIX-1"}, ALL_STAFF),
    "inventory:receive": ({}, {WAREHOUSE_STAFF, STORE_STAFF, MANAGER}),
    # The catalogue: everyone reads it, managers change it (product MATRIX-1 is 990001; import 990001).
    "inventory:catalogue": ({}, ALL_STAFF),
    "inventory:product_create": ({}, {MANAGER}),
    "inventory:product_edit": ({"pk": 990001}, {MANAGER}),
    # A product's kit page: everyone reads it (managers get the form to change it).
    "inventory:product_kit": ({"pk": 990001}, ALL_STAFF),
    "inventory:product_archive": ({"pk": 990001}, {MANAGER}),
    "inventory:catalogue_import": ({}, {MANAGER}),
    "inventory:catalogue_import_detail": ({"pk": 990001}, {MANAGER}),
    "inventory:catalogue_import_progress": ({"pk": 990001}, {MANAGER}),
    "inventory:adjust": ({}, {WAREHOUSE_STAFF, MANAGER}),
    "inventory:transfer_list": ({}, ALL_STAFF),
    "inventory:transfer_create": ({}, {WAREHOUSE_STAFF, MANAGER}),
    "inventory:incoming_create": ({}, {WAREHOUSE_STAFF, MANAGER}),
    # A purchase order arriving at lyon (inventory_matrix_objects): store staff may receive, but not there.
    "inventory:incoming_receive": ({"pk": 990001}, {WAREHOUSE_STAFF, MANAGER}),
    "inventory:incoming_cancel": ({"pk": 990001}, {WAREHOUSE_STAFF, MANAGER}),
    # Carrier network settings and the pickers' planning: managers only (network_matrix_objects).
    "shipping:service_list": ({}, {MANAGER}),
    "shipping:carrier_create": ({}, {MANAGER}),
    "shipping:carrier_edit": ({"pk": 990201}, {MANAGER}),
    "shipping:service_create": ({}, {MANAGER}),
    "shipping:service_edit": ({"pk": 990201}, {MANAGER}),
    "shipping:service_grids": ({"pk": 990201}, {MANAGER}),
    "shipping:rule_list": ({}, {MANAGER}),
    "shipping:rule_create": ({}, {MANAGER}),
    "shipping:rule_edit": ({"pk": 990201}, {MANAGER}),
    "shipping:rule_delete": ({"pk": 990201}, {MANAGER}),
    "shipping:webhook_list": ({}, {MANAGER}),
    "shipping:webhook_detail": ({"pk": 990201}, {MANAGER}),
    "shipping:account_list": ({}, {MANAGER}),
    "shipping:account_edit": ({"adapter": "fedex"}, {MANAGER}),
    "shipping:channel_returns": ({}, {MANAGER}),
    "shipping:branding": ({}, {MANAGER}),
    "shipping:branding_label": ({}, {MANAGER}),
    "fulfillment:slip_preview": ({}, {MANAGER}),
    "fulfillment:pick_list_preview": ({}, {MANAGER}),
    # The relay-point picker (a fragment of the order form): any staff.
    "shipping:relay_point_search": ({}, ALL_STAFF),
    "fulfillment:planning": ({}, {MANAGER}),
    "fulfillment:shift_create": ({}, {MANAGER}),
    "fulfillment:shift_edit": ({"pk": 990201}, {MANAGER}),
    "fulfillment:shift_delete": ({"pk": 990201}, {MANAGER}),
    "fulfillment:week_copy": ({}, {MANAGER}),
    "orders:order_list": ({}, ALL_STAFF),
    "orders:late_risk": ({}, ALL_STAFF),
    "orders:sourcing_whatif": ({}, {MANAGER}),
    "orders:order_detail": ({"number": MATRIX_ORDER}, ALL_STAFF),
    "orders:order_create": ({}, {CUSTOMER_SERVICE, MANAGER}),
    # The phone-order form's fragments: product suggestions, customer look-up, delivery options.
    "orders:order_products": ({}, {CUSTOMER_SERVICE, MANAGER}),
    "orders:order_customers": ({}, {CUSTOMER_SERVICE, MANAGER}),
    "orders:order_options": ({}, {CUSTOMER_SERVICE, MANAGER}),
    "orders:order_cancel": ({"number": MATRIX_ORDER}, {CUSTOMER_SERVICE, MANAGER}),
    "orders:order_edit": ({"number": MATRIX_ORDER}, {CUSTOMER_SERVICE, MANAGER}),
    "orders:order_lines_cancel": ({"number": MATRIX_ORDER}, {CUSTOMER_SERVICE, MANAGER}),
    # POST only: allowed roles get 405 on a GET.
    "orders:order_payment": ({"number": MATRIX_ORDER}, {CUSTOMER_SERVICE, MANAGER}, {"ok": 405}),
    "orders:order_hold": ({"number": MATRIX_ORDER}, {CUSTOMER_SERVICE, MANAGER}, {"ok": 405}),
    "orders:order_goodwill": ({"number": MATRIX_ORDER}, {CUSTOMER_SERVICE, MANAGER}, {"ok": 405}),
    # The customer's messages: customer service and managers (notification 990301 of MATRIX_ORDER, sent).
    "orders:notification_list": ({}, {CUSTOMER_SERVICE, MANAGER}),
    "orders:order_notifications": ({"number": MATRIX_ORDER}, {CUSTOMER_SERVICE, MANAGER}),
    "orders:notification_detail": ({"number": MATRIX_ORDER, "pk": 990301}, {CUSTOMER_SERVICE, MANAGER}),
    "orders:notification_preview": ({"number": MATRIX_ORDER, "pk": 990301}, {CUSTOMER_SERVICE, MANAGER}),
    "orders:notification_resend": ({"number": MATRIX_ORDER, "pk": 990301}, {CUSTOMER_SERVICE, MANAGER}),
    # The audit log: managers only (common.view_auditentry).
    "audit_log": ({}, {MANAGER}),
    "orders:channel_list": ({}, {MANAGER}),
    # The event log's consumers and their parked events: managers (replay and discard are POST only).
    "event_consumers": ({}, {MANAGER}),
    # Outbound webhooks and HubSpot: managers only (endpoint and delivery 990301). Actions are POST only.
    "integrations:webhook_list": ({}, {MANAGER}),
    "integrations:webhook_create": ({}, {MANAGER}),
    "integrations:webhook_detail": ({"pk": 990301}, {MANAGER}),
    "integrations:webhook_edit": ({"pk": 990301}, {MANAGER}),
    "integrations:webhook_action": ({"pk": 990301, "action": "test"}, {MANAGER}, {"ok": 405}),
    "integrations:delivery_detail": ({"pk": 990301}, {MANAGER}),
    "integrations:hubspot": ({}, {MANAGER}),
    "event_failure_action": ({"pk": 990401, "action": "replay"}, {MANAGER}, {"ok": 405}),
    # Settings that used to be Django admin only: return rules and reasons, reorder policies.
    "returns:return_settings": ({}, {MANAGER}),
    "returns:return_rule_edit": ({"code": "web"}, {MANAGER}),
    "returns:return_reason_create": ({}, {MANAGER}),
    "returns:return_reason_edit": ({"pk": 990301}, {MANAGER}),
    "reports:reorder_settings": ({}, {MANAGER}),
    "reports:reorder_policy_edit": ({"code": "lyon"}, {MANAGER}),
    "orders:channel_detail": ({"code": "web"}, {MANAGER}),
    "orders:api_key_create": ({"code": "web"}, {MANAGER}),
    "orders:api_key_revoke": ({"code": "web", "pk": MATRIX_KEY_ID}, {MANAGER}),
    # The warehouse floor (floor_matrix_objects): wave, preparation and parcel 990301 at lyon. Store staff may
    # pick (click & collect) but not at lyon: 404, as for any object outside one's locations. Actions are
    # POST only: allowed roles get 405 on a GET.
    "fulfillment:picking": ({}, {WAREHOUSE_STAFF, MANAGER}),
    "fulfillment:wave_release": ({}, {WAREHOUSE_STAFF, MANAGER}, {"ok": 405}),
    "fulfillment:wave_settings": ({}, {MANAGER}),
    "fulfillment:print_start": ({}, {WAREHOUSE_STAFF, MANAGER}, {"ok": 405}),
    "fulfillment:wave_pick": ({"pk": 990301}, {WAREHOUSE_STAFF, STORE_STAFF, MANAGER}, {STORE_STAFF: 404}),
    "fulfillment:wave_short": (
        {"pk": 990301},
        {WAREHOUSE_STAFF, STORE_STAFF, MANAGER},
        {"ok": 405, STORE_STAFF: 405},
    ),
    "fulfillment:wave_undo": (
        {"pk": 990301},
        {WAREHOUSE_STAFF, STORE_STAFF, MANAGER},
        {"ok": 405, STORE_STAFF: 405},
    ),
    "fulfillment:wave_put_back": (
        {"pk": 990301},
        {WAREHOUSE_STAFF, STORE_STAFF, MANAGER},
        {"ok": 405, STORE_STAFF: 405},
    ),
    "fulfillment:wave_pdf": ({"pk": 990301}, {WAREHOUSE_STAFF, STORE_STAFF, MANAGER}, {STORE_STAFF: 404}),
    "fulfillment:pack_station": ({}, {WAREHOUSE_STAFF, MANAGER}),
    "fulfillment:pack": ({"pk": 990301}, {WAREHOUSE_STAFF, MANAGER}),
    "fulfillment:pack_undo": ({"pk": 990301}, {WAREHOUSE_STAFF, MANAGER}, {"ok": 405}),
    "fulfillment:parcel_close": ({"pk": 990301}, {WAREHOUSE_STAFF, MANAGER}, {"ok": 405}),
    "fulfillment:slip_pdf": ({"pk": 990301}, {WAREHOUSE_STAFF, MANAGER}),
    # A print job of the manager's: its creator (and managers) only.
    "fulfillment:job": (
        {"pk": 990301},
        {MANAGER},
        {WAREHOUSE_STAFF: 404, STORE_STAFF: 404, CUSTOMER_SERVICE: 404},
    ),
    "fulfillment:job_download": (
        {"pk": 990301},
        {MANAGER},
        {WAREHOUSE_STAFF: 404, STORE_STAFF: 404, CUSTOMER_SERVICE: 404},
    ),
    # The outgoing dock (floor_matrix_objects: parcel and manifest 990301 at lyon, a PDF label).
    "dispatch:handover": ({}, {WAREHOUSE_STAFF, MANAGER}),
    "dispatch:manifest": ({"pk": 990301}, {WAREHOUSE_STAFF, MANAGER}),
    "dispatch:label": ({"pk": 990301, "fmt": "pdf"}, {WAREHOUSE_STAFF, MANAGER}),
    "dispatch:label_retry": ({"pk": 990301}, {WAREHOUSE_STAFF, MANAGER}, {"ok": 405}),
    # Labels printed together (outbound + return) and rate shopping (issue 20).
    "dispatch:labels": ({"pk": 990301, "fmt": "pdf"}, {WAREHOUSE_STAFF, MANAGER}),
    "dispatch:parcel_rates": ({"pk": 990301}, {WAREHOUSE_STAFF, MANAGER}),
    "dispatch:service_override": ({"pk": 990301}, {MANAGER, WAREHOUSE_STAFF}, {"ok": 405}),
    "dispatch:order_parcels": ({"number": MATRIX_ORDER}, ALL_STAFF),
    "orders:pickup_list": ({}, {STORE_STAFF, MANAGER}),
    "orders:pickup_order": ({"number": MATRIX_ORDER}, {STORE_STAFF, MANAGER}),
    "orders:pickup_action": (
        {"number": MATRIX_ORDER, "action": "ready"},
        {STORE_STAFF, MANAGER},
        {"ok": 405},
    ),
    # Channel connectors: managers only (connector_matrix_objects: delivery and import 990301 of web).
    "channels:connector": ({"code": "web"}, {MANAGER}),
    "channels:connector_sync": ({"code": "web"}, {MANAGER}),
    "channels:marketplace_reasons": ({"code": "web"}, {MANAGER}, {"ok": 405}),
    "channels:marketplace_send_replay": ({"code": "web", "pk": 990301}, {MANAGER}, {"ok": 405}),
    "channels:delivery_list": ({"code": "web"}, {MANAGER}),
    "channels:delivery_detail": ({"code": "web", "pk": 990301}, {MANAGER}),
    "channels:import": ({"code": "web"}, {MANAGER}),
    "channels:import_detail": ({"code": "web", "pk": 990301}, {MANAGER}),
    "channels:import_progress": ({"code": "web", "pk": 990301}, {MANAGER}),
    # Connector health and 3PL partners: managers (partner, snapshot 990301; the actions are POST only).
    "channels:connector_health": ({}, {MANAGER}),
    "fulfillment:partner_list": ({}, {MANAGER}),
    "fulfillment:partner_detail": ({"pk": 990301}, {MANAGER}),
    "fulfillment:snapshot_detail": ({"pk": 990301}, {MANAGER}),
    "fulfillment:partner_sync": ({"pk": 990301}, {MANAGER}, {"ok": 405}),
    "fulfillment:request_retry": ({"pk": 990301}, {MANAGER}, {"ok": 405}),
    "fulfillment:partner_shipment_replay": ({"pk": 990301}, {MANAGER}, {"ok": 405}),
    # Invoices (invoicing_matrix_objects: invoice and export 990301 of CMD-MATRIX-1, entity 990301).
    "invoicing:document_list": ({}, {CUSTOMER_SERVICE, MANAGER}),
    # The fragments of the order and customer pages.
    "invoicing:order_documents": ({"number": MATRIX_ORDER}, {CUSTOMER_SERVICE, MANAGER}),
    "invoicing:customer_documents": ({"pk": MATRIX_CUSTOMER}, {CUSTOMER_SERVICE, MANAGER}),
    "returns:customer_returns": ({"pk": MATRIX_CUSTOMER}, {CUSTOMER_SERVICE, MANAGER}),
    "returns:order_returns": ({"number": MATRIX_ORDER}, ALL_STAFF),
    "invoicing:document_detail": ({"pk": 990301}, {CUSTOMER_SERVICE, MANAGER}),
    "invoicing:document_file": ({"pk": 990301, "fmt": "pdf"}, {CUSTOMER_SERVICE, MANAGER}),
    "invoicing:document_send": ({"pk": 990301}, {CUSTOMER_SERVICE, MANAGER}),
    "invoicing:credit_note_create": ({"pk": 990301}, {CUSTOMER_SERVICE, MANAGER}),
    "invoicing:export_create": ({}, {MANAGER}),
    "invoicing:export_detail": ({"pk": 990301}, {MANAGER}),
    "invoicing:export_download": ({"pk": 990301, "fmt": "csv"}, {MANAGER}),
    "invoicing:settings": ({}, {MANAGER}),
    "invoicing:entity_create": ({}, {MANAGER}),
    "invoicing:entity_edit": ({"pk": 990301}, {MANAGER}),
    # E-invoicing (invoicing_matrix_objects: e-report 990301). Actions are POST only: 405 on a GET.
    "invoicing:document_transmit": ({"pk": 990301}, {MANAGER}, {"ok": 405}),
    "invoicing:sandbox_decision": ({"pk": 990301}, {MANAGER}, {"ok": 405}),
    "invoicing:payment_create": ({"pk": 990301}, {CUSTOMER_SERVICE, MANAGER}),
    "invoicing:einvoicing": ({}, {CUSTOMER_SERVICE, MANAGER}),
    "invoicing:ereport_detail": ({"pk": 990301}, {CUSTOMER_SERVICE, MANAGER}),
    "invoicing:order_invoicing": ({"number": MATRIX_ORDER}, {CUSTOMER_SERVICE, MANAGER}),
    "invoicing:entity_accounts": ({"pk": 990301}, {MANAGER}),
    # Returns (returns_matrix_objects): RET-MATRIX-1 comes back to store paris (accepted), RET-MATRIX-2 to
    # warehouse lyon by post with its label. Staff who receive see only returns coming to their locations.
    "returns:list": ({}, ALL_STAFF),
    "returns:detail": ({"number": "RET-MATRIX-1"}, ALL_STAFF, {WAREHOUSE_STAFF: 404}),
    "returns:receive": (
        {"number": "RET-MATRIX-1"},
        {WAREHOUSE_STAFF, STORE_STAFF, MANAGER},
        {WAREHOUSE_STAFF: 404},
    ),
    "returns:label": ({"number": "RET-MATRIX-2"}, ALL_STAFF, {STORE_STAFF: 404}),
    "returns:action": (
        {"number": "RET-MATRIX-1", "action": "accept"},
        {CUSTOMER_SERVICE, MANAGER},
        {"ok": 405},
    ),
    "returns:create": ({"number": MATRIX_ORDER}, {CUSTOMER_SERVICE, MANAGER}),
    # Customers (customer service and managers): MATRIX_ORDER's customer. Sending a link is POST only.
    "customers:list": ({}, {CUSTOMER_SERVICE, MANAGER}),
    "customers:detail": ({"pk": MATRIX_CUSTOMER}, {CUSTOMER_SERVICE, MANAGER}),
    "customers:account_link": ({"pk": MATRIX_CUSTOMER}, {CUSTOMER_SERVICE, MANAGER}, {"ok": 405}),
    "customers:export": ({"pk": MATRIX_CUSTOMER}, {CUSTOMER_SERVICE, MANAGER}),
    "customers:erase": ({"pk": MATRIX_CUSTOMER}, {CUSTOMER_SERVICE, MANAGER}),
    # Reports and the sales forecast: managers only (reports.view_reports).
    "reports:sales": ({}, {MANAGER}),
    "reports:delivery": ({}, {MANAGER}),
    "reports:fulfilment": ({}, {MANAGER}),
    "reports:returns": ({}, {MANAGER}),
    "reports:forecast": ({}, {MANAGER}),
    "reports:forecast_run": ({}, {MANAGER}),
    "reports:forecast_detail": ({"sku": "MATRIX-1"}, {MANAGER}),
    "reports:reorder": ({}, {MANAGER}),
}


@pytest.fixture(autouse=True)
def inventory_matrix_objects(request):
    """The objects the inventory pages of MATRIX show: product MATRIX-1 and purchase order 990001 to lyon."""
    if "role_users" not in request.fixturenames:
        return
    request.getfixturevalue("role_users")  # autouse fixtures run first: set the database up
    from datetime import date

    from inventory.models import IncomingStock, ProductImport
    from tests.inventory.factories import ProductFactory

    product = ProductFactory(pk=990001, sku="MATRIX-1")
    ProductImport.objects.create(
        pk=990001, file="imports/catalogue/matrix.csv", filename="matrix.csv", status="done"
    )
    IncomingStock.objects.create(
        pk=990001,
        product=product,
        location=request.getfixturevalue("warehouse"),
        quantity=5,
        expected_on=date(2030, 1, 1),
    )


@pytest.fixture(autouse=True)
def network_matrix_objects(request):
    """The objects the carrier and planning pages of MATRIX show: carrier, service, shipping rule, webhook
    call and shift 990201."""
    if "role_users" not in request.fixturenames:
        return
    request.getfixturevalue("role_users")  # autouse fixtures run first: set the database up
    from datetime import date, time

    from fulfillment.models import PickerShift
    from shipping.models import Carrier, CarrierService, CarrierWebhook, ShippingRule

    carrier = Carrier.objects.create(pk=990201, code="matrix", name="Matrix")
    CarrierWebhook.objects.create(
        pk=990201,
        carrier=carrier,
        payload='{"tracking_number": "X"',
        status="failed",
        error_code="malformed_payload",
    )
    service = CarrierService.objects.create(
        pk=990201, carrier=carrier, code="home", name="Home", delivery_mode="home", cutoff_time=time(16)
    )
    ShippingRule.objects.create(pk=990201, name="Matrix rule", service=service)
    PickerShift.objects.create(
        pk=990201,
        location=request.getfixturevalue("warehouse"),
        date=date(2026, 11, 23),
        start=time(6),
        end=time(13),
        pickers=2,
        capacity_lines=420,
    )


# Pages that are not back-office pages (public, auth; the REST API, named api-*, is checked by its own
# tests; Django admin has its own checks).
NOT_BACKOFFICE = {
    "healthz",
    "login",
    "logout",
    "password_change",
    "set_language",
    "javascript-catalog",
    "api-schema",
    "api-docs",
    "api-redoc",
    "webhook-shopify",
    "webhook-carrier",
    "webhook-woocommerce",
    # The customer portal's invoice fragment and downloads: by tracking token, no login (tests/invoicing).
    "invoicing:portal_documents",
    "invoicing:portal_document_pdf",
    # The platforms' signed webhooks (tests/invoicing/test_einvoicing.py).
    "invoicing:platform_webhook",
    # The customer's return request and its follow-up: by tracking token, no login (tests/returns).
    "returns:request",
    "returns:portal_detail",
    "returns:portal_label",
    # The customer's side (portal/): tracking pages by token, the account space by customer session
    # (tests/orders/test_portal*.py, tests/customers/test_account*.py).
    "portal:lookup",
    "portal:theme",
    "portal:track",
    "portal:account",
    "portal:account_signin",
    "portal:account_signout",
    "portal:account_link",
    "portal:account_addresses",
    "portal:account_address_create",
    "portal:account_address_edit",
    "portal:account_address_delete",
    "portal:account_address_default",
    "portal:account_preferences",
    "portal:account_password",
    "portal:account_data",
    "portal:account_export",
    "portal:account_delete",
    # The admin's sign-in redirects to the back office's (rate-limited) sign-in page.
    "admin_login",
}


def _names(resolver, prefix=""):
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            if pattern.app_name == "admin" or pattern.namespace == "admin":
                continue
            ns = f"{prefix}{pattern.namespace}:" if pattern.namespace else prefix
            yield from _names(pattern, ns)
        elif isinstance(pattern, URLPattern) and pattern.name:
            yield f"{prefix}{pattern.name}"


def test_matrix_covers_every_page():
    names = {n for n in _names(get_resolver()) if not n.startswith("api-")} - NOT_BACKOFFICE
    assert names - set(MATRIX) == set(), "add these pages to the role matrix"


def test_the_four_roles_exist_with_permissions(db):
    from django.contrib.auth.models import Group

    groups = {g.name: g for g in Group.objects.prefetch_related("permissions")}
    assert set(ROLE_NAMES) <= set(groups)
    for role in ROLE_NAMES:
        assert groups[role].permissions.filter(codename="access_backoffice").exists()
    assert groups[MANAGER].permissions.filter(codename="manage_settings").exists()
    assert not groups[WAREHOUSE_STAFF].permissions.filter(codename="manage_settings").exists()


@pytest.fixture
def matrix_objects(role_users, settings, tmp_path):
    """The objects the matrix's URLs name (order, channel, key, a message to the customer; the floor's wave,
    parcel and print job; invoice and export)."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    role_matrix_objects()
    floor_matrix_objects(manager=role_users[MANAGER])
    invoicing_matrix_objects()
    returns_matrix_objects()
    from integrations.models import WebhookDelivery, WebhookEndpoint

    endpoint = WebhookEndpoint.objects.create(
        pk=990301, url="https://crm.example.com/hook", secret="s" * 20, events=["order.created"]
    )
    WebhookDelivery.objects.create(
        pk=990301, endpoint=endpoint, event_type="webhook.test", payload={"id": "x", "data": {}}
    )
    from django.utils import timezone

    from customers.models import Notification
    from orders.models import Order

    order = Order.objects.get(number=MATRIX_ORDER)
    Notification.objects.create(
        pk=990301,
        customer=order.customer,
        order=order,
        kind="order_received",
        language="en",
        recipient=order.customer.email,
        subject="We have received your order",
        body_text="Text",
        body_html="<p>HTML</p>",
        dedup_key="matrix",
        status="sent",
        attempts=1,
        sent_at=timezone.now(),
    )


@pytest.fixture(autouse=True)
def connector_matrix_objects(request):
    """What the connector pages of MATRIX show: a failed delivery and a finished dry run of channel web."""
    if "matrix_objects" not in request.fixturenames:
        return
    request.getfixturevalue("matrix_objects")
    from channels.models import ImportJob, WebhookDelivery
    from orders.models import Channel

    channel = Channel.objects.get(code="web")
    WebhookDelivery.objects.create(
        pk=990301, channel=channel, delivery_id="matrix", topic="orders/create", payload="{}", status="failed"
    )
    ImportJob.objects.create(pk=990301, channel=channel, filename="matrix.csv", status="done")
    from django.utils import timezone

    from fulfillment.models import StockSnapshot, WarehousePartner
    from inventory.models import Location

    location = Location.objects.create(
        code="3pl-matrix",
        name="3PL",
        kind="outsourced",
        address_line1="1 rue",
        postcode="69003",
        city="Lyon",
        latitude=45.76,
        longitude=4.85,
    )
    partner = WarehousePartner.objects.create(
        pk=990301, location=location, name="3PL matrix", base_url="http://x.invalid"
    )
    StockSnapshot.objects.create(pk=990301, partner=partner, external_id="S", taken_at=timezone.now())


def returns_matrix_objects():
    """Returns RET-MATRIX-1 (to store paris, accepted) and RET-MATRIX-2 (by post to lyon, with its label) of
    CMD-MATRIX-1."""
    from django.core.files.base import ContentFile

    from inventory.models import Location
    from orders.models import Order
    from returns.models import Return, ReturnLine, ReturnReason

    order = Order.objects.get(number=MATRIX_ORDER)
    reason = ReturnReason.objects.get(code="wrong_size")
    ReturnReason.objects.create(pk=990301, code="matrix", label="Matrix")
    for number, method, code in (("RET-MATRIX-1", "store", "paris"), ("RET-MATRIX-2", "post", "lyon")):
        ret = Return(
            number=number,
            order=order,
            method=method,
            source="portal",
            status="label_sent",
            location=Location.objects.get(code=code),
        )
        if method == "post":
            ret.label_pdf.save("matrix-return.pdf", ContentFile(b"%PDF-1.7 matrix"), save=False)
        ret.save()
        ReturnLine.objects.create(ret=ret, order_line=order.lines.first(), quantity=1, reason=reason)


def invoicing_matrix_objects():
    """Legal entity, invoice and export 990301 (the invoice of CMD-MATRIX-1, its PDF and XML on disk)."""
    import datetime as dt
    from decimal import Decimal

    from django.core.files.base import ContentFile

    from invoicing.models import Invoice, InvoiceExport, InvoiceLine
    from orders.models import Order
    from tests.invoicing.factories import LegalEntityFactory

    entity = LegalEntityFactory(pk=990301)
    order = Order.objects.get(number=MATRIX_ORDER)
    today = dt.date(2026, 11, 25)
    invoice = Invoice(
        pk=990301,
        number="FA-2026-000001",
        series="FA",
        year=2026,
        sequence_number=1,
        legal_entity=entity,
        order=order,
        channel_id=order.channel_id,
        customer_id=order.customer_id,
        issue_date=today,
        delivery_date=today,
        due_date=today,
        buyer_name="Ana Roux",
        buyer_email="ana@example.fr",
        seller=entity.snapshot(),
        buyer={"name": "Ana Roux", "address": {"line1": "3 rue X", "postcode": "69003", "city": "Lyon"}},
        vat_breakdown=[{"rate": "20.0", "base": "20.75", "vat": "4.15", "gross": "24.90"}],
        total_excl_vat=Decimal("20.75"),
        total_vat=Decimal("4.15"),
        total_incl_vat=Decimal("24.90"),
        status=Invoice.Status.ISSUED,
    )
    invoice.pdf.save("matrix.pdf", ContentFile(b"%PDF-1.7 matrix"), save=False)
    invoice.xml.save("matrix.xml", ContentFile(b"<xml/>"), save=False)
    invoice.save()
    InvoiceLine.objects.create(
        document=invoice,
        position=1,
        order_line=order.lines.first(),
        description="Matrix",
        quantity=1,
        unit_price_incl_vat=Decimal("24.90"),
        unit_price_excl_vat=Decimal("20.75"),
        vat_rate=Decimal("20.0"),
        total_excl_vat=Decimal("20.75"),
        total_vat=Decimal("4.15"),
        total_incl_vat=Decimal("24.90"),
    )
    from invoicing.models import EReport

    EReport.objects.create(
        pk=990301,
        legal_entity=entity,
        kind="transactions",
        period_start=today,
        period_end=today,
        due_on=today,
    )
    export = InvoiceExport(pk=990301, date_from=today, date_to=today, status=InvoiceExport.Status.DONE)
    export.csv.save("matrix.csv", ContentFile(b"number\r\n"), save=False)
    export.save()


@pytest.mark.parametrize("url_name", sorted(MATRIX))
@pytest.mark.parametrize("role", [*ROLE_NAMES, None], ids=lambda r: r or "no-role")
def test_role_matrix(client, role_users, matrix_objects, url_name, role):
    kwargs, allowed, *rest = MATRIX[url_name]
    statuses = rest[0] if rest else {}
    client.force_login(role_users[role])
    response = client.get(reverse(url_name, kwargs=kwargs))
    if role in statuses:
        expected = statuses[role]
    else:
        expected = statuses.get("ok", 200) if role in allowed else 403
    assert response.status_code == expected


@pytest.mark.parametrize("url_name", sorted(MATRIX))
def test_anonymous_goes_to_login(client, role_users, url_name):
    kwargs = MATRIX[url_name][0]
    url = reverse(url_name, kwargs=kwargs)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={url}"


def test_navigation_shows_only_allowed_pages(client, role_users):
    client.force_login(role_users[WAREHOUSE_STAFF])
    html = client.get(reverse("dashboard")).content.decode()
    assert reverse("inventory:location_list") in html
    assert reverse("admin:index") not in html


@pytest.mark.parametrize("url_name", sorted(MATRIX))
def test_every_back_office_page_carries_the_content_security_policy(
    client, role_users, matrix_objects, url_name
):
    from csp.utils import build_policy

    from orders.views import EMAIL_PREVIEW_CSP
    from tests.oms.test_csp import POLICY, directives

    # the one page with a policy of its own: the email preview's frame (orders/views.py says why)
    expected = build_policy(config=EMAIL_PREVIEW_CSP) if url_name == "orders:notification_preview" else POLICY
    kwargs, allowed, *_ = MATRIX[url_name]
    client.force_login(role_users[MANAGER if MANAGER in allowed else sorted(allowed)[0]])
    response = client.get(reverse(url_name, kwargs=kwargs))
    if response.get("Content-Type") == "application/pdf":  # no policy on PDFs: common/csp.py says why
        assert "Content-Security-Policy" not in response
        return
    # pages, fragments, other downloads and redirects alike
    assert directives(response["Content-Security-Policy"]) == directives(expected), response.status_code
