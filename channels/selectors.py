"""Reads of the connector pages."""

from django.db.models import Count, Q

from .models import ChannelConnection, ImportJob, WebhookDelivery


def delivery_list(*, channel, status: str = ""):
    qs = WebhookDelivery.objects.filter(channel=channel).select_related("order").defer("payload")
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-received_at", "-id")


def delivery_counts(*, channel) -> dict:
    return WebhookDelivery.objects.filter(channel=channel).aggregate(
        total=Count("id"),
        failed=Count("id", filter=Q(status=WebhookDelivery.Status.FAILED)),
        waiting=Count("id", filter=Q(status=WebhookDelivery.Status.RECEIVED)),
    )


def import_list(*, channel, limit: int = 10):
    return ImportJob.objects.filter(channel=channel).select_related("created_by")[:limit]


def connection_find(*, channel) -> ChannelConnection | None:
    return ChannelConnection.objects.filter(channel=channel).first()
