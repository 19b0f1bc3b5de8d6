from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.utils import timezone

from inventory import services as inv
from inventory.exceptions import InsufficientStock, InvalidQuantity, OutOfStock
from inventory.models import IncomingStock, Product, StockLevel, StockMovement, validate_ean13
from inventory.selectors import availability

pytestmark = pytest.mark.django_db


@pytest.fixture
def product():
    return Product.objects.create(
        sku="A", name="A", ean="4006381333931", price=Decimal("9.90"), vat_rate=Decimal("5.5")
    )


def _level(product, location):
    level = StockLevel.objects.get(product=product, location=location)
    return level.on_hand, level.reserved


def test_ean13_check_digit():
    validate_ean13("4006381333931")
    with pytest.raises(ValidationError) as excinfo:
        validate_ean13("4006381333932")
    assert excinfo.value.code == "ean_check_digit"
    assert excinfo.value.params == {"digit": 1}
    with pytest.raises(ValidationError) as excinfo:
        validate_ean13("12345")
    assert excinfo.value.code == "ean_format"


def test_every_change_to_on_hand_writes_the_ledger(product, warehouse, other_warehouse):
    inv.stock_receive(product=product, location=warehouse, quantity=10, reference="BL-1")
    inv.stock_adjust(product=product, location=warehouse, delta=-2, reason_code="damaged", note="broken")
    inv.stock_reserve(product_id=product.pk, location_id=warehouse.pk, quantity=3)
    inv.stock_consume(product_id=product.pk, location_id=warehouse.pk, quantity=3, reference="CMD-1")
    transfer = inv.stock_transfer(
        product=product,
        from_location=warehouse,
        to_location=other_warehouse,
        quantity=4,
        expected_on=timezone.localdate() + timedelta(days=2),
    )
    inv.incoming_receive(incoming=transfer)

    assert _level(product, warehouse) == (1, 0)
    assert _level(product, other_warehouse) == (4, 0)
    assert list(StockMovement.objects.order_by("pk").values_list("reason", "delta", "on_hand_after")) == [
        ("receipt", 10, 10),
        ("adjustment", -2, 8),
        ("shipment", -3, 5),
        ("transfer_out", -4, 1),
        ("transfer_in", 4, 4),
    ]
    call_command("stock_audit")


def test_cannot_adjust_below_reserved(product, warehouse):
    inv.stock_receive(product=product, location=warehouse, quantity=5)
    inv.stock_reserve(product_id=product.pk, location_id=warehouse.pk, quantity=4)
    with pytest.raises(InsufficientStock):
        inv.stock_adjust(product=product, location=warehouse, delta=-2, reason_code="lost")
    assert _level(product, warehouse) == (5, 4)
    assert StockMovement.objects.count() == 1


def test_reserve_is_refused_beyond_free_stock(product, warehouse):
    inv.stock_receive(product=product, location=warehouse, quantity=2)
    inv.stock_reserve(product_id=product.pk, location_id=warehouse.pk, quantity=2)
    with pytest.raises(OutOfStock):
        inv.stock_reserve(product_id=product.pk, location_id=warehouse.pk, quantity=1)
    assert _level(product, warehouse) == (2, 2)


@pytest.mark.parametrize("quantity", [0, -1, 1.5, True])
def test_quantities_must_be_positive_integers(product, warehouse, quantity):
    with pytest.raises(InvalidQuantity):
        inv.stock_receive(product=product, location=warehouse, quantity=quantity)
    assert StockMovement.objects.count() == 0


def test_count_sets_on_hand(product, warehouse):
    inv.stock_receive(product=product, location=warehouse, quantity=5)
    inv.stock_count(product=product, location=warehouse, counted=3)
    assert _level(product, warehouse) == (3, 0)
    assert StockMovement.objects.first().reason_code == "count"


def test_movements_are_append_only(product, warehouse):
    movement = inv.stock_receive(product=product, location=warehouse, quantity=5)
    with pytest.raises(ValueError):
        movement.save()
    with pytest.raises(ValueError):
        movement.delete()


def test_availability_per_channel_locations(product, warehouse, other_warehouse, store):
    inv.stock_receive(product=product, location=warehouse, quantity=5)
    inv.stock_receive(product=product, location=other_warehouse, quantity=3)
    inv.stock_receive(product=product, location=store, quantity=100)
    inv.stock_reserve(product_id=product.pk, location_id=warehouse.pk, quantity=1)
    soon = timezone.localdate() + timedelta(days=3)
    inv.incoming_create(product=product, location=warehouse, quantity=7, expected_on=soon + timedelta(days=5))
    inv.incoming_create(product=product, location=other_warehouse, quantity=2, expected_on=soon)

    result = availability(
        skus=["A", "nope"], location_ids=[warehouse.pk, other_warehouse.pk], safety_buffer=2
    )

    assert set(result) == {"A"}
    assert result["A"].available == 5  # 4 + 3 - buffer 2
    assert result["A"].preorderable == 9
    assert result["A"].next_restock_on == soon
    assert availability(skus=["A"], location_ids=[warehouse.pk], safety_buffer=10)["A"].available == 0


def test_incoming_cannot_be_cancelled_while_promised(product, warehouse):
    incoming = inv.incoming_create(
        product=product, location=warehouse, quantity=5, expected_on=timezone.localdate()
    )
    inv.incoming_reserve(incoming_id=incoming.pk, quantity=2)
    with pytest.raises(InsufficientStock):
        inv.incoming_cancel(incoming=incoming)
    incoming.refresh_from_db()
    assert incoming.status == IncomingStock.Status.OPEN
