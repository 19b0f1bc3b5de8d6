from celery import shared_task

from shipping import carriers


@shared_task(
    name="orders.return_label",
    queue="documents",
    acks_late=True,
    autoretry_for=(carriers.RetryableCarrierError,),
    retry_backoff=30,
    retry_backoff_max=30 * 60,
    retry_jitter=True,
    max_retries=5,
)
def return_label(return_id: int) -> str:
    """The return label from the carrier (retried with backoff; idempotent: see label_create)."""
    from .services import label_create

    return label_create(return_id=return_id).status
