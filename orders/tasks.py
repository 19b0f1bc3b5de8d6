from celery import shared_task

from .channels import tasks as channel_tasks  # noqa: F401 - registers the connectors' tasks
from .services.idempotency import idempotency_purge


@shared_task(name="orders.purge_idempotency_keys", acks_late=True)
def purge_idempotency_keys() -> int:
    """Forget Idempotency-Key answers older than 24 h (beat, hourly)."""
    return idempotency_purge()


@shared_task(name="orders.flag_uncollected_pickups", acks_late=True)
def flag_uncollected_pickups() -> int:
    """Beat, daily: click & collect orders waiting longer than PICKUP_HOLD_DAYS are flagged."""
    from .services.fulfilment import pickups_flag_uncollected

    return pickups_flag_uncollected()


# The forecast's tasks live with the reports; importing them here registers them (autodiscovery reads
# orders.tasks only).
from .reports.tasks import reports_forecast, reports_forecast_nightly  # noqa: E402, F401
from .returns.tasks import return_label  # noqa: E402, F401 - registers the return label task with workers
