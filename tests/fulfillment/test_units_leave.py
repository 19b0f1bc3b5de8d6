"""Units that leave the stock in one set (``inventory.services.allocations_consume_many``): what a parcel
close, a 3PL's shipment and a store counter's collection go through."""

import pytest
from django.db import transaction

from inventory import services as inventory_services
from inventory.exceptions import InsufficientStock, InvalidQuantity
from inventory.models import Allocation, StockMovement
from inventory.services import Consumption


def _lines(order):
    return {line.sku: line for line in order.lines.all()}


def test_lines_leave_together_splitting_an_allocation_that_leaves_in_part(floor):
    # given: 3 mugs and a T-shirt reserved at Lyon
    order = floor.order([("MUG", 3), ("SHIRT", 1)])
    lines = _lines(order)
    mug_before, shirt_before = floor.level(floor.mug), floor.level(floor.shirt)
    # when: 2 of the mugs and the T-shirt leave
    consumed = inventory_services.allocations_consume_many(
        location_id=floor.lyon.pk,
        items=[
            Consumption(line_id=lines["MUG"].pk, quantity=2, product_id=floor.mug.pk),
            Consumption(line_id=lines["SHIRT"].pk, quantity=1, product_id=floor.shirt.pk),
        ],
        reference=order.number,
    )
    # then: the mugs' allocation split (1 still held, 2 consumed), the T-shirt's consumed whole
    assert sorted((a.product_id, a.quantity) for a in consumed) == sorted(
        [(floor.mug.pk, 2), (floor.shirt.pk, 1)]
    )
    held = Allocation.objects.filter(order=order, consumed_at__isnull=True)
    assert [(a.product_id, a.quantity) for a in held] == [(floor.mug.pk, 1)]
    mug, shirt = floor.level(floor.mug), floor.level(floor.shirt)
    assert (mug.on_hand, mug.reserved) == (mug_before.on_hand - 2, mug_before.reserved - 2)
    assert (shirt.on_hand, shirt.reserved) == (shirt_before.on_hand - 1, shirt_before.reserved - 1)
    movements = StockMovement.objects.filter(reason="shipment", reference=order.number)
    assert sorted((m.product_id, m.delta, m.on_hand_after) for m in movements) == sorted(
        [(floor.mug.pk, -2, mug.on_hand), (floor.shirt.pk, -1, shirt.on_hand)]
    )


@pytest.mark.parametrize("quantity", [0, -1, 1.5, True])
def test_a_quantity_that_is_not_a_whole_number_of_units_is_refused(floor, quantity):
    order = floor.order([("MUG", 1)])
    with pytest.raises(InvalidQuantity):
        inventory_services.allocations_consume_many(
            location_id=floor.lyon.pk,
            items=[Consumption(line_id=_lines(order)["MUG"].pk, quantity=quantity, product_id=floor.mug.pk)],
        )


def test_more_units_than_are_held_are_refused_and_nothing_is_written(floor):
    # given
    order = floor.order([("MUG", 1), ("SHIRT", 1)])
    lines = _lines(order)
    mug_before = floor.level(floor.mug)
    # when: the T-shirt's line asks for 2 while 1 is held (after the mug's, in the same call)
    with pytest.raises(InsufficientStock) as refused, transaction.atomic():
        inventory_services.allocations_consume_many(
            location_id=floor.lyon.pk,
            items=[
                Consumption(line_id=lines["MUG"].pk, quantity=1, product_id=floor.mug.pk),
                Consumption(line_id=lines["SHIRT"].pk, quantity=2, product_id=floor.shirt.pk),
            ],
        )
    # then: a clear refusal naming the line, and nothing left
    assert refused.value.code == "not_reserved"
    assert refused.value.details == {"order_line": lines["SHIRT"].pk, "reserved": 1, "extra": 1}
    assert not Allocation.objects.filter(order=order, consumed_at__isnull=False).exists()
    assert floor.level(floor.mug).on_hand == mug_before.on_hand
    assert not StockMovement.objects.filter(reason="shipment").exists()
