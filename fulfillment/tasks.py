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


@shared_task(name="fulfillment.send_fulfilment_request", acks_late=True)
def send_fulfilment_request(request_id: int) -> str:
    """A preparation of an outsourced location (or its cancellation) to its WMS. A network failure leaves
    the job due: the jobs sweep sends it again."""
    from . import wms
    from .services.outsourced import fulfilment_request_send

    try:
        return fulfilment_request_send(request_id=request_id)
    except wms.WmsUnavailable:
        return "retry"


@shared_task(name="fulfillment.sync_partners", acks_late=True)
def sync_partners() -> int:
    """Beat, every 5 minutes: shipment confirmations and stock snapshots of every 3PL partner."""
    from .services.outsourced import partners_sync_all

    return partners_sync_all()


@shared_task(name="fulfillment.sync_partner", acks_late=True)
def sync_partner(partner_id: int) -> dict | str:
    """A manager's "read now" for one 3PL partner."""
    from . import wms
    from .services.outsourced import partner_sync

    try:
        return partner_sync(partner_id=partner_id)
    except (wms.WmsError, wms.WmsUnavailable):
        return "failed"  # recorded on the partner, shown on its page
