"""The reason picker of the order's cancel forms: our reasons for every order, and for a Mirakl order the
marketplace's reason codes (RE02, cached on the connector) with the connector's default preselected; the
code chosen is the one OR30 sends, instead of the connector's default."""

import json

import httpx
import pytest
import respx
from django.urls import reverse

from channels.models import ChannelConnection, MarketplaceSend
from common.models import DomainEvent
from oms.roles import CUSTOMER_SERVICE
from orders.models import Order, OrderLine
from tests.channels.test_mirakl import MIRAKL, floor, poll  # noqa: F401
from tests.channels.test_mirakl_adjustments import shipping_order
from tests.channels.test_mirakl_outbound import OR30_ANSWER
from tests.oms.factories import UserFactory

pytestmark = pytest.mark.django_db

CACHED = {
    "ORDER_CANCEL": [
        {"code": "34", "label": "Article indisponible"},
        {"code": "36", "label": "Annulation à la demande du client"},
    ],
    "REFUND": [{"code": "RF1", "label": "Geste commercial"}],
    "fetched_at": "2026-12-04T08:00:00+00:00",
}


@pytest.fixture
def mirakl_order(floor, django_capture_on_commit_callbacks):  # noqa: F811
    ChannelConnection.objects.filter(channel=floor.fnac).update(
        push_stock=False, marketplace_reasons=CACHED, default_reasons={"cancellation": "34"}
    )
    with respx.mock(assert_all_called=False) as router:
        poll(floor, router, [shipping_order()], django_capture_on_commit_callbacks)
    return Order.objects.get(channel=floor.fnac)


def test_the_partial_cancel_form_offers_the_marketplace_reasons_and_or30_sends_the_one_chosen(
    client, mirakl_order, django_capture_on_commit_callbacks
):
    client.force_login(UserFactory(username="cs", role=CUSTOMER_SERVICE, locations=[]))
    url = reverse("orders:order_lines_cancel", args=[mirakl_order.number])
    page = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'name="reason_choice"' in page and "The customer asked" in page
    assert '<option value="34" selected>34 — Article indisponible</option>' in page  # the connector's default
    assert '<option value="36">36 — Annulation à la demande du client</option>' in page

    mug = OrderLine.objects.get(order=mirakl_order, sku="MUG")
    with respx.mock(assert_all_called=False) as router:
        or30 = router.put(f"{MIRAKL}/orders/cancel").mock(return_value=httpx.Response(200, json=OR30_ANSWER))
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                url,
                {
                    f"cancel_{mug.pk}": "1",
                    "reason_choice": "customer_request",
                    "reason_code": "36",
                    "reason": "tél.",
                },
                HTTP_ACCEPT_LANGUAGE="en",
            )

    assert response.status_code == 302
    event = DomainEvent.objects.get(order_id=mirakl_order.pk, code="order.lines_cancelled")
    assert (event.payload["reason"], event.payload["reason_code"]) == ("The customer asked: tél.", "36")
    assert [c["reason_code"] for c in json.loads(or30.calls[0].request.content)["cancelations"]] == ["36"]
    assert MarketplaceSend.objects.get().reason_code == "36"


def test_the_whole_cancel_form_needs_a_reason_and_keeps_the_chosen_code(
    client, mirakl_order, django_capture_on_commit_callbacks
):
    client.force_login(UserFactory(username="cs", role=CUSTOMER_SERVICE, locations=[]))
    url = reverse("orders:order_cancel", args=[mirakl_order.number])

    refused = client.post(url, {"reason_choice": "", "reason": ""}, HTTP_ACCEPT_LANGUAGE="en")
    assert refused.status_code == 400 and "Give the reason for the cancellation." in refused.content.decode()

    with respx.mock(assert_all_called=False) as router:
        router.put(f"{MIRAKL}/orders/{mirakl_order.external_id}/cancel").mock(
            return_value=httpx.Response(204)
        )
        with django_capture_on_commit_callbacks(execute=True):
            done = client.post(
                url, {"reason_choice": "out_of_stock", "reason_code": "34"}, HTTP_ACCEPT_LANGUAGE="en"
            )

    assert done.status_code == 302
    mirakl_order.refresh_from_db()
    assert (mirakl_order.status, mirakl_order.cancel_reason) == ("cancelled", "Out of stock")
    event = DomainEvent.objects.get(order_id=mirakl_order.pk, code="order.cancelled")
    assert event.payload["reason_code"] == "34"
    assert MarketplaceSend.objects.get().kind == "order_cancel"
