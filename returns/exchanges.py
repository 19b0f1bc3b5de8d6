"""Exchanges: some units come back and others go out (another size of the same product, or the same
product again). The return is an ordinary return whose lines name the replacement; when the channel's rule
says so (the return accepted, or the items received), the replacement is reserved and shipped as a new
order linked to the return, paid by the value of the returned units. A dearer replacement's difference is
charged through the payment service when the original order was paid through one (a charge on the new
order, a job with its idempotency key, like a capture: ``orders.payments.services.payment_charge_request``);
otherwise it is left to pay on the new order (its page and API say how much). A cheaper one is refunded the
difference with the return.

Products have no variant model: "another size" is a product whose SKU shares the returned one's stem
(``TSHIRT-M`` → ``TSHIRT-L``, the part before the last hyphen), as catalogues name sizes and colours."""

from decimal import Decimal

from django.utils.translation import gettext as _

from common.exceptions import DomainError
from inventory.models import Product
from orders.models import Order, OrderLine
from orders.payments.services import payment_charge_request
from orders.services.edits import _current_delivery
from orders.services.events import event_add
from orders.services.intake import LineInput, OrderInput, order_create

from .exceptions import ReturnRefused
from .models import Return

CENT = Decimal("0.01")


def sku_stem(sku: str) -> str:
    return sku.rsplit("-", 1)[0] if "-" in sku else sku


def exchange_options(order_line: OrderLine) -> list[Product]:
    """What a line's units may be exchanged for: the same product, or another of its family (same stem)."""
    stem = sku_stem(order_line.sku)
    products = Product.objects.filter(active=True, sku__startswith=f"{stem}-").order_by("sku")
    options = [p for p in products if sku_stem(p.sku) == stem]
    if not any(p.pk == order_line.product_id for p in options):
        options.insert(0, order_line.product)
    return options


def exchange_product_for(order_line: OrderLine, sku: str) -> Product:
    """The replacement asked for a line, refused when it is not one of its options."""
    for product in exchange_options(order_line):
        if product.sku == sku:
            return product
    raise ReturnRefused(
        _("%(sku)s cannot be exchanged for %(other)s: choose another size of the same product.")
        % {"sku": order_line.sku, "other": sku},
        code="invalid_exchange",
        details={"lines": {order_line.pk: _("Choose another size of the same product.")}},
    )


def exchange_place(*, ret: Return, actor=None) -> Order | None:
    """Reserve the replacement of an exchange and ship it as a new order (in the caller's transaction, which
    holds the return's lock). Its payment is the value of the returned units, up to its total. Raises
    ``OutOfStock`` (nothing written) when the replacement cannot be reserved. None for a plain return or
    when the order exists already."""
    if ret.exchange_order_id:
        return None
    lines = [
        line for line in ret.lines.select_related("order_line", "exchange_product") if line.exchange_product
    ]
    if not lines:
        return None
    original = Order.objects.select_related("customer", "pickup_location", "channel").get(pk=ret.order_id)
    credit = sum((line.order_line.unit_price * line.quantity for line in lines), Decimal("0")).quantize(CENT)
    total = sum((line.exchange_product.price * line.quantity for line in lines), Decimal("0")).quantize(CENT)
    applied = min(credit, total)
    customer = original.customer
    data = OrderInput(
        external_id=f"{original.external_id}-{ret.number}"[:100],
        customer={
            "email": customer.email,
            "first_name": customer.first_name,
            "last_name": customer.last_name,
            "phone": customer.phone,
        },
        delivery=_current_delivery(original),
        lines=[LineInput(sku=line.exchange_product.sku, quantity=line.quantity) for line in lines],
        allow_preorder=False,
        note=_("Exchange for return %(number)s of order %(order)s.")
        % {"number": ret.number, "order": original.number},
        shipping_fee=Decimal("0"),
        payment={"status": "paid", "amount": applied, "provider": "exchange", "reference": ret.number}
        if applied
        else None,
    )
    order = order_create(channel=original.channel, data=data, actor=actor, source="exchange", durable=False)
    Return.objects.filter(pk=ret.pk).update(exchange_order=order, exchange_credit=applied)
    ret.exchange_order, ret.exchange_credit = order, applied
    charge = payment_charge_request(
        order=order,
        amount=total - applied,
        provider=original.payment_provider,
        source_reference=original.payment_reference,
        key=f"charge-{order.pk}-{ret.number}",
        actor=actor,
    )
    event_add(
        order=original,
        code="return.exchange_placed",
        actor=actor,
        number=ret.number,
        exchange_order=order.number,
        credit=credit,
        total=total,
        difference=total - credit,
        charged=bool(charge),
    )
    return order


def exchange_place_quietly(*, ret: Return, actor=None) -> Order | None:
    """``exchange_place`` when the items were received: the receipt is never refused for the replacement;
    when it cannot be reserved, the timeline says so and staff place it later (or refund instead)."""
    from django.db import transaction

    try:
        with transaction.atomic():
            return exchange_place(ret=ret, actor=actor)
    except DomainError as exc:
        event_add(
            order=ret.order_id,
            code="return.exchange_failed",
            actor=actor,
            number=ret.number,
            error=exc.message,
        )
        return None
