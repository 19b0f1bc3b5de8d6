"""The order's payment: its state, what the channel or staff record, captures and refunds through the payment
service.

- ``payment_fields`` gives the intake the payment fields of the Order row it inserts (no extra statement);
  a payment not confirmed yet puts the order on a payment hold.
- ``payment_update_from_channel`` applies a channel's news (Shopify's ``financial_status``, WooCommerce's
  paid date) and clears the payment hold when the money is there.
- ``payment_record`` is a payment received and typed by staff (a transfer, a cheque).
- ``payment_capture_request`` (when the order ships) and ``payment_refund_request`` (when a credit note is
  issued) write a pending transaction in the caller's transaction; its task calls the provider after commit
  (``payment_transaction_run``), with the transaction's idempotency key, and applies the answer under the
  order's lock.

Every change writes its event (``payment.*``) to the log: the timeline shows it, invoicing records money
received on the invoices (consumer ``invoicing.issue``).
"""

import datetime as dt
import uuid
from decimal import Decimal

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from common import jobs

from ..exceptions import PaymentRefused
from ..locks import lock_order
from ..models import HoldKind, Order, PaymentStatus
from ..services.events import event_add
from .models import PaymentTransaction
from .providers import PROVIDERS, ProviderError, ProviderUnavailable, provider_for

CENT = Decimal("0.01")
ZERO = Decimal("0.00")

# What a channel says about the money, to our payment status.
CHANNEL_STATUSES = {
    # Shopify ``financial_status``
    "pending": PaymentStatus.PENDING,
    "authorized": PaymentStatus.AUTHORISED,
    "partially_paid": PaymentStatus.PAID,
    "paid": PaymentStatus.PAID,
    "partially_refunded": PaymentStatus.PARTIALLY_REFUNDED,
    "refunded": PaymentStatus.REFUNDED,
    "voided": PaymentStatus.UNPAID,
    # ours (API)
    "unpaid": PaymentStatus.UNPAID,
    "authorised": PaymentStatus.AUTHORISED,
}


def payment_fields(*, payment: dict | None, total: Decimal) -> dict:
    """The payment fields of a new Order row from the channel's payment (``{"status", "amount", "provider",
    "reference", "paid_at"}``), and its payment hold when the money is still to come. Validated by the
    edge; an unknown status is refused here (``PaymentRefused``)."""
    if not payment:
        return {}
    status = CHANNEL_STATUSES.get(str(payment.get("status") or "unpaid"))
    if status is None:
        raise PaymentRefused(
            f"Unknown payment status {payment.get('status')!r}.",
            details={"payment": {"status": [str(payment.get("status"))]}},
        )
    amount = Decimal(str(payment.get("amount") if payment.get("amount") is not None else total)).quantize(
        CENT
    )
    if amount < 0:
        raise PaymentRefused(
            "The amount paid cannot be negative.", details={"payment": {"amount": [str(amount)]}}
        )
    fields = {
        "payment_status": status,
        "payment_provider": str(payment.get("provider") or "")[:32],
        "payment_reference": str(payment.get("reference") or "")[:100],
    }
    if status == PaymentStatus.AUTHORISED:
        fields["amount_authorised"] = amount
    elif status in (PaymentStatus.PAID, PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED):
        fields["amount_paid"] = amount
        fields["paid_at"] = payment.get("paid_at") or timezone.now()
    if status == PaymentStatus.PENDING:
        fields["holds"] = [HoldKind.PAYMENT]
    return fields


def status_of(order: Order) -> str:
    """The payment status the amounts say (a pending payment stays pending until money is recorded)."""
    if order.amount_refunded > 0:
        return (
            PaymentStatus.REFUNDED
            if order.amount_refunded >= order.amount_paid
            else PaymentStatus.PARTIALLY_REFUNDED
        )
    if order.amount_paid > 0:
        return PaymentStatus.PAID
    if order.amount_authorised > 0:
        return PaymentStatus.AUTHORISED
    if order.payment_status in (PaymentStatus.PENDING, PaymentStatus.VOIDED):
        return order.payment_status
    return PaymentStatus.UNPAID


def amount_due(order: Order) -> Decimal:
    """What is left to pay: what the customer owes less what was paid and not refunded, less what an
    authorisation will capture (nothing for a cancelled order)."""
    if order.status == "cancelled":
        return ZERO
    return max(owed(order) - (order.amount_paid - order.amount_refunded) - amount_to_capture(order), ZERO)


def amount_to_capture(order: Order) -> Decimal:
    """What the authorisation will capture when the order ships: what it costs now, at most what was
    authorised (a partial cancellation lowers it; a cancelled order's authorisation is voided)."""
    if order.payment_status != PaymentStatus.AUTHORISED or order.status == "cancelled":
        return ZERO
    return max(min(order.amount_authorised, order.total_incl_vat - order.amount_paid), ZERO)


def _settle(order: Order, *, actor=None) -> None:
    """Store the status the amounts say, and clear the payment hold once the money is there (the order is
    locked by the caller)."""
    order.refresh_from_db(
        fields=["amount_authorised", "amount_paid", "amount_refunded", "payment_status", "holds"]
    )
    status = status_of(order)
    update = ["payment_status"]
    order.payment_status = status
    if status != PaymentStatus.PENDING and HoldKind.PAYMENT in order.holds:
        from ..services.holds import hold_remove

        hold_remove(order=order, kind=HoldKind.PAYMENT, actor=actor, note="payment")
    order.save(update_fields=[*update, "updated_at"])


@transaction.atomic
def payment_record(
    *,
    order: Order,
    amount: Decimal,
    reference: str = "",
    method: str = "transfer",
    paid_on: dt.date | None = None,
    actor=None,
) -> PaymentTransaction:
    """A payment received for the order and typed by staff (or confirmed by the channel). Refused (nothing
    written) when not positive or more than what is left to pay on the order."""
    order = lock_order(order.pk)
    amount = Decimal(amount).quantize(CENT)
    left = order.total_incl_vat - (order.amount_paid - order.amount_refunded)
    if amount <= 0:
        raise PaymentRefused("The amount must be positive.", details={"amount": [str(amount)]})
    if amount > left:
        raise PaymentRefused(
            f"Only {left} EUR is left to pay on {order.number}.",
            details={"left": str(left), "amount": str(amount)},
        )
    paid_at = timezone.make_aware(dt.datetime.combine(paid_on, dt.time(12))) if paid_on else timezone.now()
    tx = PaymentTransaction.objects.create(
        order=order,
        kind=PaymentTransaction.Kind.PAYMENT,
        status=PaymentTransaction.Status.SUCCEEDED,
        amount=amount,
        currency=order.currency,
        provider=order.payment_provider or "manual",
        reference=reference[:100],
        idempotency_key=f"payment-{order.pk}-{uuid.uuid4()}",
        created_by=actor if getattr(actor, "pk", None) else None,
        completed_at=timezone.now(),
    )
    Order.objects.filter(pk=order.pk).update(amount_paid=F("amount_paid") + amount, paid_at=paid_at)
    _settle(order, actor=actor)
    event_add(
        order=order,
        code="payment.received",
        actor=actor,
        transaction=tx.pk,
        amount=amount,
        method=method,
        reference=reference,
        paid_on=timezone.localdate(paid_at),
    )
    return tx


@transaction.atomic
def payment_update_from_channel(*, order: Order, payment: dict, actor=None) -> Order:
    """The channel says where the money is now (an ``orders/updated`` webhook): amounts and status follow,
    and the payment hold is cleared once paid or authorised. Refunds made in the channel are recorded as
    refunds of the channel's payment."""
    order = lock_order(order.pk)
    fields = payment_fields(payment=payment, total=order.total_incl_vat)
    if not fields:
        return order
    new_status = fields["payment_status"]
    changes = {}
    if fields.get("amount_authorised") is not None and order.amount_authorised != fields["amount_authorised"]:
        changes["amount_authorised"] = fields["amount_authorised"]
    if fields.get("amount_paid") is not None and order.amount_paid < fields["amount_paid"]:
        changes["amount_paid"] = fields["amount_paid"]
        changes["paid_at"] = order.paid_at or fields["paid_at"]
    if new_status == PaymentStatus.REFUNDED and order.amount_refunded < max(
        order.amount_paid, changes.get("amount_paid", ZERO)
    ):
        changes["amount_refunded"] = max(order.amount_paid, changes.get("amount_paid", ZERO))
    for key in ("payment_provider", "payment_reference"):
        if fields.get(key) and not getattr(order, key):
            changes[key] = fields[key]
    if changes:
        Order.objects.filter(pk=order.pk).update(**changes)
    if new_status == PaymentStatus.PENDING and order.payment_status == PaymentStatus.UNPAID:
        Order.objects.filter(pk=order.pk).update(payment_status=PaymentStatus.PENDING)
    old_status = order.payment_status
    _settle(order, actor=actor)
    if order.payment_status != old_status or "amount_paid" in changes:
        event_add(
            order=order,
            code="payment.updated",
            actor=actor,
            **{"from": old_status, "to": order.payment_status},
            amount_paid=order.amount_paid,
            amount_refunded=order.amount_refunded,
            source="channel",
        )
    return order


# --- Through the payment service ----------------------------------------------------------------------


def _request(
    *,
    order: Order,
    kind: str,
    amount: Decimal,
    key: str,
    credit_note: str = "",
    provider: str = "",
    source_reference: str = "",
    actor=None,
):
    tx, created = PaymentTransaction.objects.get_or_create(
        idempotency_key=key,
        defaults={
            "order": order,
            "kind": kind,
            "amount": amount,
            "currency": order.currency,
            "provider": provider or order.payment_provider,
            "source_reference": source_reference[:100],
            "credit_note": credit_note,
            "created_by": actor if getattr(actor, "pk", None) else None,
            "job_due_at": jobs.due(),
        },
    )
    if created:
        from .tasks import payment_transaction as payment_transaction_task

        jobs.enqueue_on_commit(payment_transaction_task, tx.pk)
        event_add(
            order=order, code=f"payment.{kind}_requested", actor=actor, transaction=tx.pk, amount=amount
        )
    return tx


def payment_capture_request(*, order: Order, actor=None, locked: bool = False) -> PaymentTransaction | None:
    """The order shipped: capture what the customer owes now (its total after edits and cancellations), at
    most what was authorised, through the payment service. Nothing when the payment is not an authorisation
    held by a service we capture through, or was captured already (the same key twice is one capture).
    ``locked``: the caller locked ``order`` in this transaction (``lock_order``)."""
    if not locked:
        order = lock_order(order.pk)
    if order.payment_provider not in PROVIDERS or order.payment_status != PaymentStatus.AUTHORISED:
        return None
    amount = min(order.amount_authorised, order.total_incl_vat)
    if amount <= 0:
        return None
    return _request(
        order=order,
        kind=PaymentTransaction.Kind.CAPTURE,
        amount=amount,
        key=f"capture-{order.pk}",
        actor=actor,
    )


@transaction.atomic
def payment_void_request(*, order: Order, actor=None) -> PaymentTransaction | None:
    """The order was cancelled (whole, or its last units) before anything was captured: cancel the
    authorisation at the payment service, so the customer's money is no longer held (Stripe cancels the
    PaymentIntent, Mollie releases the authorisation). Once per order (its key); nothing when the payment is
    not an authorisation held by a service we call, or a capture was asked already."""
    order = lock_order(order.pk)
    if order.payment_provider not in PROVIDERS or order.payment_status != PaymentStatus.AUTHORISED:
        return None
    if order.amount_authorised <= 0 or owed(order) > 0:
        return None
    if PaymentTransaction.objects.filter(
        order=order,
        kind=PaymentTransaction.Kind.CAPTURE,
        status__in=[PaymentTransaction.Status.PENDING, PaymentTransaction.Status.SUCCEEDED],
    ).exists():
        return None
    return _request(
        order=order,
        kind=PaymentTransaction.Kind.VOID,
        amount=order.amount_authorised,
        key=f"void-{order.pk}",
        actor=actor,
    )


@transaction.atomic
def payment_charge_request(
    *, order: Order, amount: Decimal, provider: str, source_reference: str, key: str, actor=None
) -> PaymentTransaction | None:
    """Charge ``amount`` for ``order`` through the payment service ``provider``, with the means of an earlier
    payment (``source_reference``: the exchange's original order's payment). A job like a capture: the task
    calls the provider after commit with the row's idempotency key (``key``), so the customer is charged
    once; when it succeeds the amount is paid on the order (its invoice settled), when refused the order
    page shows the amount left to pay. None when the provider is not one we call or nothing is due."""
    amount = Decimal(amount).quantize(CENT)
    if provider not in PROVIDERS or not source_reference or amount <= 0:
        return None
    order = lock_order(order.pk)
    return _request(
        order=order,
        kind=PaymentTransaction.Kind.CHARGE,
        amount=amount,
        key=key,
        provider=provider,
        source_reference=source_reference,
        actor=actor,
    )


def payment_refund_request(*, order: Order, amount: Decimal, credit_note: str, actor=None):
    """A credit note was issued: refund its amount, at most what is paid and not refunded yet (refunds
    asked and not answered included), through the payment service. One refund per credit note, whatever
    the number of times this is called."""
    order = lock_order(order.pk)
    if order.payment_provider not in PROVIDERS:
        return None
    asked = sum(
        PaymentTransaction.objects.filter(
            order=order, kind=PaymentTransaction.Kind.REFUND, status=PaymentTransaction.Status.PENDING
        ).values_list("amount", flat=True),
        ZERO,
    )
    amount = min(Decimal(amount).quantize(CENT), order.amount_paid - order.amount_refunded - asked)
    if amount <= 0:
        return None
    return _request(
        order=order,
        kind=PaymentTransaction.Kind.REFUND,
        amount=amount,
        key=f"refund-{order.pk}-{credit_note}",
        credit_note=credit_note,
        actor=actor,
    )


def owed(order: Order) -> Decimal:
    """What the customer owes for what they keep: nothing for a cancelled order, else its total."""
    from ..models import OrderStatus

    return ZERO if order.status == OrderStatus.CANCELLED else order.total_incl_vat


@transaction.atomic
def payment_refund_excess(*, order: Order, key: str, actor=None) -> PaymentTransaction | None:
    """The order now costs less than what was paid (units cancelled, an edit, the order cancelled): refund the
    difference through the payment service, once per change (``key``). Refunds asked and not answered yet
    count, so two changes in a row never refund twice."""
    order = lock_order(order.pk)
    if order.payment_provider not in PROVIDERS:
        return None
    asked = sum(
        PaymentTransaction.objects.filter(
            order=order, kind=PaymentTransaction.Kind.REFUND, status=PaymentTransaction.Status.PENDING
        ).values_list("amount", flat=True),
        ZERO,
    )
    excess = (order.amount_paid - order.amount_refunded - asked - owed(order)).quantize(CENT)
    if excess <= 0:
        return None
    return _request(
        order=order,
        kind=PaymentTransaction.Kind.REFUND,
        amount=excess,
        key=f"refund-{order.pk}-{key}",
        actor=actor,
    )


@transaction.atomic
def payment_refund_for_return(
    *, order: Order, amount: Decimal, return_number: str, reference: str, actor=None
):
    """A return was refunded: through the payment service when the order's has one (the staff's reference is
    then a note), else the refund was made in the merchant's payment system and is recorded as done, so the
    order's amounts stay true."""
    order = lock_order(order.pk)
    if order.payment_provider in PROVIDERS:
        return payment_refund_request(order=order, amount=amount, credit_note=return_number, actor=actor)
    amount = min(Decimal(amount).quantize(CENT), order.amount_paid - order.amount_refunded)
    if amount <= 0:
        return None
    tx, created = PaymentTransaction.objects.get_or_create(
        idempotency_key=f"refund-{order.pk}-{return_number}",
        defaults={
            "order": order,
            "kind": PaymentTransaction.Kind.REFUND,
            "status": PaymentTransaction.Status.SUCCEEDED,
            "amount": amount,
            "currency": order.currency,
            "provider": order.payment_provider or "manual",
            "reference": reference[:100],
            "credit_note": return_number,
            "completed_at": timezone.now(),
        },
    )
    if created:
        Order.objects.filter(pk=order.pk).update(amount_refunded=F("amount_refunded") + amount)
        _settle(order, actor=actor)
        event_add(
            order=order,
            code="payment.refunded",
            actor=actor,
            transaction=tx.pk,
            amount=amount,
            provider=tx.provider,
            reference=reference,
            credit_note=return_number,
        )
    return tx


def payment_transaction_run(*, transaction_id: int) -> PaymentTransaction:
    """The task's work: call the provider (outside any transaction) with the row's idempotency key, then
    apply its answer under the order's lock. ``ProviderUnavailable`` is raised for the task to retry (the
    row stays due); a refusal marks the transaction failed and tells the timeline."""
    from ..jobs import PAYMENT_TRANSACTION

    with jobs.claim(PAYMENT_TRANSACTION, transaction_id) as job:
        tx = PaymentTransaction.objects.select_related("order").get(pk=transaction_id)
        if job is None or tx.status != PaymentTransaction.Status.PENDING:
            return tx
        order = tx.order
        try:
            provider = provider_for(tx.provider)
            if provider is None:
                raise ProviderError(f"No payment service {tx.provider!r} to call.", code="no_provider")
            arguments = {
                "payment_reference": tx.source_reference or order.payment_reference,
                "amount": tx.amount,
                "currency": tx.currency,
                "idempotency_key": tx.idempotency_key,
            }
            match tx.kind:
                case PaymentTransaction.Kind.CAPTURE:
                    result = provider.capture(**arguments)
                case PaymentTransaction.Kind.VOID:
                    result = provider.void(**arguments)
                case PaymentTransaction.Kind.CHARGE:
                    result = provider.charge(**arguments, description=order.number)
                case _:
                    result = provider.refund(**arguments)
        except ProviderUnavailable:
            raise
        except ProviderError as exc:
            return _apply_failure(tx=tx, error=str(exc), code=exc.code)
        return _apply_success(tx=tx, reference=result.reference, amount=result.amount)


@transaction.atomic
def _apply_success(*, tx: PaymentTransaction, reference: str, amount: Decimal) -> PaymentTransaction:
    order = lock_order(tx.order_id)
    done = PaymentTransaction.objects.filter(pk=tx.pk, status=PaymentTransaction.Status.PENDING).update(
        status=PaymentTransaction.Status.SUCCEEDED, reference=reference[:100], completed_at=timezone.now()
    )
    if not done:
        tx.refresh_from_db()
        return tx
    amount = min(Decimal(amount).quantize(CENT), tx.amount)
    if tx.kind == PaymentTransaction.Kind.VOID:
        Order.objects.filter(pk=order.pk).update(
            amount_authorised=ZERO, payment_status=PaymentStatus.VOIDED, updated_at=timezone.now()
        )
        _settle(order)
        event_add(
            order=order,
            code="payment.voided",
            transaction=tx.pk,
            amount=tx.amount,
            provider=tx.provider,
            reference=reference,
        )
        tx.refresh_from_db()
        return tx
    if tx.kind == PaymentTransaction.Kind.CHARGE:
        Order.objects.filter(pk=order.pk).update(
            amount_paid=F("amount_paid") + amount, paid_at=timezone.now()
        )
        _settle(order)
        event_add(
            order=order,
            code="payment.received",
            transaction=tx.pk,
            amount=amount,
            method="provider",
            provider=tx.provider,
            reference=reference,
            paid_on=timezone.localdate(),
        )
        tx.refresh_from_db()
        return tx
    if tx.kind == PaymentTransaction.Kind.CAPTURE:
        Order.objects.filter(pk=order.pk).update(
            amount_paid=F("amount_paid") + amount, paid_at=timezone.now()
        )
        code = "payment.captured"
    else:
        Order.objects.filter(pk=order.pk).update(amount_refunded=F("amount_refunded") + amount)
        code = "payment.refunded"
    _settle(order)
    event_add(
        order=order,
        code=code,
        transaction=tx.pk,
        amount=amount,
        provider=tx.provider,
        reference=reference,
        credit_note=tx.credit_note,
        paid_on=timezone.localdate(),
    )
    tx.refresh_from_db()
    return tx


@transaction.atomic
def _apply_failure(*, tx: PaymentTransaction, error: str, code: str) -> PaymentTransaction:
    order = lock_order(tx.order_id)
    done = PaymentTransaction.objects.filter(pk=tx.pk, status=PaymentTransaction.Status.PENDING).update(
        status=PaymentTransaction.Status.FAILED, error=error[:2000], completed_at=timezone.now()
    )
    if done:
        event_add(
            order=order,
            code="payment.failed",
            transaction=tx.pk,
            kind=tx.kind,
            amount=tx.amount,
            provider=tx.provider,
            error=error[:500],
            error_code=code,
        )
    tx.refresh_from_db()
    return tx


def payment_given_up(ids: list[int]) -> None:
    """Transactions whose provider never answered after every attempt: failed, for staff to see."""
    for tx in PaymentTransaction.objects.filter(pk__in=ids, status=PaymentTransaction.Status.PENDING):
        _apply_failure(
            tx=tx, error="The payment service never answered: try again from the order page.", code="timeout"
        )
