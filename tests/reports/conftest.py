"""Fixtures of the reports' tests: a small data set whose every figure is worked out by hand."""

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from orders.models import Order
from shipping.models import Carrier, CarrierService, Shipment
from tests.events import log_event
from tests.inventory.factories import ProductFactory
from tests.orders.factories import ChannelFactory, OrderFactory

PARIS = ZoneInfo("Europe/Paris")


def at(day: str, hour: int = 12, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour, minute), tzinfo=PARIS)


def placed(order: Order, when: dt.datetime) -> Order:
    Order.objects.filter(pk=order.pk).update(created_at=when)
    order.refresh_from_db()
    return order


def delivered(order: Order, when: dt.datetime, *, old: str = "shipped") -> None:
    log_event(order, "order.status_changed", when, {"from": old, "to": "delivered"})


def parcel(order, service, location, *, shipped, delivered_at, number):
    return Shipment.objects.create(
        number=number,
        order=order,
        location=location,
        service=service,
        status="delivered",
        weight_g=500,
        shipped_at=shipped,
        delivered_at=delivered_at,
    )


CODES = {"picked": "preparation.picked", "short_pick": "order.resourced"}


def event(order, type_, when, data):
    data = dict(data)
    if "location" in data:
        data["location_code"] = data.pop("location")
    log_event(order, CODES.get(type_, type_), when, data)


@pytest.fixture
def report_products(db):
    return {
        # 24.00 incl. 20 % VAT = 20.00 excl.; 10.55 incl. 5.5 % VAT = 10.00 excl.
        "tee": ProductFactory(sku="TEE", name="Tee-shirt", price=Decimal("24.00"), vat_rate=Decimal("20.0")),
        "tea": ProductFactory(sku="TEA", name="Thé vert", price=Decimal("10.55"), vat_rate=Decimal("5.5")),
    }


@pytest.fixture
def report_sales(db, report_products, warehouse, store):
    tee, tea = report_products["tee"], report_products["tea"]
    web = ChannelFactory(code="web", name="Web")
    shop = ChannelFactory(code="shop", name="Shop")
    placed(OrderFactory(channel=web, lines=[(tee, 2, warehouse), (tea, 1, warehouse)]), at("2026-03-02", 10))
    # 00:30 in Paris on the 4th is still the 3rd in UTC: the report counts it on the 4th.
    placed(OrderFactory(channel=shop, lines=[(tee, 1, store)]), at("2026-03-04", 0, 30))
    placed(OrderFactory(channel=web, lines=[(tea, 4, warehouse)]), at("2026-03-10", 18))
    # Not sales of March: cancelled, and April.
    placed(
        OrderFactory(channel=web, status=Order.Status.CANCELLED, lines=[(tee, 5, warehouse)]),
        at("2026-03-02"),
    )
    placed(OrderFactory(channel=web, lines=[(tee, 7, warehouse)]), at("2026-04-01", 0, 5))


@pytest.fixture
def report_deliveries(db, report_products, warehouse):
    colissimo = Carrier.objects.create(code="colissimo", name="Colissimo")
    chrono = Carrier.objects.create(code="chronopost", name="Chronopost")
    home = CarrierService.objects.create(
        carrier=colissimo, code="home", name="Domicile", delivery_mode="home", cutoff_time=dt.time(16)
    )
    express = CarrierService.objects.create(
        carrier=chrono, code="c13", name="Chrono 13", delivery_mode="home", cutoff_time=dt.time(18)
    )
    tee = report_products["tee"]
    on_time = placed(
        OrderFactory(lines=[(tee, 1, warehouse)], promised_latest=dt.date(2026, 3, 5)), at("2026-03-02", 10)
    )
    late = placed(
        OrderFactory(lines=[(tee, 1, warehouse)], promised_latest=dt.date(2026, 3, 4)), at("2026-03-02", 10)
    )
    no_promise = placed(OrderFactory(lines=[(tee, 1, warehouse)]), at("2026-03-09", 10))
    april = placed(
        OrderFactory(lines=[(tee, 1, warehouse)], promised_latest=dt.date(2026, 4, 2)), at("2026-03-30")
    )
    delivered(on_time, at("2026-03-04", 15))  # 2 days 5 hours
    delivered(late, at("2026-03-06", 10), old="out_for_delivery")  # 4 days
    delivered(no_promise, at("2026-03-10", 10))  # 1 day
    delivered(april, at("2026-04-01", 10))
    parcel(
        on_time, home, warehouse, shipped=at("2026-03-03", 8), delivered_at=at("2026-03-04", 15), number="P1"
    )
    parcel(
        late, express, warehouse, shipped=at("2026-03-05", 10), delivered_at=at("2026-03-06", 10), number="P2"
    )
    parcel(
        no_promise,
        home,
        warehouse,
        shipped=at("2026-03-09", 18),
        delivered_at=at("2026-03-10", 10),
        number="P3",
    )
    parcel(
        april, home, warehouse, shipped=at("2026-03-31", 18), delivered_at=at("2026-04-01", 10), number="P4"
    )


@pytest.fixture
def report_work(db, report_products, warehouse, store):
    order = OrderFactory(lines=[(report_products["tee"], 1, warehouse)])
    event(order, "picked", at("2026-03-02", 9, 10), {"location": "lyon"})
    event(order, "picked", at("2026-03-02", 9, 40), {"location": "lyon"})
    event(order, "picked", at("2026-03-02", 10, 5), {"location": "lyon"})
    event(order, "picked", at("2026-03-03", 14), {"location": "paris"})
    event(order, "picked", at("2026-04-03", 14), {"location": "paris"})  # outside
    short = {"sku": "TEE", "location": "lyon", "quantity": 2, "reason": "not_found"}
    event(order, "short_pick", at("2026-03-02", 9), short)
    event(order, "short_pick", at("2026-03-05", 9), short)
    event(
        order,
        "short_pick",
        at("2026-03-05", 9),
        {"sku": "TEA", "location": "lyon", "quantity": 1, "reason": "damaged"},
    )
    for number, minute in (("S1", 30), ("S2", 45)):
        shipment = Shipment.objects.create(number=number, order=order, location=warehouse, weight_g=300)
        Shipment.objects.filter(pk=shipment.pk).update(created_at=at("2026-03-02", 10, minute))
