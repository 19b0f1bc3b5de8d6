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
    assert Product.objects.count() == 200
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
    # A legal entity invoices the demo: every shipped order has its invoice.
    assert LegalEntity.objects.filter(is_default=True).count() == 1
    # (the reports' history, HIST-…, is written in bulk for the charts and carries no invoices)
    shipped = Order.objects.filter(
        status__in=["shipped", "out_for_delivery", "delivered", "returned"]
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

    from orders.reports.models import SalesForecast
    from orders.reports.services import daily_units

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
