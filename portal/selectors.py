"""Reads of the customer portal: the tracking page of one order and a customer's orders (everything we hold
about a customer, the RGPD export, is orders' own: orders/customer_data.py)."""

from django.db.models import Prefetch, QuerySet
from django.utils.translation import gettext as _

from customers.models import Customer
from orders.models import DeliveryMode, Order, OrderLine, OrderStatus
from shipping.models import Shipment, TrackingEvent

# Parcels the customer hears about: those with a label or further on (not a box still on the pack bench).
NOT_SHIPPED = ("created", "label_failed", "cancelled")


def order_for_token(*, token: str) -> Order | None:
    """The order a tracking link opens, with what its page shows (a fixed number of queries)."""
    if not token or len(token) > 64:
        return None
    shipments = (
        Shipment.objects.exclude(status__in=NOT_SHIPPED)
        .select_related("service__carrier")
        .prefetch_related(Prefetch("events", queryset=TrackingEvent.objects.order_by("-at", "-pk")))
        .order_by("created_at", "pk")
    )
    return (
        Order.objects.filter(tracking_token=token)
        .select_related("customer", "pickup_location", "channel")
        .prefetch_related(
            Prefetch("lines", queryset=OrderLine.objects.order_by("line_no")),
            Prefetch("shipments", queryset=shipments, to_attr="portal_shipments"),
        )
        .first()
    )


def order_steps(order: Order) -> list[dict]:
    """The progress line, in the words of the notification emails: received, preparing, shipped, out for
    delivery / ready for pickup, delivered."""
    pickup = order.delivery_mode != DeliveryMode.HOME or order.status == OrderStatus.READY_FOR_PICKUP
    steps = [
        (_("Received"), {OrderStatus.RECEIVED, OrderStatus.ALLOCATED, OrderStatus.AWAITING_STOCK}),
        (_("Preparing"), {OrderStatus.IN_PREPARATION}),
        (_("Shipped"), {OrderStatus.PARTIALLY_SHIPPED, OrderStatus.SHIPPED}),
        (
            _("Ready for pickup") if pickup else _("Out for delivery"),
            {OrderStatus.OUT_FOR_DELIVERY, OrderStatus.READY_FOR_PICKUP},
        ),
        (_("Delivered"), {OrderStatus.DELIVERED, OrderStatus.RETURNED}),
    ]
    current = next((i for i, (_label, statuses) in enumerate(steps) if order.status in statuses), 0)
    finished = order.status in (OrderStatus.DELIVERED, OrderStatus.RETURNED)
    return [
        {
            "label": label,
            "state": "done"
            if i < current or (finished and i == current)
            else "current"
            if i == current
            else "todo",
        }
        for i, (label, _statuses) in enumerate(steps)
    ]


def order_headline(order: Order) -> str:
    """One sentence for where the order is, in the words of the emails' headings."""
    return {
        OrderStatus.RECEIVED: _("We have received your order"),
        OrderStatus.ALLOCATED: _("We have received your order"),
        OrderStatus.AWAITING_STOCK: _("Your order is awaiting stock"),
        OrderStatus.IN_PREPARATION: _("Your order is being prepared"),
        OrderStatus.PARTIALLY_SHIPPED: _("Part of your order has shipped"),
        OrderStatus.SHIPPED: _("Your order has shipped"),
        OrderStatus.OUT_FOR_DELIVERY: _("Your order is out for delivery"),
        OrderStatus.READY_FOR_PICKUP: _("Your order is ready for pickup"),
        OrderStatus.DELIVERED: _("Your order has been delivered"),
        OrderStatus.RETURNED: _("Your order has been returned"),
        OrderStatus.CANCELLED: _("Your order is cancelled"),
    }.get(order.status, order.get_status_display())


def delivered_on(order: Order):
    """When the last parcel was delivered (for a delivered order), from its parcels."""
    dates = [s.delivered_at for s in getattr(order, "portal_shipments", []) if s.delivered_at]
    return max(dates) if dates else None


def order_place(order: Order) -> dict:
    """Where the order goes: the home address, the relay point or the store, with opening hours and, for a
    store order being prepared or waiting, the pickup code."""
    if order.delivery_mode == DeliveryMode.STORE and order.pickup_location_id:
        store = order.pickup_location
        show_code = order.status in (OrderStatus.IN_PREPARATION, OrderStatus.READY_FOR_PICKUP)
        return {
            "kind": "store",
            "name": store.name,
            "lines": [x for x in (store.address_line1, store.address_line2) if x],
            "city": f"{store.postcode} {store.city}".strip(),
            "hours": _hours(store.opening_hours),
            "code": order.pickup_code if show_code else "",
        }
    if order.delivery_mode == DeliveryMode.RELAY:
        relay = order.relay_point or {}
        return {
            "kind": "relay",
            "name": relay.get("name") or relay.get("id", "") or order.ship_name,
            "lines": [x for x in (relay.get("line1") or order.ship_line1, relay.get("line2")) if x],
            "city": " ".join(
                x
                for x in (relay.get("postcode") or order.ship_postcode, relay.get("city") or order.ship_city)
                if x
            ),
            "hours": _hours(relay.get("opening_hours")),
            "code": "",
        }
    return {
        "kind": "home",
        "name": order.ship_name,
        "lines": [x for x in (order.ship_company, order.ship_line1, order.ship_line2) if x],
        "city": f"{order.ship_postcode} {order.ship_city}".strip(),
        "hours": [],
        "code": "",
    }


def _hours(value) -> list[str]:
    """Opening hours as lines of text, whether kept as text (stores) or as the carrier's JSON (relays)."""
    if not value:
        return []
    if isinstance(value, str):
        return [line.strip() for line in value.splitlines() if line.strip()]
    if isinstance(value, dict):
        out = []
        for day, slots in value.items():
            if isinstance(slots, list | tuple):
                slots = ", ".join("–".join(s) if isinstance(s, list | tuple) else str(s) for s in slots if s)
            out.append(f"{day} : {slots}" if slots else str(day))
        return out
    if isinstance(value, list | tuple):
        return [str(v) for v in value if v]
    return [str(value)]


def can_request_return(order: Order) -> bool:
    """The return button: delivered, or partly shipped, or one of its parcels delivered."""
    if order.status in (OrderStatus.DELIVERED, OrderStatus.PARTIALLY_SHIPPED):
        return True
    if order.status in (OrderStatus.SHIPPED, OrderStatus.OUT_FOR_DELIVERY, OrderStatus.READY_FOR_PICKUP):
        return any(s.status == "delivered" for s in getattr(order, "portal_shipments", []))
    return False


def order_lookup(*, number: str, email: str) -> Order | None:
    """The order with this number whose customer has this email (both must match)."""
    number, email = (number or "").strip(), (email or "").strip()
    if not number or not email:
        return None
    return Order.objects.filter(number__iexact=number, customer__email__iexact=email).first()


def customer_orders(*, customer: Customer) -> QuerySet[Order]:
    return Order.objects.filter(customer=customer).order_by("-created_at", "-pk")
