"""The forecast: maths on synthetic series (trend + weekly season, short, sparse), the stored run, the
reorder suggestions."""

import datetime as dt
import math
import random
from decimal import Decimal

import pytest
from django.utils import timezone

from inventory.models import IncomingStock
from orders.models import Order
from reports import forecast as fc
from reports.models import ForecastRun, ReorderPolicy, SalesForecast
from reports.reorder import reorder_suggestions, z_score
from reports.services import forecast_run_execute, forecast_run_start
from reports.tasks import reports_forecast_nightly
from tests.inventory.factories import ProductFactory
from tests.orders.factories import OrderFactory, stock

WEEK = (0.7, 0.8, 0.9, 1.0, 1.2, 1.6, 0.8)  # a weekly season: Saturday peak


def seasonal(day: int) -> float:
    return (20 + 0.1 * day) * WEEK[day % 7]


def test_holt_winters_follows_trend_and_weekly_season():
    rng = random.Random(7)
    history = [seasonal(t) + rng.gauss(0, 0.5) for t in range(16 * 7)]
    result = fc.forecast_series(history, horizon=28)
    assert result.method == fc.HOLT_WINTERS
    assert len(result.daily) == 28
    truth = [seasonal(t) for t in range(len(history), len(history) + 28)]
    for predicted, expected in zip(result.daily[:14], truth[:14], strict=True):
        assert predicted == pytest.approx(expected, rel=0.06)
    # The weekly shape: the forecast's Saturday peaks and Monday troughs fall on the right days.
    first_week = result.daily[:7]
    assert first_week.index(max(first_week)) == truth[:7].index(max(truth[:7]))
    assert first_week.index(min(first_week)) == truth[:7].index(min(truth[:7]))
    # and the trend: the fourth week sells more than the first.
    assert sum(result.daily[21:28]) > sum(result.daily[:7])
    assert result.backtest_days == 14
    assert result.mape is not None and result.mape < 0.03
    assert 0.3 < result.sigma < 1.0  # the noise we added (σ = 0.5)


def test_short_history_uses_the_moving_average():
    history = [3, 5, 4, 6, 2, 4, 5, 3, 6, 4, 5, 3, 4, 6, 5, 4, 3, 5, 6, 4]  # 20 days
    result = fc.forecast_series(history, horizon=14)
    assert result.method == fc.MOVING_AVERAGE
    assert result.daily == [pytest.approx(sum(history) / 20)] * 14
    # Backtest: the last 7 days held out, forecast by the mean of the 13 before.
    assert result.backtest_days == 7
    mean = sum(history[:13]) / 13
    assert result.mape == pytest.approx(abs(sum(history[13:]) - 7 * mean) / sum(history[13:]))


def test_moving_average_window_is_the_last_four_weeks():
    history = [100.0] * 10 + [2.0] * 28
    result = fc.forecast_series(history, horizon=7)
    assert result.method == fc.MOVING_AVERAGE  # 38 days: not enough for the seasonal model
    assert result.daily == [2.0] * 7
    assert result.sigma == 0.0


def test_sparse_sales_use_the_moving_average_even_with_a_long_history():
    history = [0.0] * 120
    for day in range(0, 120, 5):
        history[day] = 2.0
    result = fc.forecast_series(history, horizon=7)
    assert result.method == fc.MOVING_AVERAGE
    assert sum(result.daily) == pytest.approx(7 * sum(history[-28:]) / 28)


def test_no_sales():
    result = fc.forecast_series([0, 0, 0], horizon=5)
    assert (result.method, result.daily, result.mape) == (fc.NO_SALES, [0.0] * 5, None)


def test_mape_is_on_weekly_totals_of_weeks_with_sales():
    actual = [1, 1, 1, 1, 1, 1, 4] + [0] * 7 + [5, 5, 0, 0, 0, 0, 0]
    predicted = [1] * 7 + [1] * 7 + [1] * 7
    # week 1: 10 vs 7 → 30 %; week 2: no sales → skipped; week 3: 10 vs 7 → 30 %.
    assert fc.mape(actual, predicted) == pytest.approx(0.3)
    assert fc.mape([0] * 7, [1] * 7) is None


# --- The stored run -----------------------------------------------------------------------------------


@pytest.fixture
def history(db, warehouse, other_warehouse):
    """Eight weeks of daily orders of SKU "WEEKLY" (Saturday peak), 3 units in 4 at lyon; a cancelled
    order and one of today (not a full day yet) that the forecast must not read."""
    product = ProductFactory(sku="WEEKLY")
    today = timezone.localdate()
    for back in range(56, 0, -1):
        day = today - dt.timedelta(days=back)
        units = round(10 * WEEK[day.weekday()])
        location = other_warehouse if back % 4 == 0 else warehouse
        order = OrderFactory(lines=[(product, units, location)])
        created = timezone.make_aware(dt.datetime.combine(day, dt.time(11)))
        Order.objects.filter(pk=order.pk).update(created_at=created)
    cancelled = OrderFactory(status=Order.Status.CANCELLED, lines=[(product, 500, warehouse)])
    Order.objects.filter(pk=cancelled.pk).update(
        created_at=timezone.make_aware(dt.datetime.combine(today - dt.timedelta(days=3), dt.time(11)))
    )
    OrderFactory(lines=[(product, 300, warehouse)])  # today
    return product


def test_run_computes_and_stores_each_sku(
    history, warehouse, other_warehouse, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        run, created = forecast_run_start()
    assert created
    run.refresh_from_db()
    assert (run.status, run.total, run.done, run.percent) == ("done", 1, 1, 100)
    forecast = SalesForecast.objects.get(product=history)
    today = timezone.localdate()
    assert forecast.method == "holt_winters"
    assert forecast.history_end == today - dt.timedelta(days=1)
    assert forecast.history_days == 56
    assert forecast.forecast_start == today
    assert forecast.units_sold == sum(
        round(10 * WEEK[(today - dt.timedelta(days=b)).weekday()]) for b in range(1, 57)
    )
    assert len(forecast.daily) == 28
    # The exact weekly pattern comes back: each day's forecast within half a unit.
    for offset, value in enumerate(forecast.daily[:14]):
        assert value == pytest.approx(10 * WEEK[(today + dt.timedelta(days=offset)).weekday()], abs=0.5)
    assert forecast.mape is not None and forecast.mape < 0.02
    shares = {int(k): v["share"] for k, v in forecast.locations.items()}
    assert set(shares) == {warehouse.pk, other_warehouse.pk}
    assert shares[warehouse.pk] + shares[other_warehouse.pk] == pytest.approx(1.0)
    assert shares[warehouse.pk] > 0.6


def test_a_second_start_while_running_returns_the_running_run(db):
    first, created = forecast_run_start()
    second, created_again = forecast_run_start()
    assert created and not created_again
    assert second.pk == first.pk
    assert ForecastRun.objects.count() == 1


def test_a_stale_run_is_failed_and_a_new_one_starts(db):
    stale = ForecastRun.objects.create(heartbeat_at=timezone.now() - dt.timedelta(hours=1))
    run, created = forecast_run_start()
    stale.refresh_from_db()
    assert created and run.pk != stale.pk
    assert stale.status == "failed" and stale.error


def test_executing_a_finished_run_again_changes_nothing(history):
    run = ForecastRun.objects.create(heartbeat_at=timezone.now())
    forecast_run_execute(run_id=run.pk)
    computed_at = SalesForecast.objects.get().computed_at
    assert forecast_run_execute(run_id=run.pk).status == "done"
    assert SalesForecast.objects.get().computed_at == computed_at


def test_skus_without_sales_lose_their_forecast(history):
    old = ProductFactory(sku="GONE")
    SalesForecast.objects.create(
        product=old,
        computed_at=timezone.now(),
        method="moving_average",
        history_start=dt.date(2020, 1, 1),
        history_end=dt.date(2020, 2, 1),
        units_sold=3,
        forecast_start=dt.date(2020, 2, 2),
    )
    run = ForecastRun.objects.create(heartbeat_at=timezone.now())
    forecast_run_execute(run_id=run.pk)
    assert list(SalesForecast.objects.values_list("product__sku", flat=True)) == ["WEEKLY"]


def test_nightly_task_starts_a_run(db, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        run_id = reports_forecast_nightly.delay().get()
    run = ForecastRun.objects.get(pk=run_id)
    assert (run.trigger, run.status) == ("nightly", "done")


def test_a_failing_run_is_marked_failed(history, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("statsmodels exploded")

    monkeypatch.setattr("reports.services.forecast_series", boom)
    run = ForecastRun.objects.create(heartbeat_at=timezone.now())
    with pytest.raises(RuntimeError):
        forecast_run_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == "failed"
    assert "statsmodels exploded" in run.error
    assert not ForecastRun.objects.filter(status="running").exists()


# --- Reorder suggestions ------------------------------------------------------------------------------


@pytest.fixture
def stored(db, warehouse, other_warehouse):
    product = ProductFactory(sku="REORDER-1", price=Decimal("9.90"))
    stock(product, warehouse, 30)
    stock(product, other_warehouse, 100)
    IncomingStock.objects.create(
        product=product, location=warehouse, quantity=10, expected_on=dt.date(2030, 1, 1)
    )
    IncomingStock.objects.create(
        product=product, location=warehouse, quantity=50, expected_on=dt.date(2030, 1, 1), status="cancelled"
    )
    from inventory.models import StockLevel

    StockLevel.objects.filter(product=product, location=warehouse).update(reserved=5)
    return SalesForecast.objects.create(
        product=product,
        computed_at=timezone.now(),
        method="holt_winters",
        history_start=dt.date(2026, 1, 1),
        history_end=dt.date(2026, 3, 1),
        units_sold=600,
        forecast_start=dt.date(2026, 3, 2),
        daily=[10.0] * 28,
        mape=0.12,
        locations={
            str(warehouse.pk): {"share": 0.6, "sigma": 2.0},
            str(other_warehouse.pk): {"share": 0.4, "sigma": 1.0},
        },
    )


def test_z_score():
    assert z_score(0.95) == pytest.approx(1.6449, abs=1e-4)
    with pytest.raises(ValueError):
        z_score(1.0)


def test_reorder_point_and_quantity(stored, settings):
    settings.REORDER_LEAD_TIME_DAYS = {"warehouse": 10, "store": 3}
    settings.REORDER_REVIEW_DAYS = 7
    lines = reorder_suggestions(service_level=0.95, only_reorder=False)
    by_location = {line.location_code: line for line in lines}
    lyon = by_location["lyon"]
    safety = z_score(0.95) * 2.0 * math.sqrt(10)  # 10.40
    assert lyon.daily_demand == pytest.approx(6.0)
    assert lyon.lead_time_demand == pytest.approx(60.0)
    assert lyon.safety_stock == pytest.approx(safety)
    assert lyon.reorder_point == math.ceil(60 + safety)  # 71
    assert lyon.order_up_to == math.ceil(60 + safety + 6 * 7)  # 113
    assert (lyon.on_hand, lyon.reserved, lyon.available, lyon.incoming, lyon.position) == (30, 5, 25, 10, 35)
    assert lyon.days_of_cover == pytest.approx(25 / 6)
    assert lyon.suggested == 113 - 35
    lille = by_location["lille"]
    assert lille.reorder_point == math.ceil(40 + z_score(0.95) * math.sqrt(10))  # 46
    assert lille.suggested == 0  # 100 on hand
    # Lines to reorder only: lyon.
    assert [line.location_code for line in reorder_suggestions(service_level=0.95)] == ["lyon"]


def test_a_location_policy_overrides_the_default_lead_time(stored, other_warehouse, settings):
    settings.REORDER_LEAD_TIME_DAYS = {"warehouse": 10, "store": 3}
    ReorderPolicy.objects.create(location=other_warehouse, lead_time_days=40, review_days=14)
    lille = next(
        line
        for line in reorder_suggestions(service_level=0.99, only_reorder=False)
        if line.location_code == "lille"
    )
    # 40 days: 28 forecast days (280) + 12 days at the mean (120) → 400 × 0.4 = 160.
    assert lille.lead_time_demand == pytest.approx(160.0)
    assert lille.reorder_point == math.ceil(160 + z_score(0.99) * 1.0 * math.sqrt(40))
    assert lille.suggested == lille.order_up_to - 100
    assert lille.order_up_to == math.ceil(160 + z_score(0.99) * math.sqrt(40) + 4 * 14)


def test_higher_service_level_orders_more(stored):
    low = reorder_suggestions(service_level=0.90)[0]
    high = reorder_suggestions(service_level=0.99)[0]
    assert high.safety_stock > low.safety_stock
    assert high.suggested > low.suggested


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_recomputes_start_a_single_run(monkeypatch):
    import threading

    from django.db import connection

    monkeypatch.setattr("reports.tasks.reports_forecast.delay", lambda run_id: None)
    barrier = threading.Barrier(4)
    results = []

    def click():
        try:
            barrier.wait()
            results.append(forecast_run_start())
        finally:
            connection.close()

    threads = [threading.Thread(target=click) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert ForecastRun.objects.count() == 1
    assert sorted(created for _run, created in results) == [False, False, False, True]
    assert {run.pk for run, _created in results} == {ForecastRun.objects.get().pk}


@pytest.mark.django_db
def test_a_start_that_lost_the_race_to_a_run_which_has_ended_since_returns_that_run(monkeypatch):
    """Two clicks: the other request's run held the "one running" constraint when this one inserted, and
    its worker finished it before this one looked (tasks run eagerly after commit): that run is the answer,
    not a crash for want of a running one."""
    from django.db import IntegrityError

    other = ForecastRun.objects.create(heartbeat_at=timezone.now())
    ForecastRun.objects.filter(pk=other.pk).update(status=ForecastRun.Status.DONE, finished_at=timezone.now())

    def insert_lost(**kwargs):
        raise IntegrityError('duplicate key value violates unique constraint "forecastrun_one_running"')

    monkeypatch.setattr(ForecastRun.objects, "create", insert_lost)
    run, created = forecast_run_start()
    assert (run.pk, created) == (other.pk, False)
