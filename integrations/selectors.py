"""Reads of the integrations' pages (fixed query counts)."""

from django.db.models import Count, Max, Q

from .models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

LOG_PAGE = 50


def endpoint_list():
    """Every endpoint with its figures (1 query)."""
    unsent = Q(deliveries__status__in=[WebhookDelivery.Status.PENDING, WebhookDelivery.Status.RETRYING])
    return (
        WebhookEndpoint.objects.select_related("channel", "owner")
        .annotate(
            unsent=Count("deliveries", filter=unsent),
            failed=Count("deliveries", filter=Q(deliveries__status=WebhookDelivery.Status.FAILED)),
            last_delivery_at=Max("deliveries__last_attempt_at"),
        )
        .order_by("-created_at", "-id")
    )


def delivery_log(
    *, endpoint: WebhookEndpoint, status: str = "", before: int | None = None
) -> list[WebhookDelivery]:
    rows = WebhookDelivery.objects.filter(endpoint=endpoint).defer("payload")
    if status:
        rows = rows.filter(status=status)
    if before:
        rows = rows.filter(pk__lt=before)
    return list(rows.order_by("-id")[:LOG_PAGE])


def delivery_attempts(*, delivery: WebhookDelivery) -> list[WebhookAttempt]:
    return list(WebhookAttempt.objects.filter(delivery=delivery).order_by("-number", "-id"))
