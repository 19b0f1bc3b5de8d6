"""A poll that answers a row which is not an order (Mirakl's OR11 here; Amazon and PrestaShop store their
rows through the same path): the row is kept as a failed delivery with its payload, the good orders are
taken, and the cursor moves on."""

import datetime as dt

import httpx
import pytest
import respx
import time_machine

from channels.models import ChannelConnection, WebhookDelivery
from orders.models import Order

from .test_mirakl import MIRAKL, floor, mirakl_order  # noqa: F401 (floor is a fixture)

pytestmark = pytest.mark.django_db


# The first poll reads from a day before now: the fixtures' orders were updated at 09:00 that day.
@time_machine.travel(dt.datetime(2026, 12, 4, 9, 30, tzinfo=dt.UTC))
def test_a_mirakl_row_that_is_not_an_order_is_stored_failed_and_the_poll_goes_on(
    floor,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    with respx.mock(assert_all_called=False) as router:
        router.get(f"{MIRAKL}/orders").mock(
            return_value=httpx.Response(
                200, json={"orders": [mirakl_order(state="CLOSED"), "garbage"], "total_count": 2}
            )
        )
        with django_capture_on_commit_callbacks(execute=True):
            from channels.services import mirakl_poll

            assert mirakl_poll(channel_id=floor.fnac.pk) == 2

    rows = {d.delivery_id: d for d in WebhookDelivery.objects.filter(channel=floor.fnac)}
    [garbage] = [d for key, d in rows.items() if key.startswith("row:")]
    assert (garbage.status, garbage.error_code) == ("failed", "malformed_payload")
    assert garbage.error == "The body is JSON but not an object: it is not an order."
    assert "mirakl:FD-100234-A:2026-12-04T09:00:00Z:CLOSED" in rows
    assert ChannelConnection.objects.get(channel=floor.fnac).order_cursor == "2026-12-04T09:00:00Z"
    assert not Order.objects.filter(external_id="garbage").exists()
