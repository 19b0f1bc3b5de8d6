"""A kit from order to shelf: it reserves its components, pickers pick and packers scan the components, the
parcel and the invoice count whole kits, cancelling or returning it puts its components back."""

from decimal import Decimal

import pytest
from django.utils import translation

from fulfillment import services
from fulfillment.models import Preparation, PreparationStatus
from inventory import services as inventory_services
from inventory.exceptions import KitRefused, OutOfStock
from inventory.models import Allocation, StockMovement
from inventory.selectors import availability
from invoicing.services.issue import shipped_quantities
from orders.models import Order
from orders.services import fulfilment as order_fulfilment
from orders.services.lifecycle import order_cancel
from orders.services.sourcing import channel_location_ids
from shipping.models import Shipment
from tests.fulfillment.test_flow import pick_all
from tests.inventory.factories import ProductFactory
from tests.orders.factories import stock

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture
def gift(floor):
    """GIFT = 1 mug + 2 caps, sold 29.90."""
    kit = ProductFactory(sku="GIFT", name="Coffret cadeau", price=Decimal("29.90"), weight_g=0, ean="")
    inventory_services.kit_set_components(kit=kit, components=[(floor.mug, 1), (floor.cap, 2)])
    kit.refresh_from_db()
    return kit


def _held(order):
    return sorted(
        Allocation.objects.filter(order=order).values_list(
            "line__sku", "product__sku", "location__code", "quantity"
        )
    )


def _available(floor, sku):
    return availability(skus=[sku], location_ids=channel_location_ids(channel=floor.channel))[sku].available


def test_ordering_a_kit_reserves_its_components_and_lowers_every_availability(floor, gift):
    # given 20 mugs and 20 caps at lyon: 10 kits (caps limit)
    assert _available(floor, "GIFT") == 10

    order = floor.order([("GIFT", 3), ("CAP", 1)])

    assert order.status == Order.Status.ALLOCATED
    assert _held(order) == [
        ("CAP", "CAP", "lyon", 1),
        ("GIFT", "CAP", "lyon", 6),
        ("GIFT", "MUG", "lyon", 3),
    ]
    assert (floor.level(floor.cap).reserved, floor.level(floor.mug).reserved) == (7, 3)
    assert floor.level(floor.cap).on_hand == 20  # nothing left the shelf yet
    assert _available(floor, "GIFT") == 6  # 13 caps left
    assert _available(floor, "CAP") == 13
    line = order.lines.get(sku="GIFT")
    assert (line.name, line.unit_price, line.quantity) == ("Coffret cadeau", Decimal("29.90"), 3)
    assert line.components == [
        {"product_id": floor.cap.pk, "sku": "CAP", "name": "Casquette", "quantity": 2},
        {"product_id": floor.mug.pk, "sku": "MUG", "name": "Mug", "quantity": 1},
    ]


def test_a_kit_is_refused_when_its_components_run_short_and_nothing_is_written(floor, gift):
    movements = StockMovement.objects.count()
    with pytest.raises(OutOfStock) as exc:
        floor.order([("GIFT", 11)])
    assert exc.value.details["lines"] == [
        {"sku": "GIFT", "requested": 11, "available": 10, "preorderable": 0, "next_restock_on": None}
    ]
    assert not Order.objects.exists() and not Allocation.objects.exists()
    assert (floor.level(floor.cap).reserved, floor.level(floor.mug).reserved) == (0, 0)
    assert StockMovement.objects.count() == movements


def test_a_kit_ships_whole_from_one_location(floor, gift):
    # paris has the caps but no mug, lyon has one kit left: 1 + 0 kits, not 1 + "caps from paris"
    inventory_services.stock_adjust(product=floor.cap, location=floor.lyon, delta=-18, reason_code="count")
    stock(floor.cap, floor.paris, 10)
    assert _available(floor, "GIFT") == 1
    with pytest.raises(OutOfStock):
        floor.order([("GIFT", 2)])
    stock(floor.mug, floor.paris, 1)
    assert _available(floor, "GIFT") == 2

    order = floor.order([("GIFT", 2)])

    assert _held(order) == [
        ("GIFT", "CAP", "lyon", 2),
        ("GIFT", "CAP", "paris", 2),
        ("GIFT", "MUG", "lyon", 1),
        ("GIFT", "MUG", "paris", 1),
    ]


def test_pickers_pick_and_packers_scan_the_components_then_whole_kits_ship(floor, gift):
    order = floor.order([("GIFT", 2), ("SHIRT", 1)])
    prep = Preparation.objects.get(order=order)
    assert sorted(
        (line.sku, line.quantity, line.bin_code, line.kit_sku, line.per_kit) for line in prep.lines.all()
    ) == [
        ("CAP", 4, "A-01-1", "GIFT", 2),
        ("MUG", 2, "B-01-1", "GIFT", 1),
        ("SHIRT", 1, "A-03-2", "", 0),
    ]
    wave = services.wave_release(location=floor.lyon)
    pick_all(wave, floor.picker)
    prep.refresh_from_db()
    assert prep.status == PreparationStatus.TO_PACK
    with pytest.raises(services.PackRefused) as exc:
        services.pack_scan(preparation=prep, code="GIFT", actor=floor.picker)
    assert exc.value.code == "not_in_order"  # the kit has no barcode of its own: its components do

    # first parcel: one whole kit and one cap of the second
    for code in (floor.mug.ean, floor.cap.ean, floor.cap.ean, floor.cap.ean):
        services.pack_scan(preparation=prep, code=code, actor=floor.picker)
    first = services.parcel_close(preparation=prep, box=None, weight_g=None, actor=floor.picker)
    assert sorted(first.lines.values_list("sku", "quantity")) == [("CAP", 3), ("MUG", 1)]
    assert first.weight_g == 400 + 3 * 100
    assert (floor.level(floor.cap).on_hand, floor.level(floor.cap).reserved) == (17, 1)
    Shipment.objects.filter(pk=first.pk).update(status=Shipment.Status.HANDED_OVER)
    # one whole kit left: the invoice (issued on shipment) counts one kit, not four units
    assert shipped_quantities(order_id=order.pk)[0] == {order.lines.get(sku="GIFT").pk: 1}
    order_fulfilment.preparation_started(order_id=order.pk)
    order_fulfilment.parcels_handed_over(order_id=order.pk)
    order.refresh_from_db()
    assert order.status == Order.Status.PARTIALLY_SHIPPED

    for code in (floor.mug.ean, floor.cap.ean, floor.shirt.ean):
        services.pack_scan(preparation=prep, code=code, actor=floor.picker)
    second = services.parcel_close(preparation=prep, box=None, weight_g=700, actor=floor.picker)
    Shipment.objects.filter(pk=second.pk).update(status=Shipment.Status.HANDED_OVER)
    order_fulfilment.parcels_handed_over(order_id=order.pk)
    order.refresh_from_db()
    assert order.status == Order.Status.SHIPPED
    lines = {line.sku: line.pk for line in order.lines.all()}
    assert shipped_quantities(order_id=order.pk)[0] == {lines["GIFT"]: 2, lines["SHIRT"]: 1}
    assert (floor.level(floor.cap).on_hand, floor.level(floor.cap).reserved) == (16, 0)
    assert (floor.level(floor.mug).on_hand, floor.level(floor.mug).reserved) == (18, 0)


def test_cancelling_a_kit_releases_and_puts_back_its_components(floor, gift):
    order = floor.order([("GIFT", 2)])
    prep = Preparation.objects.get(order=order)
    wave = services.wave_release(location=floor.lyon)
    pick_all(wave, floor.picker)
    for code in (floor.mug.ean, floor.cap.ean, floor.cap.ean):
        services.pack_scan(preparation=prep, code=code, actor=floor.picker)
    services.parcel_close(preparation=prep, box=None, weight_g=650, actor=floor.picker)
    assert (floor.level(floor.cap).on_hand, floor.level(floor.cap).reserved) == (18, 2)

    order_cancel(order=order, reason="customer changed mind")

    assert (floor.level(floor.cap).on_hand, floor.level(floor.cap).reserved) == (20, 0)
    assert (floor.level(floor.mug).on_hand, floor.level(floor.mug).reserved) == (20, 0)
    assert not Allocation.objects.filter(order=order).exists()
    assert _available(floor, "GIFT") == 10


def test_a_kit_collected_at_the_store_counter_consumes_its_components(floor, gift):
    stock(floor.mug, floor.paris, 1)
    stock(floor.cap, floor.paris, 2)
    order = floor.order([("GIFT", 1)], delivery={"mode": "store", "store": "paris"})
    prep = Preparation.objects.get(order=order)
    assert prep.location == floor.paris
    wave = services.wave_pick_single(preparation=prep, actor=floor.seller)
    pick_all(wave, floor.seller)
    prep.refresh_from_db()
    services.pickup_mark_ready(preparation=prep, actor=floor.seller)
    order_fulfilment.pickup_ready(order_id=order.pk, location_id=floor.paris.pk)
    order.refresh_from_db()
    order_fulfilment.order_hand_over(
        order=order, location=floor.paris, code=order.pickup_code, actor=floor.seller
    )
    order.refresh_from_db()
    assert order.status == Order.Status.DELIVERED
    assert floor.level(floor.cap, floor.paris).on_hand == 0
    assert floor.level(floor.mug, floor.paris).on_hand == 0
    assert not Allocation.objects.filter(order=order, consumed_at__isnull=True).exists()


def test_a_short_component_is_sourced_again_alone(floor, gift):
    stock(floor.cap, floor.paris, 5)
    order = floor.order([("GIFT", 1)])
    wave = services.wave_release(location=floor.lyon)
    services.pick_short(wave=wave, product_id=floor.cap.pk, quantity=1, reason="damaged", actor=floor.picker)
    assert _held(order) == [
        ("GIFT", "CAP", "lyon", 1),
        ("GIFT", "CAP", "paris", 1),
        ("GIFT", "MUG", "lyon", 1),
    ]
    paris = Preparation.objects.get(order=order, location=floor.paris)
    assert [(line.sku, line.quantity, line.kit_sku) for line in paris.lines.all()] == [("CAP", 1, "GIFT")]


def test_kits_have_no_stock_of_their_own(floor, gift):
    with pytest.raises(KitRefused) as exc:
        inventory_services.stock_receive(product=gift, location=floor.lyon, quantity=1)
    assert exc.value.code == "kit_has_no_stock"
    assert not StockMovement.objects.filter(product=gift).exists()


def test_kit_composition_refusals(floor, gift):
    other = ProductFactory(sku="DUO")
    with pytest.raises(KitRefused):  # a kit inside a kit
        inventory_services.kit_set_components(kit=other, components=[(gift, 1)])
    with pytest.raises(KitRefused):  # a component becoming a kit
        inventory_services.kit_set_components(kit=floor.cap, components=[(floor.shirt, 1)])
    with pytest.raises(KitRefused):
        inventory_services.kit_set_components(kit=other, components=[(floor.shirt, 0)])
    with pytest.raises(KitRefused):
        inventory_services.kit_set_components(kit=other, components=[(other, 1)])
    with pytest.raises(KitRefused):  # a product with stock of its own
        inventory_services.kit_set_components(kit=floor.shirt, components=[(floor.cap, 1)])
    other.refresh_from_db()
    assert not other.is_kit and not other.components.exists()
    # an empty composition makes the kit a plain product again
    inventory_services.kit_set_components(kit=gift, components=[])
    gift.refresh_from_db()
    assert not gift.is_kit


def test_the_packing_slip_shows_the_kit_with_its_components_and_the_invoice_names_them(floor, gift):
    from fulfillment.documents import packing_slips_html
    from invoicing.services.issue import _line_description

    order = floor.order([("GIFT", 1), ("SHIRT", 1)])
    prep = Preparation.objects.get(order=order)
    pick_all(services.wave_release(location=floor.lyon), floor.picker)
    for code in (floor.mug.ean, floor.cap.ean, floor.cap.ean, floor.shirt.ean):
        services.pack_scan(preparation=prep, code=code, actor=floor.picker)
    shipment = services.parcel_close(preparation=prep, box=None, weight_g=800, actor=floor.picker)

    html = packing_slips_html(parcels=[shipment.parcel])

    kit_row = html.index("Coffret cadeau")
    assert html.index("↳ Casquette") > kit_row and html.index("↳ Mug") > kit_row
    assert "part of the kit" not in html  # the whole kit is in this parcel
    assert "T-shirt" in html
    line = order.lines.get(sku="GIFT")
    assert _line_description(line, language="en") == "Coffret cadeau (kit: 2 × CAP, 1 × MUG)"
    assert _line_description(order.lines.get(sku="SHIRT")) == "T-shirt"
