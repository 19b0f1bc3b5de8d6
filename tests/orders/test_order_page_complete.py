"""The complete order page: parcels (carrier, service, tracking number and link, label, events, contents by
product name), invoices through invoicing's fragment, the customer's tracking link, and actions by role."""

import datetime as dt

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone

from oms.roles import CUSTOMER_SERVICE, MANAGER, STORE_STAFF, WAREHOUSE_STAFF
from orders.models import Order
from shipping.models import Shipment, ShipmentLine, TrackingEvent
from tests.orders.factories import MATRIX_ORDER, role_matrix_objects
from tests.shipping.factories import CarrierFactory, CarrierServiceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english(client, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


@pytest.fixture
def shipped(role_users):
    """The matrix order (lyon) with one parcel handed to Colissimo, its label and two tracking events."""
    role_matrix_objects()
    order = Order.objects.get(number=MATRIX_ORDER)
    carrier = CarrierFactory(code="colissimo", name="Colissimo")
    service = CarrierServiceFactory(carrier=carrier, code="home", name="Domicile sans signature")
    line = order.lines.get()
    shipment = Shipment.objects.create(
        number=f"{order.number}-1",
        order=order,
        location=line.allocations.get().location,
        service=service,
        status="in_transit",
        weight_g=480,
        box="M",
        tracking_number="6A12345678901",
        tracking_url="https://www.laposte.fr/outils/suivre-vos-envois?code=6A12345678901",
        shipped_at=timezone.now() - dt.timedelta(hours=20),
    )
    shipment.label_pdf.save("label.pdf", ContentFile(b"%PDF-1.4 label"), save=True)
    ShipmentLine.objects.create(
        shipment=shipment, order_line=line, product=line.product, sku=line.sku, quantity=line.quantity
    )
    now = timezone.now()
    TrackingEvent.objects.create(
        shipment=shipment,
        code="PC1",
        status="handed_over",
        label="Pris en charge",
        at=now - dt.timedelta(hours=18),
    )
    TrackingEvent.objects.create(
        shipment=shipment,
        code="ET1",
        status="in_transit",
        label="En cours d'acheminement",
        at=now - dt.timedelta(hours=2),
        place="Lyon PFC",
    )
    return order


def page(client, number):
    return client.get(reverse("orders:order_detail", args=[number]))


def test_parcels_show_carrier_tracking_link_label_events_and_product_names(client, role_users, shipped):
    client.force_login(role_users[MANAGER])
    response = page(client, shipped.number)
    html = response.content.decode()
    line = shipped.lines.get()
    shipment = Shipment.objects.get()
    for text in (
        "Colissimo · Domicile sans signature",
        'href="https://www.laposte.fr/outils/suivre-vos-envois?code=6A12345678901"',
        "6A12345678901",
        "480 g · M",
        line.product.name,
        reverse("dispatch:label", args=[shipment.pk, "pdf"]),
        "2 carrier events",
        "Lyon PFC",
    ):
        assert text in html, text
    # newest event first
    assert html.index("En cours d&#x27;acheminement") < html.index("Pris en charge")
    # invoices come from invoicing's fragment; the tracking link is there to copy
    assert reverse("invoicing:order_documents", args=[shipped.number]) in html
    assert f'value="{shipped.tracking_url}"' in html and 'data-copy="#tracking-link"' in html
    assert 'id="rate-shopping-slot"' in html


def test_what_each_role_sees_and_may_do(client, role_users, shipped):
    shipment = Shipment.objects.get()
    label = reverse("dispatch:label", args=[shipment.pk, "pdf"])
    documents = reverse("invoicing:order_documents", args=[shipped.number])

    client.force_login(role_users[WAREHOUSE_STAFF])
    html = page(client, shipped.number).content.decode()
    assert label in html  # packers print labels
    assert documents not in html and 'id="tracking-link"' not in html  # no invoices, no customer secret
    assert reverse("customers:detail", args=[shipped.customer_id]) not in html

    client.force_login(role_users[CUSTOMER_SERVICE])
    html = page(client, shipped.number).content.decode()
    assert label not in html
    assert documents in html and 'id="tracking-link"' in html
    assert reverse("customers:detail", args=[shipped.customer_id]) in html

    client.force_login(role_users[STORE_STAFF])  # the order is picked up at their store
    html = page(client, shipped.number).content.decode()
    assert reverse("orders:pickup_order", args=[shipped.number]) in html


def test_an_order_without_parcels_says_why(client, role_users):
    role_matrix_objects()
    client.force_login(role_users[MANAGER])
    html = page(client, MATRIX_ORDER).content.decode()
    assert "No parcel: the order is prepared at the pickup store" in html


def test_the_page_costs_a_fixed_number_of_queries(client, role_users, shipped, django_assert_max_num_queries):
    client.force_login(role_users[MANAGER])
    with django_assert_max_num_queries(18):
        assert page(client, shipped.number).status_code == 200
    second = Shipment.objects.get()
    second.pk, second.number = None, f"{shipped.number}-2"
    second.save()
    with django_assert_max_num_queries(18):
        assert page(client, shipped.number).status_code == 200
