"""The order detail page and cancellation from the back office."""

import datetime as dt

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import translation

from inventory import services as inventory_services
from inventory.models import Allocation, StockLevel
from oms.roles import CUSTOMER_SERVICE, MANAGER, STORE_STAFF, WAREHOUSE_STAFF
from orders.models import Order
from tests.events import events_of
from tests.inventory.factories import ProductFactory
from tests.orders.factories import ChannelFactory, place_order, stock


def detail(number):
    return reverse("orders:order_detail", kwargs={"number": number})


def cancel(number):
    return reverse("orders:order_cancel", kwargs={"number": number})


@pytest.fixture
def catalogue(db, warehouse, other_warehouse, store):
    tee, mug, cap = ProductFactory(sku="TEE"), ProductFactory(sku="MUG"), ProductFactory(sku="CAP")
    stock(tee, warehouse, 10)
    stock(mug, warehouse, 10)
    stock(mug, other_warehouse, 5)
    inventory_services.incoming_create(
        product=cap, location=other_warehouse, quantity=20, expected_on=dt.date(2030, 5, 4)
    )
    channel = ChannelFactory(code="web", name="Web", locations=[warehouse, other_warehouse, store])
    return {"channel": channel, "tee": tee, "mug": mug, "cap": cap}


@pytest.fixture
def order(catalogue, role_users):
    """Two lines from lyon and a pre-ordered line on incoming stock at lille."""
    return place_order(
        channel=catalogue["channel"],
        lines=[("TEE", 2), ("MUG", 1), ("CAP", 3)],
        allow_preorder=True,
        actor=role_users[CUSTOMER_SERVICE],
    )


def test_detail_shows_header_lines_allocations_and_timeline(client, role_users, order):
    client.force_login(role_users[MANAGER])
    with translation.override("en"):
        response = client.get(detail(order.number), HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert response.context["order"] == order
    lines = response.context["lines"]
    assert [(line.sku, line.quantity) for line in lines] == [("TEE", 2), ("MUG", 1), ("CAP", 3)]
    allocations = [[(a.location.code, a.quantity, a.kind) for a in line.allocations.all()] for line in lines]
    assert allocations == [[("lyon", 2, "stock")], [("lyon", 1, "stock")], [("lille", 3, "incoming")]]
    events = response.context["events"]
    assert [e.type for e in events] == [  # newest first
        "order.status_changed",
        "stock.reserved",
        "order.sourced",
        "order.created",
    ]
    assert events[0].actor == role_users[CUSTOMER_SERVICE]
    html = response.content.decode()
    assert 'data-status="awaiting_stock"' in html
    assert "ana@example.fr" in html
    assert "05/04/2030" in html  # the incoming expected date, in the reader's (English) format
    assert response.context["can_cancel"] is True
    assert cancel(order.number) in html


def test_detail_costs_a_fixed_number_of_queries(client, role_users, catalogue, django_assert_max_num_queries):
    client.force_login(role_users[MANAGER])
    small = place_order(channel=catalogue["channel"], lines=[("TEE", 1)])
    big = place_order(channel=catalogue["channel"], lines=[("TEE", 1), ("MUG", 1), ("MUG", 1), ("TEE", 2)])
    for number in (small.number, big.number):
        with django_assert_max_num_queries(12):
            assert client.get(detail(number)).status_code == 200


@pytest.mark.parametrize(
    ("role", "status"), [(WAREHOUSE_STAFF, 200), (STORE_STAFF, 404), (CUSTOMER_SERVICE, 200), (MANAGER, 200)]
)
def test_staff_open_only_orders_of_their_locations(client, role_users, order, role, status):
    # the order is served from lyon (the warehouse user's) and lille; the store user works at paris
    client.force_login(role_users[role])
    assert client.get(detail(order.number)).status_code == status


def test_warehouse_user_of_another_location_gets_404(client, role_users, catalogue, other_warehouse):
    from tests.oms.factories import UserFactory

    lille_only = place_order(
        channel=ChannelFactory(code="north", locations=[other_warehouse]), lines=[("MUG", 1)]
    )
    client.force_login(role_users[WAREHOUSE_STAFF])  # lyon
    assert client.get(detail(lille_only.number)).status_code == 404
    client.force_login(
        UserFactory(username="north-picker", role=WAREHOUSE_STAFF, locations=[other_warehouse])
    )
    assert client.get(detail(lille_only.number)).status_code == 200


def test_store_staff_see_pickups_at_their_store(client, role_users, catalogue, store):
    pickup = place_order(
        channel=catalogue["channel"], lines=[("TEE", 1)], delivery={"mode": "store", "store": "paris"}
    )
    client.force_login(role_users[STORE_STAFF])
    assert client.get(detail(pickup.number)).status_code == 200


def test_unknown_order_is_404(client, role_users, db):
    client.force_login(role_users[MANAGER])
    assert client.get(detail("CMD-1999-000001")).status_code == 404


def test_no_cancel_action_without_permission_or_when_shipped(client, role_users, order):
    client.force_login(role_users[WAREHOUSE_STAFF])
    response = client.get(detail(order.number))
    assert response.context["can_cancel"] is False
    assert cancel(order.number) not in response.content.decode()
    Order.objects.filter(pk=order.pk).update(status=Order.Status.SHIPPED)
    client.force_login(role_users[MANAGER])
    response = client.get(detail(order.number))
    assert response.context["can_cancel"] is False
    assert cancel(order.number) not in response.content.decode()


# --- Cancellation -----------------------------------------------------------------------------------


def test_cancel_page_spells_out_the_consequence(client, role_users, order):
    client.force_login(role_users[CUSTOMER_SERVICE])
    with translation.override("en"):
        response = client.get(cancel(order.number), HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert response.context["reservations"] == 3
    assert response.context["cancellable"] is True
    assert b'name="reason"' in response.content


def test_cancel_releases_reservations_and_writes_the_timeline(
    client, role_users, catalogue, order, warehouse
):
    user = role_users[CUSTOMER_SERVICE]
    client.force_login(user)
    assert StockLevel.objects.get(product=catalogue["tee"], location=warehouse).reserved == 2

    response = client.post(cancel(order.number), {"reason": "Customer called to cancel"})

    assert response.status_code == 302
    assert response["Location"] == detail(order.number)
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED
    assert order.cancel_reason == "Customer called to cancel"
    assert list(StockLevel.objects.filter(reserved__gt=0)) == []
    assert catalogue["cap"].incoming.get().reserved == 0
    assert not Allocation.objects.filter(line__order=order).exists()
    event = events_of(order, "order.status_changed").last()
    assert event.payload["to"] == "cancelled"
    assert event.payload["reason"] == "Customer called to cancel"
    assert events_of(order, "order.cancelled").get().payload["count"] == 3
    assert event.actor == user
    assert [m.level_tag for m in get_messages(response.wsgi_request)] == ["success"]


def test_cancel_needs_a_reason(client, role_users, order):
    client.force_login(role_users[CUSTOMER_SERVICE])
    response = client.post(cancel(order.number), {"reason": "   "})
    assert response.status_code == 400
    assert "reason" in response.context["form"].errors
    order.refresh_from_db()
    assert order.status == Order.Status.AWAITING_STOCK
    assert sorted(StockLevel.objects.filter(reserved__gt=0).values_list("product__sku", "reserved")) == [
        ("MUG", 1),
        ("TEE", 2),
    ]
    assert Allocation.objects.filter(line__order=order).count() == 3


def test_cancelling_twice_is_a_message_not_an_error(client, role_users, order):
    client.force_login(role_users[MANAGER])
    client.post(cancel(order.number), {"reason": "first"})
    events = events_of(order).count()
    response = client.post(cancel(order.number), {"reason": "second"})
    assert response.status_code == 302
    assert response["Location"] == detail(order.number)
    assert [m.level_tag for m in get_messages(response.wsgi_request)][-1] == "error"
    order.refresh_from_db()
    assert order.cancel_reason == "first"
    assert events_of(order).count() == events


def test_cancel_page_of_a_shipped_order_offers_no_form(client, role_users, order):
    Order.objects.filter(pk=order.pk).update(status=Order.Status.SHIPPED)
    client.force_login(role_users[MANAGER])
    response = client.get(cancel(order.number))
    assert response.status_code == 200
    assert response.context["cancellable"] is False
    assert b'name="reason"' not in response.content


def test_warehouse_staff_cannot_cancel(client, role_users, order):
    client.force_login(role_users[WAREHOUSE_STAFF])
    assert client.post(cancel(order.number), {"reason": "no"}).status_code == 403
    order.refresh_from_db()
    assert order.status == Order.Status.AWAITING_STOCK
