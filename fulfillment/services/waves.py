"""Waves: a location's orders to pick, grouped by carrier cut-off, express first, then the oldest promise;
released by hand or automatically before each cut-off by a beat task."""

from datetime import date, datetime, time, timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from common.audit import audit_saved, audit_snapshot
from common.exceptions import DomainError
from inventory.models import Location, StockLevel
from inventory.selectors import locations_for_user, user_may_act_at

from ..locks import lock_preparation, lock_preparations_to_release, lock_wave_settings
from ..models import Preparation, PreparationLine, PreparationStatus, Wave, WaveSettings

LATEST = time(23, 59)
FAR = date(9999, 12, 31)


class WaveError(DomainError):
    code = "invalid_wave"
    status_code = 409


def wave_settings_for(*, location: Location) -> WaveSettings:
    return WaveSettings.objects.filter(location=location).first() or WaveSettings(location=location)


@transaction.atomic
def wave_settings_save(
    *, location: Location, max_orders: int, auto_release: bool, minutes: int
) -> WaveSettings:
    if not isinstance(max_orders, int) or max_orders <= 0 or max_orders > 500:
        raise WaveError(_("A wave holds between 1 and 500 orders."), code="invalid_wave_size")
    if not isinstance(minutes, int) or minutes < 0 or minutes > 24 * 60:
        raise WaveError(_("Release between 0 and 1440 minutes before the cut-off."), code="invalid_lead_time")
    existing = lock_wave_settings(location.pk)
    before = audit_snapshot(existing) if existing is not None else None
    settings, _created = WaveSettings.objects.update_or_create(
        location=location,
        defaults={
            "max_orders": max_orders,
            "auto_release": auto_release,
            "release_minutes_before_cutoff": minutes,
        },
    )
    audit_saved(instance=settings, before=before)
    return settings


def _priority(prep: Preparation) -> tuple:
    return (
        prep.ship_by or FAR,
        prep.cutoff or LATEST,
        not prep.express,
        prep.promised_latest or FAR,
        prep.created_at,
        prep.pk,
    )


@transaction.atomic
def wave_release(
    *, location: Location, actor=None, max_orders: int | None = None, due_before: datetime | None = None
) -> Wave | None:
    """Release the next wave of a location: the orders to pick that share the earliest carrier cut-off,
    express first then the oldest promise, up to the wave size. Orders being released by someone else at
    the same moment are skipped (row locks with SKIP LOCKED), so two releases never share an order.
    ``due_before``: only orders whose cut-off falls before it (the automatic release). None when there is
    nothing to pick."""
    size = max_orders or wave_settings_for(location=location).max_orders
    # The actor's scope in the locking statement: none locked unless the location is theirs. Asked apart
    # only when none is (a refusal, or nothing to pick), so a release costs one statement less.
    candidates = lock_preparations_to_release(
        location_id=location.pk, locations=None if actor is None else locations_for_user(user=actor)
    )
    if not candidates and actor is not None and not user_may_act_at(user=actor, location_id=location.pk):
        raise WaveError(
            _("You do not work at %(location)s.") % {"location": location.name}, code="other_location"
        )
    if due_before is not None:
        tz = timezone.get_default_timezone()
        candidates = [
            p
            for p in candidates
            if p.ship_by and datetime.combine(p.ship_by, p.cutoff or LATEST, tz) <= due_before
        ]
    if not candidates:
        return None
    candidates.sort(key=_priority)
    first = candidates[0]
    chosen = [
        p for p in candidates if p.cutoff == first.cutoff and (p.ship_by or FAR) <= (first.ship_by or FAR)
    ]
    if len(chosen) < size:  # fill with later days of the same cut-off
        chosen += [p for p in candidates if p.cutoff == first.cutoff and p not in chosen]
    chosen = chosen[:size]
    wave = Wave.objects.create(
        location=location,
        cutoff=first.cutoff,
        ship_by=first.ship_by,
        released_by=actor if getattr(actor, "pk", None) else None,
    )
    # the chosen preparations' lines in one read (not one per preparation), then their bins
    lines: dict[int, list[PreparationLine]] = {}
    for line in PreparationLine.objects.filter(preparation__in=chosen).order_by("pk"):
        lines.setdefault(line.preparation_id, []).append(line)
    bins = dict(
        StockLevel.objects.filter(
            location=location, product_id__in={line.product_id for group in lines.values() for line in group}
        ).values_list("product_id", "bin_code")
    )
    for tote, prep in enumerate(chosen, start=1):
        prep.wave = wave
        prep.tote = tote
        prep.status = PreparationStatus.WAVED
        prep.save(update_fields=["wave", "tote", "status"])
        for line in lines.get(prep.pk, []):
            if bins.get(line.product_id, line.bin_code) != line.bin_code:
                line.bin_code = bins[line.product_id]
                line.save(update_fields=["bin_code"])
    wave.order_count = len(chosen)  # as ``waves_for_user`` annotates it: the release's message shows it
    return wave


@transaction.atomic
def wave_pick_single(*, preparation: Preparation, actor=None) -> Wave:
    """A wave of one order (store staff preparing a click & collect order, or an urgent order)."""
    prep = lock_preparation(preparation.pk)
    if actor is not None and not user_may_act_at(user=actor, location_id=prep.location_id):
        raise WaveError(_("This order is not prepared at your locations."), code="other_location")
    if prep.wave_id and prep.status in (PreparationStatus.WAVED, PreparationStatus.PICKING):
        return prep.wave
    if prep.status != PreparationStatus.TO_PICK:
        raise WaveError(
            _("Order %(order)s has nothing left to pick.") % {"order": prep.order_number},
            code="nothing_to_pick",
        )
    wave = Wave.objects.create(
        location_id=prep.location_id,
        cutoff=prep.cutoff,
        ship_by=prep.ship_by,
        released_by=actor if getattr(actor, "pk", None) else None,
    )
    prep.wave, prep.tote, prep.status = wave, 1, PreparationStatus.WAVED
    prep.save(update_fields=["wave", "tote", "status"])
    return wave


def waves_release_due(*, now: datetime | None = None) -> list[Wave]:
    """The beat task's work: at every location that releases automatically, release waves for the orders
    whose carrier cut-off is less than the location's lead time away (or already passed)."""
    now = now or timezone.now()
    released = []
    location_ids = (
        Preparation.objects.filter(status=PreparationStatus.TO_PICK, kind=Preparation.Kind.SHIP)
        .exclude(
            location__kind=Location.Kind.OUTSOURCED
        )  # their WMS picks: fulfillment/services/outsourced.py
        .values_list("location_id", flat=True)
        .distinct()
    )
    for location in Location.objects.filter(pk__in=list(location_ids)).order_by("pk"):
        settings = wave_settings_for(location=location)
        if not settings.auto_release:
            continue
        horizon = now + timedelta(minutes=settings.release_minutes_before_cutoff)
        for _i in range(100):
            wave = wave_release(location=location, due_before=horizon)
            if wave is None:
                break
            released.append(wave)
    return released
