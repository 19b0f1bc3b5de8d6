"""Connector health: for every channel connector and 3PL partner, the last successful sync, the backlog
(what waits to be processed or sent), the errors (each with its payload and a replay on its own page), and
whether the sync is late. Read by the "Connectors" page and the dashboard's alert."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Max, Min, Q
from django.urls import reverse
from django.utils import timezone

from fulfillment.models import FulfilmentRequest, PartnerShipment, WarehousePartner

from .models import ChannelConnection, ChannelFulfillment, MarketplaceSend, WebhookDelivery


@dataclass
class Health:
    kind: str  # "channel" or "3pl"
    name: str
    url: str  # the page with the errors' payloads and their replay
    last_success: datetime | None
    backlog: int
    errors: int
    last_error: str = ""
    late: bool = False
    why_late: list[str] = field(default_factory=list)


def _late_after() -> timedelta:
    return timedelta(minutes=getattr(settings, "CONNECTOR_LATE_MINUTES", 60))


def connector_health(*, now: datetime | None = None) -> list[Health]:
    """Every connector's health, in a fixed number of queries (7)."""
    now = now or timezone.now()
    late_after = _late_after()
    rows: list[Health] = []
    deliveries = {
        row["channel_id"]: row
        for row in WebhookDelivery.objects.values("channel_id").annotate(
            waiting=Count("pk", filter=Q(status=WebhookDelivery.Status.RECEIVED)),
            oldest_waiting=Min("received_at", filter=Q(status=WebhookDelivery.Status.RECEIVED)),
            failed=Count("pk", filter=Q(status=WebhookDelivery.Status.FAILED)),
            last_processed=Max("processed_at", filter=Q(status=WebhookDelivery.Status.PROCESSED)),
        )
    }
    fulfilments = {
        row["channel_id"]: row
        for row in ChannelFulfillment.objects.values("channel_id").annotate(
            pending=Count("pk", filter=Q(state=ChannelFulfillment.State.PENDING)),
            oldest_pending=Min("created_at", filter=Q(state=ChannelFulfillment.State.PENDING)),
            failed=Count("pk", filter=Q(state=ChannelFulfillment.State.FAILED)),
        )
    }
    # our own cancellations and refunds told to a marketplace (``outbound.py``): waiting, refused
    sends = {
        row["channel_id"]: row
        for row in MarketplaceSend.objects.values("channel_id").annotate(
            pending=Count("pk", filter=Q(state=MarketplaceSend.State.PENDING)),
            oldest_pending=Min("created_at", filter=Q(state=MarketplaceSend.State.PENDING)),
            failed=Count("pk", filter=Q(state=MarketplaceSend.State.FAILED)),
        )
    }
    for connection in ChannelConnection.objects.select_related("channel").order_by("channel__name"):
        channel = connection.channel
        d = deliveries.get(channel.pk, {})
        f = fulfilments.get(channel.pk, {})
        m = sends.get(channel.pk, {})
        last = max(
            (
                t
                for t in (
                    connection.last_order_sync_at,
                    connection.last_stock_push_at,
                    d.get("last_processed"),
                )
                if t
            ),
            default=None,
        )
        why = []
        if connection.poll_orders and (
            connection.last_order_sync_at is None or connection.last_order_sync_at < now - late_after
        ):
            why.append("orders")
        if d.get("oldest_waiting") and d["oldest_waiting"] < now - late_after:
            why.append("deliveries")
        if connection.push_stock and connection.job_due_at and connection.job_due_at < now - late_after:
            why.append("stock")
        if f.get("oldest_pending") and f["oldest_pending"] < now - late_after:
            why.append("fulfilments")
        if m.get("oldest_pending") and m["oldest_pending"] < now - late_after:
            why.append("marketplace changes")
        rows.append(
            Health(
                kind="channel",
                name=channel.name,
                url=reverse("channels:connector", args=[channel.code]),
                last_success=last,
                backlog=(d.get("waiting") or 0)
                + (f.get("pending") or 0)
                + (m.get("pending") or 0)
                + (1 if connection.job_due_at else 0),
                errors=(d.get("failed") or 0) + (f.get("failed") or 0) + (m.get("failed") or 0),
                last_error=connection.last_error,
                late=bool(why),
                why_late=why,
            )
        )
    requests = {
        row["partner_id"]: row
        for row in FulfilmentRequest.objects.values("partner_id").annotate(
            waiting=Count(
                "pk",
                filter=Q(
                    status__in=[FulfilmentRequest.Status.PENDING, FulfilmentRequest.Status.CANCEL_PENDING]
                ),
            ),
            failed=Count("pk", filter=Q(status=FulfilmentRequest.Status.FAILED)),
        )
    }
    shipments = dict(
        PartnerShipment.objects.filter(status=PartnerShipment.Status.FAILED)
        .values("partner_id")
        .annotate(n=Count("pk"))
        .values_list("partner_id", "n")
    )
    for partner in WarehousePartner.objects.filter(active=True).select_related("location").order_by("name"):
        r = requests.get(partner.pk, {})
        threshold = timedelta(minutes=partner.sync_late_after_minutes)
        late = partner.last_sync_at is None or partner.last_sync_at < now - threshold
        rows.append(
            Health(
                kind="3pl",
                name=partner.name,
                url=reverse("fulfillment:partner_detail", args=[partner.pk]),
                last_success=partner.last_sync_at,
                backlog=r.get("waiting") or 0,
                errors=(r.get("failed") or 0) + shipments.get(partner.pk, 0),
                last_error=partner.last_error,
                late=late,
                why_late=["sync"] if late else [],
            )
        )
    return rows
