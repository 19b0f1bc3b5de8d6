from decimal import Decimal

import pytest
from django.db import transaction

from common import eventlog
from customers.models import Notification
from invoicing.exceptions import CreditExceedsInvoice
from invoicing.models import CreditNote, InvoiceLine, PendingCredit
from invoicing.services import issue
from invoicing.services.issue import invoice_issue_for_order
from orders.models import PaymentTransaction
from returns import services
from tests.events import events_of
from tests.invoicing.factories import LegalEntityFactory

pytestmark = pytest.mark.django_db


def test_refund_issues_the_credit_note_in_its_own_transaction(world, django_capture_on_commit_callbacks):
    # given an invoiced, delivered order
    LegalEntityFactory()
    invoice = invoice_issue_for_order(order=world.order, scope="shipped")
    ret = world.request(items=[("TSHIRT", 1, "wrong_size"), ("MUG", 1, "changed_mind")])
    with django_capture_on_commit_callbacks(execute=True):
        services.return_accept(ret=ret)
    results = {line.pk: (1, 0) for line in ret.lines.all()}
    services.return_receive(ret=ret, location=world.lyon, results=results)

    # when staff record the refund, inside a transaction that has not committed yet (so no consumer of the
    # event log has run)
    with transaction.atomic():
        refunded = services.return_refund(ret=ret, reference="PAY-9")

        # then invoicing credited exactly the returned units at once, the return knows its credit note
        note = CreditNote.objects.get()
        assert refunded.credit_notes == note.number
        assert events_of(world.order, "return.credited", credit_notes=[note.number]).exists()
        assert not Notification.objects.filter(order=world.order, kind="refund_issued").exists()

    # and, after commit, invoicing's consumer leaves the refund alone and the customer is told
    assert CreditNote.objects.count() == 1
    assert note.corrects_id == invoice.pk
    assert sorted(InvoiceLine.objects.filter(document=note).values_list("sku", "quantity")) == [
        ("MUG", 1),
        ("TSHIRT", 1),
    ]
    assert note.total_incl_vat == Decimal("31.90")
    ret.refresh_from_db()
    assert ret.credit_notes == note.number
    assert ret.refund_amount == Decimal("31.90")
    refund = Notification.objects.get(order=world.order, kind="refund_issued")
    assert note.number in refund.body_text
    assert "return.refunded" not in eventlog.consumers()["invoicing.issue"].codes


def test_a_refused_credit_note_leaves_the_return_received(world, monkeypatch):
    # given an invoiced order whose return was received
    LegalEntityFactory()
    invoice_issue_for_order(order=world.order, scope="shipped")
    ret = world.request(items=[("MUG", 1, "changed_mind")])
    services.return_accept(ret=ret)
    services.return_receive(ret=ret, location=world.lyon, results={ret.lines.get().pk: (1, 0)})

    def refuse(**kwargs):
        raise CreditExceedsInvoice("Line 1 has 0 unit(s) left to credit, not 1.")

    monkeypatch.setattr(issue, "credit_notes_for_return", refuse)

    # when the credit note cannot be issued
    with pytest.raises(CreditExceedsInvoice):
        services.return_refund(ret=ret, reference="PAY-1")

    # then the refund is not recorded either: one transaction
    ret.refresh_from_db()
    assert (ret.status, ret.refund_reference, ret.credit_notes) == ("received", "", "")
    assert not CreditNote.objects.exists()
    assert not events_of(world.order, "return.refunded").exists()


def test_an_order_never_invoiced_is_refunded_without_credit_note(world):
    ret = world.request(items=[("MUG", 1, "changed_mind")])
    services.return_accept(ret=ret)
    services.return_receive(ret=ret, location=world.lyon, results={ret.lines.get().pk: (1, 0)})

    services.return_refund(ret=ret, reference="PAY-2")

    ret.refresh_from_db()
    assert (ret.status, ret.credit_notes) == ("refunded", "")
    assert not CreditNote.objects.exists()
    assert events_of(world.order, "return.refunded").exists()
    assert not events_of(world.order, "return.credited").exists()


def test_a_second_return_credits_only_what_is_left(world, django_capture_on_commit_callbacks):
    LegalEntityFactory()
    invoice_issue_for_order(order=world.order, scope="shipped")
    for _ in range(2):
        ret = world.request(items=[("TSHIRT", 1, "wrong_size")])
        with django_capture_on_commit_callbacks(execute=True):
            services.return_accept(ret=ret)
        services.return_receive(ret=ret, location=world.lyon, results={ret.lines.get().pk: (1, 0)})
        services.return_refund(ret=ret, reference="PAY")
    assert list(InvoiceLine.objects.filter(document__kind="credit_note").values_list("sku", "quantity")) == [
        ("TSHIRT", 1),
        ("TSHIRT", 1),
    ]


def test_a_return_refunded_before_the_invoice_is_credited_right_after_it(
    world, django_capture_on_commit_callbacks
):
    # given a delivered order not invoiced yet (its channel's invoice comes later), whose mug came back
    LegalEntityFactory()
    ret = world.request(items=[("MUG", 1, "changed_mind")])
    services.return_accept(ret=ret)
    services.return_receive(ret=ret, location=world.lyon, results={ret.lines.get().pk: (1, 0)})

    # when the return is refunded (twice the same event would change nothing)
    with django_capture_on_commit_callbacks(execute=True):
        services.return_refund(ret=ret, reference="PAY-3")

    # then nothing to credit yet: the refund waits for the invoice
    assert not CreditNote.objects.exists()
    (pending,) = PendingCredit.objects.filter(order=world.order)
    assert (pending.key, pending.quantities, pending.credited_at) == (
        f"return:{ret.pk}",
        {str(world.line(world.order, "MUG").pk): 1},
        None,
    )

    # when the invoice is issued (the whole order, as shipped)
    with django_capture_on_commit_callbacks(execute=True):
        invoice = issue.on_order_event(order=world.order, event="delivered")

    # then the mug is credited on it at once, and invoices less credit notes = what the buyer paid
    note = CreditNote.objects.get()
    assert (note.corrects_id, note.total_incl_vat) == (invoice.pk, Decimal("12.00"))
    assert list(note.lines.values_list("sku", "quantity")) == [("MUG", 1)]
    assert invoice.total_incl_vat - note.total_incl_vat == world.order.total_incl_vat - Decimal("12.00")
    pending.refresh_from_db()
    assert pending.credited_at is not None
    # its payment goes with the return, not with the credit note: no second refund
    assert not PaymentTransaction.objects.filter(order=world.order, credit_note=note.number).exists()


def test_a_return_after_a_goodwill_refund_never_gives_back_more_than_the_order(world):
    # given an invoiced, delivered order of 51.80 on which the customer already got 5.00 back as a gesture
    from orders.services.goodwill import order_goodwill_refund

    LegalEntityFactory()
    invoice_issue_for_order(order=world.order, scope="shipped")
    order_goodwill_refund(order=world.order, amount=Decimal("5.00"), reason="other", note="late", key="g1")
    assert world.order.total_incl_vat == Decimal("51.80")

    # when every unit comes back
    ret = world.request(items=[("TSHIRT", 2, "wrong_size"), ("MUG", 1, "changed_mind")])
    services.return_accept(ret=ret)
    services.return_receive(
        ret=ret, location=world.lyon, results={line.pk: (line.quantity, 0) for line in ret.lines.all()}
    )

    # then the refund is what is left of the order: the gesture is not given a second time
    quote = services.refund_quote(ret)
    assert (quote.lines, quote.already_given_back, quote.total) == (
        Decimal("51.80"),
        Decimal("5.00"),
        Decimal("46.80"),
    )
    refunded = services.return_refund(ret=ret, reference="PAY-7")
    assert refunded.refund_amount == Decimal("46.80")
    assert events_of(world.order, "return.refunded", amount="46.80").exists()
    # and the refunded return's own amount is not counted against itself when its quote is read again
    assert services.refund_quote(refunded).total == Decimal("46.80")


def test_a_partial_return_after_a_goodwill_refund_is_refunded_in_full(world):
    # given the same order with a 5.00 gesture
    from orders.services.goodwill import order_goodwill_refund

    LegalEntityFactory()
    invoice_issue_for_order(order=world.order, scope="shipped")
    order_goodwill_refund(order=world.order, amount=Decimal("5.00"), reason="other", note="late", key="g1")

    # when one unit comes back, worth less than what is left of the order
    ret = world.request(items=[("MUG", 1, "changed_mind")])
    services.return_accept(ret=ret)
    services.return_receive(ret=ret, location=world.lyon, results={ret.lines.get().pk: (1, 0)})

    # then nothing is taken off its refund
    quote = services.refund_quote(ret)
    assert quote.already_given_back == Decimal("0.00")
    assert quote.total == quote.lines - quote.fee
