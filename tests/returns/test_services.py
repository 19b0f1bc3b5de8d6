import datetime as dt
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from customers.models import Notification
from inventory.models import StockMovement
from orders.models import Order
from returns import services
from returns.exceptions import InvalidReturnTransition, ReturnRefused
from returns.models import Return, ReturnLine, ReturnRule
from tests.events import events_of

pytestmark = pytest.mark.django_db


def accepted(world, django_capture_on_commit_callbacks, **kwargs):
    ret = world.request(**kwargs)
    with django_capture_on_commit_callbacks(execute=True):
        services.return_accept(ret=ret)
    ret.refresh_from_db()
    return ret


def test_request_numbers_the_return_and_writes_the_timeline(world):
    ret = world.request(items=[("TSHIRT", 2, "wrong_size"), ("MUG", 1, "damaged")])

    year = timezone.localdate().year
    assert ret.number == f"RET-{year}-000001"
    assert ret.status == "requested" and ret.method == "post" and ret.location == world.lyon
    assert sorted(ret.lines.values_list("order_line__sku", "quantity")) == [("MUG", 1), ("TSHIRT", 2)]
    assert events_of(world.order, "return.requested", number=ret.number).count() == 1
    other = world.make_order()
    assert world.request(order=other).number == f"RET-{year}-000002"


def test_refused_outside_the_return_window(world):
    rule = ReturnRule.objects.create(channel=world.channel, window_days=3)
    assert rule.window_days == 3

    with pytest.raises(ReturnRefused) as exc:
        world.request()

    assert "3 days" in exc.value.message
    assert not Return.objects.exists()
    # Within the window, the same request is accepted.
    ReturnRule.objects.filter(pk=rule.pk).update(window_days=30)
    assert world.request().status == "requested"


def test_refused_when_the_window_is_counted_from_the_delivery_event(world):
    order = world.make_order(shipped=True)
    order.shipments.update(delivered_at=None)
    from tests.returns.conftest import delivered_event

    delivered_event(order, timezone.now() - dt.timedelta(days=31))

    with pytest.raises(ReturnRefused):
        world.request(order=order)
    assert not Return.objects.exists()


def test_refused_over_the_shipped_quantity_and_over_what_is_already_returned(world):
    with pytest.raises(ReturnRefused) as exc:
        world.request(items=[("TSHIRT", 3, "wrong_size")])
    assert exc.value.code == "invalid_lines"
    assert "at most 2" in exc.value.message

    world.request(items=[("TSHIRT", 2, "wrong_size")])
    with pytest.raises(ReturnRefused) as exc:
        world.request(items=[("TSHIRT", 1, "wrong_size")])
    assert "at most 0" in exc.value.message
    assert Return.objects.count() == 1


def test_a_rejected_return_frees_its_units(world):
    first = world.request(items=[("TSHIRT", 2, "wrong_size")])
    services.return_reject(ret=first, reason="Worn")
    assert world.request(items=[("TSHIRT", 2, "wrong_size")]).status == "requested"


def test_refused_when_the_order_has_not_shipped(world):
    order = world.make_order(status="allocated", shipped=False)
    with pytest.raises(ReturnRefused) as exc:
        world.request(order=order)
    assert exc.value.code == "not_returnable"
    assert "not shipped" in exc.value.message
    assert not Return.objects.exists()


def test_only_shipped_units_may_come_back(world):
    order = world.make_order(status="partially_shipped", shipped=False)
    line = world.line(order, "TSHIRT")
    line.allocations.update(consumed_at=timezone.now())

    with pytest.raises(ReturnRefused):
        world.request(order=order, items=[("MUG", 1, "changed_mind")])
    assert world.request(order=order, items=[("TSHIRT", 2, "changed_mind")]).status == "requested"


def test_photo_required_by_the_rule(world):
    rule = ReturnRule.objects.create(channel=world.channel)
    rule.photo_reasons.add(world.reasons["damaged"])

    with pytest.raises(ReturnRefused) as exc:
        world.request(items=[("MUG", 1, "damaged")])
    assert "photo" in exc.value.message
    assert not Return.objects.exists()

    photo = SimpleUploadedFile("mug.jpg", b"\xff\xd8\xff\xe0fakejpeg", content_type="image/jpeg")
    ret = services.return_request(
        order=world.order,
        lines=[services.LineRequest(world.line(world.order, "MUG"), 1, world.reasons["damaged"], photo)],
        method="post",
    )
    assert ret.lines.get().photo.name.endswith(".jpg")


def test_store_method_needs_a_store(world):
    with pytest.raises(ReturnRefused) as exc:
        world.request(method="store")
    assert exc.value.code == "invalid_store"
    ret = world.request(method="store", store=world.paris)
    assert ret.location == world.paris


def test_accept_by_post_makes_the_return_label_and_emails_it(world, django_capture_on_commit_callbacks):
    ret = accepted(world, django_capture_on_commit_callbacks)

    assert ret.status == "label_sent" and ret.accepted_at is not None
    assert ret.label_pdf.name.endswith(".pdf")
    assert ret.label_pdf.read().startswith(b"%PDF")
    assert ret.tracking_number
    note = Notification.objects.get(order=world.order, kind="return_accepted")
    assert ret.label_path in note.body_text
    assert events_of(world.order, "return.label_sent").exists()
    # Idempotent: a second run leaves the label alone.
    before = ret.label_pdf.name
    assert services.label_create(return_id=ret.pk).label_pdf.name == before


def test_accept_in_store_tells_the_customer_without_label(world, django_capture_on_commit_callbacks):
    ret = accepted(world, django_capture_on_commit_callbacks, method="store", store=world.paris)

    assert ret.status == "label_sent" and not ret.label_pdf
    assert Notification.objects.filter(order=world.order, kind="return_accepted").count() == 1


def test_a_passing_carrier_error_is_raised_for_the_task_to_retry(world, monkeypatch):
    from shipping import carriers
    from shipping.carriers.sandbox import SandboxAdapter

    def fail(self, request):
        raise carriers.RetryableCarrierError("timeout", carrier="sandbox")

    monkeypatch.setattr(SandboxAdapter, "create_return_label", fail)
    ret = world.request()
    services.return_accept(ret=ret)  # on_commit callbacks not run: call the task's function directly
    with pytest.raises(carriers.RetryableCarrierError):
        services.label_create(return_id=ret.pk)
    ret.refresh_from_db()
    assert ret.label_error == "[sandbox] timeout" and ret.label_attempts == 1 and not ret.label_pdf


def test_receive_restocks_and_writes_off(world, django_capture_on_commit_callbacks):
    ret = accepted(world, django_capture_on_commit_callbacks, items=[("TSHIRT", 2, "wrong_size")])
    line = ret.lines.get()
    before = world.on_hand(world.tshirt)

    services.return_receive(ret=ret, location=world.lyon, results={line.pk: (1, 1)})

    assert world.on_hand(world.tshirt) == before + 1
    movements = list(
        StockMovement.objects.filter(reference=ret.number)
        .order_by("pk")
        .values_list("delta", "reason", "reason_code")
    )
    assert movements == [(1, "return", ""), (1, "return", ""), (-1, "adjustment", "damaged")]
    line.refresh_from_db()
    assert (line.restocked, line.written_off, line.location) == (1, 1, world.lyon)
    assert line.inspected_at is not None
    ret.refresh_from_db()
    assert ret.status == "received"


def test_receive_twice_is_refused(world, django_capture_on_commit_callbacks):
    ret = accepted(world, django_capture_on_commit_callbacks)
    line = ret.lines.get()
    services.return_receive(ret=ret, location=world.lyon, results={line.pk: (1, 0)})
    count = StockMovement.objects.count()

    with pytest.raises(InvalidReturnTransition) as exc:
        services.return_receive(ret=ret, location=world.lyon, results={line.pk: (1, 0)})

    assert exc.value.code == "already_received"
    assert StockMovement.objects.count() == count


def test_receive_more_than_returned_is_refused(world, django_capture_on_commit_callbacks):
    ret = accepted(world, django_capture_on_commit_callbacks)
    line = ret.lines.get()

    with pytest.raises(ReturnRefused) as exc:
        services.return_receive(ret=ret, location=world.lyon, results={line.pk: (1, 1)})

    assert "only 1 returned" in exc.value.message
    assert not StockMovement.objects.filter(reference=ret.number).exists()
    ret.refresh_from_db()
    assert ret.status == "label_sent"


def test_receive_before_acceptance_is_refused(world):
    ret = world.request()
    with pytest.raises(InvalidReturnTransition):
        services.return_receive(ret=ret, location=world.lyon, results={ret.lines.get().pk: (1, 0)})


def test_order_becomes_returned_when_every_unit_came_back(world, django_capture_on_commit_callbacks):
    first = accepted(world, django_capture_on_commit_callbacks, items=[("TSHIRT", 2, "wrong_size")])
    services.return_receive(ret=first, location=world.lyon, results={first.lines.get().pk: (2, 0)})
    world.order.refresh_from_db()
    assert world.order.status == "delivered"

    second = accepted(world, django_capture_on_commit_callbacks, items=[("MUG", 1, "damaged")])
    services.return_receive(ret=second, location=world.lyon, results={second.lines.get().pk: (0, 1)})

    world.order.refresh_from_db()
    assert world.order.status == Order.Status.RETURNED
    assert events_of(world.order, "order.status_changed", to="returned").count() == 1


def test_refund_amount_lines_minus_fee_unless_our_fault(world, django_capture_on_commit_callbacks):
    ReturnRule.objects.create(channel=world.channel, fee=Decimal("4.90"))
    ret = accepted(world, django_capture_on_commit_callbacks, items=[("TSHIRT", 2, "wrong_size")])
    services.return_receive(ret=ret, location=world.lyon, results={ret.lines.get().pk: (2, 0)})

    services.return_refund(ret=ret, reference="PAY-123")

    ret.refresh_from_db()
    assert ret.status == "refunded"
    assert ret.refund_amount == Decimal("34.90")  # 2 × 19.90 − 4.90
    assert ret.refund_reference == "PAY-123"
    assert ret.credit_notes == ""  # the order has no invoice

    faulty = accepted(world, django_capture_on_commit_callbacks, items=[("MUG", 1, "damaged")])
    services.return_receive(ret=faulty, location=world.lyon, results={faulty.lines.get().pk: (0, 1)})
    quote = services.refund_quote(faulty)
    assert (quote.lines, quote.fee, quote.total, quote.our_fault) == (
        Decimal("12.00"),
        Decimal("0.00"),
        Decimal("12.00"),
        True,
    )


def test_refund_needs_a_reference_and_a_received_return(world, django_capture_on_commit_callbacks):
    ret = accepted(world, django_capture_on_commit_callbacks)
    with pytest.raises(InvalidReturnTransition):
        services.return_refund(ret=ret, reference="PAY-1")
    services.return_receive(ret=ret, location=world.lyon, results={ret.lines.get().pk: (1, 0)})
    with pytest.raises(ReturnRefused):
        services.return_refund(ret=ret, reference="  ")
    ret.refresh_from_db()
    assert ret.status == "received" and ret.refund_amount is None


def test_reject_needs_a_reason(world):
    ret = world.request()
    with pytest.raises(ReturnRefused):
        services.return_reject(ret=ret, reason="")
    services.return_reject(ret=ret, reason="Outside policy")
    ret.refresh_from_db()
    assert ret.status == "rejected" and ret.reject_reason == "Outside policy"
    with pytest.raises(InvalidReturnTransition):
        services.return_accept(ret=ret)


def test_partially_received_line_refunds_what_came_back(world, django_capture_on_commit_callbacks):
    ret = accepted(world, django_capture_on_commit_callbacks, items=[("TSHIRT", 2, "changed_mind")])
    services.return_receive(ret=ret, location=world.lyon, results={ret.lines.get().pk: (1, 0)})
    assert services.refund_quote(ret).total == Decimal("19.90")
    assert ReturnLine.objects.get().received == 1


def test_store_choice_among_pickup_points(world):
    from tests.inventory.factories import LocationFactory

    other = LocationFactory(code="mrs", kind="store", city="Marseille", postcode="13001")
    # No store marked as pickup point: any store takes returns.
    assert set(services.return_stores()) == {world.paris, other}
    world.paris.is_pickup_point = True
    world.paris.save(update_fields=["is_pickup_point"])

    assert list(services.return_stores()) == [world.paris]
    with pytest.raises(ReturnRefused) as exc:
        world.request(method="store", store=other)
    assert exc.value.code == "invalid_store"
    assert not Return.objects.exists()
