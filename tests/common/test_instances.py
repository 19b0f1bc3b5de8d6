"""``common.instances.build`` gives the instance ``Model(**kwargs)`` gives, on the batch intake's models."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from common.instances import build
from inventory.models import Allocation
from orders.models import Order, OrderLine, OrderLocation, OrderStatus
from tests.inventory.factories import LocationFactory, ProductFactory
from tests.orders.factories import ChannelFactory, CustomerFactory

pytestmark = pytest.mark.django_db


def _random(model) -> set[str]:
    """The fields whose callable default draws a new random value (a token, a code) for each instance."""
    return {
        f.attname
        for f in model._meta.concrete_fields
        if f.has_default() and callable(f.default) and f.get_default() != f.get_default()
    }


def _same(a, b):
    assert type(a) is type(b)
    skip = {"_state"} | _random(type(a))
    assert a.__dict__.keys() == b.__dict__.keys()
    assert {k: v for k, v in a.__dict__.items() if k not in skip} == {
        k: v for k, v in b.__dict__.items() if k not in skip
    }
    for k, v in a.__dict__.items():
        if k != "_state":
            assert type(v) is type(b.__dict__[k]), k
    assert a._state.db == b._state.db
    assert a._state.adding == b._state.adding
    assert a._state.fields_cache == b._state.fields_cache


def test_built_instances_are_those_of_the_keyword_constructor():
    # given every kind of value the batch gives: related objects, ids, a property (pk), choices, a JSON
    # value, a list default (holds), decimals, dates, and fields left to their defaults
    channel, customer, location = ChannelFactory(), CustomerFactory(), LocationFactory()
    product = ProductFactory()
    now = timezone.now()
    order_kwargs = {
        "pk": 41,
        "number": "CMD-2026-000041",
        "channel": channel,
        "external_id": "SHOP-41",
        "customer": customer,
        "status": OrderStatus.ALLOCATED,
        "allow_preorder": False,
        "total_incl_vat": Decimal("39.80"),
        "shipping_fee": Decimal("0.00"),
        "promised_earliest": now.date(),
        "promised_latest": now.date() + timedelta(days=2),
        "planned_ship_date": None,
        "note": "",
        "delivery_mode": "store",
        "pickup_location": location,
        "ship_name": "Ana",
        "ship_latitude": Decimal("45.764043"),
        "relay_point": {"id": "FR-1", "nested": [1, None]},
        "holds": ["payment"],
        "payment_status": "pending",
    }

    # when / then
    fast, slow = build(Order, **order_kwargs), Order(**order_kwargs)
    _same(fast, slow)
    assert fast.pk == 41 and fast.channel is channel and fast.pickup_location_id == location.pk
    # constant defaults only are shared; a callable default is called for each instance
    _same(build(Order, number="x"), Order(number="x"))
    assert build(Order).tracking_token != build(Order).tracking_token
    line_kwargs = {
        "pk": 7,
        "order": fast,
        "line_no": 1,
        "product": product,
        "sku": product.sku,
        "name": product.name,
        "quantity": 2,
        "unit_price": Decimal("19.90"),
        "vat_rate": Decimal("20.0"),
        "components": [],
    }
    _same(build(OrderLine, **line_kwargs), OrderLine(**line_kwargs))
    location_kwargs = {
        "order": fast,
        "location_id": location.pk,
        "status": fast.status,
        "created_at": now,
        "service_id": None,
        "ship_by": now.date(),
    }
    _same(build(OrderLocation, **location_kwargs), OrderLocation(**location_kwargs))
    allocation_kwargs = {
        "order_id": 41,
        "line_id": 7,
        "product_id": product.pk,
        "location_id": location.pk,
        "quantity": 2,
        "kind": Allocation.Kind.STOCK,
        "incoming_id": None,
        "created_at": now,
    }
    _same(build(Allocation, **allocation_kwargs), Allocation(**allocation_kwargs))


def test_an_unknown_keyword_is_refused_as_django_refuses_it():
    with pytest.raises(TypeError):
        Order(no_such_field=1)
    with pytest.raises(TypeError):
        build(Order, no_such_field=1)


def test_the_init_signals_are_sent_when_someone_listens():
    from django.db.models.signals import post_init

    seen = []

    def receiver(sender, instance, **kwargs):
        seen.append((sender, instance.number))

    post_init.connect(receiver, sender=Order)
    try:
        build(Order, number="CMD-S-1")
    finally:
        post_init.disconnect(receiver, sender=Order)
    build(Order, number="CMD-S-2")
    assert seen == [(Order, "CMD-S-1")]
