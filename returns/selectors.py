"""Reads of returns for other apps' pages (served as htmx fragments by returns/views.py)."""

from .models import Return

ON_CUSTOMER_PAGE = 20


def customer_returns(*, customer_id: int, limit: int = ON_CUSTOMER_PAGE) -> list[Return]:
    """A customer's latest returns, with their order (one query)."""
    return list(
        Return.objects.filter(order__customer_id=customer_id)
        .select_related("order")
        .order_by("-created_at", "-pk")[:limit]
    )


def order_returns(*, order_id: int) -> list[Return]:
    """An order's returns, oldest first (one query)."""
    return list(Return.objects.filter(order_id=order_id).order_by("created_at", "pk"))
