"""Returns (RMA): request, accept (return label or drop at a store), reject, receive and inspect (stock
back to sellable or written off), refund (invoicing's credit note issued in the same transaction: this app
sits above invoicing and calls it).

Every step is one function that checks the return's status with a conditional update, writes the order's
timeline and runs in a transaction. The carrier is called only from the Celery task ``return_label``."""

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from common import jobs
from common.models import DomainEvent
from inventory import services as inventory_services
from inventory.models import Allocation, Location
from invoicing.services import issue as invoicing_issue
from orders.locks import lock_order
from orders.models import (
    ORDER_TRANSITIONS,
    RETURNABLE_STATUSES,
    Channel,
    Order,
    OrderCounter,
    OrderLine,
    OrderStatus,
)
from orders.services import goodwill, lifecycle
from orders.services.events import event_add
from orders.services.kits import line_units
from shipping import carriers
from shipping import shipments as shipping_shipments
from shipping.models import ParcelReturnLabel, Shipment

from .exceptions import InvalidReturnTransition, ReturnRefused
from .models import RETURN_TRANSITIONS, Return, ReturnLine, ReturnReason, ReturnRule, ReturnStatus

logger = logging.getLogger(__name__)

LABEL_MAX_ATTEMPTS = 6
DEFAULT_WINDOW_DAYS = 30
# Units of these returns count as "already returned" (a rejected return frees its units).
OPEN_OR_DONE = (ReturnStatus.REQUESTED, ReturnStatus.LABEL_SENT, ReturnStatus.RECEIVED, ReturnStatus.REFUNDED)


@dataclass
class LineRequest:
    order_line: OrderLine
    quantity: int
    reason: ReturnReason
    photo: object = None  # an uploaded file
    exchange_sku: str = ""  # an exchange: the replacement's SKU (exchanges.exchange_options)


@dataclass
class Returnable:
    """What may still come back of an order, and why not when nothing may."""

    lines: dict[int, int] = field(default_factory=dict)  # order line id -> units
    delivered_at: object = None
    deadline: object = None
    refusal: str = ""


# --- Reading ----------------------------------------------------------------------------------------------


def rule_for(order: Order) -> ReturnRule:
    rule = ReturnRule.objects.filter(channel_id=order.channel_id).first()
    return rule or ReturnRule(channel_id=order.channel_id, window_days=DEFAULT_WINDOW_DAYS, fee=Decimal("0"))


def photo_reason_ids(rule: ReturnRule) -> set[int]:
    return set(rule.photo_reasons.values_list("pk", flat=True)) if rule.pk else set()


def shipped_units(order: Order) -> dict[int, int]:
    """Units of each line that left (for a kit's line: whole kits)."""
    return line_units(
        Allocation.objects.filter(order=order, consumed_at__isnull=False)
        .values_list("line_id", "line__product_id", "product_id")
        .annotate(units=Sum("quantity"))
    )


def returned_units(order: Order, *, exclude: Return | None = None) -> dict[int, int]:
    qs = ReturnLine.objects.filter(ret__order=order, ret__status__in=OPEN_OR_DONE)
    if exclude is not None:
        qs = qs.exclude(ret=exclude)
    rows = qs.values("order_line_id").annotate(units=Sum("quantity"))
    return {row["order_line_id"]: row["units"] for row in rows}


def delivered_at(order: Order):
    """When the order reached its customer: the last parcel delivered, or the order's move to delivered."""
    at = Shipment.objects.filter(order=order, delivered_at__isnull=False).order_by("-delivered_at").first()
    if at is not None:
        return at.delivered_at
    event = (
        DomainEvent.objects.filter(
            order_id=order.pk, code="order.status_changed", payload__to=OrderStatus.DELIVERED
        )
        .order_by("-created_at")
        .first()
    )
    return event.created_at if event else None


def returnable(order: Order, *, now=None) -> Returnable:
    now = now or timezone.now()
    result = Returnable()
    if order.status not in RETURNABLE_STATUSES:
        result.refusal = str(_("This order has not shipped yet: nothing can be returned."))
        if order.status == OrderStatus.RETURNED:
            result.refusal = str(_("Every item of this order has already been returned."))
        return result
    shipped = shipped_units(order)
    if not shipped:
        result.refusal = str(_("This order has not shipped yet: nothing can be returned."))
        return result
    result.delivered_at = delivered_at(order)
    if result.delivered_at is not None:
        result.deadline = result.delivered_at + timedelta(days=rule_for(order).window_days)
        if now > result.deadline:
            result.refusal = str(
                _("The return window of %(days)s days after delivery is over.")
                % {"days": rule_for(order).window_days}
            )
            return result
    already = returned_units(order)
    result.lines = {
        line_id: units - already.get(line_id, 0)
        for line_id, units in shipped.items()
        if units > already.get(line_id, 0)
    }
    if not result.lines:
        result.refusal = str(_("Every shipped item of this order is already being returned."))
    return result


# --- Numbering --------------------------------------------------------------------------------------------


def _next_number() -> str:
    year = timezone.localdate().year
    name = f"return-{year}"
    OrderCounter.objects.get_or_create(name=name)
    OrderCounter.objects.select_for_update().filter(name=name).update(value=F("value") + 1)
    value = OrderCounter.objects.get(name=name).value
    return f"RET-{year}-{value:06d}"


def _return_location(order: Order, method: str, store: Location | None) -> Location:
    if method == Return.Method.STORE:
        return store
    shipment = Shipment.objects.filter(order=order).select_related("location").order_by("pk").first()
    if shipment is not None:
        return shipment.location
    allocation = Allocation.objects.filter(order=order).select_related("location").order_by("pk").first()
    return allocation.location


def return_stores():
    """Stores where a customer may drop a return: the pickup points (every store when none is marked)."""
    stores = Location.objects.filter(active=True, kind="store").order_by("name")
    pickup = stores.filter(is_pickup_point=True)
    return pickup if pickup.exists() else stores


# --- Request ----------------------------------------------------------------------------------------------


@transaction.atomic
def return_request(
    *,
    order: Order,
    lines: list[LineRequest],
    method: str,
    store: Location | None = None,
    note: str = "",
    actor=None,
    source: str = Return.Source.PORTAL,
    now=None,
) -> Return:
    """Open a return: units among those shipped and not already being returned, within the channel's
    return window, a photo where the rule wants one. Refused whole (nothing written) otherwise."""
    order = lock_order(order.pk)
    state = returnable(order, now=now)
    if state.refusal:
        raise ReturnRefused(state.refusal, code="not_returnable", details={"order": order.number})
    lines = [line for line in lines if line.quantity]
    if not lines:
        raise ReturnRefused(str(_("Choose at least one item to return.")), code="no_line")
    rule = rule_for(order)
    needs_photo = photo_reason_ids(rule)
    errors = {}
    seen = set()
    for line in lines:
        if line.order_line.order_id != order.pk or line.order_line.pk in seen:
            raise ReturnRefused(str(_("This item is not part of the order.")), code="unknown_line")
        seen.add(line.order_line.pk)
        left = state.lines.get(line.order_line.pk, 0)
        if not isinstance(line.quantity, int) or line.quantity < 0:
            errors[line.order_line.pk] = str(_("Give a whole number of items."))
        elif line.quantity > left:
            errors[line.order_line.pk] = str(
                _("%(sku)s: at most %(left)s item(s) can be returned, not %(asked)s.")
                % {"sku": line.order_line.sku, "left": left, "asked": line.quantity}
            )
        elif line.reason is None:
            errors[line.order_line.pk] = str(_("%(sku)s: choose a reason.") % {"sku": line.order_line.sku})
        elif line.reason.pk in needs_photo and not line.photo:
            errors[line.order_line.pk] = str(
                _("%(sku)s: a photo is needed for this reason.") % {"sku": line.order_line.sku}
            )
    if errors:
        raise ReturnRefused(" ".join(errors.values()), code="invalid_lines", details={"lines": errors})
    if method not in Return.Method.values:
        raise ReturnRefused(str(_("Choose how the items come back.")), code="invalid_method")
    if method == Return.Method.STORE and (store is None or not return_stores().filter(pk=store.pk).exists()):
        raise ReturnRefused(str(_("Choose the store where the items will be dropped.")), code="invalid_store")
    ret = Return.objects.create(
        number=_next_number(),
        order=order,
        method=method,
        source=source,
        location=_return_location(order, method, store),
        created_by=actor if getattr(actor, "pk", None) else None,
        note=note[:2000],
    )
    from .exchanges import exchange_product_for

    for line in lines:
        return_line = ReturnLine(
            ret=ret,
            order_line=line.order_line,
            quantity=line.quantity,
            reason=line.reason,
            exchange_product=exchange_product_for(line.order_line, line.exchange_sku)
            if line.exchange_sku
            else None,
        )
        if line.photo:
            return_line.photo.save(line.photo.name, line.photo, save=False)
        return_line.save()
    event_add(
        order=order,
        code="return.requested",
        actor=actor,
        number=ret.number,
        units=sum(line.quantity for line in lines),
        method=ret.method,
    )
    if method == Return.Method.POST:
        _use_label_in_parcel(ret=ret, actor=actor)
    return ret


# --- Return label slipped in the parcel -------------------------------------------------------------------


def label_in_parcel(order: Order) -> ParcelReturnLabel | None:
    """The unused return label slipped in one of the order's parcels, if any."""
    return (
        ParcelReturnLabel.objects.filter(shipment__order=order, status=ParcelReturnLabel.Status.READY)
        .select_related("shipment", "carrier")
        .order_by("pk")
        .first()
    )


def _use_label_in_parcel(*, ret: Return, actor=None) -> None:
    """A return by post of an order whose parcel carried a return label: the customer uses that label, so
    the return is accepted at once (no label to make, nothing to send) and the label is registered."""
    label = label_in_parcel(ret.order)
    if label is None:
        return
    fields = {
        "accepted_at": timezone.now(),
        "carrier_id": label.carrier_id,
        "tracking_number": label.tracking_number,
    }
    _move(ret, ReturnStatus.LABEL_SENT, **fields)
    if label.label_pdf:
        Return.objects.filter(pk=ret.pk).update(label_pdf=label.label_pdf.name)
    event_add(
        order=ret.order,
        code="return.accepted",
        actor=actor,
        number=ret.number,
        method=ret.method,
        tracking=label.tracking_number,
        in_parcel=True,
    )
    shipping_shipments.return_label_link(label_id=label.pk, return_number=ret.number)
    shipping_shipments.return_label_used_by(label=label, how="registered")


@transaction.atomic
def return_from_label_in_parcel(*, label: ParcelReturnLabel, how: str) -> Return | None:
    """The return label slipped in a parcel was used (the carrier's first scan, or the customer registered
    it): open the return request, already accepted (the label exists), with the parcel's units not already
    coming back; its reason is "not stated" until the parcel is inspected. Once per label."""
    shipment = label.shipment
    order = lock_order(shipment.order_id)
    existing = Return.objects.filter(order=order, tracking_number=label.tracking_number).first()
    if existing is not None or label.return_number:
        if existing is not None:
            shipping_shipments.return_label_link(label_id=label.pk, return_number=existing.number)
        if existing is not None and how == "scanned":
            event_add(
                order=order, code="return.scanned", number=existing.number, tracking=label.tracking_number
            )
        return existing
    already = returned_units(order)
    units = line_units(
        shipment.lines.order_by("pk").values_list(
            "order_line_id", "order_line__product_id", "product_id", "quantity"
        )
    )
    shipped = shipped_units(order)
    lines = []
    for order_line in OrderLine.objects.filter(pk__in=units).order_by("line_no"):
        left = min(units[order_line.pk], shipped.get(order_line.pk, 0) - already.get(order_line.pk, 0))
        if left > 0:
            lines.append((order_line, left))
    if not lines:
        event_add(
            order=order,
            code="return.label_used_in_vain",
            tracking=label.tracking_number,
            parcel=shipment.number,
        )
        return None
    reason = ReturnReason.objects.get(code="not_stated")
    now = timezone.now()
    ret = Return.objects.create(
        number=_next_number(),
        order=order,
        status=ReturnStatus.LABEL_SENT,
        method=Return.Method.POST,
        source=Return.Source.PARCEL if how == "scanned" else Return.Source.PORTAL,
        location=shipment.location,
        carrier_id=label.carrier_id,
        tracking_number=label.tracking_number,
        accepted_at=now,
    )
    if label.label_pdf:
        Return.objects.filter(pk=ret.pk).update(label_pdf=label.label_pdf.name)
    ReturnLine.objects.bulk_create(
        [ReturnLine(ret=ret, order_line=line, quantity=quantity, reason=reason) for line, quantity in lines]
    )
    event_add(
        order=order,
        code="return.requested",
        number=ret.number,
        method=ret.method,
        tracking=label.tracking_number,
        parcel=shipment.number,
        units=sum(q for _l, q in lines),
        in_parcel=True,
    )
    shipping_shipments.return_label_link(label_id=label.pk, return_number=ret.number)
    return ret


# --- Status steps -----------------------------------------------------------------------------------------


def _move(ret: Return, to: str, **fields) -> Return:
    current = Return.objects.filter(pk=ret.pk).values_list("status", flat=True).first()
    if current is None or to not in RETURN_TRANSITIONS.get(current, ()):
        raise InvalidReturnTransition(
            str(_("A return that is %(status)s cannot become %(to)s."))
            % {"status": ReturnStatus(current).label, "to": ReturnStatus(to).label},
            details={"number": ret.number, "status": current, "to": to},
        )
    if not Return.objects.filter(pk=ret.pk, status=current).update(status=to, **fields):
        raise InvalidReturnTransition(str(_("The return changed meanwhile; reload it.")))
    ret.status = to
    for name, value in fields.items():
        setattr(ret, name, value)
    return ret


def _carrier_for(ret: Return):
    shipment = (
        Shipment.objects.filter(order_id=ret.order_id, service__isnull=False)
        .select_related("service__carrier")
        .order_by("pk")
        .first()
    )
    if shipment is None:
        return None
    adapter = carriers.get_adapter(shipment.service.carrier)
    return (
        shipment.service.carrier
        if adapter is not None and carriers.RETURN_LABEL in adapter.supports
        else None
    )


@transaction.atomic
def return_accept(*, ret: Return, actor=None) -> Return:
    """Accept: by post, the return label is asked of the carrier (a task; the customer gets it by email);
    in store, the customer is told to drop the items at the store."""
    from .tasks import return_label as return_label_task

    carrier = None
    if ret.method == Return.Method.POST:
        carrier = _carrier_for(ret)
        if carrier is None:
            raise ReturnRefused(
                str(_("No carrier of this order makes return labels: offer a return in store instead.")),
                code="no_return_label",
            )
    label = {"job_due_at": jobs.due()} if ret.method == Return.Method.POST else {}  # the label job
    _move(ret, ReturnStatus.LABEL_SENT, accepted_at=timezone.now(), carrier=carrier, **label)
    order = ret.order
    if rule_for(order).exchange_reserve_on == ReturnRule.ExchangeReserve.ACCEPTED:
        from .exchanges import exchange_place

        exchange_place(ret=ret, actor=actor)  # the replacement reserved now, or the acceptance refused
    if ret.method == Return.Method.POST:
        event_add(order=order, code="return.accepted", actor=actor, number=ret.number, method=ret.method)
        jobs.enqueue_on_commit(return_label_task, ret.pk)
    else:
        event_add(
            order=order,
            code="return.accepted",
            actor=actor,
            number=ret.number,
            method=ret.method,
            store=ret.location.name,
        )
    return ret


@transaction.atomic
def return_reject(*, ret: Return, reason: str, actor=None) -> Return:
    reason = (reason or "").strip()
    if not reason:
        raise ReturnRefused(str(_("Say why the return is rejected.")), code="reason_required")
    _move(ret, ReturnStatus.REJECTED, reject_reason=reason[:255], closed_at=timezone.now())
    event_add(order=ret.order, code="return.rejected", actor=actor, number=ret.number, reason=reason)
    return ret


def label_create(*, return_id: int) -> Return:
    """Ask the carrier for the return label (sender: the customer; recipient: the location the items come
    back to) and keep the PDF; then email the customer the link. Idempotent: a return with its label is left
    alone, and the label job is claimed first (common/jobs.py), so a redelivered or duplicate message never
    asks the carrier twice at once; the job of a worker that died is taken over by the beat sweep once its
    lease expires. A passing carrier error is re-raised for the task to retry; a permanent one is kept for
    staff."""
    from .jobs import RETURN_LABEL

    with jobs.claim(RETURN_LABEL, return_id) as job:
        if job is None:
            return Return.objects.get(pk=return_id)
        return _label_create(return_id=return_id)


def _label_create(*, return_id: int) -> Return:
    ret = Return.objects.select_related("order__customer", "location", "carrier").get(pk=return_id)
    if ret.status != ReturnStatus.LABEL_SENT or ret.label_pdf or ret.carrier is None:
        return ret
    order = ret.order
    adapter = carriers.get_adapter(ret.carrier)
    Return.objects.filter(pk=ret.pk).update(label_attempts=F("label_attempts") + 1)
    location = ret.location
    request = carriers.LabelRequest(
        reference=ret.number,
        sender=carriers.Address(
            name=order.ship_name or f"{order.customer.first_name} {order.customer.last_name}".strip(),
            company=order.ship_company,
            line1=order.ship_line1,
            line2=order.ship_line2,
            postcode=order.ship_postcode,
            city=order.ship_city,
            country=order.ship_country or "FR",
            phone=order.ship_phone or order.customer.phone,
            email=order.customer.email,
        ),
        recipient=carriers.Address(
            name=settings.MERCHANT_NAME,
            company=location.name,
            line1=location.address_line1,
            line2=location.address_line2,
            postcode=location.postcode,
            city=location.city,
            country=location.country,
        ),
        weight_g=_weight(ret),
        service_code="return",
        formats=("pdf",),
    )
    try:
        label = adapter.create_return_label(request)
    except carriers.RetryableCarrierError as exc:
        Return.objects.filter(pk=ret.pk).update(label_error=str(exc)[:2000])
        raise
    except carriers.CarrierError as exc:
        Return.objects.filter(pk=ret.pk).update(label_error=str(exc)[:2000])
        event_add(order=order, code="return.label_failed", number=ret.number, error=str(exc))
        return Return.objects.get(pk=ret.pk)
    with transaction.atomic():
        locked = Return.objects.select_for_update().get(pk=ret.pk)
        if locked.label_pdf:
            return locked  # another worker stored it meanwhile
        if label.pdf:
            locked.label_pdf.save(f"{locked.number}.pdf", ContentFile(label.pdf), save=False)
        locked.tracking_number = label.tracking_number
        locked.label_error = ""
        locked.save(update_fields=["label_pdf", "tracking_number", "label_error"])
        event_add(
            order=order,
            code="return.label_sent",
            number=locked.number,
            tracking=label.tracking_number,
            label_url=f"{settings.SITE_URL}{locked.label_path}",
        )
    return locked


def _weight(ret: Return) -> int:
    grams = sum(
        (line.order_line.product.weight_g or 0) * line.quantity
        for line in ret.lines.select_related("order_line__product")
    )
    return max(grams, 100) + 200  # the box


def return_label_retry(*, ret: Return) -> None:
    from .tasks import return_label as return_label_task

    if ret.status != ReturnStatus.LABEL_SENT or ret.method != Return.Method.POST or ret.label_pdf:
        raise ReturnRefused(str(_("This return needs no new label.")), code="no_label_needed")
    Return.objects.filter(pk=ret.pk).update(label_attempts=0, label_error="", **jobs.restart_fields())
    jobs.enqueue_on_commit(return_label_task, ret.pk)


# --- Receiving and inspection -----------------------------------------------------------------------------


@transaction.atomic
def return_receive(
    *, ret: Return, location: Location, results: dict[int, tuple[int, int]], actor=None
) -> Return:
    """The parcel or the customer's bag is opened at ``location``: per return line id, ``(restock,
    write_off)`` units. Restocked units go back to sellable stock (ledger reason ``return``); written-off
    units are recorded as received then written off as damaged (two ledger rows), so on hand stays equal to
    the sum of the ledger. Never more than returned; once only. When every unit of the order has come
    back, the order becomes ``returned``."""
    lock_order(ret.order_id)
    ret = Return.objects.select_for_update().select_related("order").get(pk=ret.pk)
    if ret.status != ReturnStatus.LABEL_SENT:
        raise InvalidReturnTransition(
            str(_("Return %(number)s cannot be received: it is %(status)s."))
            % {"number": ret.number, "status": ret.get_status_display()},
            code="already_received" if ret.status in (ReturnStatus.RECEIVED, ReturnStatus.REFUNDED) else None,
            details={"number": ret.number, "status": ret.status},
        )
    lines = list(ret.lines.select_related("order_line").order_by("order_line__product_id", "pk"))
    unknown = set(results) - {line.pk for line in lines}
    if unknown:
        raise ReturnRefused(str(_("These lines are not lines of the return.")), code="unknown_line")
    errors = {}
    total = 0
    for line in lines:
        restock, write_off = results.get(line.pk, (0, 0))
        if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in (restock, write_off)):
            errors[line.pk] = str(
                _("%(sku)s: give whole numbers, zero or more.") % {"sku": line.order_line.sku}
            )
        elif restock + write_off > line.quantity:
            errors[line.pk] = str(
                _("%(sku)s: %(count)s item(s) inspected but only %(returned)s returned.")
                % {"sku": line.order_line.sku, "count": restock + write_off, "returned": line.quantity}
            )
        else:
            total += restock + write_off
    if errors:
        raise ReturnRefused(" ".join(errors.values()), code="invalid_quantities", details={"lines": errors})
    if not total:
        raise ReturnRefused(str(_("No item was received: enter what came back.")), code="nothing_received")
    now = timezone.now()
    # What goes back on the shelf: the product, or a kit's components (as it was ordered), in the stock
    # levels' lock order (product, then location).
    back: dict[int, list[int]] = {}
    for line in lines:
        restock, write_off = results.get(line.pk, (0, 0))
        parts = line.order_line.components or [{"product_id": line.order_line.product_id, "quantity": 1}]
        for part in parts:
            units = back.setdefault(part["product_id"], [0, 0])
            units[0] += restock * part["quantity"]
            units[1] += write_off * part["quantity"]
    for product_id, (restock, write_off) in sorted(back.items()):
        if restock:
            inventory_services.stock_return(
                product_id=product_id,
                location_id=location.pk,
                quantity=restock,
                actor=actor,
                reference=ret.number,
            )
        if write_off:
            inventory_services.stock_return_write_off(
                product_id=product_id,
                location_id=location.pk,
                quantity=write_off,
                actor=actor,
                reference=ret.number,
            )
    for line in lines:
        restock, write_off = results.get(line.pk, (0, 0))
        line.restocked, line.written_off = restock, write_off
        line.inspected_at, line.location = now, location
        line.inspected_by = actor if getattr(actor, "pk", None) else None
        line.save(update_fields=["restocked", "written_off", "inspected_at", "inspected_by", "location"])
    _move(ret, ReturnStatus.RECEIVED, received_at=now)
    restocked = sum(line.restocked for line in lines)
    event_add(
        order=ret.order,
        code="return.received",
        actor=actor,
        number=ret.number,
        location=location.name,
        location_code=location.code,
        restocked=restocked,
        written_off=total - restocked,
    )
    if rule_for(ret.order).exchange_reserve_on == ReturnRule.ExchangeReserve.RECEIVED:
        from .exchanges import exchange_place_quietly

        exchange_place_quietly(ret=ret, actor=actor)
    _order_returned_if_complete(order=ret.order, actor=actor)
    return ret


def _order_returned_if_complete(*, order: Order, actor=None) -> None:
    ordered = sum(order.lines.values_list("quantity", flat=True))
    received = (
        ReturnLine.objects.filter(
            ret__order=order, ret__status__in=(ReturnStatus.RECEIVED, ReturnStatus.REFUNDED)
        ).aggregate(units=Sum(F("restocked") + F("written_off")))["units"]
        or 0
    )
    order.refresh_from_db(fields=["status"])
    if ordered and received >= ordered and OrderStatus.RETURNED in ORDER_TRANSITIONS.get(order.status, ()):
        lifecycle.order_mark_returned(order=order, actor=actor, reason="all_returned")


# --- Refund -----------------------------------------------------------------------------------------------


@dataclass
class RefundQuote:
    lines: Decimal
    fee: Decimal
    our_fault: bool
    total: Decimal
    quantities: dict[int, int]  # order line id -> units
    exchanged: Decimal = Decimal("0.00")  # paid the exchange order instead of being refunded
    already_given_back: Decimal = Decimal("0.00")  # a goodwill refund (or other refund) made before


def refund_quote(ret: Return) -> RefundQuote:
    """Lines' unit price × units received; minus the channel's return fee unless a reason is our fault.
    Orders record no shipping fee: shipping is not in this amount (the credit note credits the invoice's
    shipping line when the return is our fault)."""
    lines = list(ret.lines.select_related("order_line", "reason"))
    quantities = {}
    amount = Decimal("0.00")
    for line in lines:
        if line.received:
            quantities[line.order_line_id] = quantities.get(line.order_line_id, 0) + line.received
            amount += line.order_line.unit_price * line.received
    our_fault = any(line.reason.our_fault for line in lines if line.received)
    fee = Decimal("0.00") if our_fault else min(rule_for(ret.order).fee, amount)
    # An exchange: the part of the returned value that paid the replacement order is not refunded.
    exchanged = min(ret.exchange_credit, amount - fee)
    # What was already given back on the order (a goodwill refund, earlier returns, the marketplace's
    # refunds) is not given twice: the buyer never gets back more than the order is worth.
    ceiling = max(ret.order.total_incl_vat - goodwill.given_back(ret.order, exclude_return_id=ret.pk), 0)
    due = amount - fee - exchanged
    already = max(due - ceiling, Decimal("0.00"))
    return RefundQuote(
        lines=amount.quantize(Decimal("0.01")),
        fee=fee.quantize(Decimal("0.01")),
        our_fault=our_fault,
        total=(due - already).quantize(Decimal("0.01")),
        quantities=quantities,
        exchanged=exchanged.quantize(Decimal("0.01")),
        already_given_back=already.quantize(Decimal("0.01")),
    )


@transaction.atomic
def return_refund(*, ret: Return, reference: str, actor=None) -> Return:
    """Record the refund made in the merchant's payment system (its reference typed by staff) and credit the
    units received on the order's invoices in the same transaction: invoicing issues the credit notes
    (``credit_notes_for_return``, numbered under its sequence's lock) and their numbers are kept on the
    return, so its page shows them as soon as the refund is recorded. An order never invoiced (no legal
    entity) gets no credit note; one not invoiced yet by its channel's policy gets it right after its invoice
    (a pending credit). The customer is told, with the
    credit notes' numbers, by the notifications consumer of ``return.credited``.

    Lock order (ARCHITECTURE.md): the order, then its return, then the invoices and the number sequence."""
    reference = (reference or "").strip()
    if not reference:
        raise ReturnRefused(str(_("Type the payment system's refund reference.")), code="reference_required")
    lock_order(ret.order_id)
    ret = Return.objects.select_for_update().select_related("order").get(pk=ret.pk)
    quote = refund_quote(ret)
    _move(
        ret,
        ReturnStatus.REFUNDED,
        refund_amount=quote.total,
        refund_reference=reference[:100],
        refunded_at=timezone.now(),
    )
    reason = str(_("Return %(number)s")) % {"number": ret.number}
    event_add(
        order=ret.order,
        code="return.refunded",
        actor=actor,
        number=ret.number,
        **{"return": ret.number},
        return_id=ret.pk,
        amount=quote.total,
        reference=reference,
        quantities={str(k): v for k, v in quote.quantities.items()},
        include_shipping=quote.our_fault,
        reason=reason,
    )
    # what the invoices hold is credited now; units not invoiced yet (the channel invoices on delivery)
    # wait as a pending credit, credited right after their invoice: invoices less credit notes stay what
    # the buyer paid
    notes = invoicing_issue.credit_notes_for_refund(
        order=ret.order,
        key=f"return:{ret.pk}",
        quantities=quote.quantities,
        include_shipping=quote.our_fault,
        reason=reason,
        actor=actor,
        # the payment's refund goes with the return (consumer orders.payments), not the credit note
        event_extra={"return_id": ret.pk},
    )
    numbers = [note.number for note in notes]
    if numbers:  # an order never invoiced has no credit note to announce (the return's page says so)
        ret.credit_notes = ", ".join(numbers)[:200]
        ret.save(update_fields=["credit_notes"])
        event_add(
            order=ret.order,
            code="return.credited",
            actor=actor,
            number=ret.number,
            credit_notes=numbers,
            amount=quote.total,
        )
    return ret


# --- Settings (managers) ---------------------------------------------------------------------------------


@transaction.atomic
def return_rule_save(*, channel: Channel, window_days: int, fee, photo_reasons) -> ReturnRule:
    """Create or change a channel's return rule (window from delivery, fee, reasons that need a photo)."""
    rule, _created = ReturnRule.objects.get_or_create(channel=channel)
    rule.window_days = window_days
    rule.fee = fee
    rule.full_clean()
    rule.save()
    rule.photo_reasons.set(photo_reasons)
    return rule


@transaction.atomic
def return_reason_save(*, reason: ReturnReason, data: dict) -> ReturnReason:
    """Create or change a return reason. The code of an existing reason stays (returns name it)."""
    for name in ("label", "our_fault", "position", "active"):
        if name in data:
            setattr(reason, name, data[name])
    if reason.pk is None:
        reason.code = data["code"]
    reason.full_clean()
    reason.save()
    return reason
