"""Amazon SP-API connector against respx fixtures in the documented shapes: LWA token refresh, the
restricted data token, getOrders pages (NextToken), order items, state mapping, 429 with the rate-limit
header, shipment confirmation, quantities through the Listings Items API; and a full loop through our own
floor (pick, pack, hand-over) with the stock pushed after each change."""

import json
from datetime import time

import httpx
import pytest
import respx

from channels import amazon
from channels.http import ChannelError, ChannelUnavailable
from channels.models import ChannelConnection, ChannelFulfillment, WebhookDelivery
from channels.services import amazon_poll, fulfilment_send, stock_push
from fulfillment import services as fulfillment
from fulfillment.models import Preparation
from orders.models import Channel, Order, OrderStatus
from shipping import shipments
from shipping.models import Carrier, CarrierService, ShippingRule
from tests.fulfillment.conftest import Floor
from tests.orders.factories import ChannelFactory

pytestmark = pytest.mark.django_db

SPAPI = "https://sellingpartnerapi-eu.amazon.com"
LWA = "https://api.amazon.com/auth/o2/token"


@pytest.fixture(autouse=True)
def _no_waiting(monkeypatch):
    waits = []
    monkeypatch.setattr(amazon, "_sleep", waits.append)
    amazon.reset_buckets()
    yield waits
    amazon.reset_buckets()


@pytest.fixture
def floor(db):
    floor = Floor()
    carrier = Carrier.objects.create(code="colissimo", name="Colissimo", adapter="sandbox")
    floor.service = CarrierService.objects.create(
        carrier=carrier, code="home", name="Domicile", delivery_mode="home", cutoff_time=time(16)
    )
    floor.carrier = carrier
    ShippingRule.objects.create(position=1, name="Home", delivery_mode="home", service=floor.service)
    floor.amazon = ChannelFactory(
        code="amazon-fr", name="Amazon.fr", kind=Channel.Kind.AMAZON, locations=[floor.lyon]
    )
    ChannelConnection.objects.create(
        channel=floor.amazon,
        api_key="amzn1.application-oa2-client.abc",
        api_secret="lwa-secret",
        refresh_token="Atzr|IwEBI-refresh",
        marketplace_id="A13V1IB3VIYZZH",
        seller_id="A2SELLER0001",
        poll_orders=True,
        push_stock=True,
        delivery_modes={"Standard": "home", "Expedited": "home"},
    )
    return floor


def amazon_order(order_id="902-3159896-1390916", status="Unshipped", **changes):
    order = {
        "AmazonOrderId": order_id,
        "PurchaseDate": "2026-12-04T09:10:00Z",
        "LastUpdateDate": "2026-12-04T09:15:00Z",
        "OrderStatus": status,
        "FulfillmentChannel": "MFN",
        "SalesChannel": "Amazon.fr",
        "ShipServiceLevel": "Std FR Dom",
        "ShipmentServiceLevelCategory": "Standard",
        "OrderTotal": {"CurrencyCode": "EUR", "Amount": "48.00"},
        "MarketplaceId": "A13V1IB3VIYZZH",
        "BuyerInfo": {"BuyerEmail": "x7kq2@marketplace.amazon.fr"},
        "ShippingAddress": {
            "Name": "Jeanne Martin",
            "AddressLine1": "12 rue de la République",
            "City": "Lyon",
            "PostalCode": "69002",
            "CountryCode": "FR",
            "Phone": "+33600000000",
        },
    }
    order.update(changes)
    return order


def items(order_id="902-3159896-1390916"):
    return {
        "payload": {
            "AmazonOrderId": order_id,
            "OrderItems": [
                {
                    "ASIN": "B00TEST001",
                    "SellerSKU": "MUG",
                    "OrderItemId": "68828574383266",
                    "QuantityOrdered": 2,
                    "QuantityShipped": 0,
                    "ItemPrice": {"CurrencyCode": "EUR", "Amount": "24.00"},
                }
            ],
        }
    }


def mock_auth(router):
    lwa = router.post(LWA).mock(
        return_value=httpx.Response(
            200, json={"access_token": "Atza|access-1", "token_type": "bearer", "expires_in": 3600}
        )
    )
    rdt = router.post(f"{SPAPI}/tokens/2021-03-01/restrictedDataToken").mock(
        return_value=httpx.Response(200, json={"restrictedDataToken": "Atz.sprdt|rdt-1", "expiresIn": 3600})
    )
    return lwa, rdt


def test_poll_pages_items_and_restricted_data(floor, django_capture_on_commit_callbacks):
    with respx.mock(assert_all_called=True) as router:
        lwa, rdt = mock_auth(router)
        pages = router.get(f"{SPAPI}/orders/v0/orders").mock(
            side_effect=[
                httpx.Response(
                    200,
                    json={
                        "payload": {
                            "Orders": [amazon_order(status="Pending", order_id="111-PENDING")],
                            "NextToken": "page-2",
                        }
                    },
                ),
                httpx.Response(
                    200,
                    json={
                        "payload": {
                            "Orders": [amazon_order(), amazon_order("222-FBA", FulfillmentChannel="AFN")],
                            "LastUpdatedBefore": "2026-12-04T09:20:00Z",
                        }
                    },
                ),
            ]
        )
        router.get(f"{SPAPI}/orders/v0/orders/902-3159896-1390916/orderItems").mock(
            return_value=httpx.Response(200, json=items())
        )
        with django_capture_on_commit_callbacks(execute=True):
            assert amazon_poll(channel_id=floor.amazon.pk) == 3
        # LWA form and the restricted data token for getOrders' PII
        assert dict(x.split("=") for x in lwa.calls[0].request.content.decode().split("&"))["grant_type"] == (
            "refresh_token"
        )
        assert json.loads(rdt.calls[0].request.content)["restrictedResources"][0] == {
            "method": "GET",
            "path": "/orders/v0/orders",
            "dataElements": ["buyerInfo", "shippingAddress"],
        }
        first, second = (call.request for call in pages.calls)
        assert first.headers["x-amz-access-token"] == "Atz.sprdt|rdt-1"
        assert (
            first.url.params["MarketplaceIds"] == "A13V1IB3VIYZZH" and "LastUpdatedAfter" in first.url.params
        )
        assert second.url.params["NextToken"] == "page-2" and "LastUpdatedAfter" not in second.url.params
    order = Order.objects.get()
    assert (order.external_id, order.status, order.customer.email, order.ship_city) == (
        "902-3159896-1390916",
        OrderStatus.ALLOCATED,
        "x7kq2@marketplace.amazon.fr",
        "Lyon",
    )
    assert [(x.sku, x.quantity, str(x.unit_price)) for x in order.lines.all()] == [("MUG", 2, "12.00")]
    results = sorted(
        (d.delivery_id.split(":")[1], d.status, d.error_code) for d in WebhookDelivery.objects.all()
    )
    assert results == [
        ("111-PENDING", "ignored", "not_payable_yet"),
        ("222-FBA", "ignored", "fulfilled_by_amazon"),
        ("902-3159896-1390916", "processed", ""),
    ]
    connection = ChannelConnection.objects.get(channel=floor.amazon)
    assert connection.order_cursor == "2026-12-04T09:20:00Z"


def test_pending_is_taken_when_unshipped_and_canceled_cancels(floor, django_capture_on_commit_callbacks):
    def poll(order):
        with respx.mock(assert_all_called=False) as router:
            mock_auth(router)
            router.get(f"{SPAPI}/orders/v0/orders").mock(
                return_value=httpx.Response(200, json={"payload": {"Orders": [order]}})
            )
            router.get(url__regex=r".*/orderItems").mock(return_value=httpx.Response(200, json=items()))
            with django_capture_on_commit_callbacks(execute=True):
                amazon_poll(channel_id=floor.amazon.pk)

    poll(amazon_order(status="Pending"))
    assert not Order.objects.exists()
    assert floor.level(floor.mug).reserved == 0  # a pending order reserves nothing
    poll(amazon_order(status="Unshipped", LastUpdateDate="2026-12-04T10:00:00Z"))
    assert Order.objects.get().status == OrderStatus.ALLOCATED
    assert floor.level(floor.mug).reserved == 2
    poll(amazon_order(status="Canceled", LastUpdateDate="2026-12-04T11:00:00Z"))
    assert Order.objects.get().status == OrderStatus.CANCELLED
    assert floor.level(floor.mug).reserved == 0


def test_429_backs_off_with_the_documented_rate_then_succeeds(floor, _no_waiting):
    connection = ChannelConnection.objects.get(channel=floor.amazon)
    with respx.mock(assert_all_called=False) as router:
        mock_auth(router)
        route = router.get(url__regex=r".*/orderItems").mock(
            side_effect=[
                httpx.Response(
                    429,
                    headers={"x-amzn-RateLimit-Limit": "0.5"},
                    json={"errors": [{"code": "QuotaExceeded"}]},
                ),
                httpx.Response(
                    429,
                    headers={"x-amzn-RateLimit-Limit": "0.5"},
                    json={"errors": [{"code": "QuotaExceeded"}]},
                ),
                httpx.Response(200, json=items()),
            ]
        )
        api = amazon.Api(connection)
        assert amazon.order_items(api, "902-3159896-1390916")[0]["SellerSKU"] == "MUG"
    assert route.call_count == 3
    # backoff 1 s then 2 s, and the bucket follows the 0.5 req/s Amazon announced (a 2 s wait per call)
    assert 1.0 in _no_waiting and 2.0 in _no_waiting
    assert any(abs(w - 2.0) < 0.01 for w in _no_waiting)
    # always throttled: the task is retried later, nothing half-done
    with respx.mock(assert_all_called=False) as router:
        mock_auth(router)
        router.get(url__regex=r".*/orderItems").mock(
            return_value=httpx.Response(429, headers={"x-amzn-RateLimit-Limit": "0.5"}, json={"errors": []})
        )
        with pytest.raises(ChannelUnavailable, match="429"):
            amazon.order_items(amazon.Api(connection), "902-3159896-1390916")


def test_get_orders_burst_then_the_restore_rate_defers_the_poll(floor):
    """getOrders: burst 20, then one call a minute: the 21st call in a row is not sent, the task retries."""
    connection = ChannelConnection.objects.get(channel=floor.amazon)
    with respx.mock(assert_all_called=False) as router:
        mock_auth(router)
        router.get(f"{SPAPI}/orders/v0/orders").mock(
            return_value=httpx.Response(200, json={"payload": {"Orders": []}})
        )
        api = amazon.Api(connection)
        for _ in range(20):
            api.call("getOrders", "GET", "/orders/v0/orders", params={"MarketplaceIds": "A13V1IB3VIYZZH"})
        with pytest.raises(ChannelUnavailable, match="rate limit"):
            api.call("getOrders", "GET", "/orders/v0/orders", params={"MarketplaceIds": "A13V1IB3VIYZZH"})


def test_lwa_token_is_cached_and_refreshed_when_expired(floor):
    connection = ChannelConnection.objects.get(channel=floor.amazon)
    with respx.mock(assert_all_called=False) as router:
        lwa = router.post(LWA).mock(
            side_effect=[
                httpx.Response(200, json={"access_token": "Atza|one", "expires_in": 3600}),
                httpx.Response(200, json={"access_token": "Atza|two", "expires_in": 3600}),
            ]
        )
        calls = router.get(url__regex=r".*/orderItems").mock(
            side_effect=[
                httpx.Response(200, json=items()),
                httpx.Response(
                    403,
                    json={
                        "errors": [
                            {"code": "Unauthorized", "message": "The access token you provided has expired."}
                        ]
                    },
                ),
                httpx.Response(200, json=items()),
            ]
        )
        api = amazon.Api(connection)
        amazon.order_items(api, "1")
        amazon.order_items(api, "1")
    assert lwa.call_count == 2
    assert [c.request.headers["x-amz-access-token"] for c in calls.calls] == [
        "Atza|one",
        "Atza|one",
        "Atza|two",
    ]
    # a refused refresh token is an error to show, not to retry
    with respx.mock(assert_all_called=False) as router:
        router.post(LWA).mock(return_value=httpx.Response(400, json={"error": "invalid_grant"}))
        with pytest.raises(ChannelError, match="refused"):
            amazon.access_token(connection, fresh=True)


def test_full_loop_order_picked_packed_shipped_confirmed_stock_pushed(
    floor, django_capture_on_commit_callbacks
):
    pushed = []

    def listings(request):
        body = json.loads(request.content)
        pushed.append((request.url.path.rsplit("/", 1)[-1], body["patches"][0]["value"][0]["quantity"]))
        return httpx.Response(
            200, json={"sku": "x", "status": "ACCEPTED", "submissionId": "s1", "issues": []}
        )

    with respx.mock(assert_all_called=False) as router:
        mock_auth(router)
        router.get(f"{SPAPI}/orders/v0/orders").mock(
            return_value=httpx.Response(200, json={"payload": {"Orders": [amazon_order()]}})
        )
        router.get(url__regex=r".*/orderItems").mock(return_value=httpx.Response(200, json=items()))
        router.patch(url__regex=r".*/listings/2021-08-01/items/A2SELLER0001/.*").mock(side_effect=listings)
        confirm = router.post(f"{SPAPI}/orders/v0/orders/902-3159896-1390916/shipmentConfirmation").mock(
            return_value=httpx.Response(204)
        )

        def push():
            ChannelConnection.objects.filter(channel=floor.amazon).update(
                job_due_at=None, job_lease_until=None
            )
            ChannelConnection.objects.filter(channel=floor.amazon).update(job_due_at=amazon_now())
            stock_push(channel_id=floor.amazon.pk, full=True)
            return dict(pushed[-3:])["MUG"]

        assert push() == 20  # before: 20 mugs at lyon
        # order in
        with django_capture_on_commit_callbacks(execute=True):
            amazon_poll(channel_id=floor.amazon.pk)
        order = Order.objects.get(channel=floor.amazon)
        assert order.status == OrderStatus.ALLOCATED
        assert push() == 18
        # picked
        wave = fulfillment.wave_release(location=floor.lyon)
        while (step := fulfillment.current_step(wave=wave)) is not None:
            fulfillment.pick_scan(wave=wave, code=step.bin_code, actor=floor.picker)
            fulfillment.pick_scan(
                wave=wave, code=step.ean, quantity=step.left, bin_confirmed=step.bin_code, actor=floor.picker
            )
        order.refresh_from_db()
        assert order.status == OrderStatus.IN_PREPARATION
        assert push() == 18
        # packed, labelled (sandbox), handed over: shipped, and Amazon is told with the tracking number
        prep = Preparation.objects.get(order=order)
        with django_capture_on_commit_callbacks(execute=True):
            fulfillment.pack_scan(preparation=prep, code=floor.mug.ean, quantity=2, actor=floor.picker)
            shipment = fulfillment.parcel_close(preparation=prep, box=None, weight_g=900, actor=floor.picker)
        with django_capture_on_commit_callbacks(execute=True):
            shipments.manifest_create(location=floor.lyon, carrier=floor.carrier, actor=floor.picker)
        order.refresh_from_db()
        assert order.status == OrderStatus.SHIPPED
        assert confirm.call_count == 1
        shipment.refresh_from_db()
        body = json.loads(confirm.calls[0].request.content)
        assert body == {
            "packageDetail": {
                "packageReferenceId": str(shipment.pk),
                "carrierCode": "Colissimo",
                "trackingNumber": shipment.tracking_number,
                "shipDate": body["packageDetail"]["shipDate"],
                "orderItems": [{"orderItemId": "68828574383266", "quantity": 2}],
            },
            "marketplaceId": "A13V1IB3VIYZZH",
        }
        assert ChannelFulfillment.objects.get(shipment=shipment).state == "done"
        assert push() == 18  # shipped: 18 on hand, none reserved
        # reported once: sending again does nothing
        assert fulfilment_send(order_id=order.pk) == 0


def amazon_now():
    from django.utils import timezone

    return timezone.now()


def test_a_poll_takes_its_new_orders_in_one_batch(floor, django_capture_on_commit_callbacks, monkeypatch):
    from channels import services
    from tests.events import events_of

    batches = []
    real = services.deliveries_take

    def spy(**kwargs):
        result = real(**kwargs)
        batches.append(result)
        return result

    monkeypatch.setattr(services, "deliveries_take", spy)

    def with_sku(order_id, sku):
        body = items(order_id)
        body["payload"]["OrderItems"][0]["SellerSKU"] = sku
        return httpx.Response(200, json=body)

    with respx.mock(assert_all_called=False) as router:
        mock_auth(router)
        router.get(f"{SPAPI}/orders/v0/orders").mock(
            return_value=httpx.Response(
                200,
                json={
                    "payload": {
                        "Orders": [
                            amazon_order("A-1"),
                            amazon_order("A-2"),
                            amazon_order("A-3"),
                            amazon_order("A-4", status="Canceled"),
                        ]
                    }
                },
            )
        )
        for order_id, sku in (("A-1", "MUG"), ("A-2", "NOPE"), ("A-3", "CAP")):
            router.get(f"{SPAPI}/orders/v0/orders/{order_id}/orderItems").mock(
                return_value=with_sku(order_id, sku)
            )
        with django_capture_on_commit_callbacks(execute=True):
            assert amazon_poll(channel_id=floor.amazon.pk) == 4
    # the three new orders went through the batch intake together, the cancellation on its own
    assert batches == [{"batch": 3, "one_by_one": 1}]
    assert sorted(Order.objects.values_list("external_id", flat=True)) == ["A-1", "A-3"]
    results = {d.delivery_id.split(":")[1]: (d.status, d.error_code) for d in WebhookDelivery.objects.all()}
    assert results == {
        "A-1": ("processed", ""),
        "A-2": ("failed", "unknown_sku"),
        "A-3": ("processed", ""),
        "A-4": ("ignored", "cancelled_before_import"),
    }
    for order in Order.objects.all():
        assert events_of(order, "order.channel_received").count() == 1
        assert order.status == OrderStatus.ALLOCATED
