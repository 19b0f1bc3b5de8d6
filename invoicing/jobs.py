"""The invoicing app's queued jobs (common/jobs.py): rendering a document, emailing it, building an export.
Each is recoverable from its row: the beat sweep queues again what is due and not held."""

from django.db.models import Q
from django.utils import timezone

from common.jobs import JobKind, register


def _render_given_up(ids: list[int]) -> None:
    from .models import DocumentStatus, Invoice

    Invoice.objects.filter(pk__in=ids, status=DocumentStatus.PENDING).update(
        status=DocumentStatus.FAILED,
        render_error="Rendering was started several times and never finished (its worker stopped).",
    )


def _delivery_given_up(ids: list[int]) -> None:
    from .services.delivery import delivery_failed

    for delivery_id in ids:
        delivery_failed(delivery_id=delivery_id, error="Given up: sending never finished.")


def _export_given_up(ids: list[int]) -> None:
    from .models import InvoiceExport

    InvoiceExport.objects.filter(pk__in=ids).exclude(status=InvoiceExport.Status.DONE).update(
        status=InvoiceExport.Status.FAILED,
        error="The export was started several times and never finished (its worker stopped).",
        finished_at=timezone.now(),
    )


RENDER = register(
    JobKind(
        name="invoicing.render",
        model="invoicing.Invoice",
        task="invoicing.render_document",
        pending=Q(status="pending"),
        on_give_up=_render_given_up,
    )
)
DELIVERY = register(
    JobKind(
        name="invoicing.send",
        model="invoicing.DocumentDelivery",
        task="invoicing.send_document",
        pending=Q(status="pending"),
        on_give_up=_delivery_given_up,
    )
)
EXPORT = register(
    JobKind(
        name="invoicing.export",
        model="invoicing.InvoiceExport",
        task="invoicing.build_export",
        pending=Q(status__in=["pending", "running"]),
        lease_seconds=600,
        max_attempts=5,
        on_give_up=_export_given_up,
    )
)
