"""Waves, picking, short picks, packing and click & collect through the services, every refusal included."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import close_old_connections, connection
from django.utils import timezone, translation

from fulfillment import services
from fulfillment.models import Parcel, Preparation, PreparationStatus, Wave
from fulfillment.selectors import wave_pick_steps
from inventory.models import Allocation, StockLevel, StockMovement, ean13_check_digit
from orders.models import Order
from orders.services import fulfilment as order_fulfilment
from orders.services.lifecycle import order_cancel
from shipping.models import Shipment
from tests.events import events_of
from tests.locking import held_elsewhere
from tests.orders.factories import stock


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


def refused(exc_info):
    return exc_info.value.code


def pick_all(wave, user):
    """Scan bin then product for every step, the way a picker does."""
    while (step := services.current_step(wave=wave)) is not None:
        if step.bin_code:
            services.pick_scan(wave=wave, code=step.bin_code, actor=user)
        services.pick_scan(
            wave=wave, code=step.ean, quantity=step.left, bin_confirmed=step.bin_code, actor=user
        )


def test_an_allocated_order_is_handed_to_its_location(floor):
    order = floor.order([("SHIRT", 2), ("MUG", 1)])
    prep = Preparation.objects.get(order=order)
    assert order.status == Order.Status.ALLOCATED
    assert (prep.location, prep.status, prep.kind) == (floor.lyon, PreparationStatus.TO_PICK, "ship")
    assert sorted((line.sku, line.quantity, line.bin_code) for line in prep.lines.all()) == [
        ("MUG", 1, "B-01-1"),
        ("SHIRT", 2, "A-03-2"),
    ]


def test_the_preparations_sync_statements_at_intake_and_first_pick(floor):
    """``orders.handover``'s statements (issue 21 point 5): a new preparation at intake, then the move to
    "in preparation", which changes nothing at the location and is passed over."""
    from tests.events import consumer_statements

    with consumer_statements() as intake:
        order = floor.order([("SHIRT", 2), ("MUG", 1)])
    # the order locked, its allocations with its open preparations (one UNION ALL), its planned locations
    # (with their kind); the preparation written (no look for one: none is open, and to pick as written),
    # its products with their bins, its lines
    assert intake["orders.handover order.status_changed"] == 6, intake
    wave = services.wave_release(location=floor.lyon)
    step = services.current_step(wave=wave)
    services.pick_scan(wave=wave, code=step.bin_code, actor=floor.picker)
    with consumer_statements() as picked:
        services.pick_scan(
            wave=wave, code=step.ean, quantity=1, bin_confirmed=step.bin_code, actor=floor.picker
        )
    order.refresh_from_db()
    assert order.status == Order.Status.IN_PREPARATION
    # the order moved by a conditional update (which locks it; nothing read first), its locations, the event
    assert picked["orders.lifecycle preparation.started"] == 3, picked
    # the move to "in preparation" (only ever from "allocated") changes no allocation: not handed over again
    assert "orders.handover order.status_changed" not in picked, picked


def test_waves_take_the_earliest_cutoff_express_first_then_oldest_promise(floor):
    orders = [floor.order([("SHIRT", 1)]) for _ in range(5)]
    preps = {p.order_id: p for p in Preparation.objects.all()}
    today = timezone.localdate()
    from datetime import time

    # two orders for the 12:00 cut-off (one express), the others for 16:00
    Preparation.objects.filter(pk=preps[orders[3].pk].pk).update(cutoff=time(12), ship_by=today)
    Preparation.objects.filter(pk=preps[orders[4].pk].pk).update(cutoff=time(12), ship_by=today, express=True)
    Preparation.objects.exclude(cutoff=time(12)).update(cutoff=time(16), ship_by=today)
    first = services.wave_release(location=floor.lyon, actor=floor.picker)
    members = list(first.preparations.order_by("tote").values_list("order_id", flat=True))
    assert members == [orders[4].pk, orders[3].pk]  # express first
    assert first.cutoff == time(12)
    second = services.wave_release(location=floor.lyon, actor=floor.picker, max_orders=2)
    assert second.preparations.count() == 2 and second.cutoff == time(16)
    third = services.wave_release(location=floor.lyon, actor=floor.picker)
    assert third.preparations.count() == 1
    assert services.wave_release(location=floor.lyon, actor=floor.picker) is None


def test_a_user_cannot_release_waves_elsewhere(floor):
    floor.order([("SHIRT", 1)])
    with pytest.raises(services.WaveError) as exc:
        services.wave_release(location=floor.lyon, actor=floor.seller)
    assert refused(exc) == "other_location"


def test_pick_list_walks_the_aisles_in_the_locations_order(floor):
    floor.order([("SHIRT", 1), ("MUG", 2), ("CAP", 1)])
    wave = services.wave_release(location=floor.lyon)
    # aisle order "B,A": B-01-1 first, then A-01-1, A-03-2
    assert [s.bin_code for s in wave_pick_steps(wave=wave)] == ["B-01-1", "A-01-1", "A-03-2"]


def test_picking_refusals_and_progress(floor):
    order = floor.order([("MUG", 2), ("SHIRT", 1)])
    wave = services.wave_release(location=floor.lyon)
    step = services.current_step(wave=wave)
    assert step.sku == "MUG"
    with pytest.raises(services.PickRefused) as exc:
        services.pick_scan(wave=wave, code=floor.mug.ean, actor=floor.picker)
    assert refused(exc) == "scan_bin_first"
    with pytest.raises(services.PickRefused) as exc:
        services.pick_scan(wave=wave, code=floor.shirt.ean, bin_confirmed="B-01-1", actor=floor.picker)
    assert refused(exc) == "wrong_product"
    assert "Pick MUG from bin B-01-1 first" in str(exc.value)
    with pytest.raises(services.PickRefused) as exc:
        services.pick_scan(wave=wave, code=floor.cap.ean, bin_confirmed="B-01-1", actor=floor.picker)
    assert refused(exc) == "wrong_product"
    assert "not in this wave" in str(exc.value)
    with pytest.raises(services.PickRefused) as exc:
        services.pick_scan(wave=wave, code="NOPE-123", actor=floor.picker)
    assert refused(exc) == "unknown_code"
    with pytest.raises(services.PickRefused) as exc:
        services.pick_scan(
            wave=wave, code=floor.mug.ean, quantity=3, bin_confirmed="B-01-1", actor=floor.picker
        )
    assert refused(exc) == "over_pick"
    with pytest.raises(services.PickRefused) as exc:
        services.pick_scan(wave=wave, code="B-01-1", actor=floor.seller)
    assert refused(exc) == "other_location"

    outcome = services.pick_scan(wave=wave, code="b-01-1", actor=floor.picker)
    assert outcome.kind == "bin"
    outcome = services.pick_scan(wave=wave, code=floor.mug.ean, bin_confirmed="B-01-1", actor=floor.picker)
    assert outcome.kind == "pick" and outcome.totes == [(1, order.number, 1)]
    order.refresh_from_db()
    assert order.status == Order.Status.IN_PREPARATION  # first unit picked
    assert Wave.objects.get(pk=wave.pk).status == Wave.Status.PICKING
    # the SKU works as well as the EAN, and a quantity can be typed
    services.pick_scan(wave=wave, code="mug", bin_confirmed="B-01-1", actor=floor.picker)
    services.pick_scan(wave=wave, code="A-03-2", actor=floor.picker)
    outcome = services.pick_scan(wave=wave, code=floor.shirt.ean, bin_confirmed="A-03-2", actor=floor.picker)
    assert outcome.wave_done
    prep = Preparation.objects.get(order=order)
    assert prep.status == PreparationStatus.TO_PACK
    assert events_of(order, "preparation.picked", location_code="lyon").exists()
    with pytest.raises(services.PickRefused) as exc:
        services.pick_scan(wave=wave, code="A-03-2", actor=floor.picker)
    assert refused(exc) == "wave_closed"


def test_undo_last_pick(floor):
    floor.order([("MUG", 2)])
    wave = services.wave_release(location=floor.lyon)
    services.pick_scan(wave=wave, code=floor.mug.ean, bin_confirmed="B-01-1", actor=floor.picker)
    services.pick_undo(wave=wave, actor=floor.picker)
    assert services.current_step(wave=wave).left == 2
    with pytest.raises(services.PickRefused) as exc:
        services.pick_undo(wave=wave, actor=floor.picker)
    assert refused(exc) == "nothing_to_undo"


def test_short_pick_writes_off_and_resources_at_another_location(floor):
    stock(floor.shirt, floor.paris, 5)
    order = floor.order([("SHIRT", 3), ("MUG", 1)])
    wave = services.wave_release(location=floor.lyon)
    with pytest.raises(services.PickRefused) as exc:
        services.pick_scan(wave=wave, code="A-03-2", actor=floor.picker)
    assert refused(exc) == "wrong_bin"  # the walk starts in aisle B
    services.pick_scan(wave=wave, code=floor.mug.ean, bin_confirmed="B-01-1", actor=floor.picker)
    services.pick_scan(wave=wave, code="A-03-2", actor=floor.picker)
    services.pick_scan(wave=wave, code=floor.shirt.ean, bin_confirmed="A-03-2", actor=floor.picker)
    with pytest.raises(services.PickRefused) as exc:
        services.pick_short(
            wave=wave, product_id=floor.shirt.pk, quantity=3, reason="missing", actor=floor.picker
        )
    assert refused(exc) == "invalid_quantity"  # only 2 are left to pick
    with pytest.raises(services.PickRefused):
        services.pick_short(
            wave=wave, product_id=floor.shirt.pk, quantity=1, reason="lazy", actor=floor.picker
        )
    services.pick_short(
        wave=wave, product_id=floor.shirt.pk, quantity=2, reason="damaged", actor=floor.picker
    )

    level = floor.level(floor.shirt)
    assert (level.on_hand, level.reserved) == (18, 1)  # 2 written off, the picked unit still reserved
    movement = StockMovement.objects.filter(product=floor.shirt, location=floor.lyon).order_by("-pk").first()
    assert (movement.delta, movement.reason_code, movement.reference) == (-2, "damaged", order.number)
    allocations = sorted(
        Allocation.objects.filter(line__order=order, line__sku="SHIRT").values_list(
            "location__code", "quantity"
        )
    )
    assert allocations == [("lyon", 1), ("paris", 2)]
    assert floor.level(floor.shirt, floor.paris).reserved == 2
    event = events_of(order, "order.resourced").get()
    placed = [(p["location"], p["quantity"], p["kind"]) for p in event.payload["placed"]]
    assert placed == [("paris", 2, "stock")]
    lyon_prep = Preparation.objects.get(order=order, location=floor.lyon)
    assert lyon_prep.lines.get(sku="SHIRT").quantity == 1
    paris_prep = Preparation.objects.get(order=order, location=floor.paris)
    assert paris_prep.status == PreparationStatus.TO_PICK and paris_prep.lines.get().quantity == 2


def test_short_pick_without_stock_anywhere_waits_for_stock(floor):
    order = floor.order([("CAP", 1)])
    wave = services.wave_release(location=floor.lyon)
    services.pick_short(wave=wave, product_id=floor.cap.pk, quantity=1, reason="missing", actor=floor.picker)
    order.refresh_from_db()
    assert order.status == Order.Status.AWAITING_STOCK
    assert events_of(order, "order.resourced").get().payload["unallocated"] == 1
    assert Preparation.objects.get(order=order).status == PreparationStatus.CANCELLED
    assert Wave.objects.get(pk=wave.pk).status == Wave.Status.DONE


def _picked(floor, lines):
    order = floor.order(lines)
    wave = services.wave_release(location=floor.lyon)
    pick_all(wave, floor.picker)
    return order, Preparation.objects.get(order=order, location=floor.lyon)


def test_pack_lookup_by_order_or_tote_and_refusals(floor):
    order, prep = _picked(floor, [("MUG", 1)])
    assert services.pack_lookup(code=order.number.lower(), user=floor.picker) == prep
    assert services.pack_lookup(code=prep.tote_code, user=floor.picker) == prep
    with pytest.raises(services.PackRefused) as exc:
        services.pack_lookup(code=order.number, user=floor.seller)
    assert refused(exc) == "other_location"
    with pytest.raises(services.PackRefused) as exc:
        services.pack_lookup(code="CMD-NOPE", user=floor.picker)
    assert refused(exc) == "not_found"
    other = floor.order([("SHIRT", 1)])
    with pytest.raises(services.PackRefused) as exc:
        services.pack_lookup(code=other.number, user=floor.picker)
    assert refused(exc) == "not_picked"


def test_pack_into_two_parcels_consumes_the_stock(floor):
    order, prep = _picked(floor, [("MUG", 2), ("SHIRT", 1)])
    with pytest.raises(services.PackRefused) as exc:
        services.pack_scan(preparation=prep, code=floor.cap.ean, actor=floor.picker)
    assert refused(exc) == "not_in_order"
    with pytest.raises(services.PackRefused) as exc:
        services.parcel_close(preparation=prep, box=None, weight_g=500, actor=floor.picker)
    assert refused(exc) == "already_closed"  # nothing open yet
    services.pack_scan(preparation=prep, code=floor.mug.ean, actor=floor.picker)
    services.pack_scan(preparation=prep, code=floor.mug.ean, actor=floor.picker)
    with pytest.raises(services.PackRefused) as exc:
        services.pack_scan(preparation=prep, code=floor.mug.ean, actor=floor.picker)
    assert refused(exc) == "over_pack"
    with pytest.raises(services.PackRefused) as exc:
        services.parcel_close(preparation=prep, box=None, weight_g=0, actor=floor.picker)
    assert refused(exc) == "invalid_weight"
    first = services.parcel_close(preparation=prep, box=None, weight_g=850, actor=floor.picker)
    assert first.lines.get().quantity == 2 and first.status == Shipment.Status.CREATED
    level = floor.level(floor.mug)
    assert (level.on_hand, level.reserved) == (18, 0)
    assert Allocation.objects.get(line__order=order, line__sku="MUG").consumed_at is not None
    prep.refresh_from_db()
    assert prep.status == PreparationStatus.TO_PACK
    services.pack_scan(preparation=prep, code="shirt", actor=floor.picker)
    second = services.parcel_close(preparation=prep, box=None, weight_g=None, actor=floor.picker)
    assert second.weight_g == 200  # estimated from the units
    prep.refresh_from_db()
    assert prep.status == PreparationStatus.PACKED
    assert events_of(order, "parcel.closed").count() == 2
    with pytest.raises(services.PackRefused) as exc:
        services.parcel_close(preparation=prep, box=None, weight_g=100, actor=floor.picker)
    assert refused(exc) == "already_packed"


def test_pack_undo_takes_the_last_unit_out(floor):
    _order, prep = _picked(floor, [("MUG", 2)])
    services.pack_scan(preparation=prep, code=floor.mug.ean, actor=floor.picker)
    services.pack_undo(preparation=prep, actor=floor.picker)
    assert not Parcel.objects.filter(preparation=prep).exists()
    assert prep.lines.get().packed == 0


def test_cancel_after_packing_puts_units_back(floor):
    order, prep = _picked(floor, [("MUG", 1)])
    services.pack_scan(preparation=prep, code=floor.mug.ean, actor=floor.picker)
    shipment = services.parcel_close(preparation=prep, box=None, weight_g=450, actor=floor.picker)
    assert floor.level(floor.mug).on_hand == 19
    order_cancel(order=order, reason="customer changed mind")
    assert floor.level(floor.mug).on_hand == 20
    shipment.refresh_from_db()
    assert shipment.status == Shipment.Status.CANCELLED
    assert Preparation.objects.get(pk=prep.pk).status == PreparationStatus.CANCELLED


def test_cancel_before_picking_removes_the_work(floor):
    order = floor.order([("MUG", 1)])
    wave = services.wave_release(location=floor.lyon)
    order_cancel(order=order, reason="fraud")
    assert services.current_step(wave=wave) is None
    assert floor.level(floor.mug).reserved == 0


def _store_order(floor):
    stock(floor.cap, floor.paris, 3)
    return floor.order([("CAP", 1)], delivery={"mode": "store", "store": "paris"})


def test_click_and_collect_prepared_at_the_store_and_handed_over(floor):
    order = _store_order(floor)
    prep = Preparation.objects.get(order=order)
    assert (prep.location, prep.kind, prep.pickup_code) == (floor.paris, "pickup", order.pickup_code)
    with pytest.raises(services.PickupRefused) as exc:
        services.pickup_mark_ready(preparation=prep, actor=floor.seller)
    assert refused(exc) == "not_picked"
    wave = services.wave_pick_single(preparation=prep, actor=floor.seller)
    pick_all(wave, floor.seller)
    with pytest.raises(services.PickupRefused) as exc:
        services.pickup_mark_ready(preparation=prep, actor=floor.picker)
    assert refused(exc) == "other_location"
    services.pickup_mark_ready(preparation=prep, actor=floor.seller)
    order.refresh_from_db()
    assert order.status == Order.Status.READY_FOR_PICKUP
    wrong = "ZZZZZZ" if order.pickup_code != "ZZZZZZ" else "YYYYYY"
    with pytest.raises(order_fulfilment.PickupRefused) as exc:
        order_fulfilment.order_hand_over(order=order, location=floor.paris, code=wrong, actor=floor.seller)
    assert refused(exc) == "wrong_code"
    with pytest.raises(order_fulfilment.PickupRefused) as exc:
        order_fulfilment.order_hand_over(order=order, location=floor.paris, actor=floor.seller)
    assert refused(exc) == "code_required"
    order_fulfilment.order_hand_over(
        order=order, location=floor.paris, code=order.pickup_code.lower(), actor=floor.seller
    )
    order.refresh_from_db()
    assert order.status == Order.Status.DELIVERED
    level = floor.level(floor.cap, floor.paris)
    assert (level.on_hand, level.reserved) == (2, 0)
    assert Preparation.objects.get(pk=prep.pk).status == PreparationStatus.COLLECTED


def test_uncollected_orders_are_flagged_then_returned_to_stock(floor, settings):
    settings.PICKUP_HOLD_DAYS = 3
    order = _store_order(floor)
    prep = Preparation.objects.get(order=order)
    pick_all(services.wave_pick_single(preparation=prep, actor=floor.seller), floor.seller)
    services.pickup_mark_ready(preparation=prep, actor=floor.seller)
    assert order_fulfilment.pickups_flag_uncollected() == 0
    Preparation.objects.filter(pk=prep.pk).update(ready_at=timezone.now() - timedelta(days=4))
    assert order_fulfilment.pickups_flag_uncollected() == 1
    assert events_of(order, "order.not_collected").exists()
    assert order_fulfilment.pickups_flag_uncollected() == 0  # flagged once
    order_fulfilment.order_return_uncollected(order=order, location=floor.paris, actor=floor.seller)
    order.refresh_from_db()
    assert order.status == Order.Status.RETURNED
    assert floor.level(floor.cap, floor.paris).reserved == 0


def test_automatic_release_before_the_cutoff(floor, settings):
    from datetime import datetime, time

    floor.order([("MUG", 1)])
    floor.order([("SHIRT", 1)])
    today = timezone.localdate()
    Preparation.objects.update(cutoff=time(15), ship_by=today)
    tz = timezone.get_default_timezone()
    early = datetime.combine(today, time(11), tz)
    assert services.waves_release_due(now=early) == []  # 4 h before: not yet (2 h lead time)
    waves = services.waves_release_due(now=datetime.combine(today, time(13, 30), tz))
    assert len(waves) == 1 and waves[0].preparations.count() == 2


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_packers_closing_the_same_order_make_one_parcel(floor):
    _order, prep = _picked(floor, [("MUG", 1)])
    services.pack_scan(preparation=prep, code=floor.mug.ean, actor=floor.picker)
    barrier = threading.Barrier(2)
    results = []

    def close():
        try:
            barrier.wait()
            with translation.override("en"):
                results.append(
                    services.parcel_close(preparation=prep, box=None, weight_g=450, actor=floor.picker)
                )
        except services.PackRefused as exc:
            results.append(exc.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=close) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    close_old_connections()
    codes = [r for r in results if isinstance(r, str)]
    assert len(results) == 2 and len(codes) == 1 and codes[0] in ("already_closed", "already_packed")
    assert Shipment.objects.filter(order_id=prep.order_id).count() == 1
    assert floor.level(floor.mug).on_hand == 19


def test_a_product_whose_ean_changed_since_the_order_is_taken_by_either_code(floor):
    """The floor's screens match a scan against the SKU and EAN copied on the preparation's lines before
    reading the catalogue: the label on the shelf (the EAN the order came in with) and the catalogue's new
    EAN both name the product; a code neither has is still looked up."""
    order = floor.order([("MUG", 2)])
    old_ean = floor.mug.ean
    new_ean = "400638133393" + str(ean13_check_digit("400638133393"))
    assert new_ean != old_ean
    floor.mug.ean = new_ean
    floor.mug.save(update_fields=["ean"])
    wave = services.wave_release(location=floor.lyon)
    services.pick_scan(wave=wave, code="B-01-1", actor=floor.picker)
    first = services.pick_scan(wave=wave, code=old_ean, bin_confirmed="B-01-1", actor=floor.picker)
    second = services.pick_scan(wave=wave, code=new_ean, bin_confirmed="B-01-1", actor=floor.picker)
    assert (first.kind, second.kind, second.wave_done) == ("pick", "pick", True)
    prep = Preparation.objects.get(order=order)
    services.pack_scan(preparation=prep, code=new_ean, actor=floor.picker)
    services.pack_scan(preparation=prep, code=old_ean, actor=floor.picker)
    assert prep.lines.get().packed == 2
    with pytest.raises(services.PackRefused) as exc:
        services.pack_scan(preparation=prep, code=floor.cap.ean, actor=floor.picker)
    assert refused(exc) == "not_in_order" and "CAP is not in order" in str(exc.value)


def test_a_product_without_a_bin_is_picked_without_a_bin_scan(floor):
    StockLevel.objects.filter(product=floor.cap, location=floor.lyon).update(bin_code="")
    order = floor.order([("CAP", 1)])
    wave = services.wave_release(location=floor.lyon)
    assert services.current_step(wave=wave).bin_code == ""
    outcome = services.pick_scan(wave=wave, code=floor.cap.ean, actor=floor.picker)
    assert (outcome.kind, outcome.totes, outcome.wave_done) == ("pick", [(1, order.number, 1)], True)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_bin_scan_neither_waits_for_nor_takes_the_waves_lock(floor):
    """A scan before the bin is confirmed writes nothing: it is answered from reads, without a transaction
    or a row lock, while another scan of the wave holds it; the product scan that follows waits for it."""
    floor.order([("MUG", 1)])
    wave = services.wave_release(location=floor.lyon)
    with held_elsewhere(lambda: Wave.objects.select_for_update().get(pk=wave.pk)) as holder:
        started = time.monotonic()
        outcome = services.pick_scan(wave=wave, code="B-01-1", actor=floor.picker)
        assert outcome.kind == "bin" and time.monotonic() - started < 5
        assert holder.is_alive()  # answered while the wave was still locked
        picked = []

        def pick():
            try:
                picked.append(
                    services.pick_scan(
                        wave=wave, code=floor.mug.ean, bin_confirmed="B-01-1", actor=floor.picker
                    )
                )
            finally:
                connection.close()

        scan = threading.Thread(target=pick)
        scan.start()
        scan.join(1)
        assert scan.is_alive() and not picked  # the product scan waits for the wave's lock
    scan.join(10)
    assert [p.kind for p in picked] == ["pick"]
