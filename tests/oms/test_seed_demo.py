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
    shipped = Order.objects.filter(status__in=["shipped", "out_for_delivery", "delivered", "returned"])
    assert shipped.exists()
    invoiced = set(Invoice.objects.values_list("order_id", flat=True))
    assert invoiced == set(shipped.values_list("pk", flat=True))
