"""The local relay-point directory: writes from what carriers answered (called by the Celery refresh task
and by seed_demo), so pages and the API search it without calling a carrier."""

import csv
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cache
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from . import carriers
from .models import Carrier, RelayPoint

AREAS = Path(__file__).resolve().parent / "data" / "relay_search_areas.csv"


@dataclass(frozen=True)
class RefreshResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deactivated: int = 0


@cache
def search_areas() -> tuple[carriers.RelaySearch, ...]:
    """Where a carrier that only searches around an address is asked for its points (one search each)."""
    with AREAS.open(encoding="utf-8") as handle:
        rows = csv.DictReader(line for line in handle if not line.startswith("#"))
        return tuple(
            carriers.RelaySearch(postcode=row["postcode"], city=row["city"], country="FR", limit=30)
            for row in rows
        )


def _coordinate(value) -> Decimal | None:
    return None if value is None else Decimal(str(round(float(value), 6)))


def _fields(point: carriers.RelayPoint) -> dict:
    return {
        "name": point.name[:200],
        "kind": point.kind[:16],
        "line1": point.line1[:200],
        "line2": point.line2[:200],
        "postcode": point.postcode[:16],
        "city": point.city[:120],
        "country": (point.country or "FR").upper()[:2],
        "latitude": _coordinate(point.latitude),
        "longitude": _coordinate(point.longitude),
        "opening_hours": point.opening_hours.as_json(),
        "active": True,
    }


@transaction.atomic
def relay_points_store(
    *,
    carrier: Carrier,
    points: list[carriers.RelayPoint],
    complete: bool,
    stale_before: datetime | None = None,
) -> RefreshResult:
    """Upsert the carrier's points by (carrier, external id); ``updated_at`` of every point seen is set to
    now (the last time the carrier confirmed it). ``complete`` means ``points`` is the carrier's whole
    network: its other points are deactivated. Otherwise (searches around areas) only the points not seen
    since ``stale_before`` are. Deactivated points are kept for the orders that chose them."""
    unique = {p.id: p for p in points if p.id}
    existing = {rp.external_id: rp for rp in RelayPoint.objects.select_for_update().filter(carrier=carrier)}
    created = updated = unchanged = 0
    to_create, to_update, seen = [], [], []
    for external_id, point in unique.items():
        fields = _fields(point)
        row = existing.get(external_id)
        if row is None:
            to_create.append(RelayPoint(carrier=carrier, external_id=external_id, **fields))
            created += 1
            continue
        if all(getattr(row, name) == value for name, value in fields.items()):
            unchanged += 1
            seen.append(row.pk)
            continue
        for name, value in fields.items():
            setattr(row, name, value)
        to_update.append(row)
        updated += 1
    RelayPoint.objects.bulk_create(to_create, batch_size=500)
    for row in to_update:
        row.save()
    RelayPoint.objects.filter(pk__in=seen).update(updated_at=timezone.now())
    deactivated = 0
    gone = RelayPoint.objects.filter(carrier=carrier, active=True).exclude(external_id__in=unique)
    if complete:
        deactivated = gone.update(active=False)
    elif stale_before is not None:
        deactivated = gone.filter(updated_at__lt=stale_before).update(active=False)
    return RefreshResult(created=created, updated=updated, unchanged=unchanged, deactivated=deactivated)


@dataclass(frozen=True)
class Fetched:
    points: list[carriers.RelayPoint]
    complete: bool  # the carrier's whole network (a directory listing)
    failed_areas: list[str]  # postcodes whose search the carrier refused


def relay_points_fetch(*, adapter: carriers.CarrierAdapter) -> Fetched:
    """Every point the adapter can give: its directory at once when it has one, else a search per area of
    ``relay_search_areas.csv``. A permanent refusal of one area is recorded and skipped; a retryable error
    propagates (the task retries the whole refresh)."""
    if carriers.RELAY_DIRECTORY in adapter.supports:
        return Fetched(points=adapter.list_relay_points(), complete=True, failed_areas=[])
    if carriers.RELAY_SEARCH not in adapter.supports:
        raise carriers.NotSupported(f"{adapter.name} has no relay points.", carrier=adapter.code)
    points, failed = [], []
    for area in search_areas():
        try:
            points += adapter.search_relay_points(area)
        except carriers.PermanentCarrierError:
            failed.append(area.postcode)
    return Fetched(points=points, complete=False, failed_areas=failed)


@transaction.atomic
def relay_points_load_sandbox(*, carrier: Carrier) -> RefreshResult:
    """The sandbox network into the directory for ``carrier`` (seed_demo: no HTTP, so no task needed)."""
    from .carriers.sandbox import relay_network

    return relay_points_store(carrier=carrier, points=list(relay_network()), complete=True)


def relay_carriers():
    """Active carriers with an active relay service whose adapter can give relay points."""
    codes = [
        code
        for code, cls in carriers.ADAPTERS.items()
        if {carriers.RELAY_SEARCH, carriers.RELAY_DIRECTORY} & cls.supports
    ]
    return Carrier.objects.filter(
        active=True, adapter__in=codes, services__delivery_mode="relay", services__active=True
    ).distinct()
