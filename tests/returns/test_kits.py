"""A returned kit goes back on the shelf as its components (as it was ordered), restocked or written off."""

from decimal import Decimal

import pytest
from django.utils import timezone

from inventory.models import Allocation, KitComponent, StockMovement
from orders.models import OrderLine
from returns import services
from shipping.models import Shipment
from tests.inventory.factories import ProductFactory
from tests.orders.factories import OrderFactory

pytestmark = pytest.mark.django_db


def test_a_returned_kit_restocks_and_writes_off_its_components(world, django_capture_on_commit_callbacks):
    # given a delivered order of 2 kits DUO = 1 T-shirt + 2 mugs, shipped from lyon
    kit = ProductFactory(sku="DUO", price=Decimal("39.90"), vat_rate=Decimal("20.0"), ean="")
    KitComponent.objects.create(kit=kit, component=world.tshirt, quantity=1)
    KitComponent.objects.create(kit=kit, component=world.mug, quantity=2)
    order = OrderFactory(channel=world.channel, status="delivered", lines=[(kit, 2, world.lyon)])
    line = OrderLine.objects.get(order=order)
    OrderLine.objects.filter(pk=line.pk).update(
        components=[
            {"product_id": world.tshirt.pk, "sku": "TSHIRT", "name": "T-shirt", "quantity": 1},
            {"product_id": world.mug.pk, "sku": "MUG", "name": "Mug", "quantity": 2},
        ]
    )
    Allocation.objects.filter(line=line).delete()
    for product, units in ((world.tshirt, 2), (world.mug, 4)):
        Allocation.objects.create(
            order=order,
            line=line,
            product=product,
            location=world.lyon,
            quantity=units,
            consumed_at=world.delivered_at,
        )
    Shipment.objects.create(
        number=f"{order.number}-1",
        order=order,
        location=world.lyon,
        service=world.service,
        weight_g=1800,
        status="delivered",
        delivered_at=world.delivered_at,
    )
    assert services.shipped_units(order) == {line.pk: 2}  # whole kits, not 6 units
    before = (world.on_hand(world.tshirt), world.on_hand(world.mug))

    ret = services.return_request(
        order=order,
        lines=[services.LineRequest(order_line=line, quantity=2, reason=world.reasons["changed_mind"])],
        method="post",
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.return_accept(ret=ret)
    ret.refresh_from_db()
    # one kit back on the shelf, one damaged
    services.return_receive(ret=ret, location=world.lyon, results={ret.lines.get().pk: (1, 1)})

    assert (world.on_hand(world.tshirt), world.on_hand(world.mug)) == (before[0] + 1, before[1] + 2)
    movements = sorted(
        StockMovement.objects.filter(reference=ret.number).values_list(
            "product__sku", "delta", "reason", "reason_code"
        )
    )
    assert movements == [
        ("MUG", -2, "adjustment", "damaged"),
        ("MUG", 2, "return", ""),
        ("MUG", 2, "return", ""),
        ("TSHIRT", -1, "adjustment", "damaged"),
        ("TSHIRT", 1, "return", ""),
        ("TSHIRT", 1, "return", ""),
    ]
    assert not StockMovement.objects.filter(product=kit).exists()
    ret.refresh_from_db()
    assert ret.status == "received" and ret.received_at <= timezone.now()
