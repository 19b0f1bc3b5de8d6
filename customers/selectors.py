"""Read queries of the customers app."""

from django.db.models import QuerySet

from .models import Notification


def notification_list_for_order(*, order_id: int) -> list[Notification]:
    """An order's messages, newest first (the order page's "Notifications" section)."""
    return list(
        Notification.objects.filter(order_id=order_id)
        .select_related("created_by", "resend_of")
        .defer("body_text", "body_html")
        .order_by("-created_at", "-id")
    )


def notification_list(*, status: str = "") -> QuerySet[Notification]:
    """Every message, newest first, optionally of one status (failed ones are what customer service
    watches), with the customer and the order for the table."""
    qs = Notification.objects.select_related("customer", "order").defer("body_text", "body_html")
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-created_at", "-id")


def notification_get(*, pk: int, order_id: int) -> Notification | None:
    return (
        Notification.objects.filter(pk=pk, order_id=order_id)
        .select_related("customer", "created_by", "resend_of")
        .first()
    )
