"""The fulfillment app's queued jobs (common/jobs.py): print jobs (pick lists, packing slips, labels)."""

from django.db.models import Q
from django.utils import timezone

from common.jobs import JobKind, register


def _print_given_up(ids: list[int]) -> None:
    from .models import DocumentJob

    DocumentJob.objects.filter(pk__in=ids).exclude(status=DocumentJob.Status.DONE).update(
        status=DocumentJob.Status.FAILED,
        error="The print job was started several times and never finished.",
        finished_at=timezone.now(),
    )


PRINT = register(
    JobKind(
        name="fulfillment.print",
        model="fulfillment.DocumentJob",
        task="fulfillment.render_document_job",
        pending=Q(status__in=["pending", "running"]),
        max_attempts=5,
        on_give_up=_print_given_up,
    )
)


def _request_given_up(ids: list[int]) -> None:
    from .models import FulfilmentRequest

    FulfilmentRequest.objects.filter(pk__in=ids, status__in=["pending", "cancel_pending"]).update(
        status=FulfilmentRequest.Status.FAILED, error="The WMS could not be reached after several attempts."
    )


OUTSOURCED_REQUEST = register(
    JobKind(
        name="fulfillment.outsourced_request",
        model="fulfillment.FulfilmentRequest",
        task="fulfillment.send_fulfilment_request",
        pending=Q(status__in=["pending", "cancel_pending"]),
        max_attempts=8,
        on_give_up=_request_given_up,
    )
)
