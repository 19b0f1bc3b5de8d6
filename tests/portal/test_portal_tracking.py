"""The tracking page of an order, opened by its secret token (portal/views.py)."""

import datetime as dt

import pytest
from django.utils import timezone

from orders.models import Order
from shipping.models import Shipment, TrackingEvent
from tests.inventory.factories import LocationFactory, ProductFactory
from tests.orders.factories import OrderFactory
from tests.shipping.factories import CarrierFactory, CarrierServiceFactory

pytestmark = pytest.mark.django_db

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


@pytest.fixture
def lyon():
    return LocationFactory(code="lyon", kind="warehouse")


@pytest.fixture
def order(lyon):
    return OrderFactory(
        number="CMD-2026-000042",
        status=Order.Status.IN_PREPARATION,
        lines=[(ProductFactory(sku="TEE-M", name="T-shirt bleu M"), 2, lyon)],
        promised_earliest=dt.date(2026, 11, 27),
        promised_latest=dt.date(2026, 11, 28),
    )


def parcel(order, lyon, *, number="COLIS-1", status="in_transit", events=()):
    service = CarrierServiceFactory(carrier=CarrierFactory(code="colissimo", name="Colissimo"))
    shipment = Shipment.objects.create(
        number=number,
        order=order,
        location=lyon,
        service=service,
        status=status,
        weight_g=500,
        tracking_number="6A12345678901",
        tracking_url="https://www.laposte.fr/outils/suivre-vos-envois?code=6A12345678901",
    )
    for hour, label, place in events:
        TrackingEvent.objects.create(
            shipment=shipment,
            code="X",
            status="in_transit",
            label=label,
            place=place,
            at=timezone.now().replace(hour=hour, minute=0, second=0, microsecond=0) - dt.timedelta(days=1),
        )
    return shipment


def test_tracking_page_shows_steps_promise_place_lines_and_invoice_fragment(client, order):
    response = client.get(order.tracking_path, **EN)

    assert response.status_code == 200
    html = response.content.decode()
    assert "T-shirt bleu M" in html and "× 2" in html
    assert "Your order is being prepared" in html
    assert 'aria-current="step"' in html
    steps = response.context["steps"]
    labels = ["Received", "Preparing", "Shipped", "Out for delivery", "Delivered"]
    assert [s["label"] for s in steps] == labels
    assert [s["state"] for s in steps] == ["done", "current", "todo", "todo", "todo"]
    assert "Expected delivery" in html and "Friday 27 November" in html and "Saturday 28 November" in html
    assert "3 rue X" in html and "69003 Lyon" in html
    assert f'hx-get="/track/{order.tracking_token}/invoices/"' in html and 'hx-trigger="load"' in html
    assert "Request a return" not in html
    assert order.pickup_code not in html


def test_tracking_page_headers_keep_it_private(client, order):
    response = client.get(order.tracking_path, **EN)

    assert response["Referrer-Policy"] == "no-referrer"
    assert '<meta name="referrer" content="no-referrer">' in response.content.decode()
    assert "noindex" in response["X-Robots-Tag"]
    assert "no-store" in response["Cache-Control"]


def test_portal_layout_has_no_staff_navigation_and_carries_the_merchant(client, order, settings):
    settings.MERCHANT_NAME = "Maison Test"
    settings.MERCHANT_COLOR = "#aa3300"
    settings.MERCHANT_LOGO_URL = "https://cdn.example.fr/logo.png"

    html = client.get(order.tracking_path, **EN).content.decode()
    theme = client.get("/track/theme.css")

    # the colour comes from a stylesheet of its own (the Content-Security-Policy refuses <style> elements)
    assert '<link rel="stylesheet" href="/track/theme.css?v=%23aa3300">' in html and "<style" not in html
    assert theme["Content-Type"] == "text/css"
    assert theme.content.decode() == ":root { --brand: #aa3300; }\n"
    assert 'src="https://cdn.example.fr/logo.png" alt="Maison Test"' in html
    assert "topbar" not in html and "/orders/" not in html and "Main navigation" not in html


def test_a_colour_that_is_not_a_hex_code_never_reaches_the_css(client, order, settings):
    settings.MERCHANT_COLOR = "red;} body{display:none"

    html = client.get(order.tracking_path, **EN).content.decode()
    css = client.get("/track/theme.css").content.decode()

    assert "display:none" not in html and "display:none" not in css
    assert css == ":root { --brand: #1f5fbf; }\n"


def test_unknown_token_is_a_portal_404(client, order):
    response = client.get("/track/not-a-real-token-at-all/", **EN)

    assert response.status_code == 404
    assert response["Referrer-Policy"] == "no-referrer"
    html = response.content.decode()
    assert "Order not found" in html and "p-header" in html
    assert response["X-Robots-Tag"].startswith("noindex")
    assert "3 rue X" not in html


def test_parcels_with_carrier_link_and_events_newest_first(client, order, lyon):
    Order.objects.filter(pk=order.pk).update(status=Order.Status.SHIPPED)
    parcel(order, lyon, events=[(8, "Pris en charge", "Lyon PFC"), (18, "En cours d'acheminement", "Paris")])
    Shipment.objects.create(number="COLIS-BENCH", order=order, location=lyon, status="created", weight_g=100)

    response = client.get(order.tracking_path, **EN)

    html = response.content.decode()
    assert "Colissimo" in html and "6A12345678901" in html
    assert 'href="https://www.laposte.fr/outils/suivre-vos-envois?code=6A12345678901"' in html
    assert html.index("En cours d&#x27;acheminement") < html.index("Pris en charge")
    assert "Lyon PFC" in html
    assert [s.number for s in response.context["shipments"]] == ["COLIS-1"]  # not the box still on the bench


def test_page_costs_a_fixed_number_of_queries(client, order, lyon, django_assert_max_num_queries):
    Order.objects.filter(pk=order.pk).update(status=Order.Status.SHIPPED)
    for n in range(3):
        parcel(order, lyon, number=f"COLIS-{n}", events=[(9, "Scan", "Lyon"), (10, "Scan 2", "Paris")])

    with django_assert_max_num_queries(8):
        assert client.get(order.tracking_path, **EN).status_code == 200


def test_cancelled_order_is_shown_clearly_without_steps(client, order):
    Order.objects.filter(pk=order.pk).update(status=Order.Status.CANCELLED, cancel_reason="Out of stock")

    response = client.get(order.tracking_path, **EN)

    html = response.content.decode()
    assert "This order is cancelled." in html and "Out of stock" in html
    assert response.context["steps"] == []
    assert "p-steps" not in html and "Expected delivery" not in html


@pytest.mark.parametrize(
    ("status", "shown"),
    [
        ("delivered", True),
        ("partially_shipped", True),
        ("shipped", False),
        ("in_preparation", False),
        ("cancelled", False),
        ("returned", False),
    ],
)
def test_return_button_when_delivered_or_partly_shipped(client, order, status, shown):
    Order.objects.filter(pk=order.pk).update(status=status)

    html = client.get(order.tracking_path, **EN).content.decode()

    assert ("Request a return" in html) is shown
    if shown:
        assert f'href="/track/{order.tracking_token}/returns/new/"' in html


def test_return_button_when_one_parcel_is_delivered(client, order, lyon):
    Order.objects.filter(pk=order.pk).update(status=Order.Status.SHIPPED)
    parcel(order, lyon, status="delivered")

    assert "Request a return" in client.get(order.tracking_path, **EN).content.decode()


def test_delivered_order_shows_every_step_done(client, order, lyon):
    Order.objects.filter(pk=order.pk).update(status=Order.Status.DELIVERED)
    shipment = parcel(order, lyon, status="delivered")
    Shipment.objects.filter(pk=shipment.pk).update(delivered_at=dt.datetime(2026, 11, 27, 10, tzinfo=dt.UTC))

    response = client.get(order.tracking_path, **EN)

    assert [s["state"] for s in response.context["steps"]] == ["done"] * 5
    html = response.content.decode()
    assert "Delivered on" in html and "Friday 27 November" in html


@pytest.fixture
def store():
    return LocationFactory(
        code="paris-store",
        name="Boutique Paris Marais",
        kind="store",
        address_line1="12 rue des Archives",
        postcode="75004",
        city="Paris",
        is_pickup_point=True,
        opening_hours="Mon–Sat 10:00–19:00\nSun closed",
    )


@pytest.mark.parametrize(
    ("status", "code_shown"),
    [("allocated", False), ("in_preparation", True), ("ready_for_pickup", True), ("delivered", False)],
)
def test_store_order_shows_hours_and_the_pickup_code_only_when_ready_or_in_preparation(
    client, lyon, store, status, code_shown
):
    order = OrderFactory(
        status=status,
        delivery_mode="store",
        pickup_location=store,
        pickup_code="K7P2QX",
        lines=[(ProductFactory(), 1, store)],
    )

    html = client.get(order.tracking_path, **EN).content.decode()

    assert "Boutique Paris Marais" in html and "12 rue des Archives" in html
    assert "Mon–Sat 10:00–19:00" in html and "Sun closed" in html
    assert ("K7P2QX" in html) is code_shown
    assert "Ready for pickup" in html  # the step's word for pickup orders


def test_relay_point_with_its_hours(client, lyon):
    order = OrderFactory(
        delivery_mode="relay",
        relay_point={
            "carrier": "mondial_relay",
            "id": "020123",
            "name": "Tabac de la Gare",
            "line1": "5 place de la Gare",
            "postcode": "69002",
            "city": "Lyon",
            "opening_hours": {"Monday": [["09:00", "12:00"], ["14:00", "19:00"]]},
        },
        lines=[(ProductFactory(), 1, lyon)],
    )

    html = client.get(order.tracking_path, **EN).content.decode()

    assert "Relay point" in html and "Tabac de la Gare" in html and "5 place de la Gare" in html
    assert "Monday : 09:00–12:00, 14:00–19:00" in html


def test_language_by_browser_and_by_lang_parameter(client, order):
    assert '<html lang="fr">' in client.get(order.tracking_path, HTTP_ACCEPT_LANGUAGE="fr").content.decode()

    response = client.get(f"{order.tracking_path}?lang=en", HTTP_ACCEPT_LANGUAGE="fr")

    assert '<html lang="en">' in response.content.decode()
    assert "Your order is being prepared" in response.content.decode()
    assert response.cookies["django_language"].value == "en"


def test_only_get_is_allowed(client, order):
    assert client.post(order.tracking_path).status_code == 405


def test_anything_but_the_exact_token_is_a_404(client, order):
    other = OrderFactory()
    token = order.tracking_token
    swapped = token.upper() if token.upper() != token else token.lower()
    guesses = [token[:-1], swapped, order.number, str(order.pk), order.pickup_code, f"{token}x", other.number]

    for guess in guesses:
        response = client.get(f"/track/{guess}/", **EN)
        assert response.status_code == 404, guess
        assert "3 rue X" not in response.content.decode()
    # The invoices fragment (served by invoicing) answers the same.
    assert client.get(f"/track/{token[:-1]}/invoices/", **EN).status_code == 404
