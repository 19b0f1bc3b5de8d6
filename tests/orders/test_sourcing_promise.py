"""Sourcing strategies and the delivery promise on a small hand-built network, at fixed times."""

from datetime import date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import override_settings
from django.utils import translation

from fulfillment.models import PickerShift
from fulfillment.services import shift_save
from inventory import services as inv
from inventory.models import Product
from orders.models import Channel, ChannelLocation
from orders.services.intake import LineInput, OrderInput, order_create
from orders.services.sourcing import LineRequest, decide, destination_of
from shipping.models import Carrier, CarrierService, ServiceRate, ServiceTransit
from tests.events import events_of
from tests.inventory.factories import LocationFactory

PARIS = ZoneInfo("Europe/Paris")
pytestmark = pytest.mark.django_db


def at(*args) -> datetime:
    return datetime(*args, tzinfo=PARIS)


@pytest.fixture
def net(db):
    lyon = LocationFactory(
        code="lyon",
        name="Lyon",
        latitude=Decimal("45.7640"),
        longitude=Decimal("4.8357"),
        storage_cost_per_unit_day=Decimal("0.0100"),
        handling_cost_per_line=Decimal("0.50"),
    )
    lille = LocationFactory(
        code="lille",
        name="Lille",
        latitude=Decimal("50.6292"),
        longitude=Decimal("3.0573"),
        storage_cost_per_unit_day=Decimal("0.1000"),
        handling_cost_per_line=Decimal("0.50"),
    )
    marseille = LocationFactory(
        code="marseille",
        name="Marseille",
        latitude=Decimal("43.2965"),
        longitude=Decimal("5.3698"),
        storage_cost_per_unit_day=Decimal("0.0100"),
        handling_cost_per_line=Decimal("2.00"),
    )
    store = LocationFactory(
        code="paris",
        name="Paris store",
        kind="store",
        latitude=Decimal("48.8576"),
        longitude=Decimal("2.3602"),
        storage_cost_per_unit_day=Decimal("0.0100"),
        handling_cost_per_line=Decimal("1.00"),
    )
    channel = Channel.objects.create(code="web", name="Web")
    for priority, loc in enumerate([marseille, lyon, lille, store]):
        ChannelLocation.objects.create(channel=channel, location=loc, priority=priority)
    colissimo = Carrier.objects.create(code="colissimo", name="Colissimo")
    home = CarrierService.objects.create(
        carrier=colissimo,
        code="domicile",
        name="Domicile",
        delivery_mode="home",
        cutoff_time=time(16),
        delivery_weekdays="123456",
    )
    own = Carrier.objects.create(code="stores", name="Stores", adapter="store")
    transfer = CarrierService.objects.create(
        carrier=own,
        code="retrait",
        name="Retrait",
        delivery_mode="store",
        cutoff_time=time(15),
        delivery_weekdays="123456",
    )
    for km, price, days in [(300, "5.00", 1), (700, "6.00", 2), (1200, "7.00", 3)]:
        ServiceRate.objects.create(
            service=home, max_weight_g=5000, max_distance_km=km, price_excl_vat=Decimal(price)
        )
        ServiceTransit.objects.create(service=home, max_distance_km=km, transit_days=days)
        ServiceRate.objects.create(
            service=transfer, max_weight_g=5000, max_distance_km=km, price_excl_vat=Decimal("2.00")
        )
        ServiceTransit.objects.create(service=transfer, max_distance_km=km, transit_days=days)
    products = {
        sku: Product.objects.create(
            sku=sku, name=sku, weight_g=500, price=Decimal("20.00"), vat_rate=Decimal("20.0")
        )
        for sku in ("A", "B")
    }
    return {
        "channel": channel,
        "lyon": lyon,
        "lille": lille,
        "marseille": marseille,
        "store": store,
        **products,
    }


def lines(net, *items):
    return [LineRequest(i, net[sku].pk, sku, q, net[sku].weight_g) for i, (sku, q) in enumerate(items)]


LYON_69003 = destination_of(postcode="69003")


def choose(net, *items, mode="home", strategy=None, destination=LYON_69003, now, **kwargs):
    return decide(
        channel=net["channel"],
        lines=lines(net, *items),
        mode=mode,
        destination=destination,
        now=now,
        strategy=strategy,
        **kwargs,
    )


def stock(net, loc, sku, quantity):
    inv.stock_receive(product=net[sku], location=net[loc], quantity=quantity)


# --- Promise: cut-off, weekends, holidays -------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "ship", "delivery"),
    [
        (at(2026, 11, 24, 10, 0), date(2026, 11, 24), date(2026, 11, 25)),  # Tuesday before the cut-off
        (at(2026, 11, 24, 16, 30), date(2026, 11, 25), date(2026, 11, 26)),  # after the 16:00 cut-off
        (at(2026, 11, 27, 17, 0), date(2026, 11, 30), date(2026, 12, 1)),  # Friday evening: Monday
        (at(2026, 11, 28, 10, 0), date(2026, 11, 30), date(2026, 12, 1)),  # Saturday: no pick-up
        (at(2026, 7, 13, 10, 0), date(2026, 7, 13), date(2026, 7, 15)),  # 14 July is not a delivery day
        (at(2026, 12, 24, 17, 0), date(2026, 12, 28), date(2026, 12, 29)),  # 25 Dec, then the weekend
    ],
)
def test_cutoff_weekends_and_public_holidays(net, now, ship, delivery):
    stock(net, "lyon", "A", 5)
    with time_machine.travel(now, tick=False):
        decision = choose(net, ("A", 1), now=now, strategy="nearest")
    parcel = decision.plan.parcels[0]
    assert parcel.location.code == "lyon"
    assert (parcel.ship_date, parcel.delivery_date) == (ship, delivery)
    assert decision.promise == (
        delivery,
        {
            date(2026, 11, 25): date(2026, 11, 26),
            date(2026, 11, 26): date(2026, 11, 27),
            date(2026, 12, 1): date(2026, 12, 2),
            date(2026, 7, 15): date(2026, 7, 16),
            date(2026, 12, 29): date(2026, 12, 30),
        }[delivery],
    )


def _shift(loc, day, start, end, pickers=1, rate=1, booked=0):
    shift = shift_save(
        shift=PickerShift(
            location=loc, date=day, start=start, end=end, pickers=pickers, lines_per_picker_hour=rate
        )
    )
    PickerShift.objects.filter(pk=shift.pk).update(lines_booked=booked)
    return shift


def test_full_shift_spills_over_to_the_next_one(net):
    stock(net, "lyon", "A", 5)
    stock(net, "lyon", "B", 5)
    tuesday = date(2026, 11, 24)
    _shift(net["lyon"], tuesday, time(6), time(13), rate=1, booked=6)  # 7 lines, 1 left
    _shift(net["lyon"], tuesday, time(16, 30), time(20), rate=2)  # starts after the 16:00 cut-off
    now = at(2026, 11, 24, 5, 0)
    decision = choose(net, ("A", 1), ("B", 1), now=now, strategy="nearest")
    parcel = decision.plan.parcels[0]
    assert [(s.start.astimezone(PARIS).time(), s.lines) for s in parcel.slots] == [
        (time(6), 1),
        (time(16, 30), 1),
    ]
    assert parcel.ship_date == date(2026, 11, 25)  # the second half is picked after the cut-off
    assert parcel.delivery_date == date(2026, 11, 26)


def test_a_shift_already_started_is_not_used(net):
    stock(net, "lyon", "A", 5)
    tuesday = date(2026, 11, 24)
    _shift(net["lyon"], tuesday, time(6), time(13), rate=10)
    _shift(net["lyon"], date(2026, 11, 25), time(6), time(13), rate=10)
    decision = choose(net, ("A", 1), now=at(2026, 11, 24, 9, 0), strategy="nearest")
    assert decision.plan.parcels[0].slots[0].date == date(2026, 11, 25)


def test_order_books_capacity_and_cancel_gives_it_back(net):
    from orders.services.lifecycle import order_cancel

    stock(net, "lyon", "A", 5)
    shift = _shift(net["lyon"], date(2026, 11, 25), time(6), time(13), rate=10)
    data = OrderInput(
        external_id="X",
        customer={"email": "a@b.fr"},
        delivery={"mode": "home", "address": {"line1": "1 rue", "postcode": "69003", "city": "Lyon"}},
        lines=[LineInput("A", 1)],
    )
    with time_machine.travel(at(2026, 11, 24, 18, 0), tick=False):
        with override_settings(SOURCING_STORAGE_DAYS=0):
            order = order_create(channel=net["channel"], data=data)
    shift.refresh_from_db()
    assert shift.lines_booked == 1
    assert (order.promised_earliest, order.promised_latest) == (date(2026, 11, 26), date(2026, 11, 27))
    assert events_of(order, "order.promised").exists()
    order_cancel(order=order, reason="test")
    shift.refresh_from_db()
    assert shift.lines_booked == 0


# --- Strategies ----------------------------------------------------------------------------------------


def test_each_strategy_chooses_what_it_should(net):
    for loc in ("marseille", "lyon", "lille"):
        stock(net, loc, "A", 5)
    now = at(2026, 11, 24, 10, 0)
    # cost: Lille's expensive storage (0.10/unit/day × 30 days = 3.00 saved) beats Lyon's shorter trip
    assert [p.location.code for p in choose(net, ("A", 1), now=now, strategy="cost").plan.parcels] == [
        "lille"
    ]
    assert [p.location.code for p in choose(net, ("A", 1), now=now, strategy="nearest").plan.parcels] == [
        "lyon"
    ]
    assert [p.location.code for p in choose(net, ("A", 1), now=now, strategy="priority").plan.parcels] == [
        "marseille"
    ]


def test_cost_breakdown_and_explanation(net):
    for loc in ("lyon", "lille"):
        stock(net, loc, "A", 5)
    now = at(2026, 11, 24, 10, 0)
    decision = choose(net, ("A", 1), now=now, strategy="cost")
    lille, lyon = decision.candidates[0], decision.candidates[1]
    parcel = lille.parcels[0]
    assert (parcel.storage, parcel.handling, parcel.shipping) == (
        Decimal("3.00"),
        Decimal("0.50"),
        Decimal("6.00"),
    )
    assert lille.lateness == Decimal("1.00")  # delivered in 2 days × 0.50
    assert lille.total == Decimal("4.50")
    assert lyon.total == Decimal("5.70")  # 0.50 + 5.00 − 0.30 + 0.50
    with translation.override("en"):
        text = decision.explanation()
    assert "Lille: 3.50 € (storage −3.00, handling 0.50, Colissimo Domicile 6.00)" in text
    assert "Compared with: Lyon 5.70 €" in text
    assert decision.record()["chosen"]["parcels"][0]["location"] == "lille"


def test_split_order_promises_the_latest_parcel(net):
    stock(net, "lyon", "A", 1)
    stock(net, "lille", "B", 1)
    decision = choose(net, ("A", 1), ("B", 1), now=at(2026, 11, 24, 10, 0))
    assert sorted(p.location.code for p in decision.plan.parcels) == ["lille", "lyon"]
    assert decision.plan.split_penalty == Decimal("3.00")
    assert decision.plan.delivery_date == date(2026, 11, 26)  # Lille → Lyon takes 2 days


@override_settings(SOURCING_MAX_PARCELS=1)
def test_parcel_cap_is_respected(net):
    stock(net, "lyon", "A", 1)
    stock(net, "lille", "B", 1)
    with pytest.raises(Exception) as excinfo:
        choose(net, ("A", 1), ("B", 1), now=at(2026, 11, 24, 10, 0))
    assert excinfo.value.code == "out_of_stock"


def test_store_pickup_uses_the_store_stock_first(net):
    stock(net, "store", "A", 1)
    stock(net, "lyon", "A", 5)
    decision = choose(
        net,
        ("A", 1),
        mode="store",
        pickup_location=net["store"],
        destination=None,
        now=at(2026, 11, 24, 9, 0),
    )
    parcel = decision.plan.parcels[0]
    assert parcel.location.code == "paris"
    assert parcel.shipping == 0
    assert parcel.delivery_date == date(2026, 11, 24)


def test_store_pickup_with_a_transfer_from_the_cheapest_warehouse(net):
    stock(net, "lyon", "A", 5)
    decision = choose(
        net,
        ("A", 1),
        mode="store",
        pickup_location=net["store"],
        destination=None,
        now=at(2026, 11, 24, 9, 0),
    )
    parcel = decision.plan.parcels[0]
    assert parcel.location.code == "lyon"
    assert parcel.quote.code == "retrait"
    assert parcel.delivery_date == date(2026, 11, 26)  # Lyon → Paris ~390 km: 2 working days


def test_late_risk_lists_overdue_orders_and_late_stock(net):
    from orders.selectors import late_risk_orders

    stock(net, "lyon", "A", 1)
    incoming = inv.incoming_create(
        product=net["B"], location=net["lyon"], quantity=5, expected_on=date(2026, 12, 10)
    )
    address = {"mode": "home", "address": {"line1": "1 rue", "postcode": "69003", "city": "Lyon"}}
    with time_machine.travel(at(2026, 11, 24, 10, 0), tick=False):
        on_time = order_create(
            channel=net["channel"],
            data=OrderInput(
                external_id="R-1", customer={"email": "a@b.fr"}, delivery=address, lines=[LineInput("A", 1)]
            ),
        )
        preorder = order_create(
            channel=net["channel"],
            data=OrderInput(
                external_id="R-2",
                customer={"email": "a@b.fr"},
                delivery=address,
                lines=[LineInput("B", 1)],
                allow_preorder=True,
            ),
        )
    assert on_time.planned_ship_date == date(2026, 11, 24)
    assert preorder.planned_ship_date == date(2026, 12, 10)
    # The pre-order's promise is built on the replenishment date; then the supplier slips.
    IncomingStockModel = type(incoming)
    IncomingStockModel.objects.filter(pk=incoming.pk).update(expected_on=date(2026, 12, 15))

    risky = {o.number: o.risk for o in late_risk_orders(today=date(2026, 11, 24))}
    assert risky == {preorder.number: "stock_late"}
    risky = {o.number: o.risk for o in late_risk_orders(today=date(2026, 11, 25))}
    assert risky == {on_time.number: "overdue", preorder.number: "stock_late"}
    assert list(late_risk_orders(today=date(2026, 11, 25), location_ids=[net["lille"].pk])) == []


def test_late_risk_flags_an_order_no_shift_had_room_for(net):
    from orders.selectors import late_risk_orders

    stock(net, "lyon", "A", 5)
    _shift(net["lyon"], date(2026, 11, 24), time(13), time(14), rate=1, booked=1)  # full
    address = {"mode": "home", "address": {"line1": "1 rue", "postcode": "69003", "city": "Lyon"}}
    with time_machine.travel(at(2026, 11, 24, 10, 0), tick=False):
        order = order_create(
            channel=net["channel"],
            data=OrderInput(
                external_id="C-1", customer={"email": "a@b.fr"}, delivery=address, lines=[LineInput("A", 1)]
            ),
        )
    assert not order.capacity_bookings.exists()
    assert {o.number: o.risk for o in late_risk_orders(today=date(2026, 11, 24))} == {
        order.number: "no_capacity"
    }
