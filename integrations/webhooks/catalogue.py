"""The event types a webhook endpoint can subscribe to, the domain events (``common.eventlog`` codes) each is
made of, and the versioned JSON payload sent for each.

The payload (version 1)::

    {"id": "<delivery uuid>", "type": "order.status_changed", "version": 1,
     "created_at": "<when it happened, ISO 8601>", "event_id": 1234,
     "data": {"order": {...}, "change": {...}}}

``id`` is the same at every attempt and replay of one delivery (a receiver deduplicates on it); a replay
asked for by staff is a new delivery with a new id. ``data.order`` is the order as it was when the delivery
was prepared (right after the change), ``data.change`` what the event says changed.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import F, Sum
from django.utils.translation import gettext_lazy as _

PAYLOAD_VERSION = 1
TEST_EVENT = "webhook.test"


@dataclass(frozen=True)
class EventType:
    name: str
    label: object
    codes: frozenset[str]


EVENT_TYPES: list[EventType] = [
    EventType("order.created", _("Order created"), frozenset({"order.created"})),
    EventType("order.status_changed", _("Order status changed"), frozenset({"order.status_changed"})),
    EventType(
        "order.lines_changed",
        _("Order lines changed (edited, re-sourced, short-picked)"),
        frozenset({"order.lines_changed", "order.resourced", "pick.shorted"}),
    ),
    EventType("order.cancelled", _("Order cancelled"), frozenset({"order.cancelled"})),
    EventType(
        "shipment.updated",
        _("Shipment updated (parcel closed, handed over, carrier news)"),
        frozenset({"parcel.closed", "parcels.handed_over", "shipment.status_changed"}),
    ),
    EventType(
        "return.updated",
        _("Return updated"),
        frozenset(
            {
                "return.requested",
                "return.accepted",
                "return.label_sent",
                "return.received",
                "return.refunded",
                "return.rejected",
                "return.credited",
            }
        ),
    ),
    EventType(
        "order.refunded",
        _("Amount refunded without a return (commercial gesture)"),
        frozenset({"order.goodwill_refunded"}),
    ),
    EventType("invoice.issued", _("Invoice issued"), frozenset({"invoice.issued"})),
    EventType("credit_note.issued", _("Credit note issued"), frozenset({"credit_note.issued"})),
    EventType("customer.created", _("Customer created"), frozenset({"customer.created"})),
    EventType("customer.erased", _("Customer erased (GDPR)"), frozenset({"customer.erased"})),
    EventType(
        "stock.availability_changed",
        _("Stock availability changed"),
        frozenset({"stock.availability_changed"}),
    ),
]

EVENT_NAMES = [t.name for t in EVENT_TYPES]
_BY_CODE: dict[str, str] = {code: t.name for t in EVENT_TYPES for code in t.codes}
DOMAIN_CODES = frozenset(_BY_CODE)


def event_type_for(code: str) -> str | None:
    """The public event type of a domain event's code (None: not sent to webhooks)."""
    return _BY_CODE.get(code)


def choices() -> list[tuple[str, object]]:
    return [(t.name, t.label) for t in EVENT_TYPES]


# --- Payloads -------------------------------------------------------------------------------------------


def order_snapshot(order_id: int) -> dict | None:
    """The order as a receiver needs it (2 queries)."""
    from orders.models import Order, OrderLine

    order = (
        Order.objects.select_related("channel", "customer")
        .only(
            "number",
            "status",
            "external_id",
            "currency",
            "total_incl_vat",
            "delivery_mode",
            "created_at",
            "updated_at",
            "promised_earliest",
            "promised_latest",
            "channel__code",
            "customer__email",
            "customer__first_name",
            "customer__last_name",
        )
        .filter(pk=order_id)
        .first()
    )
    if order is None:
        return None
    lines = (
        OrderLine.objects.filter(order_id=order_id)
        .order_by("line_no")
        .values("line_no", "sku", "name", "quantity", "unit_price", "vat_rate")
    )
    customer = order.customer
    return {
        "number": order.number,
        "status": order.status,
        "channel": order.channel.code,
        "external_id": order.external_id,
        "currency": order.currency,
        "total_incl_vat": str(order.total_incl_vat),
        "delivery_mode": order.delivery_mode,
        "promised_delivery": {
            "earliest": order.promised_earliest.isoformat() if order.promised_earliest else None,
            "latest": order.promised_latest.isoformat() if order.promised_latest else None,
        },
        "customer": {
            "id": order.customer_id,
            "email": customer.email if customer else "",
            "first_name": customer.first_name if customer else "",
            "last_name": customer.last_name if customer else "",
        },
        "lines": [
            {
                "line": line["line_no"],
                "sku": line["sku"],
                "name": line["name"],
                "quantity": line["quantity"],
                "unit_price": str(line["unit_price"]),
                "vat_rate": str(line["vat_rate"]),
            }
            for line in lines
        ],
        "created_at": order.created_at.isoformat(),
        "updated_at": order.updated_at.isoformat(),
    }


def customer_snapshot(customer_id: int) -> dict:
    from customers.models import Customer

    customer = Customer.objects.filter(pk=customer_id).first()
    if customer is None:
        return {"id": customer_id}
    return {
        "id": customer.pk,
        "email": customer.email,
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "phone": customer.phone,
        "company": customer.company,
        "language": customer.language,
        "created_at": customer.created_at.isoformat(),
    }


def availability_snapshot(product_ids: list[int]) -> list[dict]:
    """Free units per SKU, over every location (on hand minus reserved)."""
    from inventory.models import Product, StockLevel

    skus = dict(Product.objects.filter(pk__in=product_ids).values_list("pk", "sku"))
    free = dict(
        StockLevel.objects.filter(product_id__in=product_ids)
        .values("product_id")
        .annotate(free=Sum(F("on_hand") - F("reserved")))
        .values_list("product_id", "free")
    )
    return [{"sku": skus[pk], "available": int(free.get(pk) or 0)} for pk in sorted(skus)]


# Internal keys of the domain payloads that mean nothing outside (database ids of rows not exposed).
_INTERNAL = {"product_ids", "candidates", "capacity", "line_id", "location_id", "document", "label_id"}


def _public(payload: dict) -> dict:
    return {k: v for k, v in payload.items() if k not in _INTERNAL}


def event_data(event) -> dict:
    """``data`` of the payload of a domain event (what every endpoint subscribed to it receives)."""
    code, payload = event.code, event.payload or {}
    if code in ("customer.created", "customer.erased"):
        customer_id = payload.get("customer_id")
        if code == "customer.erased":
            return {"customer": {"id": customer_id}}
        return {"customer": customer_snapshot(customer_id)}
    if code == "stock.availability_changed":
        return {"products": availability_snapshot(payload.get("product_ids") or [])}
    data: dict = {"order": order_snapshot(event.order_id) if event.order_id else None}
    if code in ("invoice.issued", "credit_note.issued"):
        data["document"] = {
            "number": payload.get("number"),
            "total_incl_vat": payload.get("total_incl_vat"),
            "corrects": payload.get("invoice"),
        }
    elif code == "order.goodwill_refunded":
        data["refund"] = {
            "id": payload.get("refund"),
            "amount": payload.get("amount"),
            "reason": payload.get("reason"),
            "reason_code": payload.get("reason_code", ""),
            "note": payload.get("note", ""),
            "source": payload.get("source", ""),
        }
    elif code in ("parcel.closed", "parcels.handed_over", "shipment.status_changed"):
        data["shipment"] = {"event": code, **_public(payload)}
    elif code.startswith("return."):
        data["return"] = {"event": code, **_public(payload)}
    else:
        data["change"] = {"event": code, **_public(payload)}
    return data


def envelope(*, delivery_id: str, event_type: str, created_at, event_id: int | None, data: dict) -> dict:
    return {
        "id": delivery_id,
        "type": event_type,
        "version": PAYLOAD_VERSION,
        "created_at": created_at.isoformat(),
        "event_id": event_id,
        "data": data,
    }
