"""Emailing a document to the customer: a ``DocumentDelivery`` row per sending (the first one and each
re-send), sent by a Celery task on the ``notifications`` queue that checks the row first, so a retried task
never sends twice."""

from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from common import jobs

from ..exceptions import DocumentNotRendered
from ..mailer import send_email
from ..models import DocumentDelivery, DocumentStatus, Invoice


def delivery_request(*, document: Invoice, email: str, actor=None) -> DocumentDelivery:
    """Queue an email of a rendered document to ``email``."""
    if not document.pdf or document.status == DocumentStatus.FAILED:
        raise DocumentNotRendered(
            "The document's PDF is not ready yet: try again in a moment.", details={"number": document.number}
        )
    delivery = DocumentDelivery.objects.create(
        document=document,
        email=email,
        requested_by=actor if getattr(actor, "pk", None) else None,
        job_due_at=jobs.due(),
    )
    from ..tasks import send_document as send_document_task

    jobs.enqueue_on_commit(send_document_task, delivery.pk)
    return delivery


def delivery_send(*, delivery_id: int) -> DocumentDelivery:
    """Send a queued email once. Network errors are raised (the task retries them with backoff). The job
    is claimed first (common/jobs.py): a redelivered message finds it sent or held and does nothing."""
    from ..jobs import DELIVERY

    with jobs.claim(DELIVERY, delivery_id) as job:
        if job is None:
            return DocumentDelivery.objects.get(pk=delivery_id)
        return _send(delivery_id=delivery_id)


def _send(*, delivery_id: int) -> DocumentDelivery:
    with transaction.atomic():
        delivery = (
            DocumentDelivery.objects.select_for_update(of=("self",))
            .select_related("document", "document__order")
            .get(pk=delivery_id)
        )
        if delivery.status == DocumentDelivery.Status.SENT:
            return delivery
        document = delivery.document
        DocumentDelivery.objects.filter(pk=delivery.pk).update(attempts=delivery.attempts + 1)
        with translation.override(document.language or "fr"):
            context = {"doc": document, "seller": document.seller, "buyer": document.buyer}
            if document.is_credit_note:
                subject = _("Credit note %(number)s from %(seller)s")
            else:
                subject = _("Invoice %(number)s from %(seller)s")
            subject = subject % {"number": document.number, "seller": document.seller["name"]}
            body = render_to_string("invoicing/email/document.txt", context)
            html = render_to_string("invoicing/email/document.html", context)
        with document.pdf.open("rb") as handle:
            pdf = handle.read()
        send_email(
            to=delivery.email,
            subject=subject,
            body=body,
            html=html,
            attachments=[(document.filename, pdf, "application/pdf")],
        )
        now = timezone.now()
        delivery.status = DocumentDelivery.Status.SENT
        delivery.sent_at = now
        delivery.error = ""
        delivery.save(update_fields=["status", "sent_at", "error"])
        document.sent_at = now
        document.status = DocumentStatus.SENT
        document.save(update_fields=["sent_at", "status"])
    return delivery


def delivery_failed(*, delivery_id: int, error: str) -> None:
    """The task gave up: say so on the row (the detail page shows it)."""
    DocumentDelivery.objects.filter(pk=delivery_id).exclude(status=DocumentDelivery.Status.SENT).update(
        status=DocumentDelivery.Status.FAILED, error=error[:2000]
    )
