"""Goodwill refunds ("geste commercial"): an amount given back on an order without any unit coming back (5 €
for a late delivery, the shipping charge).

``order_goodwill_refund`` validates the amount, writes the ``GoodwillRefund`` row and the event
``order.goodwill_refunded`` under the order's lock (first in the lock order, ARCHITECTURE.md), once per key.
Everything else is a consumer of that event, after commit:

- ``invoicing.issue``: a credit note (avoir) of one amount line per VAT rate, split like the invoices it
  corrects; an order not invoiced yet keeps it as a ``PendingCredit``, credited right after its invoice;
- ``orders.payments``: the refund through the order's payment service (or recorded as made, without one;
  nothing for a marketplace's order: the marketplace pays the buyer back);
- ``orders.notifications``: the customer's message;
- ``channels.marketplace_outbound``: OR28 for a Mirakl order (never for the marketplace's own refund,
  ``source`` "mirakl");
- ``webhooks.deliveries``: ``order.refunded``.

The ceiling: what the order is worth now (cancelled units already taken off) less what was already given
back on it (refunded returns, the marketplace's refunds, earlier goodwill refunds), and only once something
was paid or invoiced (or the order came from a marketplace, which collected the money)."""

from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction

from common.models import DomainEvent

from ..exceptions import IdempotencyKeyReused, InvalidOrder, RefundRefused
from ..locks import lock_order
from ..models import Channel, GoodwillReason, GoodwillRefund, Order, OrderStatus
from .events import event_add

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
MARKETPLACE_KINDS = frozenset({Channel.Kind.MIRAKL, Channel.Kind.AMAZON, Channel.Kind.MARKETPLACE})
# Money already given back on the order, as its events say (amount incl. VAT in the payload).
GIVEN_BACK_CODES = ("return.refunded", "order.channel_refunded", "order.goodwill_refunded")


def goodwill_room(order: Order, *, events=None) -> Decimal:
    """The most that can still be given back on the order: what it is worth now less what was given back
    (refunded returns, the marketplace's refunds, earlier goodwill refunds: their events' amounts). Nothing
    for a cancelled order (its cancellation refunds it), nor before anything was paid or invoiced.
    ``events``: the order's events already read (the order page's timeline), else one query reads them."""
    if order.status == OrderStatus.CANCELLED:
        return ZERO
    if events is None:
        events = DomainEvent.objects.filter(order_id=order.pk, code__in=(*GIVEN_BACK_CODES, "invoice.issued"))
    events = list(events)
    invoiced = any(event.code == "invoice.issued" for event in events)
    if order.amount_paid <= 0 and not invoiced and order.channel.kind not in MARKETPLACE_KINDS:
        return ZERO
    return max(order.total_incl_vat - given_back(order, events=events), ZERO).quantize(CENT)


def given_back(order: Order, *, events=None, exclude_return_id: int | None = None) -> Decimal:
    """What was already given back on the order (incl. VAT): refunded returns (but the one
    ``exclude_return_id``), the marketplace's refunds and goodwill refunds, as their events say. A return
    refunded after a goodwill refund is capped by it (``returns.services.refund_quote``): the buyer never
    gets back more than the order is worth."""
    if events is None:
        events = DomainEvent.objects.filter(order_id=order.pk, code__in=GIVEN_BACK_CODES)
    total = ZERO
    for event in events:
        if event.code not in GIVEN_BACK_CODES:
            continue
        payload = event.payload or {}
        if exclude_return_id is not None and payload.get("return_id") == exclude_return_id:
            continue
        try:
            total += Decimal(str(payload.get("amount") or 0))
        except InvalidOperation:
            continue
    return total.quantize(CENT)


@transaction.atomic
def order_goodwill_refund(
    *,
    order: Order,
    amount: Decimal,
    reason: str,
    note: str = "",
    key: str,
    source: str = "backoffice",
    reason_code: str = "",
    actor=None,
) -> tuple[GoodwillRefund, bool]:
    """Give ``amount`` (incl. VAT) back on ``order`` without units: ``(refund, created)``. The same ``key``
    again returns the first refund and changes nothing (another amount or reason under it is refused).
    Refused (nothing written): an amount not positive, an unknown reason, a note missing where staff give
    it, more than ``goodwill_room``."""
    try:
        amount = Decimal(amount).quantize(CENT)
    except (InvalidOperation, TypeError, ValueError):
        raise InvalidOrder("The amount is not a number.", details={"amount": [str(amount)]}) from None
    key = (key or "").strip()[:100]
    note = (note or "").strip()[:500]
    if not key:
        raise InvalidOrder(
            "A refund needs a key (it makes a retry harmless).", details={"key": ["Required."]}
        )
    if amount <= 0:
        raise InvalidOrder("The amount must be positive.", details={"amount": [str(amount)]})
    if reason not in GoodwillReason.values:
        raise InvalidOrder(f"Unknown reason {reason!r}.", details={"reason": [str(reason)]})
    if not note and source in ("backoffice", "api"):
        raise InvalidOrder("Say why in the note (the timeline keeps it).", details={"note": ["Required."]})
    order = lock_order(order.pk, related=("channel",))
    existing = GoodwillRefund.objects.filter(order=order, key=key).first()
    if existing is not None:
        if existing.amount != amount or existing.reason != reason:
            raise IdempotencyKeyReused(
                "This key already gave another refund on the order.",
                details={"key": key, "amount": str(existing.amount)},
            )
        return existing, False
    room = goodwill_room(order)
    if amount > room:
        raise RefundRefused(
            f"At most {room} EUR can still be given back on order {order.number}.",
            details={"amount": str(amount), "left": str(room)},
        )
    try:
        with transaction.atomic():
            refund = GoodwillRefund.objects.create(
                order=order,
                key=key,
                amount=amount,
                reason=reason,
                reason_code=(reason_code or "")[:64],
                note=note,
                source=source[:32],
                actor=actor if getattr(actor, "pk", None) else None,
            )
    except IntegrityError:  # the order is locked: only a racing insert of the same key gets here
        return GoodwillRefund.objects.get(order=order, key=key), False
    event_add(
        order=order,
        code="order.goodwill_refunded",
        actor=actor,
        refund=refund.pk,
        amount=amount,
        reason=reason,
        reason_code=refund.reason_code,
        note=note,
        source=source,
    )
    return refund, True
