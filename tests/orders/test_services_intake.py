"""The intake service: all-or-nothing, location choice, pre-orders, arrival of replenishments, cancel."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from customers.models import Customer
from inventory import services as inv
from inventory.models import Allocation, IncomingStock, Product, StockLevel, StockMovement
from orders.exceptions import DuplicateOrder, InvalidOrder, InvalidTransition, UnknownLocation, UnknownProduct
from orders.models import Channel, ChannelLocation, Order, OrderStatus
from orders.services import lifecycle
from orders.services.intake import LineInput, OrderInput, order_create
from orders.timeline import order_timeline
from tests.events import events_of
from tests.inventory.factories import LocationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def network(warehouse, other_warehouse, store):
    channel = Channel.objects.create(code="web", name="Web")
    for priority, location in enumerate([warehouse, other_warehouse, store]):
        ChannelLocation.objects.create(channel=channel, location=location, priority=priority)
    products = {
        sku: Product.objects.create(sku=sku, name=sku, price=Decimal("10.00"), vat_rate=Decimal("20.0"))
        for sku in ("A", "B", "C")
    }
    return channel, products


def _order(external_id="X-1", lines=(("A", 1),), mode="home", allow_preorder=False, **delivery):
    if mode == "home":
        delivery = {"mode": "home", "address": {"line1": "3 rue X", "postcode": "69003", "city": "Lyon"}}
    elif mode == "store":
        delivery = {"mode": "store", **delivery}
    return OrderInput(
        external_id=external_id,
        customer={"email": "ana@example.fr", "first_name": "Ana"},
        delivery=delivery,
        lines=[LineInput(sku=sku, quantity=q) for sku, q in lines],
        allow_preorder=allow_preorder,
    )


def _allocs(order):
    return sorted(
        (a.line.sku, a.location.code, a.quantity, a.kind)
        for a in Allocation.objects.filter(line__order=order).select_related("line", "location")
    )


def _reserved(product, location):
    return StockLevel.objects.get(product=product, location=location).reserved


def test_prefers_one_location_that_serves_every_line(network, warehouse, other_warehouse):
    channel, p = network
    inv.stock_receive(product=p["A"], location=warehouse, quantity=5)
    inv.stock_receive(product=p["A"], location=other_warehouse, quantity=5)
    inv.stock_receive(product=p["B"], location=other_warehouse, quantity=5)

    order = order_create(channel=channel, data=_order(lines=[("A", 2), ("B", 1)]))

    assert order.status == OrderStatus.ALLOCATED
    assert _allocs(order) == [("A", "lille", 2, "stock"), ("B", "lille", 1, "stock")]
    assert _reserved(p["A"], other_warehouse) == 2
    assert _reserved(p["A"], warehouse) == 0
    assert order.total_incl_vat == Decimal("30.00")
    assert order.number.startswith(f"CMD-{timezone.localdate().year}-")
    assert list(events_of(order).values_list("code", flat=True)) == [
        "order.created",
        "order.sourced",
        "stock.reserved",
        "order.status_changed",
    ]


def test_splits_a_line_across_locations_in_channel_order(network, warehouse, other_warehouse):
    channel, p = network
    inv.stock_receive(product=p["A"], location=warehouse, quantity=2)
    inv.stock_receive(product=p["A"], location=other_warehouse, quantity=3)

    order = order_create(channel=channel, data=_order(lines=[("A", 4)]))

    assert _allocs(order) == [("A", "lille", 2, "stock"), ("A", "lyon", 2, "stock")]


def test_out_of_stock_writes_nothing(network, warehouse):
    channel, p = network
    inv.stock_receive(product=p["A"], location=warehouse, quantity=1)
    movements = StockMovement.objects.count()

    with pytest.raises(Exception) as excinfo:
        order_create(channel=channel, data=_order(lines=[("A", 1), ("B", 1)]))

    assert excinfo.value.code == "out_of_stock"
    assert excinfo.value.details["lines"] == [
        {"sku": "B", "requested": 1, "available": 0, "preorderable": 0, "next_restock_on": None}
    ]
    assert Order.objects.count() == 0
    assert Customer.objects.count() == 0
    assert _reserved(p["A"], warehouse) == 0
    assert StockMovement.objects.count() == movements


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (_order(lines=[("NOPE", 1)]), UnknownProduct),
        (_order(lines=[]), InvalidOrder),
        (_order(mode="store", store="nowhere"), UnknownLocation),
        (
            OrderInput(
                external_id="X",
                customer={"email": "a@b.fr"},
                delivery={"mode": "home", "address": {}},
                lines=[LineInput("A", 1)],
            ),
            InvalidOrder,
        ),
        (
            OrderInput(
                external_id="X",
                customer={"email": "a@b.fr"},
                delivery={"mode": "drone"},
                lines=[LineInput("A", 1)],
            ),
            InvalidOrder,
        ),
    ],
)
def test_invalid_orders_are_refused_and_write_nothing(network, warehouse, data, error):
    channel, p = network
    inv.stock_receive(product=p["A"], location=warehouse, quantity=5)
    with pytest.raises(error):
        order_create(channel=channel, data=data)
    assert Order.objects.count() == 0
    assert _reserved(p["A"], warehouse) == 0


def test_duplicate_external_id_is_refused(network, warehouse):
    channel, p = network
    inv.stock_receive(product=p["A"], location=warehouse, quantity=5)
    first = order_create(channel=channel, data=_order())
    with pytest.raises(DuplicateOrder) as excinfo:
        order_create(channel=channel, data=_order())
    assert excinfo.value.details["number"] == first.number
    assert _reserved(p["A"], warehouse) == 1


def test_store_pickup_takes_the_stores_stock_first(network, warehouse, store):
    channel, p = network
    inv.stock_receive(product=p["A"], location=warehouse, quantity=5)
    inv.stock_receive(product=p["A"], location=store, quantity=1)

    order = order_create(channel=channel, data=_order(mode="store", store="paris"))

    assert _allocs(order) == [("A", "paris", 1, "stock")]
    assert order.pickup_location == store
    assert order.ship_city == "Paris"


def test_preorder_then_arrivals_allocate_in_order_of_arrival(network, warehouse):
    channel, p = network
    inv.stock_receive(product=p["A"], location=warehouse, quantity=1)
    incoming = inv.incoming_create(
        product=p["A"], location=warehouse, quantity=5, expected_on=timezone.localdate() + timedelta(days=4)
    )
    first = order_create(channel=channel, data=_order("P-1", lines=[("A", 3)], allow_preorder=True))
    second = order_create(channel=channel, data=_order("P-2", lines=[("A", 2)], allow_preorder=True))
    assert first.status == second.status == OrderStatus.AWAITING_STOCK
    assert _allocs(first) == [("A", "lyon", 1, "stock"), ("A", "lyon", 2, "incoming")]
    incoming.refresh_from_db()
    assert incoming.reserved == 4

    # when: 3 of the 5 units arrive
    inv.incoming_receive(incoming=incoming, quantity=3)

    # then: the oldest order is served first, the next one partly
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == OrderStatus.ALLOCATED
    assert second.status == OrderStatus.AWAITING_STOCK
    assert _allocs(second) == [("A", "lyon", 1, "incoming"), ("A", "lyon", 1, "stock")]
    level = StockLevel.objects.get(product=p["A"], location=warehouse)
    assert (level.on_hand, level.reserved) == (4, 4)
    incoming.refresh_from_db()
    assert (incoming.quantity, incoming.reserved, incoming.status) == (2, 1, IncomingStock.Status.OPEN)

    inv.incoming_receive(incoming=incoming)
    second.refresh_from_db()
    assert second.status == OrderStatus.ALLOCATED
    call_command("stock_audit")


def test_without_preorder_incoming_stock_is_not_used(network, warehouse):
    channel, p = network
    inv.incoming_create(product=p["A"], location=warehouse, quantity=5, expected_on=timezone.localdate())
    with pytest.raises(Exception) as excinfo:
        order_create(channel=channel, data=_order(lines=[("A", 1)]))
    assert excinfo.value.code == "out_of_stock"
    assert excinfo.value.details["lines"][0]["preorderable"] == 5


def test_cancel_releases_every_reservation(network, warehouse):
    channel, p = network
    inv.stock_receive(product=p["A"], location=warehouse, quantity=1)
    incoming = inv.incoming_create(
        product=p["A"], location=warehouse, quantity=5, expected_on=timezone.localdate()
    )
    order = order_create(channel=channel, data=_order(lines=[("A", 3)], allow_preorder=True))

    lifecycle.order_cancel(order=order, reason="customer asked")

    order.refresh_from_db()
    incoming.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert _reserved(p["A"], warehouse) == 0
    assert incoming.reserved == 0
    assert not Allocation.objects.filter(line__order=order).exists()
    assert "customer asked" in order_timeline(order=order)[0].message
    with pytest.raises(InvalidTransition):
        lifecycle.order_cancel(order=order)


def test_transitions_follow_the_status_machine(network, warehouse):
    channel, p = network
    inv.stock_receive(product=p["A"], location=warehouse, quantity=1)
    order = order_create(channel=channel, data=_order())
    with pytest.raises(InvalidTransition):
        lifecycle.order_mark_delivered(order=order)
    lifecycle.order_start_preparation(order=order)
    lifecycle.order_mark_shipped(order=order)
    with pytest.raises(InvalidTransition):
        lifecycle.order_cancel(order=order)
    order.refresh_from_db()
    assert order.status == OrderStatus.SHIPPED


def test_customer_found_by_email_case_insensitively(network, warehouse):
    channel, p = network
    inv.stock_receive(product=p["A"], location=warehouse, quantity=5)
    order_create(channel=channel, data=_order("E-1"))
    data = _order("E-2")
    data.customer = {"email": "ANA@example.fr", "phone": "+33612345678"}
    order_create(channel=channel, data=data)
    assert Customer.objects.count() == 1
    assert Customer.objects.get().phone == "+33612345678"


def test_inactive_location_is_not_used(network, warehouse, other_warehouse):
    channel, p = network
    inv.stock_receive(product=p["A"], location=warehouse, quantity=5)
    warehouse.active = False
    warehouse.save()
    with pytest.raises(Exception) as excinfo:
        order_create(channel=channel, data=_order())
    assert excinfo.value.code == "out_of_stock"
    LocationFactory(code="spare")  # an unrelated location changes nothing
    assert Order.objects.count() == 0
