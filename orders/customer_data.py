"""A customer's data across their orders (RGPD): everything we hold about them (the right of access, art. 15)
and their erasure once no order is on its way (art. 17). Used by the customer's own account space (portal)
and by customer service's customer pages (orders/customers)."""

from django.db.models import Prefetch

from customers.accounts import customer_anonymise
from customers.models import Address, Customer, CustomerAccount, Notification

from .exceptions import AccountHasOpenOrders
from .models import Order, OrderLine, OrderStatus

# Orders that are over: nothing more will happen to them but a return.
FINISHED = (OrderStatus.DELIVERED, OrderStatus.RETURNED, OrderStatus.CANCELLED)


def customer_export(*, customer: Customer) -> dict:
    """Everything we hold about a customer (the right of access, RGPD art. 15), as JSON-ready data."""
    account = CustomerAccount.objects.filter(customer=customer).select_related("preferred_store").first()
    orders = (
        Order.objects.filter(customer=customer)
        .select_related("channel", "pickup_location")
        .prefetch_related(Prefetch("lines", queryset=OrderLine.objects.order_by("line_no")))
        .order_by("created_at", "pk")
    )
    return {
        "customer": {
            "email": customer.email,
            "first_name": customer.first_name,
            "last_name": customer.last_name,
            "phone": customer.phone,
            "language": customer.language,
            "company": customer.company,
            "siren": customer.siren,
            "vat_number": customer.vat_number,
            "sms_opt_in": customer.sms_opt_in,
            "sms_opt_in_at": _iso(customer.sms_opt_in_at),
            "created_at": _iso(customer.created_at),
        },
        "account": {
            "has_password": bool(account and account.password),
            "last_login": _iso(account.last_login) if account else None,
            "preferred_delivery": account.preferred_mode if account else "",
            "relay_point_id": account.relay_point_id if account else "",
            "relay_point_name": account.relay_point_name if account else "",
            "preferred_store": account.preferred_store.code if account and account.preferred_store else None,
        },
        "addresses": [
            {
                "kind": a.kind,
                "name": a.name,
                "company": a.company,
                "line1": a.line1,
                "line2": a.line2,
                "postcode": a.postcode,
                "city": a.city,
                "country": a.country,
                "phone": a.phone,
                "is_default": a.is_default,
            }
            for a in Address.objects.filter(customer=customer).order_by("created_at", "pk")
        ],
        "orders": [
            {
                "number": o.number,
                "channel": o.channel.name,
                "status": o.status,
                "created_at": _iso(o.created_at),
                "delivery_mode": o.delivery_mode,
                "delivery_address": {
                    "name": o.ship_name,
                    "company": o.ship_company,
                    "line1": o.ship_line1,
                    "line2": o.ship_line2,
                    "postcode": o.ship_postcode,
                    "city": o.ship_city,
                    "country": o.ship_country,
                    "phone": o.ship_phone,
                },
                "relay_point": o.relay_point or None,
                "pickup_store": o.pickup_location.code if o.pickup_location_id else None,
                "total_incl_vat": str(o.total_incl_vat),
                "currency": o.currency,
                "lines": [
                    {
                        "sku": line.sku,
                        "name": line.name,
                        "quantity": line.quantity,
                        "unit_price": str(line.unit_price),
                        "vat_rate": str(line.vat_rate),
                    }
                    for line in o.lines.all()
                ],
            }
            for o in orders
        ],
        "notifications": [
            {
                "kind": n.kind,
                "channel": n.channel,
                "recipient": n.recipient,
                "subject": n.subject,
                "text": n.body_text,
                "status": n.status,
                "created_at": _iso(n.created_at),
                "sent_at": _iso(n.sent_at),
            }
            for n in Notification.objects.filter(customer=customer).order_by("created_at", "pk")
        ],
    }


def account_erase(*, customer: Customer) -> Customer:
    """Anonymise the customer (customers.accounts.customer_anonymise) once all their orders are delivered,
    returned or cancelled; orders and invoices keep their snapshots."""
    open_numbers = list(
        Order.objects.filter(customer=customer).exclude(status__in=FINISHED).values_list("number", flat=True)
    )
    if open_numbers:
        raise AccountHasOpenOrders(
            "Some of your orders are still on their way.", details={"orders": sorted(open_numbers)}
        )
    return customer_anonymise(customer=customer)


def _iso(value):
    return value.isoformat() if value else None
