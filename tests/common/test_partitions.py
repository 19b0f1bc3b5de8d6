"""The event log and the stock ledger partitioned by month (common/partitions.py): the migration from an
unpartitioned database with history keeps every row, id, index and answer, and the stock audit clean; beat
creates the months ahead and gives a month of its own to rows that landed in the default partition; the
archive command writes old months to files and the ledger still adds up."""

import csv
import datetime as dt
import gzip

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from common import eventlog
from common.models import ConsumerFailure, DomainEvent
from common.partitions import is_partitioned, partition_name, partitions, partitions_maintain
from inventory.models import StockLevel, StockMovement
from inventory.selectors import ledger_differences, ledger_list
from inventory.services.stock import stock_adjust, stock_receive
from oms.roles import MANAGER
from tests.inventory.factories import LocationFactory, ProductFactory
from tests.oms.factories import UserFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

TABLES = ("common_domainevent", "inventory_stockmovement")


def _months_ago(n: int) -> dt.datetime:
    now = timezone.now()
    month = now.replace(day=15, hour=12, minute=0, second=0, microsecond=0)
    for _ in range(n):
        month = (month.replace(day=1) - dt.timedelta(days=1)).replace(day=15)
    return month


def _history(products, location, months: int = 14) -> None:
    """Receipts and adjustments over the past ``months`` months, with their events."""
    for n, product in enumerate(products):
        stock_receive(product=product, location=location, quantity=50 + n, reference=f"PO-{n}")
        stock_adjust(product=product, location=location, delta=-(n + 1), reason_code="damaged")
        stock_receive(product=product, location=location, quantity=7, reference=f"PO-{n}-b")
    movements = list(StockMovement.objects.order_by("pk").values_list("pk", flat=True))
    events = list(DomainEvent.objects.order_by("pk").values_list("pk", flat=True))
    with connection.cursor() as cursor:
        for i, pk in enumerate(movements):
            cursor.execute(
                "UPDATE inventory_stockmovement SET created_at = %s WHERE id = %s",
                [_months_ago(months - i * months // len(movements)), pk],
            )
        for i, pk in enumerate(events):
            cursor.execute(
                "UPDATE common_domainevent SET created_at = %s WHERE id = %s",
                [_months_ago(months - i * months // len(events)), pk],
            )


def _snapshot():
    return (
        list(
            StockMovement.objects.order_by("pk").values_list(
                "pk", "product_id", "delta", "on_hand_after", "created_at"
            )
        ),
        list(DomainEvent.objects.order_by("pk").values_list("pk", "code", "payload", "xid", "created_at")),
    )


def test_the_migration_partitions_a_database_with_history_and_keeps_every_row():
    # given: the database as it was before partitioning, with 14 months of history
    call_command("migrate", "common", "0003", verbosity=0)
    call_command("migrate", "inventory", "0012", verbosity=0)  # the migration before the partitioning
    assert not any(is_partitioned(t) for t in TABLES)
    location = LocationFactory(code="lyon")
    products = [ProductFactory(sku=f"HIST-{i}") for i in range(6)]
    _history(products, location)
    manager = UserFactory(username="boss", role=MANAGER)
    before = _snapshot()
    ledger_before = list(
        ledger_list(user=manager, product=products[0]).values_list("pk", "delta", "on_hand_after")
    )
    assert ledger_differences() == []
    months_with_rows = {row[4].astimezone(dt.UTC).strftime("%Y%m") for row in before[0]}
    assert len(months_with_rows) >= 10

    # when
    call_command("migrate", verbosity=0)

    # then: partitioned, every row where it was, with its id, in its month's partition
    assert all(is_partitioned(t) for t in TABLES)
    assert _snapshot() == before
    names = {p[0] for p in partitions("inventory_stockmovement")}
    assert {f"inventory_stockmovement_p{m}" for m in months_with_rows} <= names
    with connection.cursor() as cursor:
        for table in TABLES:
            cursor.execute(f'SELECT count(*) FROM "{table}_default"')  # noqa: S608
            assert cursor.fetchone()[0] == 0
    assert list(
        ledger_list(user=manager, product=products[0]).values_list("pk", "delta", "on_hand_after")
    ) == (ledger_before)
    assert ledger_differences() == []
    call_command("stock_audit", verbosity=0)
    # new rows take ids after the migrated ones, in this month's partition
    movement = stock_receive(product=products[0], location=location, quantity=3)
    assert movement.pk > max(row[0] for row in before[0])
    event = eventlog.emit("test.after_partitioning", payload={})
    assert event.pk > max(row[0] for row in before[1])
    with connection.cursor() as cursor:
        cursor.execute("SELECT tableoid::regclass::text FROM common_domainevent WHERE id = %s", [event.pk])
        assert cursor.fetchone()[0] == partition_name(
            "common_domainevent", timezone.now().date().replace(day=1)
        )
    assert StockLevel.objects.get(product=products[0], location=location).on_hand == 50 - 1 + 7 + 3
    call_command("stock_audit", verbosity=0)


def test_beat_creates_months_ahead_and_moves_old_rows_out_of_the_default_partition():
    old = timezone.now() - dt.timedelta(days=5 * 365)
    event = eventlog.emit("test.old_import", payload={})
    DomainEvent.objects.filter(pk=event.pk).update(created_at=old)
    with connection.cursor() as cursor:
        cursor.execute("SELECT tableoid::regclass::text FROM common_domainevent WHERE id = %s", [event.pk])
        assert cursor.fetchone()[0] == "common_domainevent_default"

    created = partitions_maintain(months_ahead=5)

    month = old.astimezone(dt.UTC).date().replace(day=1)
    assert partition_name("common_domainevent", month) in created["common_domainevent"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT tableoid::regclass::text FROM common_domainevent WHERE id = %s", [event.pk])
        assert cursor.fetchone()[0] == partition_name("common_domainevent", month)
        cursor.execute("SELECT count(*) FROM common_domainevent_default")
        assert cursor.fetchone()[0] == 0
    last = max(p[2] for p in partitions("inventory_stockmovement") if p[2] is not None)
    assert last > timezone.now() + dt.timedelta(days=5 * 28)
    assert partitions_maintain(months_ahead=5) == {}  # nothing left to do: safe to run again


def test_archive_writes_old_months_to_files_and_the_ledger_still_adds_up(tmp_path):
    location = LocationFactory(code="lille")
    products = [ProductFactory(sku=f"ARCH-{i}") for i in range(4)]
    _history(products, location, months=8)
    partitions_maintain()
    on_hand = dict(StockLevel.objects.values_list("product_id", "on_hand"))
    eventlog.progress_skip_to_now()  # every consumer has read the history
    cutoff = _months_ago(3).astimezone(dt.UTC).replace(day=1, hour=0)
    old_movements = StockMovement.objects.filter(created_at__lt=cutoff).count()
    ids_before = list(StockMovement.objects.filter(created_at__lt=cutoff).values_list("pk", flat=True))
    old_events = DomainEvent.objects.filter(created_at__lt=cutoff).count()
    assert old_movements and old_events

    call_command("archive_history", before=f"{cutoff:%Y-%m}", dir=str(tmp_path), verbosity=0)

    assert StockMovement.objects.filter(created_at__lt=cutoff).count() == 0
    assert DomainEvent.objects.filter(created_at__lt=cutoff).count() == 0
    assert all(p[2] is None or p[2] > cutoff for p in partitions("common_domainevent"))
    archived = []
    for path in tmp_path.glob("inventory_stockmovement_p*.csv.gz"):
        with gzip.open(path, "rt", newline="") as handle:
            archived += list(csv.DictReader(handle))
    # every movement of those months is in a file (with the balances carried from one archived month to the
    # next, themselves archived with that month)
    assert len([row for row in archived if row["reason"] != "carried_forward"]) == old_movements
    assert {int(row["id"]) for row in archived} >= set(ids_before)
    assert sum(1 for _ in tmp_path.glob("common_domainevent_p*.csv.gz")) >= 1
    # the ledger kept adds up to the stock on hand: one carried-forward movement stands for each month
    assert dict(StockLevel.objects.values_list("product_id", "on_hand")) == on_hand
    assert StockMovement.objects.filter(reason=StockMovement.Reason.CARRIED_FORWARD).exists()
    assert ledger_differences() == []
    call_command("stock_audit", verbosity=0)


def test_archive_refuses_a_month_with_a_parked_event(tmp_path):
    event = eventlog.emit("test.parked", payload={})
    old = _months_ago(6)
    DomainEvent.objects.filter(pk=event.pk).update(created_at=old)
    partitions_maintain()
    eventlog.progress_skip_to_now()
    ConsumerFailure.objects.create(consumer="orders.notifications", event_id=event.pk, error="boom")
    month = old.astimezone(dt.UTC).date().replace(day=1)
    next_month = (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)

    with pytest.raises(CommandError, match="refused"):
        call_command(
            "archive_history", before=f"{next_month:%Y-%m}", dir=str(tmp_path), only="events", verbosity=0
        )

    assert DomainEvent.objects.filter(pk=event.pk).exists()
    assert partition_name("common_domainevent", month) in {p[0] for p in partitions("common_domainevent")}
