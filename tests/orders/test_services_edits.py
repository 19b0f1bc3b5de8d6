"""Order edits before picking and units cancelled before they ship, through the services: each kind of edit
re-sourced and re-reserved, recorded with its money difference, the customer told; every refusal leaves
nothing half-written; the stock audit stays clean."""

from decimal import Decimal

import pytest
from django.db.models import Sum
from django.utils import translation

from customers.models import Notification
from fulfillment.models import Preparation, PreparationLine
from inventory.exceptions import OutOfStock
from inventory.models import Allocation, StockLevel
from inventory.selectors import ledger_differences
from orders.exceptions import EditRefused, InvalidOrder, UnknownProduct
from orders.models import Order, OrderChange, OrderLine
from orders.selectors import reservation_differences
from orders.services import lifecycle
from orders.services.edits import EditInput, order_edit, order_lines_cancel
from orders.services.intake import LineInput
from tests.events import events_of
from tests.inventory.factories import LocationFactory, ProductFactory
from tests.orders.factories import ChannelFactory, place_order, stock

pytestmark = pytest.mark.django_db


def audit_clean():
    assert ledger_differences() == []
    assert reservation_differences() == []


def held(order) -> dict[str, int]:
    rows = (
        Allocation.objects.filter(order=order, consumed_at__isnull=True)
        .values("line__sku")
        .annotate(q=Sum("quantity"))
    )
    return {row["line__sku"]: row["q"] for row in rows}


def snapshot(order):
    """Everything an edit may touch, to prove a refused one changed nothing."""
    order = Order.objects.get(pk=order.pk)
    return (
        order.total_incl_vat,
        order.shipping_fee,
        order.delivery_mode,
        order.ship_postcode,
        order.status,
        sorted(OrderLine.objects.filter(order=order).values_list("line_no", "sku", "quantity")),
        sorted(Allocation.objects.filter(order=order).values_list("line__sku", "location__code", "quantity")),
        sorted(StockLevel.objects.values_list("product__sku", "location__code", "on_hand", "reserved")),
        OrderChange.objects.filter(order=order).count(),
    )


@pytest.fixture
def shop(db, store):
    lyon = LocationFactory(code="lyon", kind="warehouse", postcode="69007", city="Lyon")
    products = {
        "TEE-M": ProductFactory(sku="TEE-M", price=Decimal("20.00")),
        "TEE-L": ProductFactory(sku="TEE-L", price=Decimal("20.00")),
        "MUG": ProductFactory(sku="MUG", price=Decimal("8.50")),
    }
    for product in products.values():
        stock(product, lyon, 5)
    channel = ChannelFactory(code="web", locations=[lyon, store])
    return channel, lyon, products


def test_lower_a_quantity_releases_stock_and_records_the_difference(shop, django_capture_on_commit_callbacks):
    channel, _lyon, _products = shop
    order = place_order(channel=channel, lines=[("TEE-M", 3), ("MUG", 1)], shipping_fee=Decimal("4.90"))

    with django_capture_on_commit_callbacks(execute=True):
        change = order_edit(order=order, edit=EditInput(quantities={1: 1}))

    order.refresh_from_db()
    assert held(order) == {"TEE-M": 1, "MUG": 1}
    assert order.total_incl_vat == Decimal("20.00") + Decimal("8.50") + Decimal("4.90")
    assert (change.kind, change.total_before, change.difference) == (
        "edit",
        Decimal("73.40"),
        Decimal("-40.00"),
    )
    assert change.changes == [{"kind": "quantity", "line": 1, "sku": "TEE-M", "before": 3, "after": 1}]
    assert OrderLine.objects.get(order=order, line_no=1).quantity_cancelled == 2
    assert events_of(order, "order.edited").get().payload["difference"] == "-40.00"
    assert Notification.objects.filter(order=order, kind="order_changed").count() == 1
    prep = Preparation.objects.get(order_id=order.pk)
    assert sorted(prep.lines.values_list("sku", "quantity")) == [("MUG", 1), ("TEE-M", 1)]
    audit_clean()


def test_add_remove_and_replace_lines(shop):
    channel, _lyon, _products = shop
    order = place_order(channel=channel, lines=[("TEE-M", 2), ("MUG", 1)])

    order_edit(
        order=order,
        edit=EditInput(replace={1: "TEE-L"}, quantities={2: 0}, add=[LineInput(sku="MUG", quantity=2)]),
    )

    order.refresh_from_db()
    assert held(order) == {"TEE-L": 2, "MUG": 2}
    assert sorted(OrderLine.objects.filter(order=order).values_list("line_no", "sku", "quantity")) == [
        (1, "TEE-M", 0),
        (2, "MUG", 0),
        (3, "TEE-L", 2),
        (4, "MUG", 2),
    ]
    assert order.total_incl_vat == Decimal("57.00")
    audit_clean()


def test_change_address_and_mode_re_sources_and_re_promises(shop, store):
    channel, _lyon, _products = shop
    order = place_order(channel=channel, lines=[("TEE-M", 1)])

    order_edit(order=order, edit=EditInput(delivery={"mode": "store", "store": store.code}))
    order.refresh_from_db()
    assert (order.delivery_mode, order.pickup_location_id, order.ship_city) == ("store", store.pk, store.city)

    order_edit(
        order=order,
        edit=EditInput(
            delivery={
                "mode": "home",
                "address": {"line1": "1 quai Rambaud", "postcode": "69002", "city": "Lyon"},
            }
        ),
    )
    order.refresh_from_db()
    assert (order.delivery_mode, order.pickup_location_id, order.ship_line1) == (
        "home",
        None,
        "1 quai Rambaud",
    )
    change = OrderChange.objects.filter(order=order).first()  # newest first
    assert change.changes[0]["kind"] == "delivery" and change.changes[0]["fields"]["mode"]["after"] == "home"
    assert events_of(order, "order.sourced").count() == 3  # intake, then each edit
    audit_clean()


@pytest.mark.parametrize(
    ("edit", "error"),
    [
        (EditInput(quantities={1: 6}), OutOfStock),  # only 5 in stock
        (EditInput(add=[LineInput(sku="NOPE", quantity=1)]), UnknownProduct),
        (EditInput(quantities={1: 0, 2: 0}), EditRefused),  # nothing left: cancel instead
        (EditInput(quantities={9: 1}), InvalidOrder),
        (EditInput(delivery={"mode": "home", "address": {"line1": "x"}}), InvalidOrder),
    ],
)
def test_a_refused_edit_writes_nothing(shop, edit, error):
    channel, _lyon, _products = shop
    order = place_order(channel=channel, lines=[("TEE-M", 2), ("MUG", 1)])
    before = snapshot(order)
    events = events_of(order).count()

    with pytest.raises(error):
        order_edit(order=order, edit=edit)

    assert snapshot(order) == before
    assert events_of(order).count() == events
    audit_clean()


def test_after_picking_started_an_edit_is_refused_with_what_to_do(shop):
    channel, _lyon, _products = shop
    order = place_order(channel=channel, lines=[("TEE-M", 2)])
    lifecycle.order_start_preparation(order=order)
    before = snapshot(order)

    # The message is in the active language: English here, whatever another test left active.
    with translation.override("en"), pytest.raises(EditRefused) as refused:
        order_edit(order=order, edit=EditInput(quantities={1: 1}))

    assert "Cancel the units" in refused.value.message
    assert snapshot(order) == before


def test_cancel_units_releases_them_and_tells_the_picker_to_put_back_picked_ones(
    shop, django_capture_on_commit_callbacks
):
    channel, _lyon, _products = shop
    with django_capture_on_commit_callbacks(execute=True):
        order = place_order(channel=channel, lines=[("TEE-M", 3), ("MUG", 1)], shipping_fee=Decimal("5.00"))
    lifecycle.order_start_preparation(order=order)
    # two T-shirts already in the tote
    PreparationLine.objects.filter(preparation__order_id=order.pk, sku="TEE-M").update(picked=2)
    tee = OrderLine.objects.get(order=order, sku="TEE-M")

    with django_capture_on_commit_callbacks(execute=True):
        change = order_lines_cancel(order=order, quantities={tee.pk: 2}, reason="client")

    order.refresh_from_db()
    assert held(order) == {"TEE-M": 1, "MUG": 1}
    assert change.difference == Decimal("-40.00") and order.total_incl_vat == Decimal("33.50")
    line = PreparationLine.objects.get(preparation__order_id=order.pk, sku="TEE-M")
    assert (line.quantity, line.picked, line.put_back) == (1, 1, 1)
    assert events_of(order, "order.lines_cancelled").get().payload["amount"] == "40.00"
    audit_clean()


def test_cancelling_more_than_is_left_is_refused_and_every_unit_cancels_the_order(shop):
    channel, _lyon, _products = shop
    order = place_order(channel=channel, lines=[("MUG", 2)], shipping_fee=Decimal("5.00"))
    mug = OrderLine.objects.get(order=order)
    before = snapshot(order)

    with pytest.raises(EditRefused):
        order_lines_cancel(order=order, quantities={mug.pk: 3})
    assert snapshot(order) == before

    change = order_lines_cancel(order=order, quantities={mug.pk: 2})

    order.refresh_from_db()
    assert order.status == "cancelled" and held(order) == {}
    assert (change.total_after, change.difference) == (Decimal("0.00"), Decimal("-22.00"))
    audit_clean()
