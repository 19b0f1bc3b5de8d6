from celery import shared_task

from .services import waves_release_due
from .services.jobs import document_job_run


@shared_task(name="fulfillment.release_due_waves", acks_late=True)
def release_due_waves() -> int:
    """Beat, every 5 minutes: release the waves whose carrier cut-off is near."""
    return len(waves_release_due())


@shared_task(
    name="fulfillment.render_document_job",
    queue="documents",
    acks_late=True,
    autoretry_for=(OSError,),
    retry_backoff=True,
    max_retries=3,
)
def render_document_job(job_id: int) -> str:
    return document_job_run(job_id=job_id).status
