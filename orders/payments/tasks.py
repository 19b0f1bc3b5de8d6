from celery import shared_task

from .providers import ProviderUnavailable


@shared_task(
    name="orders.payment_transaction",
    queue="notifications",
    acks_late=True,
    autoretry_for=(ProviderUnavailable,),
    retry_backoff=10,
    retry_backoff_max=15 * 60,
    retry_jitter=True,
    max_retries=6,
)
def payment_transaction(transaction_id: int) -> str:
    """Capture or refund through the payment service (idempotent: the row's key, and its status)."""
    from .services import payment_transaction_run

    return payment_transaction_run(transaction_id=transaction_id).status
