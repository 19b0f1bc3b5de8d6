from decimal import Decimal

import pytest

from customers.models import Notification
from invoicing.models import CreditNote, InvoiceLine
from invoicing.services.issue import invoice_issue_for_order
from orders.returns import services
from tests.events import events_of
from tests.invoicing.factories import LegalEntityFactory

pytestmark = pytest.mark.django_db


def test_refund_issues_the_credit_note_through_the_signal(world, django_capture_on_commit_callbacks):
    # given an invoiced, delivered order
    LegalEntityFactory()
    invoice = invoice_issue_for_order(order=world.order, scope="shipped")
    ret = world.request(items=[("TSHIRT", 1, "wrong_size"), ("MUG", 1, "changed_mind")])
    with django_capture_on_commit_callbacks(execute=True):
        services.return_accept(ret=ret)
    results = {line.pk: (1, 0) for line in ret.lines.all()}
    services.return_receive(ret=ret, location=world.lyon, results=results)

    # when staff record the refund
    services.return_refund(ret=ret, reference="PAY-9")

    # then invoicing credited exactly the returned units and the customer is told
    note = CreditNote.objects.get()
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
    assert events_of(world.order, "return.credited", credit_notes=[note.number]).exists()


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
