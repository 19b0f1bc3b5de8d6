"""Celery tasks of the invoicing app: thin, idempotent, each a call into a service."""

import logging
import smtplib

from celery import shared_task

logger = logging.getLogger(__name__)


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
