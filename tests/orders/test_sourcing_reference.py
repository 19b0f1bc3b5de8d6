"""The bounded sourcing decision chooses what finishing and sorting every candidate chose.

``orders.services.sourcing`` finishes (dates) only the plans whose cost bound can still place them among
the kept candidates, reads only the locations holding the order's products and the shifts it needs. The
reference (``tests/orders/sourcing_reference.py``, the algorithm as it was) finishes every candidate. On
random networks, stock, shifts, replenishments and baskets, both must give the same plan, the same kept
candidates in the same order (the ``order.sourced`` record), the same explanation, allocations, promise
and picking slots, or both refuse the order.
"""

import random
from dataclasses import astuple
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from fulfillment.models import PickerShift
from inventory.exceptions import OutOfStock
from inventory.models import IncomingStock, Location, Product, StockLevel
from oms.demo_network import seed_network
from orders.models import Channel, ChannelLocation
from orders.services import sourcing
from orders.services.events import jsonable
from shipping.selectors import network_forget
from tests.orders import sourcing_reference as reference

pytestmark = pytest.mark.django_db
PARIS = ZoneInfo("Europe/Paris")
POSTCODES = [
    "69003",
    "75011",
    "13006",
    "33000",
    "59000",
    "44000",
    "67000",
    "31000",
    "35000",
    "06000",
    "2A004",
]


def _network(rng: random.Random, size: int, today: date):
    network_forget()
    seed_network()
    channel = Channel.objects.create(code="ref", name="Reference")
    locations = []
    for i in range(size):
        location = Location.objects.create(
            code=f"ref{i:03d}",
            name=f"Reference {i}",
            kind=rng.choice(["warehouse", "warehouse", "store"]),
            address_line1="1 rue",
            postcode="75001",
            city="X",
            latitude=Decimal(str(round(rng.uniform(42.5, 51.0), 4))),
            longitude=Decimal(str(round(rng.uniform(-4.5, 8.0), 4))),
            storage_cost_per_unit_day=Decimal(str(round(rng.uniform(0.001, 0.08), 4))),
            handling_cost_per_line=Decimal(str(round(rng.uniform(0.2, 3.0), 2))),
            active=rng.random() > 0.08,
        )
        if rng.random() > 0.1:  # a few locations are no channel's
            ChannelLocation.objects.create(channel=channel, location=location, priority=rng.randint(0, 5))
        locations.append(location)
    products = [
        Product.objects.create(
            sku=f"REF{i:03d}",
            name=f"Reference {i}",
            weight_g=rng.choice([50, 200, 450, 900, 1500, 4000, 12000]),
            price=Decimal("20"),
            vat_rate=Decimal("20.0"),
        )
        for i in range(14)
    ]
    levels = []
    for product in products:
        for location in locations:
            on_hand = rng.choice([0, 0, 0, 1, 2, 3, 5, 10, 40])
            if on_hand:
                levels.append(
                    StockLevel(
                        product=product, location=location, on_hand=on_hand, reserved=rng.randint(0, on_hand)
                    )
                )
    StockLevel.objects.bulk_create(levels)
    shifts = []
    for location in locations:
        for offset in range(16):
            day = today + timedelta(days=offset)
            for start, end in [(time(6), time(13)), (time(13), time(20))][: rng.randint(0, 2)]:
                capacity = rng.choice([1, 2, 4, 30, 300])
                shifts.append(
                    PickerShift(
                        location=location,
                        date=day,
                        start=start,
                        end=end,
                        pickers=1,
                        lines_per_picker_hour=30,
                        capacity_lines=capacity,
                        lines_booked=rng.choice([0, 0, capacity, rng.randint(0, capacity)]),
                    )
                )
    PickerShift.objects.bulk_create(shifts)
    incoming = [
        IncomingStock(
            product=rng.choice(products),
            location=rng.choice(locations),
            quantity=rng.randint(1, 20),
            expected_on=today + timedelta(days=rng.randint(-2, 20)),
        )
        for _ in range(size)
    ]
    IncomingStock.objects.bulk_create(incoming)
    return channel, locations, products


def _lines(rng: random.Random, products: list[Product]) -> list[sourcing.LineRequest]:
    lines = []
    for index, product in enumerate(rng.sample(products, rng.randint(1, 7))):
        parts = ()
        if rng.random() < 0.08:  # a kit of two other products
            parts = tuple((p.pk, rng.randint(1, 2)) for p in rng.sample(products, 2))
        lines.append(
            sourcing.LineRequest(index, product.pk, product.sku, rng.randint(1, 4), product.weight_g, parts)
        )
    if rng.random() < 0.1:  # the same product on two lines
        first = lines[0]
        lines.append(
            sourcing.LineRequest(len(lines), first.product_id, first.sku, 1, first.weight_g, first.parts)
        )
    return lines


def _outcome(module, **kwargs):
    try:
        decision = module.decide(**kwargs)
    except OutOfStock:
        return "out of stock"
    record = decision.record()
    if module is sourcing:  # written to the log as it is (``intake._events``): only JSON's own types in it
        assert jsonable(record) == record
    return {
        "record": record,
        "explanation": decision.explanation(),
        "allocations": [astuple(a) for a in decision.allocations],
        "promise": decision.promise,
        "slots": [(p.location.pk, p.slots, p.ready) for p in decision.plan.parcels],
        "kept": [c.key for c in decision.candidates[: sourcing.CANDIDATES_KEPT]],
    }


@pytest.mark.parametrize("seed", range(8))
def test_the_bounded_decision_is_the_reference_one(seed):
    # given a random network
    rng = random.Random(seed)
    now = datetime(2026, 12, 1 + seed, rng.choice([7, 11, 15, 17, 22]), 30, tzinfo=PARIS)
    channel, locations, products = _network(rng, rng.choice([4, 12, 30, 60]), now.date())
    stores = [loc for loc in locations if loc.kind == "store"]
    compared = 0
    for _case in range(30):
        lines = _lines(rng, products)
        mode = rng.choice(["home", "home", "home", "relay", "store"]) if stores else "home"
        kwargs = {
            "channel": channel,
            "lines": lines,
            "mode": mode,
            "destination": None
            if rng.random() < 0.1
            else sourcing.destination_of(postcode=rng.choice(POSTCODES)),
            "pickup_location": rng.choice(stores) if mode == "store" else None,
            "allow_preorder": rng.random() < 0.4,
            "now": now,
            "strategy": rng.choice(["cost", "cost", "nearest", "priority"]),
        }
        if rng.random() < 0.15:
            kwargs["exclude_location_ids"] = [rng.choice(locations).pk]
        if rng.random() < 0.15:  # a what-if: units given back at a location
            kwargs["extra_free"] = {(rng.choice(products).pk, rng.choice(locations).pk): rng.randint(1, 5)}
        # when
        new = _outcome(sourcing, **kwargs)
        old = _outcome(reference, **kwargs)
        # then
        assert new == old, kwargs
        compared += new != "out of stock"
    assert compared > 0


@pytest.mark.parametrize("seed", range(3))
def test_a_batch_decides_as_the_reference_batch(seed):
    # given a random network, read once for a batch (``sourcing_preload``), its earlier orders' units taken
    rng = random.Random(100 + seed)
    now = datetime(2026, 12, 7, 10, 0, tzinfo=PARIS)
    channel, _locations, products = _network(rng, 25, now.date())
    ids = {p.pk for p in products}
    new_preload = sourcing.sourcing_preload(channel=channel, product_ids=ids, now=now)
    old_preload = reference.sourcing_preload(channel=channel, product_ids=ids, now=now)
    consumed: dict[tuple[int, int], int] = {}
    for _case in range(25):
        kwargs = {
            "channel": channel,
            "lines": _lines(rng, products),
            "mode": "home",
            "destination": sourcing.destination_of(postcode=rng.choice(POSTCODES)),
            "allow_preorder": rng.random() < 0.3,
            "now": now,
            "extra_free": {key: -quantity for key, quantity in consumed.items()} or None,
        }
        # when
        new = _outcome(sourcing, preload=new_preload, **kwargs)
        old = _outcome(reference, preload=old_preload, **kwargs)
        # the batch's own way: the earlier orders' units given as taken, not as negative extra units
        taken = _outcome(sourcing, preload=new_preload, **{**kwargs, "extra_free": None, "taken": consumed})
        # then
        assert new == old, kwargs
        assert taken == old, kwargs
        if new != "out of stock":
            for _line, product_id, location_id, quantity, kind, *_incoming in new["allocations"]:
                if kind == "stock":
                    key = (product_id, location_id)
                    consumed[key] = consumed.get(key, 0) + quantity
