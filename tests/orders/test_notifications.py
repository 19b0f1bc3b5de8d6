"""The customer is told at every step: which message each event queues, in which language, with which
content; dedup of replayed events; text messages only with consent."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core import mail
from django.db import transaction
from django.utils import timezone

from customers import sms
from customers.models import Customer, Notification
from inventory.models import IncomingStock
from orders.models import OrderStatus
from orders.notifications import (
    notify_delay,
    notify_refund_issued,
    notify_return_accepted,
    order_notify_parcels_shipped,
)
from orders.services import lifecycle
from shipping.models import Carrier, CarrierService, ServiceRate, ServiceTransit, Shipment
from tests.inventory.factories import ProductFactory
from tests.orders.factories import ChannelFactory, place_order, stock

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _empty_sms_outbox():
    sms.outbox.clear()
    yield
    sms.outbox.clear()


@pytest.fixture
def shop(warehouse, store):
    store.opening_hours = "Mon–Sat 10:00–19:00"
    store.is_pickup_point = True
    store.save()
    _service()  # a home service with rates and transit times: the intake promises a date
    channel = ChannelFactory(code="web", locations=[warehouse, store])
    product = ProductFactory(sku="TSHIRT-M", name="T-shirt bleu M", price=Decimal("19.90"))
    stock(product, warehouse, 10)
    stock(product, store, 5)
    return channel, product


def _place(channel, *, language="en", email="ana@example.fr", quantity=2, **kwargs):
    Customer.objects.get_or_create(email=email, defaults={"language": language, "first_name": "Ana"})
    return place_order(channel=channel, lines=[("TSHIRT-M", quantity)], email=email, **kwargs)


def _html(message) -> str:
    [(html, mimetype)] = message.alternatives
    assert mimetype == "text/html"
    return html


def test_order_received_in_english_with_promise_lines_and_tracking_link(
    shop, django_capture_on_commit_callbacks
):
    channel, _product = shop
    with django_capture_on_commit_callbacks(execute=True):
        order = _place(channel, language="en")

    [message] = mail.outbox
    assert message.to == ["ana@example.fr"]
    assert message.subject == f"We have received your order {order.number}"
    text, html = message.body, _html(message)
    for part in (text, html):
        assert order.tracking_url in part
        assert "Hello Ana," in part
        assert "2 × T-shirt bleu M" in part
        assert "€39.80" in part
        assert "Delivery expected" in part
        assert f"{order.promised_latest:%-d}" in part
    assert "Follow my order" in html
    assert f'href="{order.tracking_url}"' in html
    assert "<table" in html and "<table" not in text
    notification = Notification.objects.get(order=order)
    assert (notification.kind, notification.channel, notification.status, notification.language) == (
        "order_received",
        "email",
        "sent",
        "en",
    )
    assert notification.attempts == 1 and notification.sent_at is not None


def test_order_received_in_french(shop, django_capture_on_commit_callbacks):
    channel, _product = shop
    with django_capture_on_commit_callbacks(execute=True):
        order = _place(channel, language="fr")

    [message] = mail.outbox
    assert message.subject == f"Nous avons bien reçu votre commande {order.number}"
    for part in (message.body, _html(message)):
        assert "Bonjour Ana," in part
        assert "39,80\u00a0€" in part
        assert "Livraison prévue" in part
        assert order.tracking_url in part
    assert "Suivre ma commande" in _html(message)
    assert "&#x27;" not in message.body  # the text part is not HTML-escaped


def test_the_message_is_written_after_commit_and_never_for_a_rolled_back_change(
    shop, django_capture_on_commit_callbacks
):
    channel, _product = shop
    order = _place(channel)
    before = Notification.objects.count()

    with pytest.raises(RuntimeError), transaction.atomic():
        lifecycle.order_start_preparation(order=order)
        lifecycle.order_mark_shipped(order=order)
        # nothing yet: the consumer writes the message once the change has committed...
        assert Notification.objects.filter(order=order, kind="shipped").count() == 0
        raise RuntimeError("the shipping step failed after the status changed")

    # ... and a change rolled back is never told: no row, nothing sent.
    assert Notification.objects.count() == before
    assert mail.outbox == []
    order.refresh_from_db()
    assert order.status == OrderStatus.ALLOCATED

    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        lifecycle.order_start_preparation(order=order)
        lifecycle.order_mark_shipped(order=order)
    assert Notification.objects.filter(order=order, kind="shipped").count() == 1


def _service():
    carrier, _ = Carrier.objects.get_or_create(code="colissimo", defaults={"name": "Colissimo"})
    service, created = CarrierService.objects.get_or_create(
        carrier=carrier,
        code="home",
        defaults={"name": "Domicile", "delivery_mode": "home", "cutoff_time": dt.time(16)},
    )
    if created:
        ServiceRate.objects.create(
            service=service, max_weight_g=30000, max_distance_km=2000, price_excl_vat=Decimal("5.00")
        )
        ServiceTransit.objects.create(service=service, max_distance_km=2000, transit_days=2)
    return service


def _parcel(order, location, number, tracking, service):
    return Shipment.objects.create(
        number=number,
        order=order,
        location=location,
        service=service,
        status="handed_over",
        weight_g=400,
        tracking_number=tracking,
    )


def test_shipped_lists_each_parcel_and_a_second_partial_shipment_notifies_again(
    shop, warehouse, django_capture_on_commit_callbacks
):
    channel, _product = shop
    order = _place(channel)
    service = _service()
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.order_start_preparation(order=order)
        _parcel(order, warehouse, "COL-1", "6A12345678901", service)
        lifecycle.order_mark_partially_shipped(order=order)
    [first] = mail.outbox
    assert first.subject == f"Part of your order {order.number} has shipped"
    assert "Colissimo" in first.body and "6A12345678901" in first.body
    assert "The rest will follow in another parcel" in first.body

    # a replay of the same event queues nothing
    with django_capture_on_commit_callbacks(execute=True):
        order_notify_parcels_shipped(order=order)
    assert len(mail.outbox) == 1

    # a second parcel leaves while the order stays partially shipped: told again, with both parcels
    with django_capture_on_commit_callbacks(execute=True):
        _parcel(order, warehouse, "COL-2", "6A99999999999", service)
        order_notify_parcels_shipped(order=order)
    assert len(mail.outbox) == 2
    assert "6A99999999999" in mail.outbox[1].body and "6A12345678901" in mail.outbox[1].body

    # the last parcel: the order is shipped, the message says so (same parcels: a new status, a new key?)
    with django_capture_on_commit_callbacks(execute=True):
        _parcel(order, warehouse, "COL-3", "6A00000000003", service)
        lifecycle.order_mark_shipped(order=order)
    assert len(mail.outbox) == 3
    assert mail.outbox[2].subject == f"Your order {order.number} has shipped"
    assert "6A00000000003" in _html(mail.outbox[2])
    assert Notification.objects.filter(order=order, kind="shipped").count() == 3


def test_replayed_status_signal_does_not_queue_twice(shop, django_capture_on_commit_callbacks):
    from orders.notifications import order_notify_status

    channel, _product = shop
    order = _place(channel)
    lifecycle.order_start_preparation(order=order)
    lifecycle.order_mark_shipped(order=order)
    lifecycle.order_mark_out_for_delivery(order=order)
    order_notify_status(order=order, old_status="shipped", new_status="out_for_delivery")
    assert Notification.objects.filter(order=order, kind="out_for_delivery").count() == 1


def test_ready_for_pickup_at_the_store_gives_code_address_and_hours(
    shop, store, django_capture_on_commit_callbacks
):
    channel, _product = shop
    order = _place(channel, language="en", delivery={"mode": "store", "store": store.code})
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.order_start_preparation(order=order)
        lifecycle.order_mark_ready_for_pickup(order=order)

    [message] = mail.outbox
    assert message.subject == f"Your order {order.number} is ready for pickup"
    for part in (message.body, _html(message)):
        assert order.pickup_code in part
        assert store.name in part
        assert store.address_line1 in part
        assert "Mon–Sat 10:00–19:00" in part


def test_ready_for_pickup_at_a_relay_point(shop, django_capture_on_commit_callbacks):
    channel, _product = shop
    relay = {
        "carrier": "mondial_relay",
        "id": "FR-12345",
        "name": "Relais Tabac Presse",
        "line1": "8 rue Victor Hugo",
        "postcode": "69002",
        "city": "Lyon",
        "country": "FR",
    }
    order = _place(channel, language="en", delivery={"mode": "relay", "relay_point": relay})
    lifecycle.order_start_preparation(order=order)
    lifecycle.order_mark_shipped(order=order)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.order_mark_ready_for_pickup(order=order)
    [message] = mail.outbox
    assert "Relais Tabac Presse" in message.body and "8 rue Victor Hugo" in message.body
    assert "relay point" in message.body
    assert order.pickup_code not in message.body  # the store's code means nothing at a relay


def test_out_for_delivery_and_delivered(shop, django_capture_on_commit_callbacks):
    channel, _product = shop
    order = _place(channel, language="fr")
    lifecycle.order_start_preparation(order=order)
    lifecycle.order_mark_shipped(order=order)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.order_mark_out_for_delivery(order=order)
        lifecycle.order_mark_delivered(order=order)
    subjects = [m.subject for m in mail.outbox]
    assert subjects == [
        f"Votre commande {order.number} est en cours de livraison",
        f"Votre commande {order.number} a été livrée",
    ]
    assert "3 rue X" in mail.outbox[0].body


def test_preorder_tells_the_restock_date(shop, warehouse, django_capture_on_commit_callbacks):
    channel, product = shop
    IncomingStock.objects.create(
        product=product, location=warehouse, quantity=20, expected_on=dt.date(2030, 3, 14)
    )
    with django_capture_on_commit_callbacks(execute=True):
        order = _place(channel, language="en", quantity=30, allow_preorder=True)
    assert order.status == OrderStatus.AWAITING_STOCK
    [message] = mail.outbox
    assert message.subject == f"We have received your order {order.number}"
    assert "expected in stock on Thursday 14 March" in message.body


def test_awaiting_stock_later_tells_the_restock_date(shop, warehouse, django_capture_on_commit_callbacks):
    from inventory.models import Allocation

    channel, product = shop
    order = _place(channel, language="en")
    incoming = IncomingStock.objects.create(
        product=product, location=warehouse, quantity=20, expected_on=dt.date(2030, 3, 14)
    )
    Allocation.objects.filter(line__order=order).update(kind="incoming", incoming=incoming)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.order_mark_awaiting_stock(order=order)
    [message] = mail.outbox
    assert message.subject == f"Your order {order.number} is awaiting stock"
    assert "we expect it on Thursday 14 March" in message.body


def test_delay_return_and_refund_messages(shop, django_capture_on_commit_callbacks):
    channel, _product = shop
    order = _place(channel, language="en")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        notify_delay(order=order, old_latest=dt.date(2030, 1, 7), new_latest=dt.date(2030, 1, 10))
        notify_delay(order=order, old_latest=dt.date(2030, 1, 7), new_latest=dt.date(2030, 1, 10))  # replay
        notify_delay(order=order, old_latest=dt.date(2030, 1, 10), new_latest=dt.date(2030, 1, 9))  # earlier
        notify_return_accepted(
            order=order, return_reference="RET-2030-0001", label_url="https://x.test/l.pdf"
        )
        notify_refund_issued(order=order, credit_note_number="AV-2030-000045", amount=Decimal("19.90"))
    delay, returned, refund = mail.outbox
    assert delay.subject == f"Your order {order.number}: a new delivery date"
    assert "New date: by Thursday 10 January" in delay.body and "Instead of Monday 7 January." in delay.body
    assert returned.subject == "Your return RET-2030-0001 is accepted"
    assert "https://x.test/l.pdf" in returned.body and "https://x.test/l.pdf" in _html(returned)
    assert refund.subject == f"Your refund for order {order.number}"
    assert "We have refunded €19.90" in refund.body and "AV-2030-000045" in refund.body
    for message in (delay, returned, refund):
        assert order.tracking_url in message.body


def test_text_messages_only_for_customers_who_agreed(shop, django_capture_on_commit_callbacks):
    channel, _product = shop
    agreed = _place(channel, email="oui@example.fr")
    Customer.objects.filter(pk=agreed.customer_id).update(sms_opt_in=True, phone="+33612345678")
    refused = _place(channel, email="non@example.fr")
    Customer.objects.filter(pk=refused.customer_id).update(phone="+33687654321")
    for order in (agreed, refused):
        lifecycle.order_start_preparation(order=order)
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.order_mark_shipped(order=agreed)
        lifecycle.order_mark_shipped(order=refused)
    assert [m["to"] for m in sms.outbox] == ["+33612345678"]
    assert agreed.number in sms.outbox[0]["text"] and agreed.tracking_url in sms.outbox[0]["text"]
    assert Notification.objects.filter(channel="sms").count() == 1
    assert Notification.objects.get(channel="sms").status == "sent"


def test_no_message_for_preparation_and_a_message_for_cancellation(shop, django_capture_on_commit_callbacks):
    channel, _product = shop
    order = _place(channel)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.order_start_preparation(order=order)
    assert mail.outbox == []
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.order_cancel(order=order, reason="internal: fraud suspicion")
    [message] = mail.outbox
    assert message.subject == f"Your order {order.number} is cancelled"
    assert "fraud" not in message.body  # the staff's reason is internal
    assert list(Notification.objects.filter(order=order).values_list("kind", flat=True)) == [
        "cancelled",
        "order_received",
    ]


def test_message_times_are_recent(shop):
    channel, _product = shop
    order = _place(channel)
    notification = Notification.objects.get(order=order)
    assert timezone.now() - notification.created_at < dt.timedelta(minutes=1)
    assert notification.next_attempt_at > notification.created_at


def test_shipped_email_names_the_products_not_their_skus(shop, warehouse, django_capture_on_commit_callbacks):
    from shipping.models import ShipmentLine

    channel, _product = shop
    order = _place(channel)
    line = order.lines.get()
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.order_start_preparation(order=order)
        parcel = _parcel(order, warehouse, "COL-9", "6A12345678909", _service())
        ShipmentLine.objects.create(
            shipment=parcel, order_line=line, product=line.product, sku=line.sku, quantity=line.quantity
        )
        lifecycle.order_mark_shipped(order=order)
    [message] = mail.outbox
    assert f"{line.quantity} × {line.name}" in message.body
    assert f"{line.quantity} × {line.name}" in _html(message)
    assert line.sku not in message.body and line.sku not in _html(message)
