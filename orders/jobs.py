"""The orders app's queued jobs (common/jobs.py): return labels, the channels' deliveries to process, file
imports and stock pushes. Each is recoverable from its row: the beat sweep queues again what is due and not
held, and takes over the job of a worker that died once its lease expires."""

from django.db.models import Q
from django.utils import timezone

from common.jobs import JobKind, register


def _delivery_given_up(ids: list[int]) -> None:
    from .channels.models import WebhookDelivery

    WebhookDelivery.objects.filter(pk__in=ids, status=WebhookDelivery.Status.RECEIVED).update(
        status=WebhookDelivery.Status.FAILED,
        error_code="processing_never_finished",
        error="Processing was started several times and never finished: replay it once the cause is fixed.",
        processed_at=timezone.now(),
    )


def _import_given_up(ids: list[int]) -> None:
    from .channels.models import ImportJob

    ImportJob.objects.filter(pk__in=ids).exclude(status=ImportJob.Status.DONE).update(
        status=ImportJob.Status.FAILED,
        message="The import was started several times and never finished: nothing was imported.",
        finished_at=timezone.now(),
    )


def _return_label_given_up(ids: list[int]) -> None:
    from .returns.models import Return

    Return.objects.filter(pk__in=ids, label_pdf="").update(
        label_error="The return label was asked for several times and never finished: ask for it again."
    )


RETURN_LABEL = register(
    JobKind(
        name="orders.return_label",
        model="orders.Return",
        task="orders.return_label",
        pending=Q(status="label_sent", label_pdf="", carrier__isnull=False),
        on_give_up=_return_label_given_up,
    )
)
DELIVERY = register(
    JobKind(
        name="channels.delivery",
        model="orders.WebhookDelivery",
        task="channels.delivery_process",
        pending=Q(status="received"),
        on_give_up=_delivery_given_up,
    )
)
IMPORT = register(
    JobKind(
        name="channels.import",
        model="orders.ImportJob",
        task="channels.import_run",
        pending=Q(status__in=["pending", "running"]),
        # The whole file is imported in one transaction (nothing is visible before it commits), so the lease
        # cannot be renewed as it goes: it covers the longest import.
        lease_seconds=1800,
        max_attempts=3,
        on_give_up=_import_given_up,
    )
)
STOCK_PUSH = register(
    JobKind(
        name="channels.stock_push",
        model="orders.ChannelConnection",
        task="channels.stock_push",
        arg="channel_id",
        pending=Q(push_stock=True, channel__active=True),
        lease_seconds=300,
        max_attempts=1000,  # a push is asked for again and again; attempts count from its last success
    )
)
