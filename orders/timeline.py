"""The order's timeline: its domain events (``common.models.DomainEvent``) told in the reader's language.

The log stores a code and its parameters; each code has a renderer here that builds the sentence at read
time with the active language's words, dates and amounts (an English reader reads "€24.90" and
"12/24/2026", a French one "24,90 €" and "24/12/2026"). Events without a renderer (facts that only
consumers care about) are not shown. Rows migrated from the old timeline, stored as French sentences,
keep their text (``legacy_text``).
"""

from dataclasses import dataclass, field
from datetime import date, datetime

from django.utils import formats
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from common.models import DomainEvent
from common.templatetags.oms_tags import money

from .models import OrderStatus


@dataclass
class TimelineEntry:
    """One line of the timeline, rendered in the active language when ``message`` is read."""

    event: DomainEvent
    lines: dict[int, str] = field(default_factory=dict)  # order line id -> SKU

    @property
    def type(self) -> str:
        return self.event.code

    @property
    def at(self) -> datetime:
        return self.event.created_at

    @property
    def actor(self):
        return self.event.actor

    @property
    def data(self) -> dict:
        return self.event.payload

    @property
    def message(self) -> str:
        return render(self.event, lines=self.lines) or ""


def _day(value) -> str:
    if not value:
        return ""
    if isinstance(value, str):
        value = parse_date(value[:10])
    return formats.date_format(value, "SHORT_DATE_FORMAT") if isinstance(value, date) else str(value)


def _status(value: str) -> str:
    try:
        return str(OrderStatus(value).label)
    except ValueError:
        return value


def _units(items, *, lines: dict[int, str], where: bool = True) -> str:
    parts = []
    for item in items:
        sku = item.get("sku") or lines.get(item.get("line_id"), "?")
        text = f"{item['quantity']} × {sku}"
        if where and item.get("location"):
            text += f" @ {item['location']}"
        if item.get("kind") == "incoming" and item.get("expected_on"):
            text += f" ({_day(item['expected_on'])})"
        parts.append(text)
    return ", ".join(parts)


def _plan(summary: dict) -> str:
    parts = []
    for p in summary.get("parcels", []):
        parts.append(
            _(
                "%(location)s: %(cost)s (storage −%(storage)s, handling %(handling)s, "
                "%(service)s %(shipping)s)"
            )
            % {
                "location": p.get("location_name") or p.get("location"),
                "cost": money(p.get("cost")),
                "storage": money(p.get("storage")),
                "handling": money(p.get("handling")),
                "service": p.get("service") or _("no carrier service"),
                "shipping": money(p.get("shipping")),
            }
        )
    return "; ".join(parts)


def _sourced(p: dict, lines) -> str:
    chosen = p.get("chosen") or {}
    text = _("Shipped from %(plan)s; %(count)s parcel(s), total %(total)s.") % {
        "plan": _plan(chosen),
        "count": len(chosen.get("parcels", [])),
        "total": money(chosen.get("total")),
    }
    chosen_key = [q.get("location") for q in chosen.get("parcels", [])]
    others = [
        c for c in p.get("candidates", []) if [q.get("location") for q in c.get("parcels", [])] != chosen_key
    ]
    if others:
        text += " " + _("Compared with: %(others)s.") % {
            "others": "; ".join(
                " + ".join(q.get("location_name") or q.get("location") for q in c.get("parcels", []))
                + f" {money(c.get('total'))}"
                for c in others[:3]
            )
        }
    return text


def _promised(p: dict, lines) -> str:
    hows = []
    for parcel in p.get("parcels", []):
        if parcel.get("kind") == "store":
            hows.append(
                _("ready at %(store)s on %(day)s") % {"store": parcel["location"], "day": _day(parcel["day"])}
            )
            continue
        slot = parcel.get("slot")
        picked = (
            _("picked in the %(start)s–%(end)s shift of %(day)s")
            % {"start": slot["start"], "end": slot["end"], "day": _day(slot["day"])}
            if slot
            else _("no picking schedule planned")
        )
        hows.append(
            _(
                "%(location)s: %(picked)s, leaves %(ship)s (cut-off %(cutoff)s), "
                "%(service)s %(days)s working day(s)"
            )
            % {
                "location": parcel["location"],
                "picked": picked,
                "ship": _day(parcel.get("ship")),
                "cutoff": parcel.get("cutoff", ""),
                "service": parcel.get("service", ""),
                "days": parcel.get("days", ""),
            }
        )
    return _("Delivery promised between %(earliest)s and %(latest)s (%(how)s).") % {
        "earliest": _day(p.get("earliest")),
        "latest": _day(p.get("latest")),
        "how": "; ".join(hows),
    }


def _reserved(p: dict, lines) -> str:
    items = p.get("allocations", [])
    stock = [a for a in items if a.get("kind") != "incoming"]
    incoming = [a for a in items if a.get("kind") == "incoming"]
    parts = []
    if stock:
        parts.append(_("Stock reserved: %(detail)s.") % {"detail": _units(stock, lines=lines)})
    if incoming:
        parts.append(
            _("Pre-ordered, awaiting stock: %(detail)s.") % {"detail": _units(incoming, lines=lines)}
        )
    return " ".join(parts)


STATUS_REASONS = {
    "replenishment": lambda: _("Replenishment received: every unit is now reserved in stock."),
    "nothing_left": lambda: _("Nothing left to prepare from stock: the order waits for stock."),
    "all_returned": lambda: _("Every item came back: the order is returned."),
    "not_collected": lambda: _("Not collected: the units set aside go back on the shelf."),
}


def _status_changed(p: dict, lines) -> str:
    text = _("Status: %(old)s → %(new)s.") % {
        "old": _status(p.get("from", "")),
        "new": _status(p.get("to", "")),
    }
    reason = STATUS_REASONS.get(p.get("reason"))
    if reason is not None:
        text += " " + reason()
    if p.get("pickup"):
        text += " " + (
            _("Collected with the pickup code.")
            if p["pickup"] == "code"
            else _("Collected after an identity check.")
        )
    return text


def _cancelled(p: dict, lines) -> str:
    return _("Order cancelled: %(reason)s. %(count)s reservation(s) released.") % {
        "reason": p.get("reason") or _("no reason given"),
        "count": p.get("count", len(p.get("released", []))),
    }


def _resourced(p: dict, lines) -> str:
    reason = _("missing") if p.get("reason") == "missing" else _("damaged")
    params = {
        "location": p.get("location"),
        "quantity": p.get("quantity"),
        "sku": p.get("sku"),
        "reason": reason,
    }
    if p.get("placed"):
        params["detail"] = ", ".join(
            f"{q['quantity']} @ {q.get('location_name') or q.get('location')}"
            + (f" ({_day(q['expected_on'])})" if q.get("kind") == "incoming" and q.get("expected_on") else "")
            for q in p["placed"]
        )
        return (
            _("Short pick at %(location)s: %(quantity)s × %(sku)s %(reason)s. Re-sourced: %(detail)s.")
            % params
        )
    return (
        _(
            "Short pick at %(location)s: %(quantity)s × %(sku)s %(reason)s. "
            "No stock anywhere: the line waits for stock."
        )
        % params
    )


def describe_changes(changes: dict) -> str:
    parts = []
    for key, change in changes.items():
        if key == "address":
            parts.extend(f"{k} {v['before'] or '∅'} → {v['after'] or '∅'}" for k, v in change.items())
        elif key == "lines":
            parts.append(
                "lines "
                + ", ".join(f"{q} × {s}" for s, q in sorted(change["before"].items()))
                + " → "
                + ", ".join(f"{q} × {s}" for s, q in sorted(change["after"].items()))
            )
        elif key == "edit":
            parts.append(
                _("order edited (difference %(amount)s)") % {"amount": money(change.get("difference"))}
            )
        elif key == "reason":
            parts.append(str(change))
        else:
            parts.append(f"{key} {change['before'] or '∅'} → {change['after'] or '∅'}")
    return "; ".join(parts)


def _channel_update(p: dict, lines) -> str:
    if p.get("applied"):
        return _("Changed on %(channel)s and applied: %(what)s.") % {
            "channel": p.get("channel"),
            "what": describe_changes(p["applied"]),
        }
    return _("Changed on %(channel)s but not applied (edit the order by hand if needed): %(what)s.") % {
        "channel": p.get("channel"),
        "what": describe_changes(p.get("refused") or {}),
    }


def _shipment_status(p: dict, lines) -> str:
    from shipping.models import Shipment

    try:
        status = str(Shipment.Status(p.get("to")).label)
    except ValueError:
        status = p.get("to", "")
    return (_("Parcel %(parcel)s: %(status)s. %(label)s") % {**p, "status": status}).strip()


def _goodwill(p: dict) -> str:
    from .models import GoodwillReason

    reason = p.get("reason", "")
    text = _("Commercial gesture: %(amount)s given back (%(reason)s).") % {
        "amount": money(p.get("amount")),
        "reason": GoodwillReason(reason).label if reason in GoodwillReason.values else reason,
    }
    if p.get("source") == "mirakl":
        text += " " + _("Refunded by the marketplace.")
    return text + (f" {p['note']}" if p.get("note") else "")


def _hold(value: str) -> str:
    from .models import HoldKind

    try:
        return str(HoldKind(value).label)
    except ValueError:
        return value


def _payment_status(value: str) -> str:
    from .models import PaymentStatus

    try:
        return str(PaymentStatus(value).label)
    except ValueError:
        return value


def _edited(p: dict, lines) -> str:
    parts = []
    for change in p.get("changes", []):
        kind = change.get("kind")
        if kind == "quantity":
            parts.append(_("%(sku)s: %(before)s → %(after)s") % {**change, "sku": change.get("sku", "?")})
        elif kind == "add":
            parts.append(_("%(sku)s added (%(quantity)s)") % change)
        elif kind == "remove":
            parts.append(_("%(sku)s removed (%(quantity)s)") % change)
        elif kind == "replace":
            parts.append(_("%(before)s replaced by %(after)s (%(quantity)s)") % change)
        elif kind == "delivery":
            parts.append(describe_changes(change.get("fields", {})))
    difference = p.get("difference")
    text = _("Order changed by %(who)s: %(changes)s.") % {
        "who": p.get("by") or _("the channel"),
        "changes": "; ".join(parts) or "-",
    }
    if difference not in (None, "0", "0.00"):
        text += " " + _("Difference: %(amount)s.") % {"amount": money(difference)}
    return text


RENDERERS = {
    "order.edited": _edited,
    "return.exchange_placed": lambda p, lines: (
        (
            _(
                "Return %(number)s: the exchange ships as order %(order)s (difference %(amount)s, charged "
                "through the payment service)."
            )
            if p.get("charged")
            else _("Return %(number)s: the exchange ships as order %(order)s (difference %(amount)s).")
        )
        % {"number": p.get("number"), "order": p.get("exchange_order"), "amount": money(p.get("difference"))}
    ),
    "return.exchange_failed": lambda p, lines: (
        _("Return %(number)s: the exchange could not be reserved: %(error)s") % p
    ),
    "order.lines_cancelled": lambda p, lines: (
        _("Cancelled: %(detail)s. To refund: %(amount)s.")
        % {"detail": _units(p.get("lines", []), lines=lines, where=False), "amount": money(p.get("amount"))}
    ),
    "order.goodwill_refunded": lambda p, lines: _goodwill(p),
    "order.hold_placed": lambda p, lines: (
        _("On hold (%(kind)s): not released to picking until cleared.") % {"kind": _hold(p.get("kind", ""))}
        + (f" {p['reason']}" if p.get("reason") else "")
    ),
    "order.hold_released": lambda p, lines: (
        _("Hold cleared (%(kind)s).") % {"kind": _hold(p.get("kind", ""))}
    ),
    "payment.received": lambda p, lines: (
        _("Payment received: %(amount)s (%(reference)s).")
        % {"amount": money(p.get("amount")), "reference": p.get("reference") or "-"}
    ),
    "payment.updated": lambda p, lines: (
        _("Payment: %(before)s → %(after)s.")
        % {"before": _payment_status(p.get("from", "")), "after": _payment_status(p.get("to", ""))}
    ),
    "payment.capture_requested": lambda p, lines: (
        _("Capture of %(amount)s asked of the payment service.") % {"amount": money(p.get("amount"))}
    ),
    "payment.refund_requested": lambda p, lines: (
        _("Refund of %(amount)s asked of the payment service.") % {"amount": money(p.get("amount"))}
    ),
    "pick.put_back": lambda p, lines: (
        _("%(quantity)s × %(sku)s put back to bin %(bin)s at %(location)s.")
        % {
            "quantity": p.get("quantity"),
            "sku": p.get("sku"),
            "bin": p.get("bin") or "-",
            "location": p.get("location"),
        }
    ),
    "payment.void_requested": lambda p, lines: (
        _("Cancellation of the authorisation of %(amount)s asked of the payment service.")
        % {"amount": money(p.get("amount"))}
    ),
    "payment.voided": lambda p, lines: (
        _("Authorisation of %(amount)s cancelled: the customer's money is no longer held (%(reference)s).")
        % {"amount": money(p.get("amount")), "reference": p.get("reference") or "-"}
    ),
    "payment.charge_requested": lambda p, lines: (
        _("Charge of %(amount)s asked of the payment service.") % {"amount": money(p.get("amount"))}
    ),
    "payment.captured": lambda p, lines: (
        _("Payment captured: %(amount)s (%(reference)s).")
        % {"amount": money(p.get("amount")), "reference": p.get("reference")}
    ),
    "payment.refunded": lambda p, lines: (
        _("Refunded: %(amount)s (%(reference)s).")
        % {"amount": money(p.get("amount")), "reference": p.get("reference") or "-"}
    ),
    "payment.failed": lambda p, lines: (
        _("The payment service refused the %(kind)s of %(amount)s: %(error)s")
        % {"kind": p.get("kind"), "amount": money(p.get("amount")), "error": p.get("error")}
    ),
    "order.created": lambda p, lines: (
        _("Order received from %(channel)s (%(source)s): %(count)s line(s), %(total)s incl. VAT.")
        % {**p, "total": money(p.get("total"))}
    ),
    "order.sourced": _sourced,
    "order.promised": _promised,
    "stock.reserved": _reserved,
    "order.status_changed": _status_changed,
    "order.cancelled": _cancelled,
    "order.resourced": _resourced,
    "order.shipping_rule": lambda p, lines: (
        _("Shipping rule “%(rule)s” chose %(service)s for parcel %(parcel)s.")
        % {"rule": p.get("rule_name"), "service": p.get("service_name"), "parcel": p.get("parcel")}
    ),
    "order.not_collected": lambda p, lines: (
        _("Not collected within %(days)s days at %(store)s: to return to stock.") % p
    ),
    "order.channel_received": lambda p, lines: (
        _("Received from %(channel)s as %(reference)s (delivery %(delivery)s); shipping: %(mapping)s.") % p
    ),
    "order.channel_update": _channel_update,
    "order.channel_refunded": lambda p, lines: (
        _("Refund %(refund)s made on %(channel)s: %(amount)s (%(reason)s).")
        % {
            "refund": p.get("refund"),
            "channel": p.get("channel"),
            "amount": money(p.get("amount")),
            "reason": p.get("reason"),
        }
    ),
    "order.channel_told": lambda p, lines: (
        _("%(channel)s told: %(what)s (reason %(reason)s, marketplace ids %(ids)s).")
        % {
            "channel": p.get("channel"),
            "what": {
                "cancellation": _("units cancelled"),
                "refund": _("refund"),
                "order_cancel": _("order cancelled"),
            }.get(p.get("kind"), p.get("kind")),
            "reason": p.get("reason_code") or "-",
            "ids": ", ".join(p.get("remote_ids") or []) or "-",
        }
    ),
    "order.channel_fulfilment": lambda p, lines: (
        _("Parcel %(parcel)s (%(tracking)s) reported to %(channel)s.") % p
    ),
    "stock.incoming_received": lambda p, lines: (
        _("Replenishment received for: %(detail)s.")
        % {"detail": _units(p.get("served", []), lines=lines, where=False)}
    ),
    "preparation.started": lambda p, lines: _("Picking started at %(location)s.") % p,
    "preparation.picked": lambda p, lines: _("Every unit to prepare at %(location)s is picked.") % p,
    "parcel.closed": lambda p, lines: (
        _("Parcel %(parcel)s packed at %(location)s (%(weight)s g): %(detail)s.")
        % {
            "parcel": p.get("parcel"),
            "location": p.get("location"),
            "weight": formats.localize(p.get("weight_g")),
            "detail": _units(p.get("lines", []), lines=lines, where=False),
        }
    ),
    "pickup.ready": lambda p, lines: _("Set aside at %(location)s for pickup.") % p,
    "parcels.handed_over": lambda p, lines: (
        ngettext(
            "Parcel %(parcels)s handed to %(carrier)s.",
            "Parcels %(parcels)s handed to %(carrier)s.",
            len(p["parcels"]),
        )
        % {"parcels": ", ".join(x["number"] for x in p.get("parcels", [])), "carrier": p.get("carrier", "")}
    ),
    "shipment.status_changed": _shipment_status,
    "invoice.issued": lambda p, lines: (
        _("Invoice %(number)s issued: %(amount)s incl. VAT.")
        % {"number": p.get("number"), "amount": money(p.get("total_incl_vat"))}
    ),
    "credit_note.issued": lambda p, lines: (
        _("Credit note %(number)s issued for invoice %(invoice)s: %(amount)s incl. VAT.")
        % {"number": p.get("number"), "invoice": p.get("invoice"), "amount": money(p.get("total_incl_vat"))}
    ),
    "invoice.not_issued": lambda p, lines: _(
        "No invoice issued: no legal entity invoices this channel (invoicing settings)."
    ),
}


def register(code: str, renderer) -> None:
    """Let a higher layer (invoicing) tell its own events on the order's timeline: ``renderer(payload,
    lines)`` returns the sentence in the active language."""
    RENDERERS[code] = renderer


def render(event: DomainEvent, *, lines: dict[int, str] | None = None) -> str | None:
    """The event's sentence in the active language, or None when the timeline does not show it."""
    payload = event.payload or {}
    if payload.get("legacy_text"):
        return payload["legacy_text"]
    renderer = RENDERERS.get(event.code)
    if renderer is None:
        return None
    try:
        return renderer(payload, lines or {})
    except (KeyError, TypeError, ValueError):  # a payload of another version: say what happened, at least
        return event.code


def is_shown(event: DomainEvent) -> bool:
    return bool((event.payload or {}).get("legacy_text")) or event.code in RENDERERS


def order_timeline(*, order, newest_first: bool = True) -> list[TimelineEntry]:
    """The order's timeline (one query; the order's lines give the SKUs some events name by line)."""
    lines = {line.pk: line.sku for line in order.lines.all()}
    events = DomainEvent.objects.filter(order_id=order.pk).select_related("actor")
    events = events.order_by("-created_at", "-id") if newest_first else events.order_by("created_at", "id")
    return [TimelineEntry(event, lines) for event in events if is_shown(event)]
