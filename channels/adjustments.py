"""Cancellations and refunds made on a marketplace, applied here once (``MarketplaceAdjustment``).

Mirakl lists them in OR11, on each order line: ``cancelations[]`` (units that will not be shipped) and
``refunds[]`` (money given back to the customer), each with its own ``id``, whoever made them: the operator,
its customer service, the customer, or the shop itself through OR28 (``PUT /api/orders/refund``) and OR30
(``PUT /api/orders/cancel``). OR29 (``PUT /api/orders/{order_id}/cancel``) cancels a whole order: it comes
back as the CANCELED state, which ``_dispatch_mirakl`` already applies.

- A **cancellation** of some units goes through the orders app's partial cancellation
  (``order_lines_cancel``): the reservations released, picking told through the preparation's sync, the
  refund amount computed, credit notes for units already invoiced (``invoicing.issue``).
- A **refund** with ``excluded_from_shipment`` is units that will not ship: a cancellation too.
- A **refund of an amount without units** (no quantity: the operator's commercial gesture) goes through the
  orders app's goodwill refund (``order_goodwill_refund``, ``source`` "mirakl"): a credit note of the amount
  split by VAT rate like the invoice (or waiting for it), the customer told, nothing sent back.
- Any other **refund** (after shipment: a return handled by the marketplace, a goodwill gesture) is written
  as ``order.channel_refunded``: invoicing credits the refunded units (and the shipping charge when the
  refund includes shipping) on the order's invoices, like a refunded return. The money itself went back
  through the marketplace: no payment job is asked for it. A refund still waiting (``WAITING_REFUND``,
  ``WAITING_REFUND_PAYMENT``) is applied when it is ``REFUNDED``.

Exactly once: under the order's lock, an adjustment already applied is skipped, and the row (unique per
channel, kind and marketplace id) is written in the transaction that applies it. One that fails (more
units than can still be cancelled...) keeps its error and is tried again the next time the order is read or
its delivery replayed."""

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction

from common.exceptions import DomainError
from orders.locks import lock_order
from orders.models import GoodwillReason, Order, OrderLine, OrderStatus
from orders.services.edits import cancellable_units, order_lines_cancel
from orders.services.events import event_add
from orders.services.goodwill import order_goodwill_refund

from .models import MarketplaceAdjustment

Kind = MarketplaceAdjustment.Kind
State = MarketplaceAdjustment.State
WAITING_REFUND = {"WAITING_REFUND", "WAITING_REFUND_PAYMENT"}
CENT = Decimal("0.01")


@dataclass
class Found:
    kind: str
    remote_id: str
    remote_line_id: str
    sku: str
    quantity: int
    amount: Decimal
    shipping_amount: Decimal
    reason_code: str
    excluded_from_shipment: bool
    state: str
    raw: dict
    units_given: bool = True  # False: the marketplace named no quantity (an amount-only refund)


def _decimal(value) -> Decimal:
    try:
        return Decimal(str(value if value is not None else 0)).quantize(CENT)
    except (InvalidOperation, ValueError):
        return Decimal("0")


def _quantity(entry: dict, line: dict) -> int:
    """The units: the marketplace's quantity, else the amount over the line's unit price."""
    try:
        quantity = int(entry.get("quantity") or 0)
    except (TypeError, ValueError):
        quantity = 0
    if quantity <= 0:
        price = _decimal(line.get("price_unit"))
        amount = _decimal(entry.get("amount"))
        if price > 0 and amount > 0:
            quantity = int((amount / price).to_integral_value())
    return max(quantity, 0)


def _int(value) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def _units_given(entry: dict) -> bool:
    return _int(entry.get("quantity")) > 0


def mirakl_found(payload: dict) -> list[Found]:
    """The cancellations and refunds of a Mirakl order (OR11), in the order they were made."""
    found = []
    for line in payload.get("order_lines") or []:
        if not isinstance(line, dict):
            continue
        common = {
            "remote_line_id": str(line.get("order_line_id") or "")[:100],
            "sku": str(line.get("offer_sku") or "").strip()[:64],
        }
        for key, kind in (("cancelations", Kind.CANCELLATION), ("refunds", Kind.REFUND)):
            for entry in line.get(key) or []:
                if not isinstance(entry, dict) or not entry.get("id"):
                    continue
                found.append(
                    Found(
                        kind=kind,
                        remote_id=str(entry["id"])[:100],
                        # a refund's units are those it names (none: an amount-only refund)
                        quantity=_quantity(entry, line)
                        if kind == Kind.CANCELLATION or entry.get("excluded_from_shipment")
                        else max(_int(entry.get("quantity")), 0),
                        amount=_decimal(entry.get("amount")),
                        shipping_amount=_decimal(entry.get("shipping_amount")),
                        reason_code=str(entry.get("reason_code") or "")[:64],
                        excluded_from_shipment=bool(entry.get("excluded_from_shipment")),
                        state=str(entry.get("state") or entry.get("refund_state") or ""),
                        raw=entry,
                        units_given=_units_given(entry),
                        **common,
                    )
                )
    found.sort(key=lambda f: (str(f.raw.get("created_date") or ""), f.remote_id))
    return found


def adjustments_mark_before_import(*, channel, order: Order, found: list[Found]) -> None:
    """An order taken with its adjustments already made: the lines we took are what was left to serve, so
    those adjustments are recorded as seen and never applied."""
    MarketplaceAdjustment.objects.bulk_create(
        [_row(channel=channel, order=order, found=f, state=State.BEFORE_IMPORT) for f in found],
        ignore_conflicts=True,
    )


def _row(*, channel, order, found: Found, state: str, error: str = "") -> MarketplaceAdjustment:
    return MarketplaceAdjustment(
        channel=channel,
        order=order,
        kind=found.kind,
        remote_id=found.remote_id,
        remote_line_id=found.remote_line_id,
        sku=found.sku,
        quantity=found.quantity,
        amount=found.amount,
        shipping_amount=found.shipping_amount,
        reason_code=found.reason_code,
        state=state,
        error=error[:2000],
        payload=found.raw,
    )


def adjustments_apply(*, channel, order: Order, found: list[Found], source: str) -> list[str]:
    """Apply what was not applied yet; returns one sentence per adjustment applied or failed."""
    if not found:
        return []
    final = set(
        MarketplaceAdjustment.objects.filter(channel=channel, remote_id__in=[f.remote_id for f in found])
        .exclude(state=State.FAILED)
        .values_list("kind", "remote_id")
    )
    from .outbound import ours

    mine = ours(channel=channel, order=order, found=[f for f in found if (f.kind, f.remote_id) not in final])
    if mine:  # our own OR30 / OR28 listed back by OR11: recorded as ours, never applied a second time
        MarketplaceAdjustment.objects.bulk_create(
            [
                _row(channel=channel, order=order, found=f, state=State.OURS)
                for f in found
                if (f.kind, f.remote_id) in mine
            ],
            ignore_conflicts=True,
        )
        final |= mine
    summary = []
    for item in found:
        if (item.kind, item.remote_id) in final:
            continue
        if item.kind == Kind.REFUND and item.state in WAITING_REFUND:
            continue  # applied once the marketplace has paid it back
        try:
            with transaction.atomic():
                summary.append(_apply(channel=channel, order=order, found=item, source=source))
        except IntegrityError:
            continue  # applied meanwhile by another worker (the unique constraint)
        except DomainError as exc:
            MarketplaceAdjustment.objects.update_or_create(
                channel=channel,
                kind=item.kind,
                remote_id=item.remote_id,
                defaults={
                    "order": order,
                    "remote_line_id": item.remote_line_id,
                    "sku": item.sku,
                    "quantity": item.quantity,
                    "amount": item.amount,
                    "shipping_amount": item.shipping_amount,
                    "reason_code": item.reason_code,
                    "state": State.FAILED,
                    "error": str(exc.message)[:2000],
                    "payload": item.raw,
                },
            )
            summary.append(f"{item.kind} {item.remote_id} failed: {exc.message}")
    return summary


def _apply(*, channel, order: Order, found: Found, source: str) -> str:
    order = lock_order(order.pk)
    done = (
        MarketplaceAdjustment.objects.filter(channel=channel, kind=found.kind, remote_id=found.remote_id)
        .exclude(state=State.FAILED)
        .exists()
    )
    if done:  # applied by another worker while this one waited for the order's lock
        return f"{found.kind} {found.remote_id} already applied"
    reason = f"{channel.name}: {found.reason_code or found.kind} ({found.remote_id})"
    cancels = found.kind == Kind.CANCELLATION or found.excluded_from_shipment
    if cancels:
        detail = _cancel_units(order=order, found=found, reason=reason, source=source)
    elif not found.units_given and found.amount > 0:
        detail = _goodwill(order=order, found=found, channel=channel)
    else:
        detail = _refund(order=order, found=found, reason=reason, channel=channel)
    MarketplaceAdjustment.objects.filter(
        channel=channel, kind=found.kind, remote_id=found.remote_id, state=State.FAILED
    ).delete()
    _row(channel=channel, order=order, found=found, state=State.APPLIED).save()
    return detail


def _lines_for(order: Order, found: Found) -> list[OrderLine]:
    lines = list(OrderLine.objects.filter(order=order, sku=found.sku).order_by("line_no"))
    if not lines:
        raise DomainError(
            f"No line {found.sku or '?'} on order {order.number}.",
            details={"sku": found.sku, "remote_line": found.remote_line_id},
        )
    return lines


def _cancel_units(*, order: Order, found: Found, reason: str, source: str) -> str:
    if order.status == OrderStatus.CANCELLED:
        return f"{found.kind} {found.remote_id}: the order is already cancelled"
    if found.quantity <= 0:
        raise DomainError(
            f"{found.kind} {found.remote_id} gives no quantity.", details={"id": found.remote_id}
        )
    left = cancellable_units(order=order)
    wanted, todo = {}, found.quantity
    for line in _lines_for(order, found):
        units = min(todo, left.get(line.pk, 0))
        if units:
            wanted[line.pk] = units
            todo -= units
    if todo:
        raise DomainError(
            f"{found.sku} × {found.quantity}: only {found.quantity - todo} unit(s) can still be cancelled.",
            details={"sku": found.sku, "asked": found.quantity, "left": found.quantity - todo},
        )
    change = order_lines_cancel(order=order, quantities=wanted, reason=reason, source=source)
    return f"{found.sku} × {found.quantity} cancelled ({-change.difference} EUR)"


def _goodwill(*, order: Order, found: Found, channel) -> str:
    """An amount refunded with no units (the operator's commercial gesture): the same service as our own
    goodwill refunds (a credit note split by VAT rate, the customer told), marked as the marketplace's
    (``source``: nothing sent back, no payment job: the marketplace paid the buyer)."""
    total = found.amount + found.shipping_amount
    # more than the order still holds: RefundRefused, kept failed and shown with its replay
    refund, _created = order_goodwill_refund(
        order=order,
        amount=total,
        reason=GoodwillReason.MARKETPLACE,
        note=f"{channel.name}: {found.reason_code or found.kind} ({found.remote_id})",
        key=f"{channel.kind}:{found.remote_id}",
        source=channel.kind,
        reason_code=found.reason_code,
    )
    return f"refund {found.remote_id}: {total} EUR without units (goodwill {refund.pk})"


def _refund(*, order: Order, found: Found, reason: str, channel) -> str:
    quantities: dict[int, int] = {}
    if found.quantity:
        lines = _lines_for(order, found)
        quantities[lines[0].pk] = found.quantity  # invoicing spreads them over the invoices that hold them
    include_shipping = found.shipping_amount > 0
    if not quantities and not include_shipping:
        raise DomainError(
            f"Refund {found.remote_id} names no units and no shipping: nothing to credit.",
            details={"id": found.remote_id, "amount": str(found.amount)},
        )
    event_add(
        order=order,
        code="order.channel_refunded",
        channel=channel.name,
        refund=found.remote_id,
        reason=reason,
        sku=found.sku,
        quantities={str(k): v for k, v in quantities.items()},
        include_shipping=include_shipping,
        amount=found.amount + found.shipping_amount,
    )
    total = found.amount + found.shipping_amount
    return f"refund {found.remote_id}: {found.sku} × {found.quantity}, {total} EUR"
