"""Write operations of the customers app."""

from django.db import IntegrityError, transaction

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
    existing = Address.objects.filter(customer=customer, kind=kind, **fields).first()
    if existing:
        return existing
    is_default = not Address.objects.filter(customer=customer, kind=kind).exists()
    return Address.objects.create(customer=customer, kind=kind, is_default=is_default, **fields)
