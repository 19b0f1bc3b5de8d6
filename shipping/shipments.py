"""Shipments after packing: the carrier service (shipping rules), the label (a Celery task calling the
carrier adapter, retried with backoff, never lost), the hand-over to the driver (a manifest per carrier),
and tracking (polled by beat or pushed by webhooks, each event stored once and mapped to our statuses).

Every carrier call runs in a task, outside any database transaction; its result is written afterwards
with a conditional update, so a retry or a second worker never writes twice."""

from datetime import timedelta

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Case, DecimalField, Q, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _

from common import jobs
from common.exceptions import DomainError
from inventory.models import Location

from . import branding, carriers, customs, events
from .locks import lock_return_label, lock_shipment, lock_shipments
from .models import (
    Carrier,
    CarrierService,
    ChannelShippingSettings,
    Manifest,
    ParcelReturnLabel,
    Shipment,
    ShipmentLine,
    ShipmentStatus,
)

LABEL_MAX_ATTEMPTS = 6


class ShipmentRefused(DomainError):
    code = "shipment_refused"
    status_code = 409


def _adapter(shipment: Shipment):
    return carriers.get_adapter(shipment.service.carrier) if shipment.service_id else None


def needs_label(shipment: Shipment) -> bool:
    adapter = _adapter(shipment)
    return adapter is not None and carriers.LABEL in adapter.supports


@transaction.atomic(savepoint=False)  # its one caller, a consumer, lets a failure end its transaction
def shipment_prepare(
    *,
    shipment: Shipment,
    recipient: dict,
    relay_id: str = "",
    service_id=None,
    channel_id=None,
    rule_id=None,
    line_values=None,  # a dict, or an expression (see below)
    service: CarrierService | None = None,
) -> Shipment:
    """The label's data, from the order (``orders`` calls it when the parcel is closed), and the carrier
    service the shipping rules chose (``rule_id``) or sourcing did; ``line_values`` are the prices paid per
    order line (the customs value): a dict by order line, or an expression of a parcel line's value (a
    subquery on its ``order_line_id``: written without reading the order's lines). When the channel slips a
    return label in its parcels, the label-in-parcel record is opened here. The label task is scheduled
    after commit. ``service``: the service of ``service_id`` as the caller read it, with its carrier (they
    are not read again)."""
    from .tasks import shipment_label

    shipment.recipient = recipient
    shipment.relay_id = relay_id[:64]
    if service is not None and service.pk == service_id:
        shipment.service = service  # read with its carrier by the caller: the label's checks read neither
    elif service_id is not None:
        shipment.service_id = service_id
    shipment.channel_id = channel_id
    shipment.service_rule_id = rule_id
    shipment.service_reason = (
        Shipment.ServiceReason.RULE
        if rule_id
        else Shipment.ServiceReason.SOURCING
        if shipment.service_id
        else ""
    )
    fields = ["recipient", "relay_id", "service", "channel", "service_rule", "service_reason"]
    label = bool(shipment.service_id and needs_label(shipment))
    if label:
        shipment.job_due_at = jobs.due()  # the label job: queued on commit, and by the sweep if that is lost
        fields.append("job_due_at")
    shipment.save(update_fields=fields)
    if hasattr(line_values, "resolve_expression"):  # the caller's expression of a line's value: one UPDATE
        ShipmentLine.objects.filter(shipment=shipment).update(unit_value=line_values)
    elif line_values:  # one UPDATE (each line's value by its order line), not a read then an update
        ShipmentLine.objects.filter(shipment=shipment, order_line_id__in=list(line_values)).update(
            unit_value=Case(
                *[When(order_line_id=k, then=Value(v)) for k, v in line_values.items()],
                output_field=DecimalField(max_digits=10, decimal_places=2),
            )
        )
    if label:
        return_label_open(shipment=shipment)
        jobs.enqueue_on_commit(shipment_label, shipment.pk)
    return shipment


# --- Return label in the parcel ---------------------------------------------------------------------------


def return_carrier_for(shipment: Shipment) -> Carrier | None:
    """The carrier of the return label slipped in this parcel, when its channel wants one: the channel's
    return carrier, else the parcel's own carrier when it makes return labels."""
    if not shipment.channel_id:
        return None
    setting = (
        ChannelShippingSettings.objects.filter(channel_id=shipment.channel_id, return_label_in_parcel=True)
        .select_related("return_carrier")
        .first()
    )
    if setting is None:
        return None
    carrier = setting.return_carrier or (shipment.service.carrier if shipment.service_id else None)
    if carrier is None or not carrier.active:
        return None
    return carrier if carriers.RETURN_LABEL in carriers.get_adapter(carrier).supports else None


def return_label_open(*, shipment: Shipment) -> ParcelReturnLabel | None:
    """Open the parcel's label-in-parcel record (made by the label task) when its channel wants one."""
    carrier = return_carrier_for(shipment)
    if carrier is None:
        return None
    label, _created = ParcelReturnLabel.objects.get_or_create(
        shipment=shipment, defaults={"carrier": carrier}
    )
    return label


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
        return _label_create(shipment_id=shipment_id, job=job)


def _label_create(*, shipment_id: int, job: jobs.Claim) -> Shipment:
    # with its return label's record, if any (``return_label_due`` answers from it: not read again)
    shipment = Shipment.objects.select_related("service__carrier", "location", "return_label").get(
        pk=shipment_id
    )
    if shipment.status != ShipmentStatus.CREATED and shipment.status != ShipmentStatus.LABEL_FAILED:
        return shipment
    adapter = _adapter(shipment)
    if adapter is None or carriers.LABEL not in adapter.supports:
        return shipment  # own transport (a store's parcels), no label to make
    Shipment.objects.filter(pk=shipment.pk).update(label_attempts=shipment.label_attempts + 1)
    sender, recipient = _sender(shipment.location), _recipient(shipment)
    try:
        declaration = _declaration(shipment, sender=sender, recipient=recipient, reason=None)
    except customs.CustomsIncomplete as exc:
        _label_failed(shipment, str(exc), final=True)
        return Shipment.objects.get(pk=shipment.pk)
    brand = branding.label_branding()
    request = carriers.LabelRequest(
        reference=shipment.number,
        sender=sender,
        recipient=recipient,
        weight_g=shipment.weight_g,
        service_code=shipment.service.code,
        relay_id=shipment.relay_id,
        formats=_formats(),
        label_size=label_size(),
        customs=declaration if carriers.CUSTOMS in adapter.supports else None,
        value=declaration.total_value if declaration else None,
        brand_text=brand.text,
        brand_logo=brand.logo_png,
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
    pdf = _with_papers(
        label,
        declaration,
        sender=sender,
        recipient=recipient,
        reference=shipment.number,
        weight_g=shipment.weight_g,
    )
    # The label kept in one conditional UPDATE, which also marks the job done (``done_fields``): the files
    # first (storage is no transaction), then the row, unless another worker stored a label meanwhile.
    fields = {
        "customs": customs.declaration_json(declaration) if declaration else {},
        "tracking_number": label.tracking_number,
        "tracking_url": label.tracking_url or adapter.tracking_url(label.tracking_number),
        "status": ShipmentStatus.LABELLED,
        "label_error": "",
        "alert": "",
    }
    if pdf:
        shipment.label_pdf.save(f"{shipment.number}.pdf", ContentFile(pdf), save=False)
        fields["label_pdf"] = shipment.label_pdf.name
    if label.zpl:
        shipment.label_zpl.save(f"{shipment.number}.zpl", ContentFile(label.zpl.encode()), save=False)
        fields["label_zpl"] = shipment.label_zpl.name
    stored = Shipment.objects.filter(
        pk=shipment.pk, status__in=[ShipmentStatus.CREATED, ShipmentStatus.LABEL_FAILED]
    ).update(**fields, **job.done_fields())
    if not stored:  # another worker stored it meanwhile: the claim's end marks the job as before
        job.done_not_written()
        return Shipment.objects.get(pk=shipment.pk)
    for name, value in fields.items():
        if name not in ("label_pdf", "label_zpl"):  # those two hold their files already
            setattr(shipment, name, value)
    return shipment


def _with_papers(label, declaration, *, sender, recipient, reference: str, weight_g: int) -> bytes | None:
    """The PDF to print: the label then its customs papers (the carrier's commercial invoice, else our CN23).
    A ZPL-only label still gets its papers as a PDF of their own, for the office printer."""
    if declaration is None:
        return label.pdf
    papers = label.customs_pdf or customs.cn23_pdf(
        declaration=declaration,
        sender=sender,
        recipient=recipient,
        reference=reference,
        tracking_number=label.tracking_number,
        weight_g=weight_g,
    )
    return customs.pdf_join(label.pdf, papers) if label.pdf else papers


def label_size() -> str:
    return "4x6" if getattr(settings, "LABEL_SIZE", "a6") == "4x6" else "a6"


def _formats() -> tuple[str, ...]:
    return ("zpl", "pdf") if getattr(settings, "LABEL_FORMAT", "pdf") == "zpl" else ("pdf", "zpl")


def _declaration(shipment: Shipment, *, sender, recipient, reason) -> "carriers.CustomsDeclaration | None":
    """The parcel's customs declaration when it crosses a customs border (``None`` otherwise)."""
    if not customs.needs_customs(
        country=recipient.country,
        postcode=recipient.postcode,
        origin=sender.country,
        origin_postcode=sender.postcode,
    ):
        return None
    return customs.declaration_build(shipment=shipment, reason=reason)


def return_label_due(shipment: Shipment) -> bool:
    """Whether ``return_label_create`` may have a label to make for this parcel: False only when its
    return label's record was read with it (``select_related("return_label")``, by the label task) and
    there is none, or it is made already."""
    relation = Shipment._meta.get_field("return_label")
    if not relation.is_cached(shipment):
        return True
    label = relation.get_cached_value(shipment)
    return label is not None and label.status in (
        ParcelReturnLabel.Status.PENDING,
        ParcelReturnLabel.Status.FAILED,
    )


def return_label_create(*, shipment_id: int) -> ParcelReturnLabel | None:
    """Make the return label slipped in the parcel (sender: the customer; recipient: the location the parcel
    leaves from), with its customs declaration when the way back crosses a border. Idempotent; a passing
    carrier error is re-raised for the task to retry, a refusal is kept on the record for staff."""
    label_row = (
        ParcelReturnLabel.objects.select_related("carrier", "shipment__location", "shipment__service")
        .filter(
            shipment_id=shipment_id,
            status__in=[ParcelReturnLabel.Status.PENDING, ParcelReturnLabel.Status.FAILED],
        )
        .first()
    )
    if label_row is None:
        return None
    shipment = label_row.shipment
    adapter = carriers.get_adapter(label_row.carrier)
    ParcelReturnLabel.objects.filter(pk=label_row.pk).update(attempts=label_row.attempts + 1)
    customer, merchant = _recipient(shipment), _sender(shipment.location)
    try:
        declaration = _declaration(shipment, sender=customer, recipient=merchant, reason="return")
        request = carriers.LabelRequest(
            reference=f"R{shipment.number}"[:40],
            sender=customer,
            recipient=merchant,
            weight_g=shipment.weight_g,
            service_code="return",
            formats=_formats(),
            label_size=label_size(),
            customs=declaration if carriers.CUSTOMS in adapter.supports else None,
            brand_text=branding.label_branding().text,
        )
        label = adapter.create_return_label(request)
    except carriers.RetryableCarrierError as exc:
        ParcelReturnLabel.objects.filter(pk=label_row.pk).update(error=str(exc)[:2000])
        raise
    except carriers.CarrierError as exc:
        ParcelReturnLabel.objects.filter(pk=label_row.pk).update(
            error=str(exc)[:2000], status=ParcelReturnLabel.Status.FAILED
        )
        return ParcelReturnLabel.objects.get(pk=label_row.pk)
    pdf = _with_papers(
        label,
        declaration,
        sender=customer,
        recipient=merchant,
        reference=request.reference,
        weight_g=shipment.weight_g,
    )
    with transaction.atomic():
        locked = lock_return_label(label_row.pk)
        if locked.status not in (ParcelReturnLabel.Status.PENDING, ParcelReturnLabel.Status.FAILED):
            return locked
        if pdf:
            locked.label_pdf.save(f"{request.reference}.pdf", ContentFile(pdf), save=False)
        if label.zpl:
            locked.label_zpl.save(f"{request.reference}.zpl", ContentFile(label.zpl.encode()), save=False)
        locked.tracking_number = label.tracking_number
        locked.status = ParcelReturnLabel.Status.READY
        locked.error = ""
        locked.next_check_at = timezone.now() + timedelta(days=1)
        locked.save()
    return locked


def return_label_used_by(*, label: ParcelReturnLabel, how: str, at=None) -> bool:
    """The label in the parcel is being used: first scanned by its carrier (``how="scanned"``) or registered
    by the customer in the portal (``"registered"``). Moves it once and writes ``return_label.used`` to the
    event log: the returns' consumer opens the return request after commit. Returns whether this call moved
    it."""
    at = at or timezone.now()
    fields = {"scanned_at": at} if how == "scanned" else {"registered_at": at}
    status = ParcelReturnLabel.Status.SCANNED if how == "scanned" else ParcelReturnLabel.Status.REGISTERED
    with transaction.atomic():
        moved = ParcelReturnLabel.objects.filter(pk=label.pk, status=ParcelReturnLabel.Status.READY).update(
            status=status, next_check_at=None, **fields
        )
        if not moved and how == "scanned":
            # Registered in the portal first, then scanned: keep when the carrier took it, once.
            ParcelReturnLabel.objects.filter(
                pk=label.pk, status=ParcelReturnLabel.Status.REGISTERED, scanned_at__isnull=True
            ).update(scanned_at=at)
        if moved:
            label.refresh_from_db()
            events.return_label_used(label=label, how=how)
    return bool(moved)


def return_label_link(*, label_id: int, return_number: str) -> None:
    """``orders`` opened the return request of a label in parcel: keep its number here."""
    ParcelReturnLabel.objects.filter(pk=label_id, return_number="").update(return_number=return_number[:32])


def return_label_tracking_apply(
    *, label: ParcelReturnLabel, update: "carriers.TrackingUpdate", now=None
) -> bool:
    """A carrier's news of a return label: its first event that moves a parcel (taken in charge, in
    transit...) means the customer sent it back."""
    now = now or timezone.now()
    moving = [e for e in update.events if e.status and e.status not in (ShipmentStatus.LABELLED,)]
    if moving:
        return return_label_used_by(label=label, how="scanned", at=min(e.at for e in moving))
    age = now - label.created_at
    next_at = None if age > timedelta(days=RETURN_LABEL_WATCH_DAYS) else now + timedelta(days=1)
    ParcelReturnLabel.objects.filter(pk=label.pk).update(next_check_at=next_at)
    return False


RETURN_LABEL_WATCH_DAYS = 90


def _label_failed(shipment: Shipment, message: str, *, final: bool) -> None:
    fields = {"label_error": message[:2000]}
    if final:
        fields.update(status=ShipmentStatus.LABEL_FAILED, alert="label_failed")
    Shipment.objects.filter(
        pk=shipment.pk, status__in=[ShipmentStatus.CREATED, ShipmentStatus.LABEL_FAILED]
    ).update(**fields)


def override_refusal(shipment: Shipment) -> str:
    """Why the parcel's service can no longer be changed by hand ("" when it can)."""
    if shipment.status not in (ShipmentStatus.CREATED, ShipmentStatus.LABEL_FAILED, ShipmentStatus.LABELLED):
        return _("The parcel has left: its service can no longer change.")
    if shipment.manifest_id:
        return _("The parcel is on a manifest: its service can no longer change.")
    if shipment.label_printed_at:
        return _("The label was printed: its service can no longer change.")
    return ""


@transaction.atomic
def shipment_service_override(*, shipment: Shipment, service, actor=None, note: str = "") -> Shipment:
    """Staff choose another service before the label is printed: the label (if any) is cancelled at the
    carrier when it can be, and a new one is asked for; the return label in the parcel follows."""
    from .tasks import label_cancel, shipment_label

    locked = lock_shipment(shipment.pk, related=("service__carrier",))
    refusal = override_refusal(locked)
    if refusal:
        raise ShipmentRefused(refusal, code="too_late")
    if service is None or not service.active or not service.carrier.active:
        raise ShipmentRefused(_("Choose an active carrier service."), code="invalid_service")
    if service.max_weight_g and locked.weight_g > service.max_weight_g:
        raise ShipmentRefused(
            _("%(service)s takes parcels up to %(max)s g; this one weighs %(weight)s g.")
            % {"service": service, "max": service.max_weight_g, "weight": locked.weight_g},
            code="too_heavy",
        )
    if bool(locked.relay_id) != (service.delivery_mode == "relay"):
        raise ShipmentRefused(
            _("%(service)s does not deliver the way the customer chose (%(mode)s).")
            % {"service": service, "mode": _("relay point") if locked.relay_id else _("home delivery")},
            code="wrong_mode",
        )
    if service.pk == locked.service_id:
        raise ShipmentRefused(
            _("The parcel already ships with %(service)s.") % {"service": service}, code="same"
        )
    old_carrier, old_number = (locked.service.carrier if locked.service_id else None), locked.tracking_number
    locked.service = service
    locked.service_reason = Shipment.ServiceReason.MANUAL
    locked.service_rule = None
    locked.service_note = (note or "").strip()[:255]
    locked.service_chosen_by = actor if getattr(actor, "pk", None) else None
    locked.status = ShipmentStatus.CREATED
    locked.tracking_number = ""
    locked.tracking_url = ""
    locked.label_error = ""
    locked.label_attempts = 0
    locked.alert = ""
    locked.label_pdf = ""
    locked.label_zpl = ""
    locked.customs = {}
    if needs_label(locked):
        locked.job_due_at = jobs.due()  # the new label is a job: the sweep asks again if the message is lost
    locked.save()
    ParcelReturnLabel.objects.filter(
        shipment=locked,
        status__in=[
            ParcelReturnLabel.Status.PENDING,
            ParcelReturnLabel.Status.FAILED,
            ParcelReturnLabel.Status.READY,
        ],
    ).delete()
    return_label_open(shipment=locked)
    if old_number and old_carrier is not None:
        jobs.enqueue_on_commit(label_cancel, old_carrier.pk, old_number)
    if needs_label(locked):
        jobs.enqueue_on_commit(shipment_label, locked.pk)
    return locked


def label_cancel_at_carrier(*, carrier_id: int, tracking_number: str) -> bool:
    """Cancel an unused label at its carrier when the carrier can (not billed); False when it cannot."""
    carrier = Carrier.objects.get(pk=carrier_id)
    adapter = carriers.get_adapter(carrier)
    if carriers.CANCEL_LABEL not in adapter.supports:
        return False
    try:
        adapter.cancel_label(tracking_number)
    except carriers.PermanentCarrierError:
        return False
    return True


def label_printed(*, shipment: Shipment) -> None:
    """The packer printed the label: from now on the service no longer changes."""
    Shipment.objects.filter(pk=shipment.pk, label_printed_at__isnull=True).update(
        label_printed_at=timezone.now()
    )


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


@transaction.atomic
def shipments_handed_over_by_partner(
    *, location: Location, carrier: Carrier, parcels: "list[tuple[Shipment, str, str]]", actor=None
) -> Manifest:
    """Parcels an outsourced warehouse (3PL) packed and gave to the carrier itself: each ``(shipment,
    tracking number, tracking page)`` is shipped with the number the 3PL sent, on one manifest per carrier
    (the record of the hand-over), and their orders move on as after our own hand-over. The shipments were
    created in the caller's transaction."""
    manifest = Manifest.objects.create(
        location=location, carrier=carrier, created_by=actor if getattr(actor, "pk", None) else None
    )
    now = timezone.now()
    shipments = []
    for shipment, tracking_number, tracking_url in parcels:
        shipment.status = ShipmentStatus.HANDED_OVER
        shipment.manifest = manifest
        shipment.shipped_at = now
        shipment.next_check_at = now + timedelta(hours=2)
        shipment.tracking_number = tracking_number[:64]
        shipment.tracking_url = tracking_url[:300]
        shipment.save(
            update_fields=[
                "status",
                "manifest",
                "shipped_at",
                "next_check_at",
                "tracking_number",
                "tracking_url",
            ]
        )
        shipments.append(shipment)
    events.handed_over(manifest=manifest, shipments=shipments, actor=actor)
    return manifest


# --- Tracking ----------------------------------------------------------------------------------------------


def next_check(*, shipment: Shipment, now) -> "timezone.datetime":
    """Young parcels are checked often, old ones less (see ``shipping.tracking.next_check``)."""
    from .tracking import next_check as next_check_at

    return next_check_at(shipment=shipment, now=now)


def tracking_apply(*, shipment_id: int, update: "carriers.TrackingUpdate", now=None) -> Shipment:
    """Store a carrier's events for one parcel (each once: unique carrier code + time) and move the parcel
    to the newest status, never backwards; ``orders`` moves the order on (a webhook's news). The same work
    as a poll's batch (``shipping.tracking.tracking_apply_many``), for one parcel."""
    from .tracking import tracking_apply_many

    tracking_apply_many(updates={shipment_id: update}, now=now)
    return Shipment.objects.get(pk=shipment_id)


def tracking_poll(*, now=None, inline: bool = False) -> dict:
    """Beat's poll: the parcels due are claimed and fanned out in per-carrier batch tasks
    (``shipping.tracking``); ``inline`` applies them in this process."""
    from .tracking import tracking_poll as poll

    return poll(now=now, inline=inline)


def return_labels_poll(*, now=None, limit: int = 500) -> int:
    """Return labels waiting in parcels, checked once a day for their carrier's first scan."""
    now = now or timezone.now()
    due = list(
        ParcelReturnLabel.objects.filter(status=ParcelReturnLabel.Status.READY, next_check_at__lte=now)
        .exclude(tracking_number="")
        .select_related("carrier")
        .order_by("next_check_at", "pk")[:limit]
    )
    per_carrier: dict[int, list[ParcelReturnLabel]] = {}
    for label in due:
        per_carrier.setdefault(label.carrier_id, []).append(label)
    used = 0
    for labels in per_carrier.values():
        adapter = carriers.get_adapter(labels[0].carrier)
        if carriers.TRACKING not in adapter.supports:
            ParcelReturnLabel.objects.filter(pk__in=[x.pk for x in labels]).update(next_check_at=None)
            continue
        by_number = {x.tracking_number: x for x in labels}
        numbers = list(by_number)
        size = max(1, adapter.tracking_batch_size)
        for start in range(0, len(numbers), size):
            try:
                updates = adapter.track(numbers[start : start + size])
            except carriers.CarrierError:
                continue
            for update in updates:
                label = by_number.get(update.tracking_number)
                if label is not None and not update.error:
                    used += int(return_label_tracking_apply(label=label, update=update, now=now))
                elif label is not None:
                    ParcelReturnLabel.objects.filter(pk=label.pk).update(
                        next_check_at=now + timedelta(days=1)
                    )
    return used
