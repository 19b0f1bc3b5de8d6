"""A kit is never oversold, even when its component is sold alone at the same time: 40 buyers through the
whole HTTP stack, half of them buying the kit, half the component, for 10 units of the component.
PostgreSQL only (concurrent transactions and compare-and-set updates)."""

from collections import Counter

import pytest
from django.core.management import call_command

from inventory import services as inventory_services
from inventory.models import Allocation, StockLevel
from inventory.selectors import availability
from orders.models import Order

from .factories import ProductFactory, stock
from .test_concurrency import body, post_order, race, shop  # noqa: F401 - the fixture

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_40_buyers_of_a_kit_and_its_component_race_for_10_units(shop):  # noqa: F811
    channel, lyon, lille, key = shop
    hot = ProductFactory(sku="HOT")
    ribbon = ProductFactory(sku="RIBBON")
    gift = ProductFactory(sku="GIFT", ean="")
    inventory_services.kit_set_components(kit=gift, components=[(hot, 1), (ribbon, 2)])
    stock(hot, lyon, 6)
    stock(hot, lille, 4)
    stock(ribbon, lyon, 100)
    stock(ribbon, lille, 100)
    assert availability(skus=["GIFT"], location_ids=[lyon.pk, lille.pk])["GIFT"].available == 10

    def buy(client, i):
        sku = "GIFT" if i % 2 else "HOT"
        return post_order(
            client, key, body(f"B-{i}", [{"sku": sku, "quantity": 1}], email=f"buyer{i}@example.fr")
        )

    results = race(40, buy)

    statuses = Counter(status for status, _ in results)
    assert statuses == {201: 10, 409: 30}
    assert {b["error"]["code"] for s, b in results if s == 409} == {"out_of_stock"}
    kits = Order.objects.filter(lines__sku="GIFT").count()
    assert Order.objects.count() == 10
    assert kits + Order.objects.filter(lines__sku="HOT").count() == 10
    levels = {
        (sku, code): (on_hand, reserved)
        for sku, code, on_hand, reserved in StockLevel.objects.values_list(
            "product__sku", "location__code", "on_hand", "reserved"
        )
    }
    assert levels[("HOT", "lyon")] == (6, 6) and levels[("HOT", "lille")] == (4, 4)
    # each kit took 2 ribbons with its unit of HOT, from the same location
    ribbons = levels[("RIBBON", "lyon")][1] + levels[("RIBBON", "lille")][1]
    assert ribbons == 2 * kits
    for order in Order.objects.filter(lines__sku="GIFT"):
        held = set(Allocation.objects.filter(order=order).values_list("product__sku", "location__code"))
        assert len({code for _sku, code in held}) == 1, held
    assert sum(Allocation.objects.filter(product=hot).values_list("quantity", flat=True)) == 10
    found = availability(skus=["GIFT", "HOT"], location_ids=[lyon.pk, lille.pk])
    assert (found["GIFT"].available, found["HOT"].available) == (0, 0)
    call_command("stock_audit")
