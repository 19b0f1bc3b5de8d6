"""Outsourced locations (3PL): their picking and packing happen in the partner's WMS.

- A preparation of such a location is sent as a **fulfilment request** (a job row written with the
  preparation, sent after commit by ``fulfilment_request_send``; the WMS call is outside any transaction and
  its answer is stored, so a retry is harmless). Cancelling the order sends a cancellation.
- **Shipment confirmations** (parcels, carrier, tracking) come back by ``partner_sync``: each is stored as
  received (``PartnerShipment``, once per WMS id) and applied like our own pack station and hand-over, in
  one transaction: parcels closed, their units leave the stock (``packing.parcel_units_leave``), shipments
  created and handed over with the 3PL's tracking numbers, ``parcel.closed`` and ``parcels.handed_over``
  written, so the order moves on through the same consumers. One that cannot be applied (unknown order or
  carrier, more units than asked) is kept with its error and payload, and can be replayed.
- **Stock snapshots** are reconciled against our ledger: every difference is booked as an adjustment
  movement with its reason (``partner_count``) and listed for the manager (``StockSnapshotLine``).

Lock order (ARCHITECTURE.md): the preparation, then its parcels, shipments, allocations, stock levels.
"""

import logging

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from common import jobs
from common.exceptions import DomainError
from inventory import services as inventory_services
from inventory.models import Location, Product, StockLevel, StockMovement
from shipping import services as shipping_services
from shipping.models import Carrier, CarrierService
from shipping.shipments import shipments_handed_over_by_partner

from .. import wms
from ..events import preparation_event
from ..locks import lock_preparation
from ..models import (
    FulfilmentRequest,
    Parcel,
    ParcelItem,
    PartnerShipment,
    Preparation,
    PreparationLine,
    PreparationStatus,
    StockSnapshot,
    StockSnapshotLine,
    WarehousePartner,
)
from .packing import parcel_units_leave
from .preparation import preparation_refresh

logger = logging.getLogger(__name__)
OUTSOURCED = Location.Kind.OUTSOURCED


class PartnerRefused(DomainError):
    """A WMS's message cannot be applied as it is."""

    code = "partner_refused"
    status_code = 422


# --- Fulfilment requests -----------------------------------------------------------------------------------


def _payload(*, prep: Preparation, recipient: dict) -> dict:
    service = prep.service
    return {
        "order_number": prep.order_number,
        "location": prep.location.code,
        "carrier": service.carrier.code if service else "",
        "service": service.code if service else "",
        "express": prep.express,
        "ship_by": prep.ship_by.isoformat() if prep.ship_by else None,
        "recipient": recipient,
        "lines": [
            {
                "line": line.order_line_id,
                "sku": line.sku,
                "ean": line.ean,
                "name": line.name,
                "quantity": line.quantity,
            }
            for line in prep.lines.order_by("order_line_id")
            if line.quantity > 0
        ],
    }


def outsourced_request_sync(
    *, prep: Preparation | None, location_id: int, order_id: int, recipient: dict
) -> None:
    """Called by ``preparation_sync`` in its transaction: the preparation of an outsourced location is (still)
    to be sent. A request not sent yet follows the preparation; one already sent is left to the WMS."""
    if prep is None or prep.kind != Preparation.Kind.SHIP:
        return
    if prep.location.kind != OUTSOURCED:
        return
    partner = WarehousePartner.objects.filter(location_id=location_id, active=True).first()
    if partner is None:
        return  # an outsourced location without a configured partner: shown as a problem on its page
    prep = Preparation.objects.select_related("service__carrier", "location").get(pk=prep.pk)
    payload = _payload(prep=prep, recipient=recipient)
    request = FulfilmentRequest.objects.filter(preparation=prep).first()
    if request is None:
        request = FulfilmentRequest.objects.create(
            preparation=prep, partner=partner, payload=payload, job_due_at=jobs.due()
        )
    elif request.status in (FulfilmentRequest.Status.PENDING, FulfilmentRequest.Status.FAILED):
        FulfilmentRequest.objects.filter(pk=request.pk).update(
            payload=payload, status=FulfilmentRequest.Status.PENDING, **jobs.restart_fields()
        )
    else:
        return
    from ..tasks import send_fulfilment_request as send_task

    jobs.enqueue_on_commit(send_task, request.pk)


def outsourced_request_cancel(*, prep: Preparation) -> None:
    """The preparation was cancelled (the order was): a request not sent is dropped, one sent is cancelled
    at the WMS (a job)."""
    request = FulfilmentRequest.objects.filter(preparation=prep).first()
    if request is None:
        return
    if request.status in (FulfilmentRequest.Status.PENDING, FulfilmentRequest.Status.FAILED):
        FulfilmentRequest.objects.filter(pk=request.pk).update(
            status=FulfilmentRequest.Status.CANCELLED, job_due_at=None
        )
    elif request.status == FulfilmentRequest.Status.SENT:
        FulfilmentRequest.objects.filter(pk=request.pk).update(
            status=FulfilmentRequest.Status.CANCEL_PENDING, **jobs.restart_fields()
        )
        from ..tasks import send_fulfilment_request as send_task

        jobs.enqueue_on_commit(send_task, request.pk)


def fulfilment_request_send(*, request_id: int) -> str:
    """The job: send the request (or its cancellation) to the WMS. Network failures are retried (the job
    stays due); a refusal is kept as failed with the WMS's answer, shown on the partner's page."""
    from ..jobs import OUTSOURCED_REQUEST

    with jobs.claim(OUTSOURCED_REQUEST, request_id) as job:
        if job is None:
            return "skipped"
        request = FulfilmentRequest.objects.select_related("partner", "preparation").get(pk=request_id)
        adapter = wms.adapter_for(request.partner)
        try:
            if request.status == FulfilmentRequest.Status.CANCEL_PENDING:
                try:
                    adapter.cancel_request(
                        request_id=request.pk,
                        reference=request.reference,
                        order_number=request.payload["order_number"],
                    )
                    status, error = FulfilmentRequest.Status.CANCELLED, ""
                except wms.AlreadyShipped as exc:
                    status, error = (
                        FulfilmentRequest.Status.SENT,
                        _("Too late to cancel: %(e)s") % {"e": exc.body},
                    )
                FulfilmentRequest.objects.filter(pk=request.pk).update(status=status, error=error)
                return status
            reference = adapter.send_request(request_id=request.pk, payload=request.payload)
        except wms.WmsUnavailable as exc:
            _partner_failed(request.partner_id, str(exc))
            raise
        except wms.WmsError as exc:
            FulfilmentRequest.objects.filter(pk=request.pk).update(
                status=FulfilmentRequest.Status.FAILED, error=f"{exc}\n{exc.body}".strip()
            )
            _partner_failed(request.partner_id, str(exc))
            return FulfilmentRequest.Status.FAILED
        finally:
            adapter.close()
        with transaction.atomic():
            sent = FulfilmentRequest.objects.filter(
                pk=request.pk, status=FulfilmentRequest.Status.PENDING
            ).update(
                status=FulfilmentRequest.Status.SENT,
                reference=reference[:100],
                sent_at=timezone.now(),
                error="",
            )
            if sent:  # the WMS has the work: for the order, its preparation started there
                preparation_event(
                    "preparation.started", prep=request.preparation, partner=request.partner.name
                )
        return FulfilmentRequest.Status.SENT


def fulfilment_request_retry(*, request: FulfilmentRequest) -> None:
    """Staff's "send again" for a failed request."""
    if request.status != FulfilmentRequest.Status.FAILED:
        raise PartnerRefused(_("Only a failed request can be sent again."), code="not_failed")
    with transaction.atomic():
        FulfilmentRequest.objects.filter(pk=request.pk).update(
            status=FulfilmentRequest.Status.PENDING, error="", **jobs.restart_fields()
        )
        from ..tasks import send_fulfilment_request as send_task

        jobs.enqueue_on_commit(send_task, request.pk)


def _partner_failed(partner_id: int, message: str) -> None:
    """The partner's last error, shown on its page."""
    now = timezone.now()
    WarehousePartner.objects.filter(pk=partner_id).update(last_error=message[:2000], last_error_at=now)


# --- Shipment confirmations ------------------------------------------------------------------------------


def _service_for(
    *, carrier_code: str, service_code: str, prep: Preparation
) -> tuple[Carrier, CarrierService | None]:
    carrier = Carrier.objects.filter(code=carrier_code.strip().lower()).first() if carrier_code else None
    if carrier is None:
        if prep.service_id and not carrier_code:
            return prep.service.carrier, prep.service
        raise PartnerRefused(
            _("Unknown carrier %(carrier)s: add it to the carriers, then replay.")
            % {"carrier": carrier_code},
            code="unknown_carrier",
        )
    services = CarrierService.objects.filter(carrier=carrier)
    if service_code:
        service = services.filter(code=service_code).first()
        if service is not None:
            return carrier, service
    if prep.service_id and prep.service.carrier_id == carrier.pk:
        return carrier, prep.service
    return carrier, services.filter(active=True).order_by("pk").first()


@transaction.atomic
def partner_shipment_apply(*, partner: WarehousePartner, shipment: wms.ShipmentIn, actor=None) -> Preparation:
    """Apply one shipment confirmation like our own pack station then hand-over. Raises PartnerRefused
    (nothing written) when it does not fit the preparation."""
    prep = (
        Preparation.objects.filter(order_number=shipment.order_number, location_id=partner.location_id)
        .exclude(status=PreparationStatus.CANCELLED)
        .order_by("-pk")
        .first()
    )
    if prep is None:
        raise PartnerRefused(
            _("No order %(order)s is to be prepared at %(location)s.")
            % {"order": shipment.order_number, "location": partner.location.name},
            code="unknown_order",
        )
    prep = lock_preparation(prep.pk)
    if not shipment.parcels:
        raise PartnerRefused(_("The shipment has no parcel."), code="empty_shipment")
    # Shipped before we knew it was sent (a file picked up late): the preparation started there first.
    started = FulfilmentRequest.objects.filter(
        preparation=prep,
        status__in=[
            FulfilmentRequest.Status.SENT,
            FulfilmentRequest.Status.PARTIAL,
            FulfilmentRequest.Status.SHIPPED,
        ],
    ).exists()
    if not started:
        preparation_event("preparation.started", prep=prep, actor=actor, partner=partner.name)
    lines = list(prep.lines.select_for_update().order_by("pk"))
    # The WMS confirms by SKU: one SKU can be several of our lines (a kit's component and the same product
    # ordered alone), filled in line order.
    by_sku: dict[str, list[PreparationLine]] = {}
    for line in lines:
        by_sku.setdefault(line.sku, []).append(line)
    seq = (prep.parcels.aggregate(m=Max("seq"))["m"] or 0) + 1
    handed: dict[int, tuple[Carrier, list]] = {}
    for parcel_in in shipment.parcels:
        carrier, service = _service_for(
            carrier_code=parcel_in.carrier, service_code=parcel_in.service, prep=prep
        )
        taken: dict[int, list] = {}  # line id -> [line, quantity]: a SKU listed twice is one parcel item
        for sku, quantity in parcel_in.lines:
            candidates = by_sku.get(sku, [])
            left = sum(line.quantity - line.packed for line in candidates)
            if quantity <= 0 or quantity > left:
                raise PartnerRefused(
                    _("%(sku)s: %(quantity)s unit(s) shipped but %(left)s left to ship for order %(order)s.")
                    % {"sku": sku, "quantity": quantity, "left": left, "order": prep.order_number},
                    code="too_many_units",
                )
            for line in candidates:
                take = min(quantity, line.quantity - line.packed)
                if take <= 0:
                    continue
                line.packed += take
                line.picked = max(line.picked, line.packed)
                taken.setdefault(line.pk, [line, 0])[1] += take
                quantity -= take
                if quantity == 0:
                    break
        items = [(line, quantity) for line, quantity in taken.values()]
        weight = parcel_in.weight_g or sum(line.weight_g * q for line, q in items) or 1
        try:
            with transaction.atomic():
                created = shipping_services.shipment_create(
                    number=f"{prep.order_number}-{prep.location_id}-{seq}",
                    order_id=prep.order_id,
                    location_id=prep.location_id,
                    service_id=service.pk if service else None,
                    weight_g=weight,
                    lines=[
                        shipping_services.ShipmentLineSpec(
                            order_line_id=line.order_line_id,
                            product_id=line.product_id,
                            sku=line.sku,
                            quantity=q,
                        )
                        for line, q in items
                    ],
                    actor=actor,
                )
        except IntegrityError as exc:
            raise PartnerRefused(_("This parcel was recorded already."), code="already_recorded") from exc
        parcel = Parcel.objects.create(
            preparation=prep,
            seq=seq,
            status=Parcel.Status.CLOSED,
            weight_g=weight,
            shipment=created,
            closed_at=timezone.now(),
        )
        ParcelItem.objects.bulk_create(
            [ParcelItem(parcel=parcel, line=line, quantity=q) for line, q in items]
        )
        parcel_units_leave(
            prep=prep, items=items, shipment=created, weight_g=weight, actor=actor, partner=partner.name
        )
        handed.setdefault(carrier.pk, (carrier, []))[1].append(
            (created, parcel_in.tracking_number, parcel_in.tracking_url)
        )
        seq += 1
    for line in lines:
        line.save(update_fields=["picked", "packed"])
    for _carrier_id, (carrier, parcels) in sorted(handed.items()):
        shipments_handed_over_by_partner(
            location=prep.location, carrier=carrier, parcels=parcels, actor=actor
        )
    prep = preparation_refresh(preparation=prep) or prep
    everything = all(line.packed >= line.quantity for line in lines)
    FulfilmentRequest.objects.filter(preparation=prep).exclude(
        status=FulfilmentRequest.Status.CANCELLED
    ).update(status=FulfilmentRequest.Status.SHIPPED if everything else FulfilmentRequest.Status.PARTIAL)
    return prep


def _receive_shipment(*, partner: WarehousePartner, shipment: wms.ShipmentIn) -> PartnerShipment | None:
    """Store and apply one confirmation, once: a WMS id already received is skipped."""
    existing = PartnerShipment.objects.filter(partner=partner, external_id=shipment.external_id).first()
    if existing is not None:
        return None
    try:
        if shipment.error:
            raise PartnerRefused(shipment.error, code="malformed_shipment")
        with transaction.atomic():
            partner_shipment_apply(partner=partner, shipment=shipment)
            return PartnerShipment.objects.create(
                partner=partner,
                external_id=shipment.external_id[:100],
                order_number=shipment.order_number[:32],
                payload=shipment.payload,
                status=PartnerShipment.Status.APPLIED,
                applied_at=timezone.now(),
            )
    except DomainError as exc:
        # Refused by us (PartnerRefused) or by what it touches (stock no longer reserved for it, a shipment
        # that cannot move): kept with its error and payload to be replayed, and the partner's later
        # confirmations go on (one that raised out of here would be read again and again by every sync).
        return PartnerShipment.objects.create(
            partner=partner,
            external_id=shipment.external_id[:100],
            order_number=shipment.order_number[:32],
            payload=shipment.payload,
            status=PartnerShipment.Status.FAILED,
            error=exc.message,
        )


def partner_shipment_replay(*, received: PartnerShipment, actor=None) -> PartnerShipment:
    """Apply again a confirmation that failed (the carrier was added, the order re-sourced...)."""
    if received.status != PartnerShipment.Status.FAILED:
        raise PartnerRefused(_("This shipment was applied already."), code="already_applied")
    payload = received.payload
    parcels, error = wms._parcels_or_error(payload.get("parcels"))
    shipment = wms.ShipmentIn(
        external_id=received.external_id, order_number=received.order_number, parcels=parcels, payload=payload
    )
    try:
        if error:
            raise PartnerRefused(error, code="malformed_shipment")
        with transaction.atomic():
            partner_shipment_apply(partner=received.partner, shipment=shipment, actor=actor)
            PartnerShipment.objects.filter(pk=received.pk).update(
                status=PartnerShipment.Status.APPLIED, error="", applied_at=timezone.now()
            )
    except DomainError as exc:
        PartnerShipment.objects.filter(pk=received.pk).update(error=exc.message)
        raise
    received.refresh_from_db()
    return received


# --- Stock snapshots --------------------------------------------------------------------------------------


@transaction.atomic
def stock_snapshot_reconcile(
    *, partner: WarehousePartner, snapshot: wms.SnapshotIn, actor=None
) -> StockSnapshot | None:
    """Compare the 3PL's count with our ledger at its location and book every difference as an adjustment
    movement (reason ``partner_count``). Units reserved by orders stay on hand even when the 3PL counts
    fewer (they are being prepared there); such a shortfall is listed, not booked, for the manager to act
    on. A snapshot already reconciled (same id) returns None."""
    if StockSnapshot.objects.filter(partner=partner, external_id=snapshot.external_id[:100]).exists():
        return None
    location = partner.location
    counted: dict[str, int] = {}
    for sku, quantity in snapshot.lines:
        counted[sku] = counted.get(sku, 0) + quantity
    products = {p.sku: p for p in Product.objects.filter(sku__in=counted)}
    levels = {
        product_id: (on_hand, reserved)
        for product_id, on_hand, reserved in StockLevel.objects.filter(location=location).values_list(
            "product_id", "on_hand", "reserved"
        )
    }
    # What we hold there and they did not list counts as zero at the 3PL.
    for product in Product.objects.filter(
        pk__in=[pk for pk, (on_hand, _r) in levels.items() if on_hand]
    ).exclude(sku__in=counted):
        products[product.sku] = product
        counted[product.sku] = 0
    record = StockSnapshot.objects.create(
        partner=partner,
        external_id=snapshot.external_id[:100],
        taken_at=snapshot.taken_at,
        products=len(counted),
    )
    rows = []
    for sku in sorted(counted):
        theirs = counted[sku]
        product = products.get(sku)
        if product is None:
            rows.append(
                StockSnapshotLine(
                    snapshot=record,
                    sku=sku[:64],
                    theirs=theirs,
                    ours=None,
                    difference=theirs,
                    note=_("Unknown SKU: not booked."),
                )
            )
            continue
        on_hand, reserved = levels.get(product.pk, (0, 0))
        if theirs == on_hand:
            continue
        target = max(theirs, reserved)
        note = ""
        if target != theirs:
            note = _("%(n)s reserved unit(s) are missing at the 3PL: not booked, re-source the orders.") % {
                "n": reserved - theirs
            }
        movement = None
        if target != on_hand:
            movement = inventory_services.stock_adjust(
                product=product,
                location=location,
                delta=target - on_hand,
                reason_code=StockMovement.AdjustmentCode.PARTNER_COUNT,
                actor=actor,
                note=_("3PL stock snapshot %(id)s") % {"id": snapshot.external_id},
            )
        rows.append(
            StockSnapshotLine(
                snapshot=record,
                product=product,
                sku=sku,
                theirs=theirs,
                ours=on_hand,
                difference=theirs - on_hand,
                movement=movement,
                note=note,
            )
        )
    StockSnapshotLine.objects.bulk_create(rows)
    booked = [r for r in rows if r.movement is not None]
    StockSnapshot.objects.filter(pk=record.pk).update(
        differences=len(rows),
        units_in=sum(r.movement.delta for r in booked if r.movement.delta > 0),
        units_out=-sum(r.movement.delta for r in booked if r.movement.delta < 0),
    )
    record.refresh_from_db()
    return record


# --- The sync ---------------------------------------------------------------------------------------------


def partner_sync(*, partner_id: int) -> dict:
    """Read the WMS's news: shipment confirmations (applied one by one, each in its transaction), then the
    latest stock snapshot. The WMS calls run outside any transaction. Marks the partner's last successful
    sync, or its error."""
    partner = WarehousePartner.objects.select_related("location").get(pk=partner_id)
    summary = {"applied": 0, "failed": 0, "snapshot": None}
    try:
        adapter = wms.adapter_for(partner)
    except wms.WmsUnavailable as exc:
        _partner_failed(partner.pk, str(exc))
        raise
    try:
        batch = adapter.fetch_shipments(cursor=partner.shipments_cursor)
        for shipment in batch.shipments:
            received = _receive_shipment(partner=partner, shipment=shipment)
            if received is not None:
                summary["applied" if received.status == PartnerShipment.Status.APPLIED else "failed"] += 1
        for source in sorted({s.source for s in batch.shipments if s.source}):
            adapter.done(source)
        WarehousePartner.objects.filter(pk=partner.pk).update(shipments_cursor=batch.cursor[:200])
        snapshot = adapter.fetch_snapshot()
        if snapshot is not None:
            record = stock_snapshot_reconcile(partner=partner, snapshot=snapshot)
            summary["snapshot"] = record.pk if record else None
            adapter.done(snapshot.source)
    except (wms.WmsError, wms.WmsUnavailable) as exc:
        _partner_failed(partner.pk, f"{exc}\n{getattr(exc, 'body', '')}".strip())
        raise
    finally:
        adapter.close()
    WarehousePartner.objects.filter(pk=partner.pk).update(last_sync_at=timezone.now(), last_error="")
    return summary


def partners_sync_all() -> int:
    """Beat: every active partner in turn; one failing does not stop the others."""
    done = 0
    for partner_id in (
        WarehousePartner.objects.filter(active=True).order_by("pk").values_list("pk", flat=True)
    ):
        try:
            partner_sync(partner_id=partner_id)
            done += 1
        except (wms.WmsError, wms.WmsUnavailable):
            logger.warning("3PL partner %s: sync failed", partner_id, exc_info=True)
        except Exception as exc:  # a defect of ours with one partner's data: the others are still read
            logger.exception("3PL partner %s: sync failed", partner_id)
            _partner_failed(partner_id, f"{type(exc).__name__}: {exc}")
    return done
