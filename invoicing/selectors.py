"""Reads of the invoicing app: the back-office list, the export's documents, the portal's documents."""

import datetime as dt

from django.db.models import Q, QuerySet

from .models import Invoice


def document_list(*, filters: dict) -> QuerySet[Invoice]:
    """Documents for the back-office list, newest first. ``filters``: date_from, date_to (issue date),
    channel (id), status, kind, q (number prefix, order number, buyer name or email)."""
    qs = Invoice.objects.select_related("channel", "order", "corrects").order_by("-issue_date", "-id")
    if filters.get("date_from"):
        qs = qs.filter(issue_date__gte=filters["date_from"])
    if filters.get("date_to"):
        qs = qs.filter(issue_date__lte=filters["date_to"])
    if filters.get("channel"):
        qs = qs.filter(channel_id=filters["channel"])
    if filters.get("status"):
        qs = qs.filter(status=filters["status"])
    if filters.get("kind"):
        qs = qs.filter(kind=filters["kind"])
    q = (filters.get("q") or "").strip()
    if q:
        qs = qs.filter(
            Q(number__istartswith=q)
            | Q(order__number__iexact=q)
            | Q(buyer_email__istartswith=q)
            | Q(buyer_name__icontains=q)
        )
    return qs


def document_get(*, pk: int) -> Invoice | None:
    return (
        Invoice.objects.select_related("channel", "order", "corrects", "legal_entity", "created_by")
        .prefetch_related("lines", "credit_notes", "deliveries")
        .filter(pk=pk)
        .first()
    )


def export_documents(
    *, date_from: dt.date, date_to: dt.date, channel_id=None, legal_entity_id=None
) -> QuerySet[Invoice]:
    qs = Invoice.objects.select_related("channel", "order", "corrects").filter(
        issue_date__gte=date_from, issue_date__lte=date_to
    )
    if channel_id:
        qs = qs.filter(channel_id=channel_id)
    if legal_entity_id:
        qs = qs.filter(legal_entity_id=legal_entity_id)
    return qs.order_by("legal_entity_id", "issue_date", "id")


def documents_for_token(*, token: str) -> tuple[object, list[Invoice]] | None:
    """(order, its documents in issue order) for a tracking token, or None for an unknown token."""
    from orders.models import Order

    order = Order.objects.filter(tracking_token=token).only("pk", "number", "tracking_token").first()
    if order is None:
        return None
    documents = list(
        Invoice.objects.filter(order_id=order.pk).select_related("corrects").order_by("issue_date", "id")
    )
    return order, documents


def documents_for_order(*, order_id: int) -> list[Invoice]:
    """An order's invoices and credit notes in issue order (the staff order page's fragment)."""
    return list(
        Invoice.objects.filter(order_id=order_id).select_related("corrects").order_by("issue_date", "id")
    )


def documents_for_customer(*, customer_id: int, limit: int = 50) -> list[Invoice]:
    """A customer's latest invoices and credit notes, newest first (the customer page's fragment)."""
    return list(
        Invoice.objects.filter(customer_id=customer_id)
        .select_related("corrects", "order")
        .order_by("-issue_date", "-id")[:limit]
    )
