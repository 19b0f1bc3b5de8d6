"""Stock push to Shopify (GraphQL inventorySetQuantities), WooCommerce (products/batch) and PrestaShop
(stock_availables), with respx fixtures in the documented shapes; fulfilments sent back to Shopify."""

import json

import httpx
import pytest
import respx
from django.core.cache import cache

from channels.http import ChannelUnavailable
from channels.models import ChannelConnection, ChannelListing
from channels.services import connection_save, stock_push
from channels.tasks import stock_push as stock_push_task
from inventory import services as inventory_services

SHOPIFY_API = "https://demo-shop.myshopify.com/admin/api/2026-01/graphql.json"
GIDS = {"TSHIRT-M": "gid://shopify/InventoryItem/1001", "MUG": "gid://shopify/InventoryItem/1002"}


class FakeShopify:
    """Answers the two GraphQL documents the push sends, as the Admin API does, and records the mutations."""

    def __init__(self, fail_first: int = 0):
        self.mutations = []
        self.lookups = 0
        self.fail_first = fail_first

    def __call__(self, request):
        body = json.loads(request.content)
        assert request.headers["X-Shopify-Access-Token"] == "shpat_test"
        if "productVariants" in body["query"]:
            self.lookups += 1
            nodes = [
                {"sku": s, "inventoryItem": {"id": g}}
                for s, g in GIDS.items()
                if f"'{s}'" in body["variables"]["query"]
            ]
            return httpx.Response(200, json={"data": {"productVariants": {"nodes": nodes}}})
        assert "inventorySetQuantities" in body["query"]
        self.mutations.append(body)
        if self.fail_first:
            self.fail_first -= 1
            return httpx.Response(503, text="Service Unavailable")
        return httpx.Response(
            200,
            json={
                "data": {
                    "inventorySetQuantities": {
                        "inventoryAdjustmentGroup": {"id": "gid://shopify/InventoryAdjustmentGroup/1"},
                        "userErrors": [],
                    }
                }
            },
        )

    def quantities(self, index=-1):
        return {
            q["inventoryItemId"]: q["quantity"]
            for q in self.mutations[index]["variables"]["input"]["quantities"]
        }


def enable_push(channel):
    connection_save(channel=channel, data={"push_stock": True})
    cache.clear()


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
def test_shopify_push_sends_the_channels_availability_then_only_what_changed(shopify_channel, products, lyon):
    shopify_channel.safety_buffer = 1
    shopify_channel.save()
    fake = FakeShopify()
    with respx.mock(assert_all_called=False) as router:
        router.post(SHOPIFY_API).mock(side_effect=fake)
        enable_push(shopify_channel)

        # when: the first push (no cursor yet) sends every product
        result = stock_push_task.delay(shopify_channel.pk).get()

        assert result == {"pushed": 2, "skipped": 0}
        assert fake.quantities() == {GIDS["TSHIRT-M"]: 9, GIDS["MUG"]: 2}  # on hand minus the buffer
        mutation = fake.mutations[-1]
        assert "@idempotent(key: $key)" in mutation["query"]
        assert len(mutation["variables"]["key"]) == 36
        payload = mutation["variables"]["input"]
        assert (payload["name"], payload["reason"]) == ("available", "correction")
        assert all(
            q["locationId"] == "gid://shopify/Location/777" and q["changeFromQuantity"] is None
            for q in payload["quantities"]
        )
        assert set(ChannelListing.objects.values_list("remote_id", "last_pushed_quantity")) == {
            (GIDS["TSHIRT-M"], 9),
            (GIDS["MUG"], 2),
        }

        # when: stock of one SKU changes, the debounced push (run at once: tasks are eager) sends it alone
        inventory_services.stock_receive(product=products["TSHIRT-M"], location=lyon, quantity=5)

        assert len(fake.mutations) == 2
        assert fake.quantities() == {GIDS["TSHIRT-M"]: 14}
        assert fake.lookups == 1  # the inventory item ids were kept

        # when: nothing changed, a push sends nothing
        assert stock_push(channel_id=shopify_channel.pk) == {"pushed": 0, "skipped": 0}
        assert len(fake.mutations) == 2
    connection = ChannelConnection.objects.get(channel=shopify_channel)
    assert connection.last_stock_push_at is not None and connection.last_error == ""


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
def test_a_failed_push_is_retried_with_the_same_idempotency_key(shopify_channel, products):
    fake = FakeShopify(fail_first=1)
    with respx.mock(assert_all_called=False) as router:
        router.post(SHOPIFY_API).mock(side_effect=fake)
        enable_push(shopify_channel)
        # the task retries on ChannelUnavailable (autoretry_for, with backoff); here the retry is run by hand
        with pytest.raises(ChannelUnavailable):
            stock_push(channel_id=shopify_channel.pk)
        assert ChannelConnection.objects.get(channel=shopify_channel).stock_cursor == ""
        stock_push(channel_id=shopify_channel.pk)
    assert ChannelUnavailable in stock_push_task.autoretry_for
    assert len(fake.mutations) == 2
    assert fake.mutations[0]["variables"] == fake.mutations[1]["variables"]
    assert ChannelConnection.objects.get(channel=shopify_channel).stock_cursor != ""


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
def test_a_refused_push_keeps_the_cursor_and_shows_the_error(shopify_channel, products):
    with respx.mock(assert_all_called=False) as router:
        router.post(SHOPIFY_API).mock(
            side_effect=lambda request: (
                httpx.Response(401, json={"errors": "bad token"})
                if "inventorySetQuantities" not in json.loads(request.content)["query"]
                else httpx.Response(200)
            )
        )
        enable_push(shopify_channel)
        with pytest.raises(Exception, match="401"):
            stock_push(channel_id=shopify_channel.pk)
    connection = ChannelConnection.objects.get(channel=shopify_channel)
    assert connection.stock_cursor == ""
    assert "401" in connection.last_error


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
def test_woocommerce_push_batches_stock_quantities(woo_channel, products):
    sent = []
    with respx.mock(base_url="https://woo.example.fr/wp-json/wc/v3", assert_all_called=True) as router:
        router.get("/products").mock(
            return_value=httpx.Response(
                200,
                json=[
                    {"id": 93, "sku": "MUG", "manage_stock": True, "stock_quantity": 0},
                    {"id": 94, "sku": "TSHIRT-M", "manage_stock": True, "stock_quantity": 0},
                ],
            )
        )

        def batch(request):
            assert request.headers["Authorization"].startswith("Basic ")
            sent.append(json.loads(request.content))
            return httpx.Response(200, json={"update": [{"id": u["id"]} for u in sent[-1]["update"]]})

        router.post("/products/batch").mock(side_effect=batch)
        enable_push(woo_channel)
        stock_push_task.delay(woo_channel.pk).get()
    assert sent == [
        {
            "update": [
                {"id": 94, "manage_stock": True, "stock_quantity": 10},
                {"id": 93, "manage_stock": True, "stock_quantity": 3},
            ]
        }
    ] or sent == [
        {
            "update": [
                {"id": 93, "manage_stock": True, "stock_quantity": 3},
                {"id": 94, "manage_stock": True, "stock_quantity": 10},
            ]
        }
    ]


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
def test_prestashop_push_puts_stock_availables(presta_channel, products):
    puts = {}
    with respx.mock(base_url="https://presta.example.fr/api", assert_all_called=True) as router:
        router.get("/products").mock(
            return_value=httpx.Response(
                200, json={"products": [{"id": 11, "reference": "MUG"}, {"id": 12, "reference": "TSHIRT-M"}]}
            )
        )
        router.get("/stock_availables").mock(
            return_value=httpx.Response(
                200,
                json={
                    "stock_availables": [
                        {
                            "id": 501,
                            "id_product": 11,
                            "id_product_attribute": 0,
                            "id_shop": 1,
                            "id_shop_group": 0,
                            "quantity": 0,
                            "depends_on_stock": 0,
                            "out_of_stock": 2,
                            "location": "",
                        },
                        {
                            "id": 502,
                            "id_product": 12,
                            "id_product_attribute": 0,
                            "id_shop": 1,
                            "id_shop_group": 0,
                            "quantity": 0,
                            "depends_on_stock": 0,
                            "out_of_stock": 2,
                            "location": "",
                        },
                    ]
                },
            )
        )

        def put(request, pk):
            puts[pk] = request.content.decode()
            return httpx.Response(200, text="<prestashop/>")

        router.put(url__regex=r"/stock_availables/(?P<pk>\d+)$").mock(side_effect=put)
        enable_push(presta_channel)
        stock_push_task.delay(presta_channel.pk).get()
    assert set(puts) == {"501", "502"}
    assert "<quantity><![CDATA[3]]></quantity>" in puts["501"]
    assert "<quantity><![CDATA[10]]></quantity>" in puts["502"]
    assert "<id_product><![CDATA[11]]></id_product>" in puts["501"]


def test_pushes_are_debounced_and_one_at_a_time_through_the_database(shopify_channel):
    """The debounce and the lock live in the connection's job fields (common/jobs.py), not in the cache: a
    push whose message is lost stays due for the sweep, and Redis down changes nothing."""
    from datetime import timedelta
    from unittest import mock

    from django.utils import timezone

    from channels.jobs import STOCK_PUSH
    from channels.services import PushBusy, push_schedule
    from common import jobs

    enable_push(shopify_channel)
    connection = ChannelConnection.objects.get(channel=shopify_channel)

    # two changes in a row: one push, due within the debounce window
    with mock.patch("common.jobs.enqueue", return_value=True) as enqueue:
        push_schedule()
        push_schedule()
    assert [c.args[1:] for c in enqueue.call_args_list] == [(shopify_channel.pk,)]
    assert enqueue.call_args.kwargs == {"countdown": 5}
    connection.refresh_from_db()
    assert timezone.now() < connection.job_due_at <= timezone.now() + timedelta(seconds=5)

    # a push running holds the connection's lease: another one waits for it (the task retries)
    with jobs.claim(STOCK_PUSH, connection.pk) as job:
        assert job is not None
        with pytest.raises(PushBusy):
            stock_push(channel_id=shopify_channel.pk)
        # a change during the push brings the next push forward
        with mock.patch("common.jobs.enqueue", return_value=True) as enqueue:
            push_schedule()
        assert enqueue.call_count == 1
    connection.refresh_from_db()
    assert connection.job_due_at is not None and connection.job_lease_until is None
