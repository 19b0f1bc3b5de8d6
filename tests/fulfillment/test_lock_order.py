"""The one lock order (ARCHITECTURE.md), tested where it used to break: real threads on PostgreSQL, started
together by a barrier, each in its own connection. Whatever the interleaving: no deadlock (PostgreSQL would
kill one of them with "deadlock detected"), no unit lost or counted twice, and the stock audit is clean."""

import threading

import pytest
from django.core.management import call_command
from django.db import close_old_connections, connection
from django.utils import translation

from common import eventlog
from fulfillment import services
from fulfillment.models import Preparation, PreparationStatus
from inventory.models import Allocation
from orders.models import Order, OrderStatus
from orders.services.lifecycle import order_cancel
from shipping.models import Shipment
from tests.locking import held_elsewhere
from tests.orders.factories import stock

from .test_flow import _picked

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

TIMEOUT = 60  # seconds: a thread still running after this is stuck


def race(*actions) -> list:
    """Run ``actions`` in threads released together; what each returned or raised, in order."""
    barrier = threading.Barrier(len(actions))
    results: list = [None] * len(actions)

    def run(index, action):
        try:
            barrier.wait()
            with translation.override("en"):
                results[index] = action()
        except Exception as exc:  # noqa: BLE001 - reported to the test
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(actions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT)
    assert not any(t.is_alive() for t in threads), "a thread is stuck: a lock cycle"
    close_old_connections()
    return results


def no_database_error(results):
    for result in results:
        text = str(result).lower()
        assert "deadlock" not in text and "could not serialize" not in text, result


def allocated_everywhere_as_prepared(order):
    """Each location's open preparation holds what the order's stock allocations there hold."""
    held: dict[tuple[int, int], int] = {}
    for a in Allocation.objects.filter(order=order, kind="stock", consumed_at__isnull=True):
        held[(a.location_id, a.line_id)] = held.get((a.location_id, a.line_id), 0) + a.quantity
    prepared: dict[tuple[int, int], int] = {}
    for prep in Preparation.objects.filter(order=order).exclude(status=PreparationStatus.CANCELLED):
        for line in prep.lines.all():
            left = line.quantity - line.packed
            if left:
                prepared[(prep.location_id, line.order_line_id)] = left
    return held == prepared


@pytest.mark.parametrize("round_", range(3))
def test_cancel_while_a_packer_closes_the_parcel(floor, round_):
    # given: an order picked, its unit in the open parcel
    order, prep = _picked(floor, [("MUG", 1), ("SHIRT", 2)])
    services.pack_scan(preparation=prep, code=floor.mug.ean, actor=floor.picker)
    services.pack_scan(preparation=prep, code=floor.shirt.ean, quantity=2, actor=floor.picker)

    # when: customer service cancels while the packer closes the parcel
    results = race(
        lambda: order_cancel(order=Order.objects.get(pk=order.pk), reason="changed mind"),
        lambda: services.parcel_close(preparation=prep, box=None, weight_g=900, actor=floor.picker),
    )

    # then: the cancellation always wins in the end; a parcel closed first is cancelled and its units are
    # back on the shelf, a parcel closed second is refused
    no_database_error(results)
    cancelled, closed = results
    assert isinstance(cancelled, Order), cancelled
    assert isinstance(closed, Shipment) or getattr(closed, "code", None) in ("cancelled", "not_packable"), (
        closed
    )
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert not Shipment.objects.filter(order=order).exclude(status=Shipment.Status.CANCELLED).exists()
    assert not Allocation.objects.filter(order=order).exists()
    for product in (floor.mug, floor.shirt):
        level = floor.level(product)
        assert (level.on_hand, level.reserved) == (20, 0)
    call_command("stock_audit")


def test_re_source_while_a_picker_scans(floor, settings):
    # given: an order of a mug and 3 shirts at lyon, in a wave; the picker picked the mug, then reported 2
    # of the shirts damaged; the consumer that re-sources them (to paris, which has 5) has not run yet
    stock(floor.shirt, floor.paris, 5)
    settings.CELERY_TASK_ALWAYS_EAGER = False  # the consumers run when this test says so
    order = floor.order([("SHIRT", 3), ("MUG", 1)])
    eventlog.consume_all()  # hand-over: the lyon preparation
    wave = services.wave_release(location=floor.lyon)
    services.pick_scan(wave=wave, code=floor.mug.ean, bin_confirmed="B-01-1", actor=floor.picker)
    services.pick_scan(wave=wave, code="A-03-2", actor=floor.picker)
    services.pick_short(
        wave=wave, product_id=floor.shirt.pk, quantity=2, reason="damaged", actor=floor.picker
    )

    def scan_the_last_shirt():
        return services.pick_scan(wave=wave, code=floor.shirt.ean, bin_confirmed="A-03-2", actor=floor.picker)

    # when: the re-sourcing consumer runs while the picker scans the order's last shirt at lyon
    results = race(eventlog.consume_all, scan_the_last_shirt)

    # then: the shirt picked at lyon, the 2 others reserved and to pick at paris, nothing counted twice
    no_database_error(results)
    assert not isinstance(results[1], Exception), results[1]
    eventlog.consume_all()  # what the scan wrote
    placed = sorted(
        Allocation.objects.filter(order=order, line__sku="SHIRT").values_list("location__code", "quantity")
    )
    assert placed == [("lyon", 1), ("paris", 2)]
    assert (
        floor.level(floor.shirt, floor.paris).on_hand,
        floor.level(floor.shirt, floor.paris).reserved,
    ) == (
        5,
        2,
    )
    assert (floor.level(floor.shirt).on_hand, floor.level(floor.shirt).reserved) == (18, 1)
    lyon = Preparation.objects.get(order=order, location=floor.lyon)
    assert sorted((line.sku, line.quantity, line.picked) for line in lyon.lines.all()) == [
        ("MUG", 1, 1),
        ("SHIRT", 1, 1),
    ]
    paris = Preparation.objects.get(order=order, location=floor.paris)
    assert (paris.status, paris.lines.get().quantity) == (PreparationStatus.TO_PICK, 2)
    assert allocated_everywhere_as_prepared(order)
    order.refresh_from_db()
    assert order.status == OrderStatus.IN_PREPARATION
    call_command("stock_audit")


def test_two_pickers_short_picking_the_last_units(floor):
    # given: the last 20 caps at lyon held by two orders of 10, in two waves; paris has 10 more
    first = floor.order([("CAP", 10)])
    second = floor.order([("CAP", 10)])
    assert floor.level(floor.cap).available == 0
    stock(floor.cap, floor.paris, 10)
    waves = [services.wave_release(location=floor.lyon, max_orders=1) for _ in range(2)]
    assert all(waves) and waves[0].pk != waves[1].pk

    def short(wave):
        return lambda: services.pick_short(
            wave=wave, product_id=floor.cap.pk, quantity=10, reason="damaged", actor=floor.picker
        )

    # when: both pickers report their caps damaged at once (each re-sources after its commit)
    results = race(short(waves[0]), short(waves[1]))

    # then: the 20 units written off once each, the 10 at paris went to exactly one of the orders
    no_database_error(results)
    assert not any(isinstance(r, Exception) for r in results), results
    assert (floor.level(floor.cap).on_hand, floor.level(floor.cap).reserved) == (0, 0)
    assert (floor.level(floor.cap, floor.paris).on_hand, floor.level(floor.cap, floor.paris).reserved) == (
        10,
        10,
    )
    held = sorted(
        sum(Allocation.objects.filter(order=o).values_list("quantity", flat=True)) for o in (first, second)
    )
    assert held == [0, 10]
    statuses = sorted(Order.objects.filter(pk__in=[first.pk, second.pk]).values_list("status", flat=True))
    assert statuses == [OrderStatus.ALLOCATED, OrderStatus.AWAITING_STOCK]
    for o in (first, second):
        assert allocated_everywhere_as_prepared(o)
    call_command("stock_audit")


def test_the_lock_helpers_leave_foreign_keys_free(floor):
    """FOR NO KEY UPDATE: while a transaction holds an order, another can still insert rows that point to it
    (where it is handled, its allocations, its notifications: the foreign key check's KEY SHARE lock does
    not wait for the holder, as it would behind FOR UPDATE)."""
    from django.db import transaction
    from django.utils import timezone

    from orders.locks import lock_order
    from orders.models import OrderLocation

    order = floor.order([("MUG", 1)])
    with held_elsewhere(lambda: lock_order(order.pk), timeout=TIMEOUT):
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '2s'")  # a wait would fail the test
                # Django's foreign keys are checked at commit (DEFERRABLE): check now, as the commit would.
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            OrderLocation.objects.create(  # a row pointing to the locked order
                order_id=order.pk, location=floor.paris, status=order.status, created_at=timezone.now()
            )
            transaction.set_rollback(True)
    close_old_connections()
