"""Back-office pages of the promise: late risk, what-if, and the sourcing comparison on the order."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse

from oms.roles import MANAGER, WAREHOUSE_STAFF
from orders.services.intake import LineInput, OrderInput, order_create
from tests.oms.factories import UserFactory
from tests.orders.test_sourcing_promise import net, stock  # noqa: F401

pytestmark = pytest.mark.django_db
ADDRESS = {"mode": "home", "address": {"line1": "1 rue", "postcode": "69003", "city": "Lyon"}}


def _order(net, external_id="V-1"):  # noqa: F811
    with time_machine.travel(datetime(2026, 11, 24, 10, tzinfo=ZoneInfo("Europe/Paris")), tick=False):
        return order_create(
            channel=net["channel"],
            data=OrderInput(
                external_id=external_id,
                customer={"email": "a@b.fr"},
                delivery=ADDRESS,
                lines=[LineInput("A", 1)],
            ),
        )


def test_detail_shows_the_plans_compared(client, net):  # noqa: F811
    stock(net, "lyon", "A", 5)
    stock(net, "lille", "A", 5)
    order = _order(net)
    client.force_login(UserFactory(username="boss", role=MANAGER))
    html = client.get(
        reverse("orders:order_detail", args=[order.number]), HTTP_ACCEPT_LANGUAGE="en"
    ).content.decode()
    assert 'id="sourcing-title"' in html
    assert html.count("row--chosen") == 1
    assert "Colissimo Domicile" in html


def test_late_risk_page_is_scoped(client, net):  # noqa: F811
    stock(net, "lyon", "A", 5)
    order = _order(net)
    boss = UserFactory(username="boss", role=MANAGER)
    picker = UserFactory(username="picker", role=WAREHOUSE_STAFF, locations=[net["lille"]])
    with time_machine.travel(datetime(2026, 11, 30, 10, tzinfo=ZoneInfo("Europe/Paris")), tick=False):
        client.force_login(boss)
        assert order.number in client.get(reverse("orders:late_risk")).content.decode()
        client.force_login(picker)
        assert order.number not in client.get(reverse("orders:late_risk")).content.decode()


def test_whatif_page_replays_and_refuses_bad_input(client, net):  # noqa: F811
    stock(net, "marseille", "A", 5)
    stock(net, "lyon", "A", 5)
    _order(net)
    client.force_login(UserFactory(username="boss", role=MANAGER))
    with time_machine.travel(datetime(2026, 11, 25, 10, tzinfo=ZoneInfo("Europe/Paris")), tick=False):
        response = client.get(reverse("orders:sourcing_whatif"), {"strategy": "nearest", "days": 30})
        assert response.status_code == 200
        assert response.context["report"]["actual"]["orders"] == 1
        bad = client.get(reverse("orders:sourcing_whatif"), {"strategy": "nearest", "days": 0})
    assert bad.status_code == 400
    assert bad.context["report"] is None
