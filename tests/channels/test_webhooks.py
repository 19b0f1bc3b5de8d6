"""Shopify and WooCommerce webhooks: signature, one delivery per id, processing through the intake,
cancellation, updates, failure and replay."""

import json
from decimal import Decimal

import pytest

from channels import shopify
from channels.models import WebhookDelivery
from common.models import DomainEvent
from inventory.models import StockLevel
from oms.roles import MANAGER
from orders.models import Order, OrderStatus
from tests.events import events_of
from tests.inventory.factories import ProductFactory
from tests.oms.factories import UserFactory
from tests.orders.factories import stock

from .conftest import post_shopify, post_woo, shopify_order, woo_order

pytestmark = pytest.mark.django_db


def reserved(product, location) -> int:
    return StockLevel.objects.get(product=product, location=location).reserved


def test_shopify_order_create_is_stored_answered_and_taken_through_the_intake(
    client, shopify_channel, products, lyon, django_capture_on_commit_callbacks
):
    # when
    with django_capture_on_commit_callbacks(execute=True):
        response = post_shopify(client, "shopify", shopify_order())

    # then: 200 at once, one delivery, processed by the task into one order
    assert response.status_code == 200
    assert response.json()["duplicate"] is False
    delivery = WebhookDelivery.objects.get()
    assert (delivery.topic, delivery.delivery_id, delivery.status) == ("orders/create", "wh-1", "processed")
    assert delivery.headers["X-Shopify-Shop-Domain"] == "demo-shop.myshopify.com"
    order = Order.objects.get()
    assert delivery.order == order
    assert (order.channel, order.external_id, order.status) == (
        shopify_channel,
        "820982911946154508",
        OrderStatus.ALLOCATED,
    )
    assert order.customer.email == "jon@example.fr"
    assert (order.delivery_mode, order.ship_name, order.ship_line1, order.ship_line2) == (
        "home",
        "Jon Doe",
        "3 rue de la République",
        "Bât. B",
    )
    assert (order.ship_postcode, order.ship_city, order.ship_country, order.ship_phone) == (
        "69002",
        "Lyon",
        "FR",
        "+33611223344",
    )
    assert [(line.sku, line.quantity, line.unit_price) for line in order.lines.order_by("line_no")] == [
        ("TSHIRT-M", 2, Decimal("19.90")),
        ("MUG", 1, Decimal("8.50")),
    ]
    # the goods (48.30) and the shipping line's price (4.90): the charge is its own field
    assert (order.shipping_fee, order.total_incl_vat) == (Decimal("4.90"), Decimal("53.20"))
    assert reserved(products["TSHIRT-M"], lyon) == 2
    assert reserved(products["MUG"], lyon) == 1
    stamp = events_of(order, "order.channel_received").get()
    assert stamp.payload["reference"] == "#1001"


def test_a_bad_hmac_is_refused_and_nothing_is_stored(
    client, shopify_channel, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        wrong_secret = post_shopify(client, "shopify", shopify_order(), secret="not-the-secret")
        no_signature = post_shopify(client, "shopify", shopify_order(), signature="")

    assert wrong_secret.status_code == 401
    assert wrong_secret.json()["error"]["code"] == "invalid_signature"
    assert no_signature.status_code == 401
    assert WebhookDelivery.objects.count() == 0
    assert Order.objects.count() == 0


def test_a_tampered_body_is_refused(client, shopify_channel):
    body = json.dumps(shopify_order()).encode()
    from .conftest import sign

    response = client.post(
        "/webhooks/shopify/shopify/",
        data=body.replace(b'"quantity": 2', b'"quantity": 9'),
        content_type="application/json",
        headers={
            "X-Shopify-Topic": "orders/create",
            "X-Shopify-Hmac-Sha256": sign(body),
            "X-Shopify-Webhook-Id": "x",
        },
    )
    assert response.status_code == 401
    assert WebhookDelivery.objects.count() == 0


def test_a_duplicate_delivery_is_acknowledged_and_not_processed_again(
    client, shopify_channel, products, lyon, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        first = post_shopify(client, "shopify", shopify_order(), webhook_id="wh-dup")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        second = post_shopify(client, "shopify", shopify_order(), webhook_id="wh-dup")

    assert first.status_code == second.status_code == 200
    assert second.json()["duplicate"] is True
    assert callbacks == []  # no task queued for the duplicate
    assert WebhookDelivery.objects.count() == 1
    assert Order.objects.count() == 1
    assert reserved(products["TSHIRT-M"], lyon) == 2


def test_accepting_a_delivery_costs_two_statements_and_leaves_the_work_to_the_task(
    client, shopify_channel, products, lyon, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    """The accept path (bench/webhooks.py, target p95 < 20 ms): the channel with its secret (1), the delivery
    stored once by ``INSERT ... ON CONFLICT DO NOTHING`` (1), and the processing queued for later."""
    # when
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        with django_assert_max_num_queries(2) as captured:
            first = post_shopify(client, "shopify", shopify_order(), webhook_id="wh-budget")
        with django_assert_max_num_queries(3):  # a duplicate reads back the delivery stored first
            second = post_shopify(client, "shopify", shopify_order(), webhook_id="wh-budget")

    # then: no order yet, one delivery waiting for its task, one task queued (the duplicate queues none)
    assert [q["sql"].split(" ", 1)[0] for q in captured.captured_queries] == ["SELECT", "INSERT"]
    assert (first.status_code, first.json()["duplicate"]) == (200, False)
    assert (second.status_code, second.json()["duplicate"]) == (200, True)
    delivery = WebhookDelivery.objects.get()
    assert first.json()["delivery"] == second.json()["delivery"] == delivery.pk
    assert (delivery.status, delivery.processed_at) == ("received", None)
    assert delivery.job_due_at is not None  # the sweep's safety net if the message is lost
    assert len(callbacks) == 1
    assert Order.objects.count() == 0
    assert reserved(products["TSHIRT-M"], lyon) == 0


def test_the_same_order_under_another_webhook_id_makes_no_second_order(
    client, shopify_channel, products, lyon, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        post_shopify(client, "shopify", shopify_order(), webhook_id="wh-a")
        post_shopify(client, "shopify", shopify_order(), webhook_id="wh-b")

    assert Order.objects.count() == 1
    second = WebhookDelivery.objects.get(delivery_id="wh-b")
    assert (second.status, second.error_code, second.order) == (
        "processed",
        "duplicate_order",
        Order.objects.get(),
    )
    assert reserved(products["TSHIRT-M"], lyon) == 2


def test_a_failed_delivery_keeps_its_payload_and_is_replayed_after_the_fix(
    client, shopify_channel, lyon, django_capture_on_commit_callbacks
):
    payload = shopify_order()
    payload["line_items"][1]["sku"] = "POSTER"  # not in the catalogue yet
    with django_capture_on_commit_callbacks(execute=True):
        response = post_shopify(client, "shopify", payload, webhook_id="wh-fail")

    # then: answered 200 (Shopify must not retry a business refusal), failed with the reason
    assert response.status_code == 200
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.error_code, delivery.error_details) == (
        "failed",
        "unknown_sku",
        {"skus": ["POSTER"]},
    )
    assert json.loads(delivery.payload)["line_items"][1]["sku"] == "POSTER"
    assert Order.objects.count() == 0

    # the manager sees it with its payload
    manager = UserFactory(role=MANAGER)
    client.force_login(manager)
    page = client.get(f"/settings/channels/shopify/deliveries/{delivery.pk}/", HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200
    assert b"POSTER" in page.content and b"unknown_sku" in page.content

    # when: the product is created, then the delivery replayed
    poster = ProductFactory(sku="POSTER", price="12.00")
    stock(poster, lyon, 4)
    with django_capture_on_commit_callbacks(execute=True):
        replay = client.post(
            f"/settings/channels/shopify/deliveries/{delivery.pk}/", HTTP_ACCEPT_LANGUAGE="en"
        )

    assert replay.status_code == 302
    delivery.refresh_from_db()
    assert (delivery.status, delivery.error_code, delivery.attempts) == ("processed", "", 2)
    order = Order.objects.get()
    assert delivery.order == order
    assert sorted(order.lines.values_list("sku", "quantity")) == [("POSTER", 1), ("TSHIRT-M", 2)]


def test_a_processed_delivery_cannot_be_replayed(client, shopify_channel, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        post_shopify(client, "shopify", shopify_order())
    delivery = WebhookDelivery.objects.get()
    client.force_login(UserFactory(role=MANAGER))
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/settings/channels/shopify/deliveries/{delivery.pk}/", HTTP_ACCEPT_LANGUAGE="en")
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("processed", 1)
    assert Order.objects.count() == 1


def test_out_of_stock_fails_the_delivery_and_writes_nothing(
    client, shopify_channel, products, lyon, django_capture_on_commit_callbacks
):
    payload = shopify_order()
    payload["line_items"][1]["quantity"] = 50
    with django_capture_on_commit_callbacks(execute=True):
        post_shopify(client, "shopify", payload)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.error_code) == ("failed", "out_of_stock")
    assert Order.objects.count() == 0
    assert reserved(products["TSHIRT-M"], lyon) == 0


def test_shopify_cancelled_cancels_and_releases(
    client, shopify_channel, products, lyon, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        post_shopify(client, "shopify", shopify_order())
        post_shopify(
            client,
            "shopify",
            shopify_order(cancelled_at="2026-03-02T11:00:00+01:00", cancel_reason="customer"),
            topic="orders/cancelled",
            webhook_id="wh-cancel",
        )
    order = Order.objects.get()
    assert order.status == OrderStatus.CANCELLED
    assert "customer" in order.cancel_reason
    assert reserved(products["TSHIRT-M"], lyon) == 0
    assert WebhookDelivery.objects.get(delivery_id="wh-cancel").status == "processed"


def test_shopify_updated_applies_a_street_change_and_edits_the_lines(
    client, shopify_channel, products, lyon, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        post_shopify(client, "shopify", shopify_order())
    changed = shopify_order(note="Sonner deux fois")
    changed["shipping_address"]["address2"] = "Bât. C"
    changed["line_items"][0]["quantity"] = 3
    with django_capture_on_commit_callbacks(execute=True):
        post_shopify(client, "shopify", changed, topic="orders/updated", webhook_id="wh-upd")

    order = Order.objects.get()
    assert (order.ship_line2, order.note) == ("Bât. C", "Sonner deux fois")
    # the lines follow the channel through an edit: re-sourced and reserved, recorded as a change
    assert order.lines.get(sku="TSHIRT-M").quantity == 3
    assert reserved(products["TSHIRT-M"], lyon) == 3
    change = order.changes.get()
    assert (change.source, change.difference) == ("shopify", Decimal("19.90"))
    assert change.changes == [{"kind": "quantity", "line": 1, "sku": "TSHIRT-M", "before": 2, "after": 3}]
    applied = events_of(order, "order.channel_update").get().payload["applied"]
    assert applied["address"] == {"line2": {"before": "Bât. B", "after": "Bât. C"}}
    assert applied["note"]["after"] == "Sonner deux fois"
    assert applied["edit"]["difference"] == "19.90"


def test_shopify_updated_moves_the_destination_by_an_edit_before_picking(
    client, shopify_channel, products, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        post_shopify(client, "shopify", shopify_order())
    moved = shopify_order()
    moved["shipping_address"].update(zip="13001", city="Marseille")
    with django_capture_on_commit_callbacks(execute=True):
        post_shopify(client, "shopify", moved, topic="orders/updated", webhook_id="wh-move")
    order = Order.objects.get()
    assert (order.ship_postcode, order.ship_city) == ("13001", "Marseille")
    assert order.changes.get().changes[0]["fields"]["postcode"] == {"before": "69002", "after": "13001"}
    assert events_of(order, "order.sourced").count() == 2  # the intake, then the edit


def test_shopify_updated_after_picking_started_is_recorded_not_applied(
    client, shopify_channel, products, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        post_shopify(client, "shopify", shopify_order())
    Order.objects.update(status=OrderStatus.IN_PREPARATION)
    changed = shopify_order()
    changed["line_items"][0]["quantity"] = 3
    with django_capture_on_commit_callbacks(execute=True):
        post_shopify(client, "shopify", changed, topic="orders/updated", webhook_id="wh-late")

    order = Order.objects.get()
    assert order.lines.get(sku="TSHIRT-M").quantity == 2
    refused = events_of(order, "order.channel_update").get().payload["refused"]
    assert refused["lines"] == {"before": {"MUG": 1, "TSHIRT-M": 2}, "after": {"MUG": 1, "TSHIRT-M": 3}}
    assert "a commencé" in refused["reason"]  # French: the channel's language here


def test_shopify_updated_paid_clears_the_payment_hold(
    client, shopify_channel, products, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        post_shopify(client, "shopify", shopify_order(financial_status="pending"))
    order = Order.objects.get()
    assert (order.payment_status, order.holds) == ("pending", ["payment"])

    with django_capture_on_commit_callbacks(execute=True):
        post_shopify(client, "shopify", shopify_order(), topic="orders/updated", webhook_id="wh-paid")

    order.refresh_from_db()
    assert (order.payment_status, order.holds, order.amount_paid) == ("paid", [], order.total_incl_vat)


def test_an_update_with_nothing_new_adds_nothing_to_the_timeline(
    client, shopify_channel, products, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        post_shopify(client, "shopify", shopify_order())
        post_shopify(client, "shopify", shopify_order(), topic="orders/updated", webhook_id="wh-same")
    assert not DomainEvent.objects.filter(code="order.channel_update").exists()
    assert WebhookDelivery.objects.get(delivery_id="wh-same").error_code == "no_change"


def test_the_shipping_line_title_maps_to_store_pickup(
    client, shopify_channel, paris, products, django_capture_on_commit_callbacks
):
    payload = shopify_order(
        shipping_lines=[{"title": "Retrait en magasin", "code": "pickup", "price": "0.00"}]
    )
    with django_capture_on_commit_callbacks(execute=True):
        post_shopify(client, "shopify", payload)
    order = Order.objects.get()
    assert (order.delivery_mode, order.pickup_location) == ("store", paris)


def test_prices_without_taxes_and_with_discounts_become_unit_prices_incl_vat():
    payload = shopify_order(taxes_included=False)
    payload["line_items"][0].update(
        price="16.58", tax_lines=[{"price": "6.64", "rate": 0.2}], discount_allocations=[{"amount": "2.00"}]
    )
    data, mapping = shopify.order_input(payload, modes={"colissimo": "home"})
    # (16.58 + 6.64 / 2 - 2.00 / 2) = 18.90
    assert data.lines[0].unit_price == Decimal("18.90")
    assert mapping == "Colissimo → home"


def test_an_order_in_another_currency_is_refused(client, shopify_channel, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        post_shopify(client, "shopify", shopify_order(currency="USD"))
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.error_code) == ("failed", "validation_error")
    assert Order.objects.count() == 0


def test_an_unknown_channel_is_404(client, db):
    assert post_shopify(client, "nope", shopify_order()).status_code == 404


# --- WooCommerce ------------------------------------------------------------------------------------


def test_woocommerce_ping_is_answered_without_signature(client, woo_channel):
    response = client.post(
        "/webhooks/woocommerce/woo/", data=b"webhook_id=12", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 200
    assert WebhookDelivery.objects.count() == 0


def test_woocommerce_order_created(client, woo_channel, products, lyon, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = post_woo(client, "woo", woo_order())
    assert response.status_code == 200
    order = Order.objects.get()
    assert (order.external_id, order.customer.email, order.ship_line1) == (
        "727",
        "ana@example.fr",
        "5 quai Rambaud",
    )
    # (14.17 + 0.78) / 2
    assert [(line.sku, line.quantity, line.unit_price) for line in order.lines.all()] == [
        ("MUG", 2, Decimal("7.48"))
    ]
    assert reserved(products["MUG"], lyon) == 2
    assert WebhookDelivery.objects.get().delivery_id == "order.created:727:2026-03-02T10:00:00"


def test_woocommerce_bad_signature(client, woo_channel):
    response = post_woo(client, "woo", woo_order(), secret="wrong")
    assert response.status_code == 401
    assert WebhookDelivery.objects.count() == 0


def test_woocommerce_retry_of_the_same_order_version_is_a_duplicate(
    client, woo_channel, products, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        post_woo(client, "woo", woo_order(), delivery="a")
        again = post_woo(client, "woo", woo_order(), delivery="b")
    assert again.json()["duplicate"] is True
    assert WebhookDelivery.objects.count() == 1
    assert Order.objects.count() == 1


def test_woocommerce_pending_order_waits_for_payment_then_is_taken(
    client, woo_channel, products, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        post_woo(client, "woo", woo_order(status="pending"))
    assert WebhookDelivery.objects.get().status == "ignored"
    assert Order.objects.count() == 0
    with django_capture_on_commit_callbacks(execute=True):
        post_woo(
            client,
            "woo",
            woo_order(status="processing", date_modified_gmt="2026-03-02T10:05:00"),
            topic="order.updated",
        )
    assert Order.objects.get().external_id == "727"


def test_woocommerce_cancelled_update_cancels(
    client, woo_channel, products, lyon, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        post_woo(client, "woo", woo_order())
        post_woo(
            client,
            "woo",
            woo_order(status="cancelled", date_modified_gmt="2026-03-02T11:00:00"),
            topic="order.updated",
        )
    assert Order.objects.get().status == OrderStatus.CANCELLED
    assert reserved(products["MUG"], lyon) == 0


# --- Signed but malformed deliveries --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "code", "error"),
    [
        (
            {"id": 5001, "line_items": "x"},
            "malformed_payload",
            "line_items is a string, not a list of objects.",
        ),
        ({"id": 5001, "line_items": [3]}, "malformed_payload", "line_items[0] is a number, not an object."),
        (
            {"id": 5001, "customer": []},
            "invalid_address",
            "The shipping address is not valid: postcode: A postcode is required.",
        ),
        (
            {"id": 5001, "shipping_address": "x"},
            "malformed_payload",
            "shipping_address is a string, not an object.",
        ),
        (
            {
                "id": 5001,
                "line_items": [{"sku": "MUG", "quantity": 1, "tax_lines": 7}],
                "taxes_included": False,
            },
            "malformed_payload",
            "line_items[0].tax_lines is a number, not a list of objects.",
        ),
        ([1, 2], "malformed_payload", "The body is JSON but not an object: it is not an order."),
        (
            {"id": 5001, "note": "\ud800"},
            "malformed_payload",
            "The string at note contains a lone UTF-16 surrogate.",
        ),
        (
            {"id": 5001, "email": "a\x00@example.fr"},
            "malformed_payload",
            "The string at email contains a NUL character.",
        ),
    ],
    ids=[
        "line_items string",
        "line item number",
        "no line",
        "address string",
        "tax_lines",
        "list",
        "surrogate",
        "nul",
    ],
)
def test_a_signed_malformed_shopify_order_is_stored_failed_listed_and_answered_200(
    client, shopify_channel, django_capture_on_commit_callbacks, payload, code, error
):
    # when: eager processing (as without a worker), the body correctly signed
    with django_capture_on_commit_callbacks(execute=True):
        response = post_shopify(client, "shopify", payload, webhook_id="wh-bad")

    # then: 200 to Shopify (it is stored; a retry would bring the same body), failed with the reason
    assert response.status_code == 200
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.error_code, delivery.error, delivery.attempts) == (
        "failed",
        code,
        error,
        1,
    )
    assert Order.objects.count() == 0
    client.force_login(UserFactory(role=MANAGER))
    page = client.get("/settings/channels/shopify/connector/", HTTP_ACCEPT_LANGUAGE="en")
    assert (
        page.status_code == 200
        and f"/settings/channels/shopify/deliveries/{delivery.pk}/".encode() in page.content
    )
    detail = client.get(f"/settings/channels/shopify/deliveries/{delivery.pk}/", HTTP_ACCEPT_LANGUAGE="en")
    assert detail.status_code == 200 and code.encode() in detail.content


def test_a_body_with_bytes_that_are_not_utf8_or_a_nul_is_stored_failed_without_processing(
    client, shopify_channel, django_capture_on_commit_callbacks
):
    from .conftest import sign

    for webhook_id, body, error in [
        ("wh-latin1", b'{"id": 5001, "note": "caf\xe9"}', "The body is not UTF-8 text."),
        ("wh-nul", b'{"id": 5001, "note": "a\x00b"}', "The body contains a NUL character."),
    ]:
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            response = client.post(
                "/webhooks/shopify/shopify/",
                data=body,
                content_type="application/json",
                headers={
                    "X-Shopify-Topic": "orders/create",
                    "X-Shopify-Hmac-Sha256": sign(body),
                    "X-Shopify-Webhook-Id": webhook_id,
                },
            )
        assert response.status_code == 200
        assert callbacks == []  # nothing queued: it cannot be processed
        delivery = WebhookDelivery.objects.get(delivery_id=webhook_id)
        assert (delivery.status, delivery.error_code, delivery.error) == ("failed", "malformed_body", error)
        assert delivery.payload == body.decode("utf-8", errors="replace").replace("\x00", "\ufffd")
    assert Order.objects.count() == 0


def test_a_malformed_delivery_is_replayed_after_the_adapter_is_fixed(
    client, shopify_channel, django_capture_on_commit_callbacks, monkeypatch
):
    # given: an adapter bug (or a payload it cannot read yet) fails the delivery, worker-style
    def broken(payload, *, modes):
        raise KeyError("shipping_lines")

    monkeypatch.setattr(shopify, "order_input", broken)
    with django_capture_on_commit_callbacks(execute=True):
        assert post_shopify(client, "shopify", shopify_order(), webhook_id="wh-bug").status_code == 200
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.error_code, delivery.error) == (
        "failed",
        "malformed_payload",
        "The order could not be read from the payload (KeyError: 'shipping_lines').",
    )

    # when: fixed, then replayed
    monkeypatch.undo()
    client.force_login(UserFactory(role=MANAGER))
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/settings/channels/shopify/deliveries/{delivery.pk}/", HTTP_ACCEPT_LANGUAGE="en")

    # then
    delivery.refresh_from_db()
    assert (delivery.status, delivery.error_code, delivery.attempts) == ("processed", "", 2)
    assert delivery.order == Order.objects.get()


def test_an_unexpected_error_while_processing_fails_the_delivery_instead_of_raising(
    shopify_channel, django_capture_on_commit_callbacks, monkeypatch
):
    from channels import services
    from channels.tasks import delivery_process

    delivery, _new = services.delivery_receive(
        channel=shopify_channel, delivery_id="wh-x", topic="orders/create", body=json.dumps(shopify_order())
    )

    def boom(**kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(services, "_dispatch", boom)
    # when: the worker runs the task
    assert delivery_process.apply(args=(delivery.pk,)).get() == "failed"
    delivery.refresh_from_db()
    assert (delivery.status, delivery.error_code, delivery.error) == (
        "failed",
        "processing_error",
        "The delivery could not be processed: RuntimeError: a bug",
    )


def test_a_signed_malformed_woocommerce_order_is_stored_failed(
    client, woo_channel, django_capture_on_commit_callbacks
):
    payload = woo_order(line_items="x", billing=[], id={"x": 1})
    with django_capture_on_commit_callbacks(execute=True):
        response = post_woo(client, "woo", payload, delivery="d-bad")
    assert response.status_code == 200
    delivery = WebhookDelivery.objects.get()
    assert (delivery.delivery_id, delivery.status, delivery.error_code) == (
        "d-bad",
        "failed",
        "malformed_payload",
    )
    assert delivery.error == "line_items is a string, not a list of objects."
    assert Order.objects.count() == 0


@pytest.mark.parametrize(
    ("address", "error", "details"),
    [
        (
            {"zip": "ABCDE"},
            "The shipping address is not valid: postcode: “ABCDE” is not a valid postcode for France (for "
            "example 75004).",
            {"postcode": ["“ABCDE” is not a valid postcode for France (for example 75004)."]},
        ),
        (
            {"country_code": "XX"},
            "The shipping address is not valid: country: “XX” is not a country code: give the ISO 3166-1 "
            "alpha-2 code (FR, BE, DE, GB…).",
            {"country": ["“XX” is not a country code: give the ISO 3166-1 alpha-2 code (FR, BE, DE, GB…)."]},
        ),
    ],
)
def test_a_shopify_order_with_an_invalid_address_is_a_failed_delivery(
    client, shopify_channel, django_capture_on_commit_callbacks, address, error, details
):
    payload = shopify_order()
    payload["shipping_address"].update(address)
    with django_capture_on_commit_callbacks(execute=True):
        assert post_shopify(client, "shopify", payload).status_code == 200
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.error_code, delivery.error) == ("failed", "invalid_address", error)
    assert delivery.error_details == {"shipping_address": details}
    assert Order.objects.count() == 0


def test_a_channel_address_is_stored_normalised(client, shopify_channel, django_capture_on_commit_callbacks):
    payload = shopify_order()
    payload["shipping_address"].update({"zip": " 69 002 ", "country_code": "fr"})
    with django_capture_on_commit_callbacks(execute=True):
        post_shopify(client, "shopify", payload)
    order = Order.objects.get()
    assert (order.ship_postcode, order.ship_country) == ("69002", "FR")
