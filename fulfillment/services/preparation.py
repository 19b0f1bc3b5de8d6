"""Hand-over of work from ``orders``: which units each location prepares for an order.

``orders`` calls ``preparation_sync`` whenever an order's stock allocations at a location change (the
order is allocated, a short pick is re-sourced, a replenishment arrives) and ``preparations_cancel`` when
the order is cancelled. This app keeps its own rows and never reads the orders' tables."""

from dataclasses import dataclass, field
from datetime import date, time

from django.db import transaction
from django.db.models import F, OuterRef, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from common.exceptions import DomainError
from inventory.models import Location, Product, StockLevel

from ..locks import lock_preparation_lines, lock_preparations
from ..models import Parcel, Preparation, PreparationLine, PreparationStatus
from ..selectors import put_backs_changed


class PreparationError(DomainError):
    code = "invalid_preparation"
    status_code = 409


@dataclass(frozen=True)
class LineSpec:
    order_line_id: int
    product_id: int
    sku: str
    name: str
    quantity: int  # units allocated from the location's stock for this line (shipped ones included)
    # A kit's line is prepared as its components: ``product_id``, ``sku`` and ``name`` are the component's,
    # these say which kit it belongs to (empty for a plain product).
    kit_sku: str = ""
    kit_name: str = ""
    per_kit: int = 0

    @property
    def key(self) -> tuple[int, int]:
        return (self.order_line_id, self.product_id)


@dataclass(frozen=True)
class PreparationSpec:
    order_id: int
    order_number: str
    location_id: int
    kind: str  # Preparation.Kind
    lines: list[LineSpec]
    service_id: int | None = None
    express: bool = False
    cutoff: time | None = None
    ship_by: date | None = None
    promised_latest: date | None = None
    customer_name: str = ""
    ship_to: str = ""
    pickup_code: str = ""
    # The delivery address as fields (name, company, line1, line2, postcode, city, country, phone, email,
    # relay_id): what an outsourced location's WMS needs to ship (``outsourced.py``).
    recipient: dict = field(default_factory=dict)
    # The caller read, under the order's lock, that the order has no open preparation at this location: it
    # is created without looking for one first (were one there after all, its unique key refuses the new).
    none_open: bool = False
    location_kind: str = ""  # the location's kind when the caller read it (else read with the preparation)


@transaction.atomic(savepoint=False)
def preparation_sync(*, spec: PreparationSpec) -> Preparation | None:
    """Make the location's preparation of the order hold exactly the units allocated there: created (to
    pick) when new, lines added or raised (a preparation already picked goes back to picking for the new
    units), lowered for units no longer allocated (never below what was picked), cancelled when nothing is
    left. Returns the preparation, or None when there is none.

    No savepoint of its own: its one caller (``orders.handover``'s consumer, through
    ``orders.services.handover.preparations_sync``) lets a refusal end its transaction, whose event is then
    run again in a savepoint of the event log's (``common/eventlog.py``), as every consumer's failure is."""
    # ``lock_preparations`` of the order at the location, with the location (its kind is read below)
    prep = (
        None
        if spec.none_open
        else Preparation.objects.select_for_update(of=("self",), no_key=True)
        .select_related("location")
        .filter(order_id=spec.order_id, location_id=spec.location_id)
        .exclude(status=PreparationStatus.CANCELLED)
        .order_by("pk")
        .first()
    )
    wanted = {line.key: line for line in spec.lines if line.quantity > 0}
    created = prep is None
    if prep is None:
        if not wanted:
            return None
        prep = Preparation.objects.create(
            order_id=spec.order_id,
            order_number=spec.order_number,
            location_id=spec.location_id,
            kind=spec.kind,
            service_id=spec.service_id,
            express=spec.express,
            cutoff=spec.cutoff,
            ship_by=spec.ship_by,
            promised_latest=spec.promised_latest,
            customer_name=spec.customer_name[:200],
            ship_to=spec.ship_to,
            pickup_code=spec.pickup_code,
        )
    else:
        fields = ("service_id", "express", "cutoff", "ship_by", "promised_latest", "ship_to")
        if any(getattr(prep, f) != getattr(spec, f) for f in fields):  # a sync that changes nothing: no write
            for f in fields:
                setattr(prep, f, getattr(spec, f))
            prep.save(update_fields=["service", "express", "cutoff", "ship_by", "promised_latest", "ship_to"])

    locked_lines = [] if created else lock_preparation_lines(prep.pk)  # a new preparation has none yet
    existing = {(line.order_line_id, line.product_id): line for line in locked_lines}
    adding = [w.product_id for key, w in wanted.items() if key not in existing]
    # the new lines' products with their bin here (their stock level's ``bin_code``), in one statement
    here = StockLevel.objects.filter(product_id=OuterRef("pk"), location_id=spec.location_id)
    products = Product.objects.annotate(bin_here=Subquery(here.values("bin_code")[:1])).in_bulk(adding)
    bins = {pk: product.bin_here for pk, product in products.items() if product.bin_here is not None}
    grew = put_back = False
    new_lines = []
    for key, want in wanted.items():
        line = existing.get(key)
        if line is None:
            product = products[want.product_id]
            new_lines.append(
                PreparationLine(
                    preparation=prep,
                    order_line_id=want.order_line_id,
                    product_id=want.product_id,
                    sku=want.sku,
                    name=want.name[:200],
                    kit_sku=want.kit_sku,
                    kit_name=want.kit_name[:200],
                    per_kit=want.per_kit,
                    ean=product.ean,
                    weight_g=product.weight_g,
                    bin_code=bins.get(want.product_id, ""),
                    quantity=want.quantity,
                )
            )
            grew = True
        elif line.quantity != want.quantity:
            if want.quantity < line.packed:
                raise PreparationError(
                    _("%(picked)s × %(sku)s are packed for order %(order)s: they leave with the parcel.")
                    % {"picked": line.packed, "sku": line.sku, "order": prep.order_number},
                    code="already_packed",
                    details={"sku": line.sku, "packed": line.packed, "wanted": want.quantity},
                )
            if want.quantity < line.picked:  # units cancelled after they were picked: back to their bin
                line.put_back += line.picked - want.quantity
                line.picked = want.quantity
                put_back = True
            grew = grew or want.quantity > line.quantity
            line.quantity = want.quantity
            line.save(update_fields=["quantity", "picked", "put_back"])
    for key, line in existing.items():
        if key in wanted:
            continue
        if line.packed:
            raise PreparationError(
                _("%(picked)s × %(sku)s are already packed for order %(order)s: they leave with the parcel.")
                % {"picked": line.packed, "sku": line.sku, "order": prep.order_number},
                code="already_packed",
                details={"sku": line.sku, "packed": line.packed, "wanted": 0},
            )
        if line.picked:  # picked, then cancelled: the line stays to say what goes back to the bin
            line.put_back += line.picked
            line.picked = 0
            put_back = True
            line.quantity = 0
            line.save(update_fields=["quantity", "picked", "put_back"])
            continue
        line.delete()
        locked_lines.remove(line)
    PreparationLine.objects.bulk_create(new_lines)
    if put_back:  # the location's pick screens list units to put back: told once for the whole sync
        put_backs_changed()
    # its lines as they now are (those locked, as written above, and the new ones), as a prefetch would
    # leave them: the refresh does not read them again
    lines = prep.lines.all()
    lines._result_cache, lines._prefetch_done = [*locked_lines, *new_lines], True
    prep._prefetched_objects_cache = {**getattr(prep, "_prefetched_objects_cache", {}), "lines": lines}
    # a preparation just created is to pick, nothing of it picked: what the refresh would write again
    result = prep if created else preparation_refresh(preparation=prep, reopened=grew)
    if (spec.location_kind or prep.location.kind) == Location.Kind.OUTSOURCED:
        from .outsourced import outsourced_request_cancel, outsourced_request_sync

        if result is None:
            outsourced_request_cancel(prep=prep)
        else:
            outsourced_request_sync(
                prep=result, location_id=spec.location_id, order_id=spec.order_id, recipient=spec.recipient
            )
    return result


REFRESHED = ("status", "wave_id", "tote", "picked_at", "packed_at")


def preparation_refresh(
    *, preparation: Preparation, reopened: bool = False, open_parcel: bool | None = None
) -> Preparation | None:
    """Set the preparation's status from its lines (after a sync, a pick, a short pick or a pack).

    ``preparation`` is locked and as stored (its callers save what they change before): when nothing
    changes, nothing is written (no UPDATE of the same values). ``open_parcel``: whether it has an open
    parcel, when the caller knows (the close, which just closed the only one under the preparation's lock),
    else it is read when needed."""
    prep = preparation
    before = tuple(getattr(prep, name) for name in REFRESHED)
    lines = [line for line in prep.lines.all() if line.quantity > 0]  # a line fully short is done
    if not lines:
        if prep.parcels.exists():
            prep.status = PreparationStatus.PACKED
        else:
            prep.status = PreparationStatus.CANCELLED
            prep.wave = None
        if tuple(getattr(prep, name) for name in REFRESHED) != before:
            prep.save(update_fields=["status", "wave"])
        return prep if prep.status != PreparationStatus.CANCELLED else None
    all_picked = all(line.picked >= line.quantity for line in lines)
    all_packed = all(line.packed >= line.quantity for line in lines)
    status = prep.status
    if not all_picked:
        if reopened and status not in Preparation.OPEN:
            status = PreparationStatus.TO_PICK
            prep.wave = None
            prep.tote = None
    elif prep.kind == Preparation.Kind.PICKUP:
        if status in Preparation.OPEN:
            status = PreparationStatus.TO_PACK
            prep.picked_at = prep.picked_at or timezone.now()
    elif all_packed and not (
        open_parcel if open_parcel is not None else prep.parcels.filter(status=Parcel.Status.OPEN).exists()
    ):
        status = PreparationStatus.PACKED
        prep.packed_at = prep.packed_at or timezone.now()
    elif status in Preparation.OPEN or status == PreparationStatus.PACKED:
        status = PreparationStatus.TO_PACK
        prep.picked_at = prep.picked_at or timezone.now()
    prep.status = status
    if tuple(getattr(prep, name) for name in REFRESHED) != before:
        prep.save(update_fields=["status", "wave", "tote", "picked_at", "packed_at"])
    return prep


@transaction.atomic
def preparations_cancel(*, order_id: int) -> list[Preparation]:
    """The order was cancelled: its preparations stop (units already picked go back to their bins; the
    pick screens say so)."""
    preps = lock_preparations(
        order_id=order_id, exclude_statuses=[PreparationStatus.CANCELLED, PreparationStatus.COLLECTED]
    )
    for prep in preps:
        prep.status = PreparationStatus.CANCELLED
        prep.save(update_fields=["status"])
        prep.parcels.filter(status=Parcel.Status.OPEN).delete()
        if prep.location.kind != Location.Kind.OUTSOURCED:
            # what was picked and not packed goes back to its bin: the location's pick screens list it until
            # confirmed (the preparation is locked above, so its lines are written in the lock order); units
            # packed in a parcel come back from the parcel, cancelled with its shipment
            if PreparationLine.objects.filter(preparation=prep, picked__gt=F("packed")).update(
                put_back=F("put_back") + F("picked") - F("packed"), picked=F("packed")
            ):
                put_backs_changed()
        if prep.location.kind == Location.Kind.OUTSOURCED:
            from .outsourced import outsourced_request_cancel

            outsourced_request_cancel(prep=prep)
    return preps
