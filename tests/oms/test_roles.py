"""Every back-office URL with each role: 200 or 403 exactly as the matrix says."""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from oms.roles import CUSTOMER_SERVICE, MANAGER, ROLE_NAMES, STORE_STAFF, WAREHOUSE_STAFF
from tests.orders.factories import MATRIX_KEY_ID, MATRIX_ORDER, role_matrix_objects

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
    "orders:order_cancel": ({"number": MATRIX_ORDER}, {CUSTOMER_SERVICE, MANAGER}),
    "orders:channel_list": ({}, {MANAGER}),
    "orders:channel_detail": ({"code": "web"}, {MANAGER}),
    "orders:api_key_create": ({"code": "web"}, {MANAGER}),
    "orders:api_key_revoke": ({"code": "web", "pk": MATRIX_KEY_ID}, {MANAGER}),
    # Reports and the sales forecast: managers only (orders.view_reports).
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

    from inventory.models import IncomingStock
    from tests.inventory.factories import ProductFactory

    product = ProductFactory(sku="MATRIX-1")
    IncomingStock.objects.create(
        pk=990001,
        product=product,
        location=request.getfixturevalue("warehouse"),
        quantity=5,
        expected_on=date(2030, 1, 1),
    )


@pytest.fixture(autouse=True)
def network_matrix_objects(request):
    """The objects the carrier and planning pages of MATRIX show: carrier, service and shift 990201."""
    if "role_users" not in request.fixturenames:
        return
    request.getfixturevalue("role_users")  # autouse fixtures run first: set the database up
    from datetime import date, time

    from fulfillment.models import PickerShift
    from shipping.models import Carrier, CarrierService

    carrier = Carrier.objects.create(pk=990201, code="matrix", name="Matrix")
    CarrierService.objects.create(
        pk=990201, carrier=carrier, code="home", name="Home", delivery_mode="home", cutoff_time=time(16)
    )
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
def matrix_objects(role_users):
    """The objects the matrix's URLs name (order, channel, key)."""
    role_matrix_objects()


@pytest.mark.parametrize("url_name", sorted(MATRIX))
@pytest.mark.parametrize("role", [*ROLE_NAMES, None], ids=lambda r: r or "no-role")
def test_role_matrix(client, role_users, matrix_objects, url_name, role):
    kwargs, allowed = MATRIX[url_name]
    client.force_login(role_users[role])
    response = client.get(reverse(url_name, kwargs=kwargs))
    assert response.status_code == (200 if role in allowed else 403)


@pytest.mark.parametrize("url_name", sorted(MATRIX))
def test_anonymous_goes_to_login(client, role_users, url_name):
    kwargs, _ = MATRIX[url_name]
    url = reverse(url_name, kwargs=kwargs)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={url}"


def test_navigation_shows_only_allowed_pages(client, role_users):
    client.force_login(role_users[WAREHOUSE_STAFF])
    html = client.get(reverse("dashboard")).content.decode()
    assert reverse("inventory:location_list") in html
    assert reverse("admin:index") not in html
