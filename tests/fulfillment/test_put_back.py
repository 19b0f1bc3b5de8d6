"""Units picked and then cancelled go back to their bin: the pick screen says "put back N × SKU to bin X"
before the next pick, the picker confirms it (once), and the order's timeline hears it. An order cancelled
whole after picking puts back everything picked; put-backs are the location's, listed on its pick screens
whichever wave they came from."""

import pytest
from django.db import transaction
from django.urls import reverse

from fulfillment.models import PreparationLine, ScanEvent, Wave
from fulfillment.services import current_step
from orders.models import Order
from orders.services import lifecycle
from orders.services.edits import order_lines_cancel
from tests.events import events_of

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true", "HTTP_ACCEPT_LANGUAGE": "en"}


@pytest.fixture
def picker_client(client, floor):
    client.force_login(floor.picker)
    return client


def _picked(picker_client, floor, django_capture_on_commit_callbacks, lines):
    """An order released in a wave, every unit picked into the tote."""
    with django_capture_on_commit_callbacks(execute=True):
        order = floor.order(lines)
    with django_capture_on_commit_callbacks(execute=True):
        picker_client.post(reverse("fulfillment:wave_release"), {"location": "lyon", "size": "5"})
    wave = Wave.objects.get()
    url = reverse("fulfillment:wave_pick", args=[wave.pk])
    products = {p.pk: p for p in (floor.shirt, floor.mug, floor.cap)}
    while (step := current_step(wave=wave)) is not None:  # every step, in the bins' walking order
        with django_capture_on_commit_callbacks(execute=True):
            picker_client.post(url, {"code": step.bin_code}, **HTMX)
            picked = picker_client.post(
                url,
                {"code": products[step.product_id].ean, "bin_ok": step.bin_code, "quantity": step.left},
                **HTMX,
            )
        assert picked.status_code == 200
    assert PreparationLine.objects.get(sku="SHIRT").picked == 2
    return order, wave, url


def test_the_picker_sees_the_put_back_and_confirms_it_once(
    picker_client, floor, django_capture_on_commit_callbacks
):
    order, wave, url = _picked(
        picker_client, floor, django_capture_on_commit_callbacks, [("SHIRT", 2), ("MUG", 1)]
    )
    shirt = order.lines.get(sku="SHIRT")

    with django_capture_on_commit_callbacks(execute=True):
        order_lines_cancel(order=Order.objects.get(pk=order.pk), quantities={shirt.pk: 1}, reason="client")

    page = picker_client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Put back 1 × SHIRT to bin A-03-2" in page
    line = PreparationLine.objects.get(sku="SHIRT")
    assert (line.quantity, line.picked, line.put_back) == (1, 1, 1)

    done = picker_client.post(reverse("fulfillment:wave_put_back", args=[wave.pk]), {"line": line.pk}, **HTMX)
    again = picker_client.post(
        reverse("fulfillment:wave_put_back", args=[wave.pk]), {"line": line.pk}, **HTMX
    )

    assert done.status_code == 200
    assert "1 × SHIRT put back to bin A-03-2." in done.content.decode()
    assert "Put back 1 × SHIRT" not in done.content.decode()
    assert again.status_code == 422 and "Nothing to put back" in again.content.decode()
    line.refresh_from_db()
    assert (line.quantity, line.picked, line.put_back) == (1, 1, 0)
    scan = ScanEvent.objects.get(action=ScanEvent.Action.PUT_BACK)
    assert (scan.line_id, scan.quantity, scan.actor) == (line.pk, 1, floor.picker)
    event = events_of(order, "pick.put_back").get()
    assert (event.payload["sku"], event.payload["quantity"], event.payload["bin"]) == ("SHIRT", 1, "A-03-2")


def test_an_order_cancelled_after_picking_leaves_its_put_backs_on_the_pick_screen(
    picker_client, floor, django_capture_on_commit_callbacks
):
    order, wave, url = _picked(picker_client, floor, django_capture_on_commit_callbacks, [("SHIRT", 2)])

    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        lifecycle.order_cancel(order=Order.objects.get(pk=order.pk), reason="customer")

    line = PreparationLine.objects.get(sku="SHIRT")
    assert (line.preparation.status, line.picked, line.put_back) == ("cancelled", 0, 2)
    page = picker_client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Put back 2 × SHIRT to bin A-03-2" in page

    done = picker_client.post(reverse("fulfillment:wave_put_back", args=[wave.pk]), {"line": line.pk}, **HTMX)
    assert done.status_code == 200 and "2 × SHIRT put back to bin A-03-2." in done.content.decode()
    line.refresh_from_db()
    assert line.put_back == 0


def test_a_store_seller_cannot_confirm_a_warehouse_put_back(
    client, picker_client, floor, django_capture_on_commit_callbacks
):
    order, wave, _url = _picked(picker_client, floor, django_capture_on_commit_callbacks, [("SHIRT", 2)])
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        lifecycle.order_cancel(order=Order.objects.get(pk=order.pk), reason="customer")
    line = PreparationLine.objects.get(sku="SHIRT")
    client.force_login(floor.seller)

    response = client.post(reverse("fulfillment:wave_put_back", args=[wave.pk]), {"line": line.pk}, **HTMX)

    assert response.status_code in (403, 404)
    line.refresh_from_db()
    assert line.put_back == 2
    assert not ScanEvent.objects.filter(action=ScanEvent.Action.PUT_BACK).exists()


@pytest.mark.django_db(transaction=True)
def test_the_pick_screen_kept_without_put_backs_shows_one_as_soon_as_it_is_committed(picker_client, floor):
    """The locations with put-backs are kept per process (``selectors.put_backs_memo``): a screen read
    before the cancellation, with nothing to put back, does not hide the put-back it committed."""
    from fulfillment import services
    from fulfillment.selectors import put_backs_memo

    # given: every unit picked, and the pick screen read with nothing to put back (kept)
    order = floor.order([("SHIRT", 2)])
    wave = services.wave_release(location=floor.lyon)
    while (step := current_step(wave=wave)) is not None:
        services.pick_scan(
            wave=wave, code=step.ean, quantity=step.left, bin_confirmed=step.bin_code, actor=floor.picker
        )
    url = reverse("fulfillment:wave_pick", args=[wave.pk])
    assert "Put back" not in picker_client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert put_backs_memo.values().get("locations") == frozenset()
    # when: the order is cancelled (committed)
    lifecycle.order_cancel(order=Order.objects.get(pk=order.pk), reason="customer")
    # then: the screen lists the put-back, and no longer once it is confirmed
    assert (
        "Put back 2 × SHIRT to bin A-03-2"
        in picker_client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    )
    line = PreparationLine.objects.get(sku="SHIRT")
    picker_client.post(reverse("fulfillment:wave_put_back", args=[wave.pk]), {"line": line.pk}, **HTMX)
    assert "Put back" not in picker_client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert put_backs_memo.values().get("locations") == frozenset()
