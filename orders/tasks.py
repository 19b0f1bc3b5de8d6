from celery import shared_task

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


# The payments' task lives with them; importing it here registers it (autodiscovery reads orders.tasks only).
from .payments.tasks import payment_transaction  # noqa: E402, F401
