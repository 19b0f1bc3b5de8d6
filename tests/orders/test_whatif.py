from datetime import datetime
from decimal import Decimal
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command

from inventory.models import StockLevel, StockMovement
from orders.models import Order
from orders.services.intake import LineInput, OrderInput, order_create
from orders.services.whatif import sourcing_whatif
from tests.orders.test_sourcing_promise import net, stock  # noqa: F401 - the hand-built network fixture

pytestmark = pytest.mark.django_db


def test_whatif_replays_without_writing(net):  # noqa: F811
    for loc in ("marseille", "lyon", "lille"):
        stock(net, loc, "A", 5)
    net["channel"].sourcing_strategy = "priority"
    net["channel"].save()
    data = OrderInput(
        external_id="W-1",
        customer={"email": "a@b.fr"},
        delivery={"mode": "home", "address": {"line1": "1 rue", "postcode": "69003", "city": "Lyon"}},
        lines=[LineInput("A", 1)],
    )
    with time_machine.travel(datetime(2026, 11, 24, 10, tzinfo=ZoneInfo("Europe/Paris")), tick=False):
        order_create(channel=net["channel"], data=data)  # priority: from Marseille
        before = (
            Order.objects.count(),
            StockMovement.objects.count(),
            list(StockLevel.objects.order_by("pk").values_list("on_hand", "reserved")),
        )

        report = sourcing_whatif(strategy="nearest", days=30)

        out = StringIO()
        call_command("sourcing_whatif", "--days", "30", "--strategy", "nearest", stdout=out)

    assert report.actual.orders == report.replayed.orders == 1
    assert dict(report.actual.by_location) == {"marseille": 1}
    assert dict(report.replayed.by_location) == {"lyon": 1}
    assert report.replayed.cost < report.actual.cost
    assert report.as_dict()["saving"] == str(
        (report.actual.cost - report.replayed.cost).quantize(Decimal("0.01"))
    )
    assert "saving with 'nearest'" in out.getvalue()
    after = (
        Order.objects.count(),
        StockMovement.objects.count(),
        list(StockLevel.objects.order_by("pk").values_list("on_hand", "reserved")),
    )
    assert after == before
