"""Celery tasks of the forecast (registered through orders/tasks.py, which Celery discovers)."""

from celery import shared_task

from .models import ForecastRun


@shared_task(name="orders.reports_forecast", acks_late=True, queue="default")
def reports_forecast(run_id: int) -> str | None:
    """Compute every SKU's forecast for the run ``run_id`` (queued by ``forecast_run_start``)."""
    from .services import forecast_run_execute

    run = forecast_run_execute(run_id=run_id)
    return run.status if run else None


@shared_task(name="orders.reports_forecast_nightly", acks_late=True, queue="default")
def reports_forecast_nightly() -> int:
    """Beat, every night: start a run (or leave the running one alone)."""
    from .services import forecast_run_start

    run, _created = forecast_run_start(trigger=ForecastRun.Trigger.NIGHTLY)
    return run.pk
