"""Write operations of the customers app."""

from django.db import IntegrityError, transaction
from django.db.models import BooleanField, ExpressionWrapper, Q

from .models import Address, Customer

PROFILE_FIELDS = ("first_name", "last_name", "phone", "company", "siren", "vat_number", "language")


def customer_get_or_create(*, email: str, data: dict | None = None) -> tuple[Customer, bool]:
    """Find the customer by email (case-insensitive) or create them. Empty profile fields of an existing
    customer are filled from ``data``; what the customer already has is never overwritten by a channel."""
    data = {k: v for k, v in (data or {}).items() if k in PROFILE_FIELDS and v}
    email = email.strip()
    customer = Customer.objects.filter(email__iexact=email).first()
    if customer is None:
        try:
            with transaction.atomic():
                return Customer.objects.create(email=email, **data), True
        except IntegrityError:  # created by a concurrent request since our read
            customer = Customer.objects.get(email__iexact=email)
    missing = {k: v for k, v in data.items() if not getattr(customer, k)}
    if missing:
        for field, value in missing.items():
            setattr(customer, field, value)
        customer.save(update_fields=[*missing, "updated_at"])
    return customer, False


def address_remember(*, customer: Customer, address: dict, kind: str = Address.Kind.SHIPPING) -> Address:
    """Keep a delivery address in the customer's book (once: an identical one is reused)."""
    fields = {
        k: address.get(k, "") or ""
        for k in ("name", "company", "line1", "line2", "postcode", "city", "phone")
    }
    fields["country"] = address.get("country") or "FR"
    # One read answers both questions: is this address already in the book (an identical one sorts
    # first), and is the book empty (then the new address becomes the default).
    first = (
        Address.objects.filter(customer=customer, kind=kind)
        .annotate(same=ExpressionWrapper(Q(**fields), output_field=BooleanField()))
        .order_by("-same", "pk")
        .first()
    )
    if first is not None and first.same:
        return first
    return Address.objects.create(customer=customer, kind=kind, is_default=first is None, **fields)
