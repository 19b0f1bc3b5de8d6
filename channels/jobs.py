"""The channel connectors' queued jobs (common/jobs.py): the deliveries to process, file imports and stock
pushes. Each is recoverable from its row: the beat sweep queues again what is due and not held, and takes
over the job of a worker that died once its lease expires."""

from django.db.models import Q
from django.utils import timezone

from common.jobs import JobKind, register

from .models import ImportJob, MarketplaceSend, WebhookDelivery


def _delivery_given_up(ids: list[int]) -> None:
    WebhookDelivery.objects.filter(pk__in=ids, status=WebhookDelivery.Status.RECEIVED).update(
        status=WebhookDelivery.Status.FAILED,
        error_code="processing_never_finished",
        error="Processing was started several times and never finished: replay it once the cause is fixed.",
        processed_at=timezone.now(),
    )


def _import_given_up(ids: list[int]) -> None:
    ImportJob.objects.filter(pk__in=ids).exclude(status=ImportJob.Status.DONE).update(
        status=ImportJob.Status.FAILED,
        message="The import was started several times and never finished: nothing was imported.",
        finished_at=timezone.now(),
    )


DELIVERY = register(
    JobKind(
        name="channels.delivery",
        model="channels.WebhookDelivery",
        task="channels.delivery_process",
        pending=Q(status="received"),
        on_give_up=_delivery_given_up,
    )
)
IMPORT = register(
    JobKind(
        name="channels.import",
        model="channels.ImportJob",
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
        model="channels.ChannelConnection",
        task="channels.stock_push",
        arg="channel_id",
        pending=Q(push_stock=True, channel__active=True),
        lease_seconds=300,
        max_attempts=1000,  # a push is asked for again and again; attempts count from its last success
    )
)


def _send_given_up(ids: list[int]) -> None:
    MarketplaceSend.objects.filter(pk__in=ids, state=MarketplaceSend.State.PENDING).update(
        state=MarketplaceSend.State.FAILED,
        error="The marketplace did not answer after many attempts: send it again once it is back.",
    )


MARKETPLACE_SEND = register(
    JobKind(
        name="channels.marketplace_send",
        model="channels.MarketplaceSend",
        task="channels.marketplace_send",
        pending=Q(state="pending"),
        max_attempts=12,
        on_give_up=_send_given_up,
    )
)
