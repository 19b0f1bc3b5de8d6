"""Demo sales history for the reports and the forecast: 22 weeks of delivered orders up to yesterday, as
if imported from the merchant's previous system. A dozen steady sellers sell every day with a weekly
pattern (coffee and tea on weekdays, clothes and gifts at the weekend) and a trend; a long tail of SKUs
sells now and then. Each order has its parcel (carrier service, packed / handed over / delivered times),
its timeline (status changes, "picked" at its warehouse, a few short picks) and consumed allocations.

The rows are written in bulk (a few seconds for ~4,000 orders), with their historical timestamps: the
intake's checks (stock, promise) are about orders arriving now, not about history. Stock is not touched:
these units left before the opening stock was counted. Idempotent: nothing is written if the history
exists (orders with external ids ``HIST-…``).
"""

import math
import random
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from common import eventlog
from common.models import DomainEvent
from customers.models import Customer
from inventory.models import Allocation, Location, Product
from orders.models import Channel, Order, OrderCounter, OrderLine, OrderLocation, OrderStatus
from shipping.models import CarrierService, Shipment, ShipmentLine, ShipmentStatus

HISTORY_DAYS = 154  # 22 weeks
PREFIX = "HIST-"

# SKU, base units per day, weekly profile, growth over the history (0.3 = +30 %)
WEEKDAY = (1.3, 1.2, 1.15, 1.0, 0.95, 0.6, 0.8)  # Monday … Sunday: bought at the office
WEEKEND = (0.75, 0.8, 0.85, 0.95, 1.15, 1.5, 1.3)  # bought at home at the weekend
STEADY = [
    ("CAFE-ETHIOPIE", 7.0, WEEKDAY, 0.35),
    ("CAFE-BRESIL", 5.0, WEEKDAY, 0.10),
    ("CAFE-COLOMBIE", 3.5, WEEKDAY, -0.15),
    ("THE-EARLGREY", 4.0, WEEKDAY, 0.20),
    ("THE-VERT", 2.5, WEEKDAY, 0.05),
    ("CHOCO-NOIR70", 6.0, WEEKEND, 0.25),
    ("TSHIRT-M", 4.0, WEEKEND, 0.30),
    ("TSHIRT-L", 3.0, WEEKEND, 0.15),
    ("SWEAT-M", 2.0, WEEKEND, 0.50),
    ("BOUGIE-FIGUE", 3.0, WEEKEND, 0.40),
    ("GOURDE-NOIR", 2.5, WEEKEND, -0.10),
    ("CARNET-KRAFT", 2.0, WEEKDAY, 0.00),
]
LONG_TAIL = 60  # other SKUs, a few units a week each
HOURS = [
    0.2,
    0.1,
    0.05,
    0.05,
    0.05,
    0.1,
    0.3,
    0.6,
    1.0,
    1.3,
    1.5,
    1.6,
    1.8,
    1.7,
    1.4,
    1.3,
    1.3,
    1.4,
    1.7,
    2.0,
    2.2,
    2.0,
    1.4,
    0.7,
]  # orders by hour of the day
WAREHOUSES = {
    "web": {"lyon": 5, "lille": 3, "bordeaux": 2},
    "shopify": {"lille": 5, "lyon": 3, "bordeaux": 2},
}
SHORT_REASONS = ("missing", "damaged")  # the reasons of the picking screen
LATE_SHARE = {"express": 0.03, "home": 0.07, "relay": 0.14}  # parcels delivered 1–2 days late


def _poisson(rng: random.Random, lam: float) -> int:
    """Knuth's method (λ stays small here)."""
    if lam <= 0:
        return 0
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _weighted(rng: random.Random, weights: dict):
    return rng.choices(list(weights), weights=list(weights.values()))[0]


@contextmanager
def _historical_timestamps(*fields):
    """Let bulk_create keep the timestamps we give instead of ``now`` (auto_now_add fields)."""
    saved = [(f, f.auto_now, f.auto_now_add) for f in fields]
    for f in fields:
        f.auto_now = f.auto_now_add = False
    try:
        yield
    finally:
        for f, auto_now, auto_now_add in saved:
            f.auto_now, f.auto_now_add = auto_now, auto_now_add


def _at(day: date, hour: float, tz) -> datetime:
    return datetime.combine(day, time.min, tzinfo=tz) + timedelta(hours=hour)


def _working_time(moment: datetime, tz, rng) -> datetime:
    """Warehouses work 6:00–20:00, Monday to Saturday: move a time outside to the next opening."""
    local = moment.astimezone(tz)
    while local.weekday() == 6 or not 6 <= local.hour < 20:
        nxt = local.date() + timedelta(days=1 if local.hour >= 20 or local.weekday() == 6 else 0)
        local = _at(nxt, 6 + rng.random() * 3, tz)
        if local.weekday() == 6:
            local = _at(nxt + timedelta(days=1), 6 + rng.random() * 3, tz)
    return local


def _order_numbers(count: int) -> list[str]:
    """``count`` order numbers from the intake's sequence in one query (Postgres), or a block taken from
    its counter row (SQLite: the intake's ``next_order_number`` takes the next one after the block)."""
    year = timezone.localdate().year
    if connection.vendor != "postgresql":
        if count <= 0:
            return []
        with transaction.atomic():
            OrderCounter.objects.get_or_create(name="order")
            OrderCounter.objects.filter(name="order").update(value=F("value") + count)
            last = OrderCounter.objects.get(name="order").value
        return [f"CMD-{year}-{value:06d}" for value in range(last - count + 1, last + 1)]
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval('orders_order_number_seq') FROM generate_series(1, %s)", [count])
        return [f"CMD-{year}-{value:06d}" for (value,) in cursor.fetchall()]


def _demand(rng: random.Random, products: dict[str, Product], tail: list[Product], days: list[date]):
    """(day, product, quantity) lines: Poisson units per SKU and day, split in lines of 1–2 units."""
    lines = []
    count = len(days)
    for index, day in enumerate(days):
        for sku, base, profile, growth in STEADY:
            product = products.get(sku)
            if product is None:
                continue
            lam = base * profile[day.weekday()] * (1 + growth * index / count)
            units = _poisson(rng, lam)
            while units > 0:
                quantity = min(units, rng.choice((1, 1, 1, 2)))
                lines.append((day, product, quantity))
                units -= quantity
        for product in tail:
            if rng.random() < 0.06:
                lines.append((day, product, rng.choice((1, 1, 2))))
    return lines


def seed_history(rng: random.Random, *, today: date | None = None) -> int:
    if Order.objects.filter(external_id__startswith=PREFIX).exists():
        return 0
    tz = ZoneInfo(settings.TIME_ZONE)
    now = timezone.now()
    today = today or timezone.localdate()
    days = [today - timedelta(days=HISTORY_DAYS - i) for i in range(HISTORY_DAYS)]  # … yesterday
    channels = {c.code: c for c in Channel.objects.filter(code__in=WAREHOUSES)}
    locations = {loc.code: loc for loc in Location.objects.filter(code__in={"lyon", "lille", "bordeaux"})}
    services = list(
        CarrierService.objects.filter(active=True, delivery_mode__in=("home", "relay")).select_related(
            "carrier"
        )
    )
    if len(channels) < 2 or len(locations) < 3 or not services:
        return 0
    products = {p.sku: p for p in Product.objects.filter(sku__in=[s[0] for s in STEADY])}
    tail = list(Product.objects.exclude(sku__in=products).filter(is_kit=False).order_by("sku")[:200])
    tail = rng.sample(tail, min(LONG_TAIL, len(tail)))
    emails = [f"client.{n:03d}@example.fr" for n in range(300)]
    Customer.objects.bulk_create(
        [
            Customer(
                email=e, first_name=rng.choice(("Ana", "Louis", "Chloé", "Hugo", "Léa")), last_name="Client"
            )
            for e in emails
        ],
        ignore_conflicts=True,
    )
    customers = list(Customer.objects.filter(email__in=emails))

    # Group the day's lines into orders of 1–3 lines.
    by_day: dict[date, list] = {}
    for day, product, quantity in _demand(rng, products, tail, days):
        by_day.setdefault(day, []).append((product, quantity))
    plans = []
    for day in days:
        lines = by_day.get(day, [])
        rng.shuffle(lines)
        while lines:
            size = min(len(lines), rng.choice((1, 2, 2, 3, 3, 4)))
            chosen, lines = lines[:size], lines[size:]
            merged: dict[int, list] = {}
            for product, quantity in chosen:  # one line per SKU in an order
                if product.pk in merged:
                    merged[product.pk][1] += quantity
                else:
                    merged[product.pk] = [product, quantity]
            plans.append((day, list(merged.values())))

    with (
        transaction.atomic(),
        _historical_timestamps(
            Order._meta.get_field("created_at"),
            Order._meta.get_field("updated_at"),
            Allocation._meta.get_field("created_at"),
            Shipment._meta.get_field("created_at"),
        ),
    ):
        orders, line_rows, timeline, parcels = [], [], [], []
        numbers = _order_numbers(len(plans))
        for index, (day, lines) in enumerate(plans, start=1):
            channel = channels["web" if rng.random() < 0.7 else "shopify"]
            location = locations[_weighted(rng, WAREHOUSES[channel.code])]
            service = rng.choice(services)
            transit = 1 if service.is_express else (3 if service.delivery_mode == "relay" else 2)
            created = _at(day, rng.choices(range(24), weights=HOURS)[0] + rng.random(), tz)
            picked = _working_time(created + timedelta(hours=1 + rng.random() * 6), tz, rng)
            shipped = picked + timedelta(hours=0.5 + rng.random() * 2)
            late = rng.random() < LATE_SHARE[service.delivery_mode if not service.is_express else "express"]
            delivered = _at(
                shipped.astimezone(tz).date()
                + timedelta(days=transit + (rng.choice((1, 1, 2)) if late else 0)),
                9 + rng.random() * 9,
                tz,
            )
            if delivered.weekday() == 6:
                delivered += timedelta(days=1)
            promised = shipped.astimezone(tz).date() + timedelta(days=transit)
            if promised.weekday() == 6:
                promised += timedelta(days=1)
            # Yesterday's late orders are not picked yet: no "picked" event; their parcel times stay in
            # the past (the history is imported as shipped).
            span = now - created
            pick_recorded = picked < now - timedelta(minutes=10)
            if pick_recorded:
                shipped = min(shipped, max(picked, now - timedelta(minutes=5)))
            else:
                picked, shipped = created + span * 0.5, created + span * 0.75
            cancelled = rng.random() < 0.02
            is_delivered = delivered < now - timedelta(minutes=5) and not cancelled
            customer = rng.choice(customers)
            total = sum((p.price * q for p, q in lines), Decimal("0"))
            relay = service.delivery_mode == "relay"
            status = (
                OrderStatus.CANCELLED
                if cancelled
                else (OrderStatus.DELIVERED if is_delivered else OrderStatus.SHIPPED)
            )
            order = Order(
                number=numbers[index - 1],
                channel=channel,
                external_id=f"{PREFIX}{index:06d}",
                customer=customer,
                status=status,
                delivery_mode="relay" if relay else "home",
                ship_name=f"{customer.first_name} {customer.last_name}",
                ship_line1=f"{rng.randint(1, 120)} rue de la République",
                ship_postcode="69003",
                ship_city="Lyon",
                relay_point={"carrier": service.carrier.code, "id": f"FR-{rng.randint(10000, 99999)}"}
                if relay
                else {},
                total_incl_vat=total,
                promised_earliest=promised - timedelta(days=1),
                promised_latest=promised,
                planned_ship_date=created.astimezone(tz).date(),
                created_at=created,
                updated_at=delivered if is_delivered else shipped,
                cancel_reason="demo: customer changed their mind" if cancelled else "",
            )
            orders.append(order)
            line_rows.append((order, lines, location, shipped if not cancelled else None))
            # The imported timeline keeps the moves the reports read (shipped, delivered, cancelled).
            steps = []
            if cancelled:
                steps.append(("allocated", "cancelled", created + timedelta(minutes=20)))
            else:
                steps.append(("in_preparation", "shipped", shipped))
                if is_delivered:
                    steps.append(("shipped", "delivered", delivered))
            timeline.append(
                (order, steps, picked if pick_recorded and not cancelled else None, location, lines)
            )
            if not cancelled:
                parcels.append(
                    (order, location, service, picked, shipped, delivered if is_delivered else None, lines)
                )
        Order.objects.bulk_create(orders, batch_size=1000)

        order_lines, allocations, order_locations = [], [], []
        for order, lines, location, _shipped in line_rows:
            order_locations.append(
                OrderLocation(
                    order=order, location=location, status=order.status, created_at=order.created_at
                )
            )
            for line_no, (product, quantity) in enumerate(lines, start=1):
                order_lines.append(
                    OrderLine(
                        order=order,
                        line_no=line_no,
                        product=product,
                        sku=product.sku,
                        name=product.name,
                        quantity=quantity,
                        unit_price=product.price,
                        vat_rate=product.vat_rate,
                    )
                )
        OrderLine.objects.bulk_create(order_lines, batch_size=2000)
        OrderLocation.objects.bulk_create(order_locations, batch_size=2000)
        lines_of = {}
        for line in order_lines:
            lines_of.setdefault(line.order_id, []).append(line)
        for order, _lines, location, shipped in line_rows:
            if shipped is None:
                continue  # a cancelled order gave its reservation back
            for line in lines_of[order.pk]:
                allocations.append(
                    Allocation(
                        order=order,
                        line=line,
                        product_id=line.product_id,
                        location=location,
                        quantity=line.quantity,
                        consumed_at=shipped,
                        created_at=order.created_at,
                    )
                )
        Allocation.objects.bulk_create(allocations, batch_size=2000)

        events = []
        for order, steps, picked, location, lines in timeline:
            events.append(
                DomainEvent(
                    order_id=order.pk,
                    code="order.created",
                    created_at=order.created_at,
                    xid=None,
                    payload={
                        "channel": order.channel.name,
                        "source": "history",
                        "count": len(lines),
                        "total": str(order.total_incl_vat),
                    },
                )
            )
            for old, new, at in steps:
                events.append(
                    DomainEvent(
                        order_id=order.pk,
                        code="order.status_changed",
                        created_at=at,
                        xid=None,
                        payload={"from": old, "to": new},
                    )
                )
            if picked is not None:
                if rng.random() < 0.015:
                    product, _quantity = lines[0]
                    events.append(
                        DomainEvent(
                            order_id=order.pk,
                            code="order.resourced",
                            created_at=picked - timedelta(minutes=5),
                            xid=None,
                            payload={
                                "sku": product.sku,
                                "location": location.name,
                                "location_code": location.code,
                                "quantity": 1,
                                "reason": rng.choice(SHORT_REASONS),
                                "placed": [],
                                "unallocated": 1,
                            },
                        )
                    )
                events.append(
                    DomainEvent(
                        order_id=order.pk,
                        code="preparation.picked",
                        created_at=picked,
                        xid=None,
                        payload={
                            "location_id": location.pk,
                            "location": location.name,
                            "location_code": location.code,
                        },
                    )
                )
        DomainEvent.objects.bulk_create(events, batch_size=5000)
        # History, not news: no consumer acts on these (invoices, messages, feeds of past orders).
        transaction.on_commit(eventlog.progress_skip_to_now)

        shipments = []
        for n, (order, location, service, picked, shipped, delivered, lines) in enumerate(parcels, start=1):
            shipments.append(
                Shipment(
                    number=f"H{order.created_at:%y%m%d}-{n:06d}",
                    order=order,
                    location=location,
                    service=service,
                    status=ShipmentStatus.DELIVERED if delivered else ShipmentStatus.IN_TRANSIT,
                    box="M",
                    weight_g=max(100, sum(p.weight_g * q for p, q in lines)),
                    tracking_number=f"8R{rng.randint(10**10, 10**11 - 1)}",
                    created_at=picked + timedelta(minutes=10),
                    shipped_at=shipped,
                    delivered_at=delivered,
                    last_event_at=delivered or shipped,
                )
            )
        Shipment.objects.bulk_create(shipments, batch_size=2000)
        ShipmentLine.objects.bulk_create(
            [
                ShipmentLine(
                    shipment=s,
                    order_line=line,
                    product_id=line.product_id,
                    sku=line.sku,
                    quantity=line.quantity,
                )
                for s in shipments
                for line in lines_of[s.order_id]
            ],
            batch_size=2000,
        )
    return len(orders)
