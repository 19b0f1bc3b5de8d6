"""Shipments after packing: the carrier service (shipping rules), the label (a Celery task calling the
carrier adapter, retried with backoff, never lost), the hand-over to the driver (a manifest per carrier),
and tracking (polled by beat or pushed by webhooks, each event stored once and mapped to our statuses).

Every carrier call runs in a task, outside any database transaction; its result is written afterwards
with a conditional update, so a retry or a second worker never writes twice."""

from datetime import timedelta

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from common import jobs
from common.exceptions import DomainError
from inventory.models import Location

from . import carriers, events
from .locks import lock_shipment, lock_shipments
from .models import Carrier, Manifest, Shipment, ShipmentStatus, TrackingEvent

LABEL_MAX_ATTEMPTS = 6
TRACKED = (
    ShipmentStatus.HANDED_OVER,
    ShipmentStatus.IN_TRANSIT,
    ShipmentStatus.OUT_FOR_DELIVERY,
    ShipmentStatus.AVAILABLE_FOR_PICKUP,
    ShipmentStatus.EXCEPTION,
)
# How a status may move on a carrier event (a late, older event never moves a parcel back).
RANK = {
    ShipmentStatus.CREATED: 0,
    ShipmentStatus.LABELLED: 1,
    ShipmentStatus.LABEL_FAILED: 1,
    ShipmentStatus.HANDED_OVER: 2,
    ShipmentStatus.IN_TRANSIT: 3,
    ShipmentStatus.EXCEPTION: 4,
    ShipmentStatus.OUT_FOR_DELIVERY: 5,
    ShipmentStatus.AVAILABLE_FOR_PICKUP: 6,
    ShipmentStatus.DELIVERED: 7,
    ShipmentStatus.RETURNED: 7,
}
ALERTS = {ShipmentStatus.EXCEPTION: "delivery_failed", ShipmentStatus.RETURNED: "returned"}


class ShipmentRefused(DomainError):
    code = "shipment_refused"
    status_code = 409


def _adapter(shipment: Shipment):
    return carriers.get_adapter(shipment.service.carrier) if shipment.service_id else None


def needs_label(shipment: Shipment) -> bool:
    adapter = _adapter(shipment)
    return adapter is not None and carriers.LABEL in adapter.supports


@transaction.atomic
def shipment_prepare(*, shipment: Shipment, recipient: dict, relay_id: str = "", service_id=None) -> Shipment:
    """The label's data, from the order (``orders`` calls it when the parcel is closed), and the carrier
    service the shipping rules chose; the label task is scheduled after commit."""
    from .tasks import shipment_label

    shipment.recipient = recipient
    shipment.relay_id = relay_id[:64]
    if service_id is not None:
        shipment.service_id = service_id
    fields = ["recipient", "relay_id", "service"]
    label = bool(shipment.service_id and needs_label(shipment))
    if label:
        shipment.job_due_at = jobs.due()  # the label job: queued on commit, and by the sweep if that is lost
        fields.append("job_due_at")
    shipment.save(update_fields=fields)
    if label:
        jobs.enqueue_on_commit(shipment_label, shipment.pk)
    return shipment


def _sender(location: Location) -> carriers.Address:
    return carriers.Address(
        name=settings.MERCHANT_NAME,
        company=location.name,
        line1=location.address_line1,
        line2=location.address_line2,
        postcode=location.postcode,
        city=location.city,
        country=location.country,
    )


def _recipient(shipment: Shipment) -> carriers.Address:
    r = shipment.recipient or {}
    return carriers.Address(
        name=r.get("name", ""),
        company=r.get("company", ""),
        line1=r.get("line1", ""),
        line2=r.get("line2", ""),
        postcode=r.get("postcode", ""),
        city=r.get("city", ""),
        country=r.get("country") or "FR",
        phone=r.get("phone", ""),
        email=r.get("email", ""),
    )


def label_create(*, shipment_id: int) -> Shipment:
    """Ask the carrier for the parcel's label and keep it (PDF and ZPL when the carrier gives both).
    Idempotent: a labelled parcel is left alone, and the label job is claimed first (common/jobs.py), so a
    redelivered or duplicate message never asks the carrier twice at the same time; a worker that died
    mid-call has its job taken over by the beat sweep once its lease expires. A permanent refusal is kept on
    the shipment with the carrier's message (status ``label_failed``, alert on the dashboard); a passing
    failure is re-raised for the task to retry with backoff, until ``LABEL_MAX_ATTEMPTS``."""
    from .jobs import LABEL

    with jobs.claim(LABEL, shipment_id) as job:
        if job is None:
            return Shipment.objects.get(pk=shipment_id)
        return _label_create(shipment_id=shipment_id)


def _label_create(*, shipment_id: int) -> Shipment:
    shipment = Shipment.objects.select_related("service__carrier", "location").get(pk=shipment_id)
    if shipment.status != ShipmentStatus.CREATED and shipment.status != ShipmentStatus.LABEL_FAILED:
        return shipment
    adapter = _adapter(shipment)
    if adapter is None or carriers.LABEL not in adapter.supports:
        return shipment  # own transport (a store's parcels), no label to make
    Shipment.objects.filter(pk=shipment.pk).update(label_attempts=shipment.label_attempts + 1)
    request = carriers.LabelRequest(
        reference=shipment.number,
        sender=_sender(shipment.location),
        recipient=_recipient(shipment),
        weight_g=shipment.weight_g,
        service_code=shipment.service.code,
        relay_id=shipment.relay_id,
    )
    try:
        label = adapter.create_label(request)
    except carriers.RetryableCarrierError as exc:
        final = shipment.label_attempts + 1 >= LABEL_MAX_ATTEMPTS
        _label_failed(shipment, str(exc), final=final)
        if final:  # given up: staff ask again once the carrier is back
            return Shipment.objects.get(pk=shipment.pk)
        raise
    except carriers.CarrierError as exc:
        _label_failed(shipment, str(exc), final=True)
        return Shipment.objects.get(pk=shipment.pk)
    with transaction.atomic():
        locked = Shipment.objects.select_for_update().get(pk=shipment.pk)
        if locked.status not in (ShipmentStatus.CREATED, ShipmentStatus.LABEL_FAILED):
            return locked  # another worker stored it meanwhile
        if label.pdf:
            locked.label_pdf.save(f"{locked.number}.pdf", ContentFile(label.pdf), save=False)
        if label.zpl:
            locked.label_zpl.save(f"{locked.number}.zpl", ContentFile(label.zpl.encode()), save=False)
        locked.tracking_number = label.tracking_number
        locked.tracking_url = label.tracking_url or adapter.tracking_url(label.tracking_number)
        locked.status = ShipmentStatus.LABELLED
        locked.label_error = ""
        locked.alert = ""
        locked.save()
    return locked


def _label_failed(shipment: Shipment, message: str, *, final: bool) -> None:
    fields = {"label_error": message[:2000]}
    if final:
        fields.update(status=ShipmentStatus.LABEL_FAILED, alert="label_failed")
    Shipment.objects.filter(
        pk=shipment.pk, status__in=[ShipmentStatus.CREATED, ShipmentStatus.LABEL_FAILED]
    ).update(**fields)


def label_retry(*, shipment: Shipment) -> None:
    """Staff ask again for a label that failed (after fixing the address or the settings)."""
    from .tasks import shipment_label

    if shipment.status not in (ShipmentStatus.CREATED, ShipmentStatus.LABEL_FAILED):
        raise ShipmentRefused(_("This parcel already has its label."), code="already_labelled")
    Shipment.objects.filter(pk=shipment.pk).update(label_attempts=0, **jobs.restart_fields())
    jobs.enqueue_on_commit(shipment_label, shipment.pk)


# --- Hand-over ---------------------------------------------------------------------------------------------


def ready_to_hand_over(*, location_ids) -> "list[Shipment]":
    """Parcels waiting for their carrier's driver: labelled, or without label for carriers that need none
    (own transport)."""
    shipments = (
        Shipment.objects.filter(location_id__in=location_ids, manifest__isnull=True)
        .filter(Q(status=ShipmentStatus.LABELLED) | Q(status=ShipmentStatus.CREATED))
        .select_related("service__carrier", "location")
        .order_by("service__carrier__name", "created_at")
    )
    return [
        s for s in shipments if s.status == ShipmentStatus.LABELLED or (s.service_id and not needs_label(s))
    ]


@transaction.atomic
def manifest_create(*, location: Location, carrier: Carrier, actor=None) -> Manifest:
    """Hand every ready parcel of a carrier at a location to its driver: one manifest, the parcels are
    shipped (their orders move on) and tracking starts."""
    ready = [
        s
        for s in ready_to_hand_over(location_ids=[location.pk])
        if s.service_id and s.service.carrier_id == carrier.pk
    ]
    locked = [s for s in lock_shipments(ids=[s.pk for s in ready]) if s.manifest_id is None]
    if not locked:
        raise ShipmentRefused(
            _("No parcel of %(carrier)s is waiting at %(location)s.")
            % {"carrier": carrier.name, "location": location.name},
            code="nothing_to_hand_over",
        )
    manifest = Manifest.objects.create(
        location=location, carrier=carrier, created_by=actor if getattr(actor, "pk", None) else None
    )
    now = timezone.now()
    for shipment in locked:
        shipment.status = ShipmentStatus.HANDED_OVER
        shipment.manifest = manifest
        shipment.shipped_at = now
        shipment.next_check_at = now + timedelta(hours=2)
        shipment.save(update_fields=["status", "manifest", "shipped_at", "next_check_at"])
    events.handed_over(manifest=manifest, shipments=locked, actor=actor)
    return manifest


# --- Tracking ----------------------------------------------------------------------------------------------


def next_check(*, shipment: Shipment, now) -> "timezone.datetime":
    """Young parcels are checked often, old ones less: 1 h the first day, 3 h until day 3, 6 h until day
    10, then daily."""
    age = now - (shipment.shipped_at or shipment.created_at)
    if age < timedelta(days=1):
        return now + timedelta(hours=1)
    if age < timedelta(days=3):
        return now + timedelta(hours=3)
    if age < timedelta(days=10):
        return now + timedelta(hours=6)
    return now + timedelta(days=1)


@transaction.atomic
def tracking_apply(*, shipment_id: int, update: "carriers.TrackingUpdate", now=None) -> Shipment:
    """Store a carrier's events for one parcel (each once: unique carrier code + time) and move the parcel
    to the newest status, never backwards; ``orders`` moves the order on."""
    now = now or timezone.now()
    shipment = lock_shipment(shipment_id)
    new_events = []
    for event in update.events:
        try:
            with transaction.atomic():
                TrackingEvent.objects.create(
                    shipment=shipment,
                    code=event.code[:32],
                    status=event.status or "",
                    label=event.label[:255],
                    at=event.at,
                    place=event.place[:120],
                )
            new_events.append(event)
        except IntegrityError:
            continue  # told before (a poll and a webhook, or a replay)
    if new_events:
        shipment.last_event_at = max(e.at for e in update.events)
    moved_by = None
    for event in new_events:
        if (
            event.status
            and RANK.get(event.status, 0) >= RANK.get(shipment.status, 0)
            and event.status != shipment.status
        ):
            moved_by = event
    old = shipment.status
    if moved_by is not None:
        shipment.status = moved_by.status
        if shipment.status == ShipmentStatus.DELIVERED:
            shipment.delivered_at = moved_by.at
        shipment.alert = ALERTS.get(shipment.status, "")
    elif new_events and shipment.alert == "no_news":
        shipment.alert = ""
    last_news = shipment.last_event_at or shipment.shipped_at
    if shipment.status not in Shipment.FINAL and last_news:
        if now - last_news > timedelta(days=settings.TRACKING_NO_NEWS_DAYS):
            shipment.alert = shipment.alert or "no_news"
    final = update.final or shipment.status in Shipment.FINAL
    shipment.next_check_at = None if final else next_check(shipment=shipment, now=now)
    shipment.save()
    if moved_by is not None:
        events.status_changed(shipment=shipment, old_status=old, event=moved_by)
    return shipment


def tracking_due(*, now=None, limit: int = 500):
    now = now or timezone.now()
    return (
        Shipment.objects.filter(status__in=TRACKED)
        .exclude(tracking_number="")
        .filter(Q(next_check_at__lte=now) | Q(next_check_at__isnull=True))
        .select_related("service__carrier")
        .order_by("next_check_at", "pk")[:limit]
    )


def tracking_poll(*, now=None) -> dict:
    """The beat task's work: ask each carrier about its parcels due for a check, in batches. A carrier that
    fails is retried at the next run (its parcels stay due); the others go on."""
    now = now or timezone.now()
    per_carrier: dict[int, list[Shipment]] = {}
    for shipment in tracking_due(now=now):
        if shipment.service_id:
            per_carrier.setdefault(shipment.service.carrier_id, []).append(shipment)
    result = {"checked": 0, "moved": 0, "errors": 0}
    for shipments in per_carrier.values():
        adapter = carriers.get_adapter(shipments[0].service.carrier)
        if carriers.TRACKING not in adapter.supports:
            Shipment.objects.filter(pk__in=[s.pk for s in shipments]).update(next_check_at=None)
            continue
        size = max(1, adapter.tracking_batch_size)
        by_number = {s.tracking_number: s for s in shipments}
        numbers = list(by_number)
        for start in range(0, len(numbers), size):
            batch = numbers[start : start + size]
            try:
                updates = adapter.track(batch)
            except carriers.CarrierError:
                result["errors"] += 1
                continue
            for update in updates:
                shipment = by_number.get(update.tracking_number)
                if shipment is None:
                    continue
                before = shipment.status
                after = tracking_apply(shipment_id=shipment.pk, update=update, now=now)
                result["checked"] += 1
                result["moved"] += int(after.status != before)
    return result
