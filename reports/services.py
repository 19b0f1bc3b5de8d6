"""The forecast run: compute every SKU's forecast in a Celery task and store it (``SalesForecast``).

``forecast_run_start`` records a run (at most one at a time) and queues ``orders.reports_forecast`` once
the transaction commits; ``forecast_run_execute`` (the task's body) reads the daily sales history, forecasts
each SKU (reports/forecast.py), stores the result with its time and reports its progress on the run
row, which the page polls every second.
"""

import datetime as dt
import logging
import math
from collections import defaultdict
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from common import jobs
from inventory.models import Allocation
from orders.models import OrderLine, OrderStatus

from .forecast import forecast_series
from .models import ForecastRun, ReorderPolicy, SalesForecast

logger = logging.getLogger(__name__)

STALE_AFTER = dt.timedelta(minutes=15)  # a run without progress for this long died with its worker
LOCATION_WINDOW_DAYS = 56  # recent weeks that split a SKU's demand between locations
PROGRESS_EVERY = 1  # one small UPDATE per SKU: the progress bar moves with each


def _tz() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def _bounds(first: dt.date, last: dt.date) -> tuple[dt.datetime, dt.datetime]:
    tz = _tz()
    return (
        dt.datetime.combine(first, dt.time.min, tzinfo=tz),
        dt.datetime.combine(last + dt.timedelta(days=1), dt.time.min, tzinfo=tz),
    )


def daily_units(*, first: dt.date, last: dt.date, product_ids=None) -> dict[int, dict[dt.date, int]]:
    """Units sold per product and day (order lines of orders not cancelled, by the order's local date)."""
    start, end = _bounds(first, last)
    lines = OrderLine.objects.filter(order__created_at__gte=start, order__created_at__lt=end).exclude(
        order__status=OrderStatus.CANCELLED
    )
    if product_ids is not None:
        lines = lines.filter(product_id__in=product_ids)
    result: dict[int, dict[dt.date, int]] = defaultdict(dict)
    for row in (
        lines.annotate(day=TruncDate("order__created_at", tzinfo=_tz()))
        .values("product_id", "day")
        .annotate(units=Sum("quantity"))
        .order_by()
    ):
        result[row["product_id"]][row["day"]] = int(row["units"])
    return result


def series(by_day: dict[dt.date, int], *, first: dt.date, last: dt.date) -> list[float]:
    return [float(by_day.get(first + dt.timedelta(days=i), 0)) for i in range((last - first).days + 1)]


def _stdev(values: list[float]) -> float:
    if len(values) < 2:
        return 0.0
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def location_demand(*, last: dt.date, product_ids=None) -> dict[int, dict[str, dict]]:
    """Per product: each location's share of the units allocated over the recent weeks and the standard
    deviation of its daily units (``{"<location id>": {"share", "sigma"}}``)."""
    first = last - dt.timedelta(days=LOCATION_WINDOW_DAYS - 1)
    start, end = _bounds(first, last)
    allocations = Allocation.objects.filter(
        line__order__created_at__gte=start, line__order__created_at__lt=end
    ).exclude(line__order__status=OrderStatus.CANCELLED)
    # By the product that leaves the shelf: a kit's demand is its components' (what is reordered).
    if product_ids is not None:
        allocations = allocations.filter(product_id__in=product_ids)
    per: dict[int, dict[int, dict[dt.date, int]]] = defaultdict(lambda: defaultdict(dict))
    for row in (
        allocations.annotate(day=TruncDate("line__order__created_at", tzinfo=_tz()))
        .values("product_id", "location_id", "day")
        .annotate(units=Sum("quantity"))
        .order_by()
    ):
        per[row["product_id"]][row["location_id"]][row["day"]] = int(row["units"])
    result = {}
    for product_id, by_location in per.items():
        total = sum(sum(days.values()) for days in by_location.values())
        since = min(min(days) for days in by_location.values())  # a new product: from its first sale
        result[product_id] = {
            str(location_id): {
                "share": round(sum(days.values()) / total, 4) if total else 0.0,
                "sigma": round(_stdev(series(days, first=since, last=last)), 4),
            }
            for location_id, days in sorted(by_location.items())
        }
    return result


def forecast_run_start(*, actor=None, trigger: str = ForecastRun.Trigger.MANUAL) -> tuple[ForecastRun, bool]:
    """Start a run, or return the one already running (``created`` False). A run that made no progress
    for ``STALE_AFTER`` is marked failed first (its worker died), so a new one can start."""
    now = timezone.now()
    with transaction.atomic():
        ForecastRun.objects.filter(
            status=ForecastRun.Status.RUNNING, heartbeat_at__lt=now - STALE_AFTER
        ).update(status=ForecastRun.Status.FAILED, finished_at=now, error="No progress: the worker stopped.")
        running = ForecastRun.objects.filter(status=ForecastRun.Status.RUNNING).first()
        if running is not None:
            return running, False
        try:
            with transaction.atomic():
                run = ForecastRun.objects.create(
                    trigger=trigger,
                    requested_by=actor if getattr(actor, "pk", None) else None,
                    heartbeat_at=now,
                )
        except IntegrityError:  # another request started one a moment ago: that run, even if it ended since
            return ForecastRun.objects.order_by("-pk").first(), False

        from .tasks import reports_forecast as reports_forecast_task

        # A run whose message is lost (broker down) makes no progress: the next start marks it failed.
        jobs.enqueue_on_commit(reports_forecast_task, run.pk)
    return run, True


def _store(
    *,
    product_id: int,
    run: ForecastRun,
    history: list[float],
    first: dt.date,
    last: dt.date,
    horizon: int,
    locations: dict,
) -> SalesForecast:
    result = forecast_series(history, horizon=horizon)
    forecast, _created = SalesForecast.objects.update_or_create(
        product_id=product_id,
        defaults={
            "run": run,
            "computed_at": timezone.now(),
            "method": result.method,
            "history_start": first,
            "history_end": last,
            "units_sold": int(sum(history)),
            "forecast_start": last + dt.timedelta(days=1),
            "daily": [round(v, 3) for v in result.daily],
            "mape": None if result.mape is None else round(result.mape, 4),
            "backtest_days": result.backtest_days,
            "sigma": round(result.sigma, 4),
            "locations": locations,
        },
    )
    return forecast


def forecast_run_execute(*, run_id: int, today: dt.date | None = None) -> ForecastRun | None:
    """The task's body. Idempotent: a run that is not running any more is left as it is; running it again
    recomputes the same forecasts. The history ends yesterday (today is not over)."""
    run = ForecastRun.objects.filter(pk=run_id).first()
    if run is None or run.status != ForecastRun.Status.RUNNING:
        return run
    today = today or timezone.localdate()
    last = today - dt.timedelta(days=1)
    first = last - dt.timedelta(days=settings.FORECAST_HISTORY_DAYS - 1)
    horizon = settings.FORECAST_HORIZON_DAYS
    try:
        sales = daily_units(first=first, last=last)
        locations = location_demand(last=last)
        product_ids = sorted(pid for pid, days in sales.items() if sum(days.values()) > 0)
        ForecastRun.objects.filter(pk=run.pk).update(
            total=len(product_ids), done=0, started_at=timezone.now(), heartbeat_at=timezone.now()
        )
        for index, product_id in enumerate(product_ids, start=1):
            by_day = sales[product_id]
            since = min(by_day)  # from the SKU's first sale in the window
            _store(
                product_id=product_id,
                run=run,
                history=series(by_day, first=since, last=last),
                first=since,
                last=last,
                horizon=horizon,
                locations=locations.get(product_id, {}),
            )
            if index % PROGRESS_EVERY == 0 or index == len(product_ids):
                ForecastRun.objects.filter(pk=run.pk).update(done=index, heartbeat_at=timezone.now())
        # SKUs that sold nothing in the whole window have no forecast any more.
        SalesForecast.objects.exclude(product_id__in=product_ids).delete()
        ForecastRun.objects.filter(pk=run.pk).update(
            status=ForecastRun.Status.DONE, finished_at=timezone.now(), heartbeat_at=timezone.now()
        )
    except Exception as exc:
        logger.exception("forecast run %s failed", run.pk)
        ForecastRun.objects.filter(pk=run.pk).update(
            status=ForecastRun.Status.FAILED, finished_at=timezone.now(), error=str(exc)[:2000]
        )
        raise
    run.refresh_from_db()
    return run


# --- Settings (managers) ---------------------------------------------------------------------------------


@transaction.atomic
def reorder_policy_save(*, location, lead_time_days: int, review_days: int) -> ReorderPolicy:
    policy, _created = ReorderPolicy.objects.get_or_create(
        location=location, defaults={"lead_time_days": lead_time_days, "review_days": review_days}
    )
    policy.lead_time_days = lead_time_days
    policy.review_days = review_days
    policy.full_clean()
    policy.save()
    return policy


def reorder_policy_reset(*, location) -> int:
    """Back to the default of the location's kind (settings)."""
    deleted, _per_model = ReorderPolicy.objects.filter(location=location).delete()
    return deleted
