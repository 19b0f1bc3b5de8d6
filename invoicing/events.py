"""The consumer of the domain event log that issues invoices and credit notes (``invoicing.issue``), by the
channel's issue policy: when the order is placed, when parcels are handed to the carrier (what left with
them), or on delivery; credit notes when an invoiced order is cancelled (a refunded return's credit notes are
issued by returns itself, which calls ``credit_notes_for_return`` in the refund's transaction). It runs
after the order's change committed, locks the order, then takes the invoice number in its own transaction
(ARCHITECTURE.md: only the number is atomic with the document, not with the shipment)."""

from decimal import Decimal

from django.utils import translation
from django.utils.translation import gettext as _

from common.eventlog import consumer
from orders.models import GoodwillReason, Order

from .services.issue import (
    ORDER_EVENTS_THAT_ISSUE,
    credit_notes_for_amount,
    credit_notes_for_order,
    credit_notes_for_order_change,
    credit_notes_for_refund,
    invoice_issue_for_order_change,
    on_order_event_for,
)
from .services.payments import invoices_settle_from_order


def _may_issue(event) -> bool:
    """Of the status moves, only those an issue policy acts on (``on_order_event``) may issue anything."""
    if event.order_id is None:
        return False
    p = event.payload
    return event.code != "order.status_changed" or (
        p.get("from") != "received" and p.get("to") in ORDER_EVENTS_THAT_ISSUE
    )


@consumer(
    "invoicing.issue",
    accepts=_may_issue,
    codes={
        "order.created",
        "order.status_changed",
        "parcels.handed_over",
        "order.cancelled",
        "payment.received",
        "payment.captured",
        "payment.updated",
        "order.edited",
        "order.lines_cancelled",
        "order.channel_refunded",
        "order.goodwill_refunded",
    },
)
def on_order_news(event) -> None:
    if not _may_issue(event):
        return  # the order is not read for a move no issue policy acts on
    p, actor = event.payload, event.actor
    match event.code:  # an issue policy's events: the order is read (locked) only if the policy issues
        case "order.created":
            on_order_event_for(order_id=event.order_id, event="created", actor=actor)
            return
        case "order.status_changed":
            if p.get("from") != "received":  # the intake's own first status: "created" covers it
                on_order_event_for(order_id=event.order_id, event=p["to"], actor=actor)
            return
        case "parcels.handed_over":
            # Each hand-over invoices what left with it (a second partial shipment changes no status).
            on_order_event_for(order_id=event.order_id, event="partially_shipped", actor=actor)
            return
    order = Order.objects.select_related("customer", "channel").get(pk=event.order_id)
    match event.code:
        case "order.cancelled":
            # An order invoiced when it was placed and then cancelled: credit what was invoiced.
            credit_notes_for_order(order=order, reason=str(p.get("reason") or ""), actor=actor)
        case "order.edited" | "order.lines_cancelled":
            # units invoiced (when placed) and no longer owed: credited
            credit_notes_for_order_change(order=order, reason=str(p.get("reason") or ""), actor=actor)
            # and what is now owed beyond what the invoices still hold (edited down, then up again)
            invoice_issue_for_order_change(order=order, actor=actor)
        case "order.channel_refunded":
            # a marketplace refunded units (or the shipping charge) itself: credited like a refunded return;
            # the money went back through the marketplace (no payment job: ``channel_refund``)
            # not invoiced yet: the refund waits as a pending credit, credited once the invoice is issued
            credit_notes_for_refund(
                order=order,
                key=f"channel:{p.get('channel', '')}:{p.get('refund', '')}",
                quantities={int(k): int(v) for k, v in (p.get("quantities") or {}).items()},
                include_shipping=bool(p.get("include_shipping")),
                reason=str(p.get("reason") or ""),
                actor=actor,
                event_extra={"channel_refund": p.get("refund", "")},
            )
        case "order.goodwill_refunded":
            # an amount given back without units: a credit note of one amount line per VAT rate; not
            # invoiced yet: it waits as a pending credit (the payment's refund goes with the event itself)
            credit_notes_for_amount(
                order=order,
                key=f"goodwill:{p.get('refund', '')}",
                amount=Decimal(str(p.get("amount") or 0)),
                reason=goodwill_reason(p, language=order.customer.language),
                actor=actor,
                event_extra={"goodwill": p.get("refund")},
            )
        case "payment.received" | "payment.captured" | "payment.updated":
            # money the order received: settles its open invoices (those issued later are settled then)
            invoices_settle_from_order(order=order, actor=actor)


def goodwill_reason(payload: dict, *, language: str) -> str:
    """The credit note's reason for a goodwill refund, in the document's language."""
    code = payload.get("reason") or GoodwillReason.OTHER
    with translation.override(language if language in ("fr", "en") else "fr"):
        label = GoodwillReason(code).label if code in GoodwillReason.values else code
        text = _("Commercial gesture: %(reason)s") % {"reason": label}
        return f"{text} ({payload['note']})"[:255] if payload.get("note") else str(text)
