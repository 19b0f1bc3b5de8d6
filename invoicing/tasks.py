"""Celery tasks of the invoicing app: thin, idempotent, each a call into a service."""

import logging
import smtplib

from celery import shared_task
from celery.signals import worker_init, worker_process_init

logger = logging.getLogger(__name__)

DOCUMENTS_QUEUE = "documents"
_renders_here = False


def _consumes_documents(worker) -> bool:
    queues = getattr(getattr(getattr(worker, "app", None), "amqp", None), "queues", None)
    if queues is None:
        return False
    return DOCUMENTS_QUEUE in queues.consume_from


@worker_init.connect
def _preload_the_renderer(sender=None, **kwargs) -> None:
    """A worker of the documents queue loads WeasyPrint, factur-x, the schema and the templates once, before
    its pool forks (render.preload): each pool process paid ~2 s of CPU for them with its first PDF, and
    again whenever the pool replaced it. Other workers load none of it."""
    global _renders_here
    if _consumes_documents(sender):
        from .services.render import preload

        preload()
        _renders_here = True


@worker_process_init.connect
def _prepare_the_rendering_process(**kwargs) -> None:
    """In each pool process of such a worker: its own stylesheet and fonts, before its first PDF."""
    if _renders_here:
        from .services.render import preload_process

        preload_process()


@shared_task(
    name="invoicing.render_document",
    queue="documents",
    acks_late=True,
    autoretry_for=(OSError,),
    retry_backoff=5,
    retry_backoff_max=300,
    max_retries=5,
)
def render_document(document_id: int) -> str:
    """Render a document's Factur-X PDF and XML (nothing happens if it already is)."""
    from .services.render import document_render

    return document_render(document_id=document_id).status


@shared_task(
    bind=True,
    name="invoicing.send_document",
    queue="notifications",
    acks_late=True,
    max_retries=6,
    soft_time_limit=60,
    time_limit=90,
)
def send_document(self, delivery_id: int) -> str:
    """Email a document to the customer, retrying network errors with exponential backoff."""
    from .services.delivery import delivery_failed, delivery_send

    try:
        return delivery_send(delivery_id=delivery_id).status
    except (smtplib.SMTPException, OSError, TimeoutError) as exc:
        if self.request.retries >= self.max_retries:
            delivery_failed(delivery_id=delivery_id, error=f"{type(exc).__name__}: {exc}")
            raise
        raise self.retry(exc=exc, countdown=min(600, 10 * 2**self.request.retries)) from exc


@shared_task(name="invoicing.build_export", queue="documents", acks_late=True, soft_time_limit=1800)
def build_export(export_id: int) -> str:
    """Build the accountant's export of a period (CSV, XLSX, ZIP of the PDFs)."""
    from .services.exports import export_build

    return export_build(export_id=export_id).status


@shared_task(
    bind=True,
    name="invoicing.send_transmission",
    queue="documents",
    acks_late=True,
    max_retries=12,
    soft_time_limit=120,
    time_limit=180,
)
def send_transmission(self, transmission_id: int) -> str:
    """Send a document, a status or an e-report to its platform once; a platform that is down is retried with
    backoff (the row keeps its next attempt, and the beat sweep catches what the retries miss)."""
    from .platforms.base import RetryablePlatformError
    from .services.transmission import transmission_send

    try:
        transmission = transmission_send(transmission_id=transmission_id)
    except RetryablePlatformError as exc:
        if self.request.is_eager or self.request.retries >= self.max_retries:
            return "pending"  # the row keeps its next attempt: the beat sweep sends it then
        countdown = exc.retry_after or min(3600, 60 * 2**self.request.retries)
        raise self.retry(exc=exc, countdown=countdown) from exc
    return transmission.state if transmission else "skipped"


@shared_task(name="invoicing.transmissions_sweep", acks_late=True)
def transmissions_sweep() -> int:
    from .services.transmission import transmissions_sweep as sweep

    return sweep()


@shared_task(name="invoicing.platforms_poll", queue="documents", acks_late=True, soft_time_limit=600)
def platforms_poll() -> dict:
    from .services.transmission import platforms_poll as poll

    return poll()


@shared_task(name="invoicing.ereporting_run", acks_late=True, soft_time_limit=1800)
def ereporting_run() -> dict:
    """Generate the e-reports of the periods that ended, their corrections, and send what is due."""
    from .services.ereporting import ereporting_run as run

    return run()
