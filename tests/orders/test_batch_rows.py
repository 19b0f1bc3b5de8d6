"""``orders/services/rows.py`` (the batch intake's rows as one JSON parameter) stores what ``bulk_create``
stores, value for value."""

from decimal import Decimal

import pytest
from django.utils import timezone

from orders.models import Order, OrderLine, OrderLocation, OrderStatus
from orders.services import rows
from tests.inventory.factories import LocationFactory, ProductFactory

from .factories import ChannelFactory, CustomerFactory

pytestmark = pytest.mark.django_db


def _order(channel, customer, number, **extra):
    return Order(
        number=number,
        channel=channel,
        external_id=number,
        customer=customer,
        status=OrderStatus.ALLOCATED,  # a choices member, not a plain str
        total_incl_vat=Decimal("39.80"),
        shipping_fee=Decimal("4.90"),
        shipping_vat_rate=Decimal("20.00"),
        promised_earliest=timezone.localdate(),
        ship_name="Ana Roux",
        ship_line1="3 rue X",
        ship_postcode="69003",
        ship_city="Lyon",
        ship_latitude=45.764043,  # a float for a decimal column: converted as Django does
        relay_point={"id": "069003", "latitude": "45.76", "nested": [1, "é", None]},
        **extra,
    )


def _stored(model, pk, skip=("id", "number", "external_id", "order_id")):
    values = model.objects.filter(pk=pk).values().get()
    return {k: v for k, v in values.items() if k not in skip}


def test_rows_store_what_bulk_create_stores():
    # given
    channel = ChannelFactory()
    customer = CustomerFactory()
    product, location = ProductFactory(), LocationFactory()
    now = timezone.now()
    [ids, line_ids] = rows.ids_next([(rows.serial(Order), 1), (rows.serial(OrderLine), 1)])
    fast = _order(channel, customer, "CMD-R-1", pk=ids[0])
    slow = _order(channel, customer, "CMD-R-2")
    fast_line = OrderLine(
        pk=line_ids[0],
        order=fast,
        line_no=1,
        product=product,
        sku=product.sku,
        name="Mug « Lyon »",
        quantity=2,
        unit_price=Decimal("19.90"),
        vat_rate=Decimal("20.00"),
        components=[{"product_id": product.pk, "sku": product.sku, "quantity": 1}],
    )

    # when
    rows.rows_write(Order, [rows.row(Order, fast, now=now)], [fast])
    rows.rows_write(OrderLine, [rows.row(OrderLine, fast_line, now=now)], [fast_line])
    fast_location = OrderLocation(order=fast, location=location, status=fast.status, created_at=now)
    rows.rows_write(OrderLocation, [rows.row(OrderLocation, fast_location, now=now)], [fast_location])
    Order.objects.bulk_create([slow])
    slow_line = OrderLine(
        **{f.attname: getattr(fast_line, f.attname) for f in OrderLine._meta.concrete_fields}
    )
    slow_line.pk, slow_line.order_id = None, slow.pk
    OrderLine.objects.bulk_create([slow_line])
    slow_location = OrderLocation(order=slow, location=location, status=slow.status, created_at=now)
    OrderLocation.objects.bulk_create([slow_location])

    # then
    assert fast.pk == ids[0] and not fast._state.adding
    assert fast.created_at == now
    assert fast_location.pk is not None  # left to the sequence, returned
    own = ("id", "number", "external_id", "created_at", "updated_at", "tracking_token", "pickup_code")
    assert _stored(Order, fast.pk, skip=own) == _stored(Order, slow.pk, skip=own)
    assert _stored(OrderLine, fast_line.pk) == _stored(OrderLine, slow_line.pk)
    assert _stored(OrderLocation, fast_location.pk) == _stored(OrderLocation, slow_location.pk)
    assert Order.objects.get(pk=fast.pk).ship_latitude == Decimal("45.764043")
