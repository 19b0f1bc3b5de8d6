"""Read queries of the customers app."""

from django.db.models import F, Prefetch, Q, QuerySet, Value
from django.db.models.functions import Replace

from .models import Address, Customer, CustomerNote, Notification


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


def customer_search_q(query: str) -> Q:
    """What a person types to find a customer: part of the email, a name (every word), the company, or a
    phone number written any way (the last nine digits are compared)."""
    query = (query or "").strip()
    words = query.split()
    match = Q(email__icontains=query) | Q(company__icontains=query)
    names = Q()
    for word in words:
        names &= Q(first_name__icontains=word) | Q(last_name__icontains=word)
    match |= names
    digits = "".join(c for c in query if c.isdigit())
    if len(digits) >= 6:
        match |= Q(phone_digits__contains=digits[-9:])
    return match


def _searchable(qs: QuerySet[Customer]) -> QuerySet[Customer]:
    """The phone without its separators, for ``customer_search_q``."""
    phone = F("phone")
    for separator in (" ", ".", "-", "\u00a0"):
        phone = Replace(phone, Value(separator), Value(""))
    return qs.alias(phone_digits=phone)


def customer_list(*, query: str = "", kind: str = "") -> QuerySet[Customer]:
    """Customers for the back-office list (newest first) filtered by a search and a kind (``b2b`` when a
    company and a VAT number are known, ``private`` otherwise)."""
    qs = Customer.objects.all()
    if query.strip():
        qs = _searchable(qs).filter(customer_search_q(query))
    if kind == "b2b":
        qs = qs.exclude(company="").exclude(vat_number="")
    elif kind == "private":
        qs = qs.filter(Q(company="") | Q(vat_number=""))
    return qs.order_by("-created_at", "-pk")


def customer_lookup(*, query: str, limit: int = 6) -> list[Customer]:
    """Customers matching what is typed in the phone-order form, with their addresses (2 queries)."""
    if len((query or "").strip()) < 2:
        return []
    return list(
        _searchable(Customer.objects.all())
        .filter(customer_search_q(query))
        .exclude(email__endswith="@anonymised.invalid")
        .prefetch_related(Prefetch("addresses", queryset=Address.objects.order_by("-is_default", "pk")))
        .order_by("last_name", "first_name", "email")[:limit]
    )


def customer_get(*, pk: int) -> Customer | None:
    return (
        Customer.objects.filter(pk=pk)
        .select_related("account", "account__preferred_store")
        .prefetch_related(
            Prefetch("addresses", queryset=Address.objects.order_by("kind", "-is_default", "pk")),
            Prefetch("notes", queryset=CustomerNote.objects.select_related("author")),
        )
        .first()
    )
