from celery import shared_task

from .services.idempotency import idempotency_purge


@shared_task(name="orders.purge_idempotency_keys", acks_late=True)
def purge_idempotency_keys() -> int:
    """Forget Idempotency-Key answers older than 24 h (beat, hourly)."""
    return idempotency_purge()

# The forecast's tasks live with the reports; importing them here registers them (autodiscovery reads
# orders.tasks only).
from .reports.tasks import reports_forecast, reports_forecast_nightly  # noqa: E402, F401
