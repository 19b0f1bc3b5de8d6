"""PrestaShop polling (webservice in its documented JSON shape) and fulfilments sent back to Shopify and
WooCommerce when an order ships."""

import json

import httpx
import pytest
import respx

from channels.models import ChannelConnection, ChannelFulfillment, WebhookDelivery
from channels.services import fulfilment_send, prestashop_poll
from channels.tasks import prestashop_poll_all
from orders.models import Order, OrderStatus
from orders.services import lifecycle
from orders.services.intake import LineInput, OrderInput, order_create
from shipping.models import Shipment, ShipmentLine
from tests.events import events_of
from tests.shipping.factories import CarrierFactory, CarrierServiceFactory

pytestmark = pytest.mark.django_db

PRESTA = "https://presta.example.fr/api"


def presta_order(**changes):
    order = {
        "id": 5,
        "reference": "XKBKNABJK",
        "id_customer": 2,
        "id_address_delivery": 4,
        "id_carrier": 3,
        "current_state": 2,
        "date_upd": "2026-03-02 10:15:00",
        "total_paid_tax_incl": "25.40",
        "associations": {
            "order_rows": [
                {
                    "id": 9,
                    "product_id": 11,
                    "product_reference": "MUG",
                    "product_ean13": "",
                    "product_name": "Mug",
                    "product_quantity": "2",
                    "unit_price_tax_incl": "8.500000",
                }
            ]
        },
    }
    order.update(changes)
    return order


def mock_webservice(router, orders):
    router.get(f"{PRESTA}/orders").mock(
        return_value=httpx.Response(200, json={"orders": orders} if orders else [])
    )
    router.get(f"{PRESTA}/customers").mock(
        return_value=httpx.Response(
            200,
            json={
                "customers": [
                    {"id": 2, "email": "pub@prestashop.com", "firstname": "John", "lastname": "DOE"}
                ]
            },
        )
    )
    router.get(f"{PRESTA}/addresses").mock(
        return_value=httpx.Response(
            200,
            json={
                "addresses": [
                    {
                        "id": 4,
                        "id_country": 8,
                        "company": "",
                        "lastname": "DOE",
                        "firstname": "John",
                        "address1": "16, Main street",
                        "address2": "2nd floor",
                        "postcode": "75002",
                        "city": "Paris",
                        "phone": "0102030405",
                        "phone_mobile": "",
                    }
                ]
            },
        )
    )
    router.get(f"{PRESTA}/countries").mock(
        return_value=httpx.Response(200, json={"countries": [{"id": 8, "iso_code": "FR"}]})
    )
    router.get(f"{PRESTA}/carriers").mock(
        return_value=httpx.Response(200, json={"carriers": [{"id": 3, "name": "Colissimo"}]})
    )


def test_prestashop_poll_imports_new_orders_and_moves_the_cursor(
    presta_channel, products, django_capture_on_commit_callbacks
):
    with respx.mock(assert_all_called=False) as router:
        mock_webservice(router, [presta_order()])
        with django_capture_on_commit_callbacks(execute=True):
            assert prestashop_poll_all.delay().get() == 1
        request = router.calls[0].request
        assert request.headers["Authorization"].startswith("Basic ")
        assert request.url.params["output_format"] == "JSON"
        assert request.url.params["filter[date_upd]"].endswith(",9999-12-31 23:59:59]")
        assert request.url.params["date"] == "1"
    order = Order.objects.get()
    assert (order.external_id, order.customer.email, order.ship_line1, order.ship_city) == (
        "5",
        "pub@prestashop.com",
        "16, Main street",
        "Paris",
    )
    assert [(line.sku, line.quantity, str(line.unit_price)) for line in order.lines.all()] == [
        ("MUG", 2, "8.50")
    ]
    connection = ChannelConnection.objects.get(channel=presta_channel)
    assert connection.order_cursor == "2026-03-02 10:15:00" and connection.last_order_sync_at is not None

    # when: the next poll sees the same version again (the window includes its start), nothing new happens
    with respx.mock(assert_all_called=False) as router:
        mock_webservice(router, [presta_order()])
        with django_capture_on_commit_callbacks(execute=True):
            assert prestashop_poll(channel_id=presta_channel.pk) == 0
        assert router.calls[0].request.url.params["filter[date_upd]"].startswith("[2026-03-02 10:15:00,")
    assert Order.objects.count() == 1 and WebhookDelivery.objects.count() == 1


def test_prestashop_cancelled_state_cancels(presta_channel, products, django_capture_on_commit_callbacks):
    with respx.mock(assert_all_called=False) as router:
        mock_webservice(router, [presta_order()])
        with django_capture_on_commit_callbacks(execute=True):
            prestashop_poll(channel_id=presta_channel.pk)
        mock_webservice(router, [presta_order(current_state=6, date_upd="2026-03-02 11:00:00")])
        with django_capture_on_commit_callbacks(execute=True):
            prestashop_poll(channel_id=presta_channel.pk)
    assert Order.objects.get().status == OrderStatus.CANCELLED


def test_an_empty_poll_keeps_the_cursor(presta_channel):
    ChannelConnection.objects.filter(channel=presta_channel).update(order_cursor="2026-03-01 00:00:00")
    with respx.mock(assert_all_called=False) as router:
        mock_webservice(router, [])
        assert prestashop_poll(channel_id=presta_channel.pk) == 0
    assert ChannelConnection.objects.get(channel=presta_channel).order_cursor == "2026-03-01 00:00:00"


# --- Fulfilments -----------------------------------------------------------------------------------------


def _shipped_order(channel, lyon, *, external_id, lines, tracking="6A12345678901"):
    order = order_create(
        channel=channel,
        data=OrderInput(
            external_id=external_id,
            customer={"email": "jon@example.fr"},
            delivery={"mode": "home", "address": {"line1": "3 rue X", "postcode": "69003", "city": "Lyon"}},
            lines=[LineInput(sku=sku, quantity=q) for sku, q in lines],
        ),
    )
    service = CarrierServiceFactory(carrier=CarrierFactory(code="colissimo", name="Colissimo"))
    shipment = Shipment.objects.create(
        number=f"P-{external_id}",
        order=order,
        location=lyon,
        service=service,
        weight_g=500,
        tracking_number=tracking,
    )
    for line in order.lines.all():
        ShipmentLine.objects.create(
            shipment=shipment, order_line=line, product=line.product, sku=line.sku, quantity=line.quantity
        )
    return order, shipment


def test_shipping_a_shopify_order_posts_a_fulfilment_with_the_tracking_number(
    shopify_channel, products, lyon, django_capture_on_commit_callbacks
):
    order, shipment = _shipped_order(
        shopify_channel, lyon, external_id="820982911946154508", lines=[("TSHIRT-M", 2), ("MUG", 1)]
    )
    calls = []

    def graphql(request):
        body = json.loads(request.content)
        calls.append(body)
        if "fulfillmentOrders" in body["query"]:
            remaining = 0 if len(calls) > 2 else None
            return httpx.Response(
                200,
                json={
                    "data": {
                        "order": {
                            "fulfillmentOrders": {
                                "nodes": [
                                    {
                                        "id": "gid://shopify/FulfillmentOrder/1",
                                        "status": "CLOSED" if remaining == 0 else "OPEN",
                                        "lineItems": {
                                            "nodes": [
                                                {
                                                    "id": "gid://shopify/FulfillmentOrderLineItem/11",
                                                    "remainingQuantity": 2,
                                                    "lineItem": {"sku": "TSHIRT-M"},
                                                },
                                                {
                                                    "id": "gid://shopify/FulfillmentOrderLineItem/12",
                                                    "remainingQuantity": 1,
                                                    "lineItem": {"sku": "MUG"},
                                                },
                                            ]
                                        },
                                    }
                                ]
                            }
                        }
                    }
                },
            )
        return httpx.Response(
            200,
            json={
                "data": {
                    "fulfillmentCreate": {
                        "fulfillment": {"id": "gid://shopify/Fulfillment/99", "status": "SUCCESS"},
                        "userErrors": [],
                    }
                }
            },
        )

    with respx.mock(assert_all_called=False) as router:
        router.post("https://demo-shop.myshopify.com/admin/api/2026-01/graphql.json").mock(
            side_effect=graphql
        )
        with django_capture_on_commit_callbacks(execute=True):
            lifecycle.order_start_preparation(order=order)
            lifecycle.order_mark_shipped(order=order)
        assert calls[0]["variables"] == {"id": "gid://shopify/Order/820982911946154508"}
        fulfillment = calls[1]["variables"]["fulfillment"]
        assert fulfillment["lineItemsByFulfillmentOrder"] == [
            {
                "fulfillmentOrderId": "gid://shopify/FulfillmentOrder/1",
                "fulfillmentOrderLineItems": [
                    {"id": "gid://shopify/FulfillmentOrderLineItem/11", "quantity": 2},
                    {"id": "gid://shopify/FulfillmentOrderLineItem/12", "quantity": 1},
                ],
            }
        ]
        assert fulfillment["trackingInfo"] == {"company": "Colissimo", "numbers": ["6A12345678901"]}

        # when: sent again (a retry), the parcel already reported is not posted twice
        assert fulfilment_send(order_id=order.pk) == 0
        assert len(calls) == 2
    record = ChannelFulfillment.objects.get(shipment=shipment)
    assert (record.state, record.remote_id) == ("done", "gid://shopify/Fulfillment/99")
    assert events_of(order, "order.channel_fulfilment").count() == 1


def test_shipping_a_woocommerce_order_adds_a_note_and_completes_it(
    woo_channel, products, lyon, django_capture_on_commit_callbacks
):
    order, _shipment = _shipped_order(woo_channel, lyon, external_id="727", lines=[("MUG", 1)])
    with respx.mock(base_url="https://woo.example.fr/wp-json/wc/v3", assert_all_called=True) as router:
        router.get("/orders/727/notes").mock(return_value=httpx.Response(200, json=[]))
        note = router.post("/orders/727/notes").mock(return_value=httpx.Response(201, json={"id": 1}))
        complete = router.put("/orders/727").mock(
            return_value=httpx.Response(200, json={"id": 727, "status": "completed"})
        )
        with django_capture_on_commit_callbacks(execute=True):
            lifecycle.order_start_preparation(order=order)
            lifecycle.order_mark_shipped(order=order)
    assert json.loads(note.calls[0].request.content) == {
        "note": "Colissimo 6A12345678901 (P-727)",
        "customer_note": True,
    }
    assert json.loads(complete.calls[0].request.content) == {"status": "completed"}


def test_malformed_polled_orders_are_stored_failed_and_the_poll_goes_on(
    presta_channel, products, django_capture_on_commit_callbacks
):
    # given: the webservice answers a good order, one whose rows are not a list, and a row that is no order
    bad = presta_order(id=6, associations={"order_rows": "x"}, date_upd="2026-03-02 10:20:00")
    with respx.mock(assert_all_called=False) as router:
        mock_webservice(router, [presta_order(), bad, "garbage"])
        with django_capture_on_commit_callbacks(execute=True):
            assert prestashop_poll(channel_id=presta_channel.pk) == 3

    # then: the good one is an order, the others failed deliveries with the reason; the cursor moved
    assert list(Order.objects.values_list("external_id", flat=True)) == ["5"]
    failed = {d.delivery_id: (d.error_code, d.error) for d in WebhookDelivery.objects.filter(status="failed")}
    assert failed.pop("order:6:2026-03-02 10:20:00") == (
        "malformed_payload",
        "associations.order_rows is a string, not a list of objects.",
    )
    assert list(failed.values()) == [
        ("malformed_payload", "The body is JSON but not an object: it is not an order.")
    ]
    assert ChannelConnection.objects.get(channel=presta_channel).order_cursor == "2026-03-02 10:20:00"


def _handed_over(shipment):
    from django.utils import timezone

    Shipment.objects.filter(pk=shipment.pk).update(status="handed_over", shipped_at=timezone.now())


def test_a_fulfilment_whose_message_was_lost_or_refused_is_sent_by_the_sweep_once(
    woo_channel, products, lyon
):
    from channels.tasks import fulfilment_sweep

    # given: an order shipped while the broker was down: the consumer's message never reached a worker
    # (the after-commit callbacks of this test's transaction never run)
    order, shipment = _shipped_order(woo_channel, lyon, external_id="731", lines=[("MUG", 1)])
    lifecycle.order_start_preparation(order=order)
    lifecycle.order_mark_shipped(order=order)
    _handed_over(shipment)
    assert not ChannelFulfillment.objects.exists()

    with respx.mock(base_url="https://woo.example.fr/wp-json/wc/v3", assert_all_called=False) as router:
        router.get("/orders/731/notes").mock(return_value=httpx.Response(200, json=[]))
        note = router.post("/orders/731/notes")
        note.side_effect = [httpx.Response(500, json={"code": "oops"}), httpx.Response(201, json={"id": 1})]
        router.put("/orders/731").mock(
            return_value=httpx.Response(200, json={"id": 731, "status": "completed"})
        )

        # when: beat's sweep runs while WooCommerce fails, then again once it answers
        assert fulfilment_sweep() == 1
        assert ChannelFulfillment.objects.get(shipment=shipment).state != "done"
        assert fulfilment_sweep() == 1

        # then: the parcel is reported once; later sweeps find nothing to do
        assert ChannelFulfillment.objects.get(shipment=shipment).state == "done"
        assert fulfilment_sweep() == 0
        assert note.call_count == 2
    assert events_of(order, "order.channel_fulfilment").count() == 1


def test_two_senders_of_one_order_never_report_a_parcel_twice(woo_channel, products, lyon):
    from common import jobs

    order, shipment = _shipped_order(woo_channel, lyon, external_id="732", lines=[("MUG", 1)])
    _handed_over(shipment)
    with respx.mock(base_url="https://woo.example.fr/wp-json/wc/v3", assert_all_called=False) as router:
        note = router.post("/orders/732/notes").mock(return_value=httpx.Response(201, json={"id": 1}))
        router.get("/orders/732/notes").mock(return_value=httpx.Response(200, json=[]))
        router.put("/orders/732").mock(return_value=httpx.Response(200, json={"id": 732}))
        # while another worker sends this order's parcels (it holds the order's lease), this one does nothing
        with jobs.lease(f"channels.fulfilment:{order.pk}", seconds=60) as held:
            assert held
            assert fulfilment_send(order_id=order.pk) == 0
        assert note.call_count == 0
        assert fulfilment_send(order_id=order.pk) == 1
        assert fulfilment_send(order_id=order.pk) == 0
        assert note.call_count == 1
