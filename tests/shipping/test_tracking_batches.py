"""The tracking poll in batches (shipping/tracking.py): beat claims the parcels due under a lease and queues
one task per carrier batch; a batch applies La Poste's answers in a fixed number of statements, fenced by
the lease, and a batch that never ran leaves its parcels due again once the lease has passed."""

import re
from datetime import timedelta

import httpx
import pytest
import respx
from django.db import connection
from django.utils import timezone

from common.models import DomainEvent
from shipping import tracking
from shipping.carriers.laposte import SUIVI_URL
from shipping.models import Shipment, ShipmentStatus, TrackingEvent
from tests.inventory.factories import LocationFactory
from tests.orders.factories import OrderFactory
from tests.shipping.factories import CarrierFactory, CarrierServiceFactory

# The statements of one batch, whatever its size: the fenced read of its parcels with their carrier, the
# carrier account's settings, then the parcels locked, their new events inserted, the parcels updated and
# the status events written (one statement each).
BATCH_STATEMENTS = 6


class BatchStatements:
    """The statements a batch sends, without those of the event log's consumers (Celery workers run them in
    production; tests run them right after the commit) and without SAVEPOINT / RELEASE, which stand for
    BEGIN / COMMIT inside the test's transaction: those are counted apart (one per transaction)."""

    def __init__(self):
        self.statements: list[str] = []
        self.transactions = 0

    def __call__(self, execute, sql, params, many, context):
        from common import eventlog

        if not getattr(eventlog._local, "consuming", False):
            verb = sql.lstrip().split(" ", 1)[0].upper()
            if verb == "SAVEPOINT":
                self.transactions += 1
            elif verb not in ("RELEASE", "ROLLBACK"):
                self.statements.append(sql)
        return execute(sql, params, many, context)


def suivi(number: str, *, delivered: bool) -> dict:
    events = [
        ("PC1", "Votre colis a été déposé dans un point postal.", "2026-11-23T14:43:00+01:00"),
        ("ET1", "Votre colis est en cours d'acheminement.", "2026-11-24T16:25:00+01:00"),
    ]
    if delivered:
        events.append(("DI1", "Votre colis est livré.", "2026-11-25T09:38:00+01:00"))
    return {
        "returnCode": 200,
        "shipment": {
            "idShip": number,
            "isFinal": delivered,
            "event": [{"code": c, "label": label, "date": d} for c, label, d in reversed(events)],
        },
    }


def suivi_answers(request: httpx.Request) -> httpx.Response:
    """La Poste's answer to ``/idships/A,B,C``: a list with one shipment per id (an object for one id);
    numbers ending in an even digit are delivered, the others in transit."""
    ids = request.url.path.rsplit("/", 1)[-1].split(",")
    answers = [suivi(number, delivered=int(number[-1]) % 2 == 0) for number in ids]
    return httpx.Response(200, json=answers if len(ids) > 1 else answers[0])


@pytest.fixture
def parcels(db, settings):
    settings.LAPOSTE_OKAPI_KEY = "okapi-key"
    carrier = CarrierFactory(code="colissimo", name="Colissimo", adapter="colissimo")
    service = CarrierServiceFactory(carrier=carrier)
    location = LocationFactory()
    shipped = timezone.now() - timedelta(days=2)
    shipments = Shipment.objects.bulk_create(
        [
            Shipment(
                number=f"COL-{n:04d}",
                order=OrderFactory(status="shipped"),
                location=location,
                service=service,
                status=ShipmentStatus.HANDED_OVER,
                weight_g=800,
                tracking_number=f"6A{n:011d}",
                shipped_at=shipped,
                next_check_at=timezone.now() - timedelta(minutes=5),
            )
            for n in range(1, 31)
        ]
    )
    return carrier, shipments


def claim(now, *, size: int = 10):
    """What the poll does before queuing: claim the due parcels under a lease, in batches of ``size``."""
    until = now + timedelta(seconds=tracking.lease_seconds())
    ids = sorted(pk for pk, _carrier in tracking._claim(now=now, until=until, limit=1000))
    return until, [ids[i : i + size] for i in range(0, len(ids), size)]


@respx.mock
@pytest.mark.parametrize("size", [10, 30])
def test_a_batch_costs_a_fixed_number_of_statements(parcels, size):
    # given 30 parcels due, claimed by a poll in batches of `size`
    carrier, shipments = parcels
    route = respx.get(url__regex=re.escape(SUIVI_URL) + ".*").mock(side_effect=suivi_answers)
    now = timezone.now()
    until, batches = claim(now, size=size)
    # when the first batch runs
    counter = BatchStatements()
    with connection.execute_wrapper(counter):
        result = tracking.tracking_batch(
            carrier_id=carrier.pk, shipment_ids=batches[0], lease_until=until.isoformat(), now=now
        )
    assert len(counter.statements) == BATCH_STATEMENTS, counter.statements
    assert counter.transactions == 1
    # then every parcel of the batch got its news: La Poste called once per 10 ids (its batch size)
    assert result == {"parcels": size, "answered": size, "events": size * 3 - size // 2, "moved": size}
    assert route.call_count == size // 10
    done = Shipment.objects.filter(pk__in=batches[0])
    assert done.filter(status=ShipmentStatus.DELIVERED).count() == size // 2
    assert done.filter(status=ShipmentStatus.IN_TRANSIT).count() == size // 2
    assert done.filter(status=ShipmentStatus.DELIVERED, next_check_at__isnull=False).count() == 0
    assert done.filter(status=ShipmentStatus.IN_TRANSIT, next_check_at=now + timedelta(hours=3)).count() == (
        size // 2
    )
    assert TrackingEvent.objects.filter(shipment_id__in=batches[0]).count() == size * 3 - size // 2
    assert DomainEvent.objects.filter(code="shipment.status_changed").count() == size


@respx.mock
def test_a_batch_reads_its_parcels_by_id_alone_and_fences_them_itself(parcels):
    """Every parcel of a poll shares the lease's ``next_check_at``: a batch statement filtering on it let the
    planner read the whole poll's parcels for each batch (quadratic over a cycle). The batch selects by id
    alone (one array parameter) and checks the lease and the status on the rows it read."""
    carrier, shipments = parcels
    respx.get(url__regex=re.escape(SUIVI_URL) + ".*").mock(side_effect=suivi_answers)
    now = timezone.now()
    until, batches = claim(now, size=10)
    # given a batch of which one parcel was claimed again by a later poll and one was delivered meanwhile
    taken, delivered = batches[0][0], batches[0][1]
    Shipment.objects.filter(pk=taken).update(next_check_at=until + timedelta(minutes=10))
    Shipment.objects.filter(pk=delivered).update(status=ShipmentStatus.DELIVERED)
    counter = BatchStatements()
    with connection.execute_wrapper(counter):
        result = tracking.tracking_batch(
            carrier_id=carrier.pk, shipment_ids=batches[0], lease_until=until.isoformat(), now=now
        )
    # then the 8 others got their news, and those two nothing
    assert (result["parcels"], result["moved"]) == (8, 8)
    assert not TrackingEvent.objects.filter(shipment_id__in=[taken, delivered]).exists()
    assert Shipment.objects.get(pk=taken).next_check_at == until + timedelta(minutes=10)
    # and the batch's reads of the parcels (the fenced read, the lock) select by id alone
    reads = [
        sql
        for sql in counter.statements
        if sql.startswith("SELECT") and 'FROM "shipping_shipment"' in sql and 'tracking_number" = ' not in sql
    ]
    assert len(reads) == 2, counter.statements
    for sql in reads:
        where = sql.split(" WHERE ", 1)[1]
        assert '"shipping_shipment"."id" = ANY(' in where and "next_check_at" not in where, sql


@respx.mock
def test_the_poll_fans_out_and_a_batch_applied_twice_changes_nothing(
    parcels, settings, django_capture_on_commit_callbacks
):
    carrier, shipments = parcels
    settings.TRACKING_TASK_PARCELS = 10
    respx.get(url__regex=re.escape(SUIVI_URL) + ".*").mock(side_effect=suivi_answers)
    now = timezone.now()
    # when beat polls (tasks run eagerly here: each batch is applied as it is queued)
    with django_capture_on_commit_callbacks(execute=True):
        result = tracking.tracking_poll(now=now)
    # then the 30 parcels went out in 3 batches of 10 and every one moved on
    assert (result["claimed"], result["batches"]) == (30, 3)
    assert Shipment.objects.filter(status=ShipmentStatus.HANDED_OVER).count() == 0
    assert Shipment.objects.filter(status=ShipmentStatus.DELIVERED).count() == 15
    events = TrackingEvent.objects.count()
    assert events == 75
    # when a batch's message is delivered again (acks_late after a worker died past the commit)
    until = now + timedelta(seconds=tracking.lease_seconds())
    again = tracking.tracking_batch(
        carrier_id=carrier.pk, shipment_ids=[s.pk for s in shipments[:10]], lease_until=until.isoformat()
    )
    # then nothing is stored twice: the parcels no longer hold that lease
    assert again == {"parcels": 0, "answered": 0, "events": 0, "moved": 0}
    assert TrackingEvent.objects.count() == events
    assert DomainEvent.objects.filter(code="shipment.status_changed").count() == 30
    # and nothing is due before its next check
    assert tracking.tracking_poll(now=now + timedelta(minutes=10))["claimed"] == 0


@respx.mock
def test_a_batch_that_never_ran_is_claimed_again_after_its_lease(parcels, monkeypatch):
    carrier, shipments = parcels
    route = respx.get(url__regex=re.escape(SUIVI_URL) + ".*").mock(side_effect=suivi_answers)
    now = timezone.now()
    # given a poll whose messages were lost (the broker went down after the claim)
    monkeypatch.setattr(tracking.jobs, "enqueue", lambda *args, **kwargs: False)
    first = tracking.tracking_poll(now=now)
    assert first["claimed"] == 30 and route.call_count == 0
    # then the next poll inside the lease claims nothing (no parcel is checked twice at once)
    assert tracking.tracking_poll(now=now + timedelta(minutes=10))["claimed"] == 0
    assert Shipment.objects.filter(status=ShipmentStatus.HANDED_OVER).count() == 30
    # and once the lease has passed, every parcel is claimed again: none was lost
    later = now + timedelta(seconds=tracking.lease_seconds() + 1)
    until, batches = claim(later, size=30)
    assert [len(b) for b in batches] == [30]
    # and a batch of the first, expired lease is fenced out: it changes nothing
    stale = tracking.tracking_batch(
        carrier_id=carrier.pk,
        shipment_ids=batches[0],
        lease_until=first["lease_until"],
    )
    assert stale["parcels"] == 0 and TrackingEvent.objects.count() == 0
    # while the batch of the new lease applies
    done = tracking.tracking_batch(
        carrier_id=carrier.pk, shipment_ids=batches[0], lease_until=until.isoformat()
    )
    assert done["moved"] == 30 and TrackingEvent.objects.count() == 75


@respx.mock
@pytest.mark.django_db(transaction=True)
def test_the_poll_claims_outside_any_transaction(parcels, monkeypatch):
    """As beat runs it: no test transaction around the claim (its FOR UPDATE needs one of its own)."""
    monkeypatch.setattr(tracking.jobs, "enqueue", lambda *args, **kwargs: False)
    now = timezone.now()
    result = tracking.tracking_poll(now=now)
    until = now + timedelta(seconds=tracking.lease_seconds())
    assert (result["claimed"], result["batches"]) == (30, 1)
    assert Shipment.objects.filter(next_check_at=until).count() == 30


def test_the_poll_queues_each_chunk_before_claiming_the_next(parcels, settings, monkeypatch):
    """The workers (and La Poste's quota, the cycle's pace) start on the first chunk while the poll claims
    the next ones; a carrier's parcels short of a whole task wait for the next chunk, the rest go at the
    end."""
    settings.TRACKING_TASK_PARCELS = 10
    monkeypatch.setattr(tracking, "CLAIM_CHUNK", 12)
    timeline = []
    claim_chunk = tracking._claim

    def claiming(**kwargs):
        rows = claim_chunk(**kwargs)
        timeline.append(("claimed", len(rows)))
        return rows

    monkeypatch.setattr(tracking, "_claim", claiming)

    def queue(task, carrier_id, ids, *args, **kwargs):
        timeline.append(("queued", ids))

    monkeypatch.setattr(tracking.jobs, "enqueue", queue)
    result = tracking.tracking_poll(now=timezone.now())
    # 30 parcels in chunks of 12: 12 claimed → a task of 10 (2 wait); 12 more → 14, a task of 10 (4 wait);
    # the last 6 → the 10 left in one task at the end
    assert [(kind, len(value) if kind == "queued" else value) for kind, value in timeline] == [
        ("claimed", 12),
        ("queued", 10),
        ("claimed", 12),
        ("queued", 10),
        ("claimed", 6),
        ("queued", 10),
    ]
    queued = [pk for kind, ids in timeline if kind == "queued" for pk in ids]
    assert sorted(queued) == sorted(s.pk for s in parcels[1])
    assert (result["claimed"], result["batches"]) == (30, 3)
