"""Money, for any sequence of edits, partial cancellations, shipment and returns refunded (hypothesis): the
invoices minus the credit notes equal what the customer owes for what they keep, and the payments minus
the refunds equal what was charged (the invoices minus the credit notes). The order is paid at checkout
through the sandbox payment service; when an edit makes it dearer, the customer pays the difference. Both
issue policies that can meet an edit: invoiced when shipped, and invoiced when placed (the placement invoice
is then corrected by credit notes and further invoices as the order is edited down and up)."""

from decimal import Decimal

import pytest
from django.db import transaction
from django.db.models import Sum
from django.test import TestCase
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from common.exceptions import DomainError
from invoicing.models import ChannelBilling, Invoice
from invoicing.services.issue import credit_notes_for_return
from orders.models import Order, OrderLine
from orders.payments.services import payment_record
from orders.services import lifecycle
from orders.services.edits import EditInput, order_edit, order_lines_cancel
from tests.inventory.factories import LocationFactory, ProductFactory
from tests.invoicing.factories import LegalEntityFactory, consume
from tests.orders.factories import ChannelFactory, place_order, stock

pytestmark = pytest.mark.django_db

ZERO = Decimal("0.00")

operations = st.lists(
    st.one_of(
        st.tuples(st.just("edit"), st.integers(1, 2), st.integers(0, 4)),
        st.tuples(st.just("cancel"), st.integers(1, 2), st.integers(1, 3)),
        st.tuples(st.just("fee"), st.sampled_from(["0.00", "4.90", "7.50"]), st.just(0)),
        st.tuples(st.just("ship"), st.just(0), st.just(0)),
        st.tuples(st.just("return"), st.integers(1, 2), st.integers(1, 2)),
    ),
    max_size=7,
)


@pytest.fixture
def shop(db, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    LegalEntityFactory()
    lyon = LocationFactory(code="lyon", kind="warehouse")
    for sku, price, rate in (("TEE", "19.90", "20.0"), ("TEA", "10.55", "5.5")):
        stock(ProductFactory(sku=sku, price=Decimal(price), vat_rate=Decimal(rate)), lyon, 50)
    return ChannelFactory(code="web", locations=[lyon])


def step(function, **kwargs):
    """One service call as its own request: the event log's consumers run when it commits, and the jobs it
    queued (the payment service's calls) right after."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return function(**kwargs)


def owed(order: Order, returned: dict[int, int]) -> Decimal:
    """What the customer owes for what they keep: the lines less what came back, and the shipping."""
    if order.status == "cancelled":
        return ZERO
    kept = sum(
        (line.unit_price * (line.quantity - returned.get(line.pk, 0)) for line in order.lines.all()), ZERO
    )
    return kept + order.shipping_fee


def pay_the_difference(order: Order, returned: dict[int, int]) -> None:
    order.refresh_from_db()
    due = owed(order, returned) - (order.amount_paid - order.amount_refunded)
    if due > 0:
        step(payment_record, order=order, amount=due, reference="difference")


def ship(order: Order) -> None:
    consume(order)
    with TestCase.captureOnCommitCallbacks(execute=True), transaction.atomic():
        lifecycle.order_start_preparation(order=Order.objects.get(pk=order.pk))
    with TestCase.captureOnCommitCallbacks(execute=True), transaction.atomic():
        lifecycle.order_mark_shipped(order=Order.objects.get(pk=order.pk))


def documents(order) -> tuple[Decimal, Decimal]:
    invoiced = Invoice.objects.invoices().filter(order=order).aggregate(s=Sum("total_incl_vat"))["s"] or ZERO
    credited = (
        Invoice.objects.credit_notes().filter(order=order).aggregate(s=Sum("total_incl_vat"))["s"] or ZERO
    )
    return invoiced, credited


@pytest.mark.parametrize("policy", ["shipped", "placed"])
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=operations)
def test_invoices_credit_notes_payments_and_refunds_reconcile(shop, policy, ops):
    savepoint = transaction.savepoint()
    try:
        ChannelBilling.objects.update_or_create(channel=shop, defaults={"issue_policy": policy})
        with TestCase.captureOnCommitCallbacks(execute=True):
            order = place_order(
                channel=shop,
                lines=[("TEE", 2), ("TEA", 2)],
                shipping_fee=Decimal("4.90"),
                payment={"status": "paid", "amount": "65.80", "provider": "sandbox", "reference": "sbx_pi_h"},
            )
        returned: dict[int, int] = {}
        shipped = False
        for op, a, b in ops:
            order.refresh_from_db()
            lines = {line.line_no: line for line in OrderLine.objects.filter(order=order)}
            try:
                if op == "edit" and not shipped:
                    step(order_edit, order=order, edit=EditInput(quantities={a: b}))
                elif op == "fee" and not shipped:
                    step(order_edit, order=order, edit=EditInput(shipping_fee=Decimal(a)))
                elif op == "cancel" and not shipped:
                    step(order_lines_cancel, order=order, quantities={lines[a].pk: b})
                elif op == "ship" and not shipped and order.status in ("allocated",):
                    ship(order)
                    shipped = True
                elif op == "return" and shipped:
                    line = lines[a]
                    units = min(b, line.quantity - returned.get(line.pk, 0))
                    if units > 0:
                        with TestCase.captureOnCommitCallbacks(execute=True), transaction.atomic():
                            credit_notes_for_return(
                                order=order, quantities={line.pk: units}, include_shipping=False
                            )
                        returned[line.pk] = returned.get(line.pk, 0) + units
            except DomainError:
                pass  # refused whole: nothing changed (proved in test_services_edits)
            pay_the_difference(order, returned)
        if not shipped and order.status == "allocated":
            ship(order)
            shipped = True

        order.refresh_from_db()
        invoiced, credited = documents(order)
        owes = owed(order, returned)
        # invoices minus credit notes: what the customer owes for what they keep
        assert invoiced - credited == owes
        # payments minus refunds: what was charged
        assert order.amount_paid - order.amount_refunded == invoiced - credited
        assert not order.payment_transactions.filter(status="pending").exists()
    finally:
        transaction.savepoint_rollback(savepoint)


@pytest.mark.parametrize("policy", ["shipped", "placed"])
@pytest.mark.parametrize(
    "ops",
    [
        [("ship", 0, 0), ("return", 2, 2)],  # a return refunded after shipping
        [("edit", 1, 4), ("cancel", 2, 1), ("fee", "0.00", 0), ("ship", 0, 0), ("return", 1, 1)],
        [("cancel", 1, 2), ("cancel", 2, 2)],  # every unit cancelled: the order is, and all is refunded
        # invoiced when placed, edited down then up: the units credited are invoiced again
        [("edit", 1, 1), ("edit", 1, 3), ("ship", 0, 0)],
        [("cancel", 1, 1), ("edit", 1, 4), ("edit", 2, 0), ("edit", 2, 1)],
        # the shipping charge lowered, removed, raised: credited and invoiced again at its new amount
        [("fee", "7.50", 0), ("fee", "0.00", 0), ("fee", "4.90", 0), ("ship", 0, 0), ("return", 2, 1)],
    ],
)
def test_examples_worth_keeping(shop, policy, ops):
    test_invoices_credit_notes_payments_and_refunds_reconcile.hypothesis.inner_test(shop, policy, ops)


def test_placement_invoice_edited_down_then_up_is_invoiced_again(shop):
    # given an order invoiced when placed: 2 × TEE, 2 × TEA and 4.90 shipping (65.80)
    ChannelBilling.objects.create(channel=shop, issue_policy="placed")
    with TestCase.captureOnCommitCallbacks(execute=True):
        order = place_order(channel=shop, lines=[("TEE", 2), ("TEA", 2)], shipping_fee=Decimal("4.90"))
    assert documents(order) == (Decimal("65.80"), ZERO)
    # when TEE goes down to 1, then up to 3
    step(order_edit, order=order, edit=EditInput(quantities={1: 1}))
    assert documents(order) == (Decimal("65.80"), Decimal("19.90"))
    step(order_edit, order=order, edit=EditInput(quantities={1: 3}))
    # then the two units beyond what the invoices still hold are invoiced: 65.80 + 39.80
    invoiced, credited = documents(order)
    assert (invoiced, credited) == (Decimal("105.60"), Decimal("19.90"))
    order.refresh_from_db()
    assert invoiced - credited == order.total_incl_vat == Decimal("85.70")
    last = Invoice.objects.invoices().filter(order=order).order_by("-pk").first()
    assert [(line.sku, line.quantity) for line in last.lines.order_by("position")] == [("TEE", 2)]
