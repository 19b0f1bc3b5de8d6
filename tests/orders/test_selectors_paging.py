import pytest

from inventory import services as inv
from orders.models import Order
from orders.selectors import order_list_count, order_list_page
from orders.services.intake import order_create
from tests.orders.test_services_intake import _order, network  # noqa: F401

pytestmark = pytest.mark.django_db


def test_capped_count_and_keyset_pages(network, warehouse):  # noqa: F811
    channel, p = network
    inv.stock_receive(product=p["A"], location=warehouse, quantity=50)
    for n in range(7):
        order_create(channel=channel, data=_order(f"K-{n}"))
    qs = Order.objects.order_by("-created_at", "-id")
    assert order_list_count(qs, cap=5) == (5, False)
    assert order_list_count(qs, cap=10) == (7, True)
    seen, cursor = [], ""
    for _ in range(4):
        rows, cursor = order_list_page(qs, after=cursor, size=3)
        seen += [o.pk for o in rows]
        if not cursor:
            break
    assert seen == list(qs.values_list("pk", flat=True))
    assert order_list_page(qs, after="garbage", size=3)[0] == list(qs[:3])
