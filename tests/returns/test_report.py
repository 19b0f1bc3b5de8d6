import pytest
from django.urls import reverse
from django.utils import timezone

from oms.roles import MANAGER
from reports import selectors
from reports.forms import Period
from returns import services
from tests.oms.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_returns_report_counts_orders_and_reasons(world):
    other = world.make_order()
    world.make_order()  # a third order without return
    world.request(items=[("TSHIRT", 2, "wrong_size"), ("MUG", 1, "damaged")])
    world.request(order=other, items=[("TSHIRT", 1, "wrong_size")])
    rejected = world.request(order=other, items=[("MUG", 1, "changed_mind")])
    services.return_reject(ret=rejected, reason="Worn")
    today = timezone.localdate()

    report = selectors.returns_report(period=Period(start=today, end=today))

    assert report.recorded is True
    assert (report.orders, report.returned_orders) == (3, 2)
    assert report.rate == pytest.approx(2 / 3)
    assert report.reasons == [
        {"reason": "Wrong size", "returns": 2, "units": 3},
        {"reason": "Arrived damaged", "returns": 1, "units": 1},
    ]


def test_returns_report_page_shows_the_rate(client, world):
    world.request()
    client.force_login(UserFactory(username="mg-report", role=MANAGER))
    html = client.get(reverse("reports:returns"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "No returns are recorded yet." not in html
    assert "Wrong size" in html
