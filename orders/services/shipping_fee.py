"""The shipping charge of orders the OMS prices itself (phone orders typed by staff): the carrier grid's
price of the cheapest standard service of the chosen mode (incl. VAT at the channel's shipping rate), free
for a store pickup, and free from the channel's threshold. Orders from a shop carry the fee the customer
paid there (``OrderInput.shipping_fee``). Nothing is written."""

from decimal import Decimal

from ..models import Channel, DeliveryMode
from .promise import promise_quote

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def shipping_fee_apply_threshold(*, channel: Channel, goods_total: Decimal, fee: Decimal) -> Decimal:
    """The fee, or nothing when the goods reach the channel's free-shipping threshold."""
    if channel.free_shipping_above is not None and goods_total >= channel.free_shipping_above:
        return ZERO
    return fee.quantize(CENT)


def shipping_fee_quote(
    *, channel: Channel, items: list[tuple[str, int]], goods_total: Decimal, delivery: dict
) -> Decimal | None:
    """The fee to charge for a basket (``[(sku, quantity)]``) and a delivery (the intake's ``delivery``
    dict). None when no carrier service carries it (the intake then refuses or the staff types a fee)."""
    mode = delivery.get("mode")
    if mode == DeliveryMode.STORE:
        return ZERO
    source = delivery.get("address") if mode == DeliveryMode.HOME else delivery.get("relay_point")
    source = source or {}
    options, _unavailable = promise_quote(
        channel=channel,
        items=items,
        modes=[mode],
        postcode=source.get("postcode", ""),
        country=(source.get("country") or "FR").upper()[:2],
        latitude=source.get("latitude"),
        longitude=source.get("longitude"),
        allow_preorder=True,
    )
    standard = [o for o in options if not o.express] or options
    if not standard:
        return None
    cheapest = min(o.price_excl_vat for o in standard)
    fee = cheapest * (1 + channel.shipping_vat_rate / 100)
    return shipping_fee_apply_threshold(channel=channel, goods_total=goods_total, fee=fee)
