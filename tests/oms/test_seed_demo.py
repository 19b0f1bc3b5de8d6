from django.contrib.auth import get_user_model
from django.core.management import call_command

from inventory.models import Location, Product, StockMovement
from invoicing.models import Invoice, LegalEntity
from orders.models import ApiKey, Channel, Order


def _snapshot():
    User = get_user_model()
    return (
        list(Location.objects.order_by("code").values_list("code", "name", "kind", "latitude", "longitude")),
        list(User.objects.order_by("username").values_list("username", "password", "groups__name")),
        Product.objects.count(),
        StockMovement.objects.count(),
        sorted(Order.objects.values_list("number", "status")),
        Channel.objects.count(),
        ApiKey.objects.count(),
        sorted(Invoice.objects.values_list("number", "order__number", "total_incl_vat")),
        LegalEntity.objects.count(),
    )


def test_seed_demo_is_idempotent(db, capsys):
    call_command("seed_demo")
    first = _snapshot()
    out = capsys.readouterr().out
    assert "manager / demo-manager-2026" in out
    _assert_history_and_forecast()
    call_command("seed_demo")
    assert _snapshot() == first
    assert Location.objects.filter(kind="warehouse").count() == 3
    assert Location.objects.filter(kind="store").count() == 2
    # the marketplaces and the 3PL of the demo run in sandbox mode (offline)
    from channels.models import ChannelConnection
    from fulfillment.models import WarehousePartner

    assert sorted(
        ChannelConnection.objects.filter(sandbox=True).values_list("channel__code", "channel__kind")
    ) == [("amazon-fr", "amazon"), ("fnac-darty", "mirakl")]
    assert list(WarehousePartner.objects.values_list("location__code", "sandbox")) == [
        ("3pl-venissieux", True)
    ]
    assert Product.objects.filter(is_kit=False).count() == 200
    # three kits, some of today's orders have one (their components reserved, picked and shipped)
    assert Product.objects.filter(is_kit=True).count() == 3
    assert Order.objects.filter(lines__product__is_kit=True).exclude(status="cancelled").exists()
    statuses = set(Order.objects.values_list("status", flat=True))
    assert statuses >= {
        "allocated",
        "awaiting_stock",
        "in_preparation",
        "shipped",
        "delivered",
        "cancelled",
        "ready_for_pickup",
        "out_for_delivery",
        "returned",
        "partially_shipped",
    }
    call_command("stock_audit")
    _assert_every_order_agrees_with_its_floor()
    _assert_no_spike_at_today()
    # A legal entity invoices the demo: every order that shipped (a parcel at least) has its invoice.
    assert LegalEntity.objects.filter(is_default=True).count() == 1
    # (the reports' history, HIST-…, is written in bulk for the charts and carries no invoices)
    shipped = Order.objects.filter(
        status__in=["partially_shipped", "shipped", "out_for_delivery", "delivered", "returned"]
    ).exclude(external_id__startswith="HIST-")
    assert shipped.exists()
    invoiced = set(
        Invoice.objects.exclude(order__external_id__startswith="HIST-").values_list("order_id", flat=True)
    )
    assert invoiced == set(shipped.values_list("pk", flat=True))


def _assert_history_and_forecast():
    """The reports' demo: 22 weeks of daily sales up to yesterday, a weekly pattern, a stored forecast."""
    import datetime as dt

    from django.utils import timezone

    from reports.models import SalesForecast
    from reports.services import daily_units

    yesterday = timezone.localdate() - dt.timedelta(days=1)
    first = yesterday - dt.timedelta(days=153)
    coffee = Product.objects.get(sku="CAFE-ETHIOPIE")
    by_day = daily_units(first=first, last=yesterday, product_ids=[coffee.pk])[coffee.pk]
    assert len(by_day) >= 145  # sells nearly every day of the 22 weeks
    weekday = [0.0] * 7
    for day, units in by_day.items():
        weekday[day.weekday()] += units
    assert weekday[0] > 1.3 * weekday[5]  # coffee sells more on Mondays than on Saturdays
    forecast = SalesForecast.objects.get(product=coffee)
    assert forecast.method == "holt_winters" and forecast.mape is not None
    assert SalesForecast.objects.filter(method="moving_average").exists()


def _assert_every_order_agrees_with_its_floor():
    """Each demo order's status agrees with its reservations, preparations and parcels (they went through
    the real floor and carrier, not a status set by hand)."""
    from fulfillment.models import Preparation
    from returns.models import ReturnLine
    from shipping.models import Shipment

    def problem(order, text):
        return f"{order.external_id} {order.status} ({order.delivery_mode}): {text}"

    problems = []
    for order in Order.objects.exclude(external_id__startswith="HIST-").prefetch_related(
        "lines__allocations"
    ):
        allocations = [a for line in order.lines.all() for a in line.allocations.all()]
        consumed = [a for a in allocations if a.consumed_at]
        incoming = [a for a in allocations if a.kind == "incoming"]
        preps = list(Preparation.objects.filter(order_id=order.pk).exclude(status="cancelled"))
        prep_statuses = {p.status for p in preps}
        parcels = list(Shipment.objects.filter(order_id=order.pk))
        handed = [s for s in parcels if s.shipped_at]
        status = order.status
        if status == "cancelled":
            if allocations or preps or parcels:
                problems.append(problem(order, "keeps reservations, preparations or parcels"))
        elif status == "awaiting_stock":
            if not incoming or parcels:
                problems.append(problem(order, "waits for no incoming stock, or has parcels"))
        elif status == "allocated":
            if consumed or incoming or parcels or prep_statuses != {"to_pick"}:
                problems.append(
                    problem(order, f"not simply to pick: {prep_statuses}, {len(parcels)} parcels")
                )
        elif status == "in_preparation":
            if consumed or parcels or not prep_statuses & {"waved", "picking", "to_pack"}:
                problems.append(problem(order, f"not being prepared: {prep_statuses}"))
        elif status == "partially_shipped":
            if not handed or len(consumed) == len(allocations):
                problems.append(problem(order, "nothing handed over, or everything"))
        elif status == "ready_for_pickup" and order.delivery_mode == "store":
            if prep_statuses != {"ready"} or consumed or parcels:
                problems.append(problem(order, f"not set aside at the store: {prep_statuses}"))
        elif status in ("shipped", "out_for_delivery", "delivered", "returned", "ready_for_pickup"):
            if len(consumed) != len(allocations) or not allocations:
                problems.append(problem(order, "units shipped without leaving the stock"))
            if prep_statuses - {"packed"} or not parcels or len(handed) != len(parcels):
                problems.append(problem(order, f"parcels not all handed over: {prep_statuses}"))
            carrier = {s.status for s in parcels}
            expected = {
                "shipped": carrier <= {"handed_over", "in_transit"},
                "out_for_delivery": "out_for_delivery" in carrier,
                "ready_for_pickup": "available_for_pickup" in carrier,
                "delivered": carrier == {"delivered"},
                "returned": carrier == {"delivered"},
            }[status]
            if not expected:
                problems.append(problem(order, f"the carrier says {carrier}"))
            if status == "returned":
                returned = sum(
                    ReturnLine.objects.filter(order_line__order=order).values_list("quantity", flat=True)
                )
                if returned != sum(line.quantity for line in order.lines.all()):
                    problems.append(problem(order, "not every unit came back"))
        else:
            problems.append(problem(order, "unexpected status"))
    assert problems == []


def _assert_no_spike_at_today():
    """The sales chart: today's orders are a day's worth, not the demo's whole set."""
    import datetime as dt
    from collections import Counter

    from django.utils import timezone

    today = timezone.localdate()
    days = Counter(
        timezone.localtime(at).date()
        for at in Order.objects.filter(created_at__date__gte=today - dt.timedelta(days=15)).values_list(
            "created_at", flat=True
        )
    )
    before = [days[today - dt.timedelta(days=n)] for n in range(1, 15)]
    assert days[today] <= max(before), (days[today], before)
