"""Payments received on invoices (orders carry no payment state: invoicing records them).

``payment_record`` is the one entry point: it settles part or all of an invoice, writes the order's timeline,
and where the rules want it queues the "collected" status (212) for the platform; the payment e-reporting of
consumers' and foreign buyers' services reads these rows. The payments feature of the orders (issue 16) should
call ``payments_record_for_order`` (or ``payment_record`` per invoice) when a payment is captured or received.
"""

import datetime as dt
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from ..exceptions import PaymentRefused
from ..models import DocumentKind, Invoice, Payment, PaymentMethod
from ..timeline import timeline_add
from .transmission import collected_request

CENT = Decimal("0.01")


def document_balance(document: Invoice) -> Decimal:
    """What is left to pay on an invoice: its total, less its credit notes, less the payments recorded."""
    credited = (
        Invoice.objects.credit_notes().filter(corrects=document).aggregate(s=Sum("total_incl_vat"))["s"]
    )
    paid = Payment.objects.filter(document=document).aggregate(s=Sum("amount"))["s"]
    return document.total_incl_vat - (credited or Decimal("0")) - (paid or Decimal("0"))


@transaction.atomic
def payment_record(
    *, document: Invoice, paid_on: dt.date, amount: Decimal, method: str, reference: str = "", actor=None
) -> Payment:
    """Record a payment of ``amount`` received on ``paid_on`` for an invoice. Refused (nothing written) for a
    credit note, a date in the future, an amount not positive or above what is left to pay."""
    document = (
        Invoice.objects.select_for_update(of=("self",))
        .select_related("order", "legal_entity")
        .get(pk=document.pk)
    )
    amount = Decimal(amount).quantize(CENT)
    if document.kind != DocumentKind.INVOICE:
        raise PaymentRefused("A payment is recorded on an invoice, not on a credit note.")
    if method not in PaymentMethod.values:
        raise PaymentRefused(f"Unknown payment method {method!r}.", details={"method": method})
    if paid_on > timezone.localdate():
        raise PaymentRefused("The payment date is in the future.", details={"paid_on": paid_on.isoformat()})
    balance = document_balance(document)
    if amount <= 0:
        raise PaymentRefused("The amount must be positive.")
    if amount > balance:
        raise PaymentRefused(
            f"Only {balance} EUR is left to pay on {document.number}.",
            details={"balance": str(balance), "amount": str(amount)},
        )
    payment = Payment.objects.create(
        document=document,
        paid_on=paid_on,
        amount=amount,
        method=method,
        reference=reference[:100],
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    timeline_add(
        order=document.order,
        code="payment_recorded",
        params={
            "amount": amount,
            "number": document.number,
            "method": payment.get_method_display(),
            "date": paid_on.isoformat(),
        },
        actor=actor,
    )
    collected_request(payment=payment)
    return payment


@transaction.atomic
def payments_record_for_order(
    *, order, paid_on: dt.date, amount: Decimal, method: str, reference: str = "", actor=None
) -> list[Payment]:
    """A payment received for an order: spread over its invoices still open, oldest first. Raises
    ``PaymentRefused`` (nothing written) when it is more than the order's invoices still due."""
    left = Decimal(amount).quantize(CENT)
    payments = []
    for invoice in Invoice.objects.invoices().filter(order=order).order_by("issue_date", "pk"):
        if left <= 0:
            break
        due = document_balance(invoice)
        if due <= 0:
            continue
        part = min(due, left)
        payments.append(
            payment_record(
                document=invoice,
                paid_on=paid_on,
                amount=part,
                method=method,
                reference=reference,
                actor=actor,
            )
        )
        left -= part
    if left > 0:
        raise PaymentRefused(
            f"{left} EUR more than the order's invoices still due.", details={"order": order.number}
        )
    return payments


def invoices_settle_from_order(*, order, actor=None) -> list[Payment]:
    """Record on the order's open invoices (oldest first) the money the order received (paid at checkout,
    captured on shipment, recorded by staff) that no invoice carries yet. Safe to run again: what is
    already recorded is counted first. An invoice of an order paid at checkout is thus settled when it is
    issued, and says so ("acquittée") instead of a due date."""
    recorded = Payment.objects.filter(document__order_id=order.pk).aggregate(s=Sum("amount"))["s"] or Decimal(
        "0"
    )
    left = (order.amount_paid - recorded).quantize(CENT)
    if left <= 0:
        return []
    paid_on = timezone.localdate(order.paid_at) if order.paid_at else timezone.localdate()
    paid_on = min(paid_on, timezone.localdate())
    method = PaymentMethod.TRANSFER if order.payment_provider in ("", "manual") else PaymentMethod.CARD
    payments = []
    for invoice in Invoice.objects.invoices().filter(order_id=order.pk).order_by("issue_date", "pk"):
        if left <= 0:
            break
        due = document_balance(invoice)
        if due <= 0:
            continue
        part = min(due, left)
        payments.append(
            payment_record(
                document=invoice,
                paid_on=paid_on,
                amount=part,
                method=method,
                reference=order.payment_reference,
                actor=actor,
            )
        )
        left -= part
    return payments
