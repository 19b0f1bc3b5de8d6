"""The order's shipping charge: from the channel (API, Shopify, WooCommerce), priced from the carrier grid for
phone orders (free from the channel's threshold), its own line on the first invoice with its VAT, credited
with the order."""

from decimal import Decimal

import pytest
from django.utils import translation

from channels import woocommerce
from invoicing.models import InvoiceLine
from invoicing.services.issue import credit_notes_for_order, invoice_issue_for_order
from orders.exceptions import InvalidOrder
from orders.services.intake import order_create_priced
from orders.services.shipping_fee import shipping_fee_apply_threshold
from tests.channels.conftest import woo_order
from tests.inventory.factories import LocationFactory, ProductFactory
from tests.invoicing.factories import LegalEntityFactory, consume, order_with_lines
from tests.orders.factories import ChannelFactory, order_input, place_order, stock

pytestmark = pytest.mark.django_db


@pytest.fixture
def lyon(db):
    return LocationFactory(code="lyon", kind="warehouse", postcode="69007", city="Lyon")


@pytest.fixture
def tee(lyon):
    product = ProductFactory(sku="TEE", price=Decimal("20.00"), vat_rate=Decimal("20.0"))
    stock(product, lyon, 10)
    return product


def test_the_channels_fee_is_on_the_order_and_in_its_total(lyon, tee):
    channel = ChannelFactory(code="web", locations=[lyon])

    order = place_order(channel=channel, lines=[("TEE", 2)], shipping_fee=Decimal("4.90"))

    assert (order.shipping_fee, order.shipping_vat_rate, order.total_incl_vat) == (
        Decimal("4.90"),
        Decimal("20.0"),
        Decimal("44.90"),
    )


def test_a_negative_fee_is_refused_and_nothing_is_written(lyon, tee):
    channel = ChannelFactory(code="web", locations=[lyon])

    with pytest.raises(InvalidOrder):
        place_order(channel=channel, lines=[("TEE", 1)], shipping_fee=Decimal("-1"))

    assert not channel.orders.exists()


def test_threshold_makes_shipping_free_from_the_goods_total(db):
    channel = ChannelFactory(code="web", free_shipping_above=Decimal("50.00"))

    assert shipping_fee_apply_threshold(channel=channel, goods_total=Decimal("49.99"), fee=Decimal("5")) == (
        Decimal("5.00")
    )
    assert shipping_fee_apply_threshold(channel=channel, goods_total=Decimal("50.00"), fee=Decimal("5")) == (
        Decimal("0.00")
    )


def test_a_phone_order_for_store_pickup_is_free_and_a_typed_fee_is_kept(lyon, tee, store):
    channel = ChannelFactory(code="web", locations=[lyon, store])

    pickup = order_create_priced(
        channel=channel, data=order_input(lines=[("TEE", 1)], delivery={"mode": "store", "store": store.code})
    )
    typed = order_create_priced(
        channel=channel, data=order_input(lines=[("TEE", 1)], shipping_fee=Decimal("3.00"))
    )

    assert pickup.shipping_fee == Decimal("0.00")
    assert (typed.shipping_fee, typed.total_incl_vat) == (Decimal("3.00"), Decimal("23.00"))


def test_woocommerce_fee_is_shipping_total_plus_its_tax(db):
    data, _mapping = woocommerce.order_input(woo_order(shipping_total="4.08", shipping_tax="0.82"), modes={})

    assert data.shipping_fee == Decimal("4.90")


def test_shipping_is_its_own_line_on_the_first_invoice_only_and_credited_with_the_order(db):
    LegalEntityFactory()
    order = order_with_lines(shipping_fee=Decimal("6.00"), shipping_vat_rate=Decimal("20.0"))
    consume(order, quantities={"TSHIRT-M": 1})

    first = invoice_issue_for_order(order=order, scope="shipped")
    consume(order)
    second = invoice_issue_for_order(order=order, scope="shipped")

    shipping = first.lines.get(kind=InvoiceLine.Kind.SHIPPING)
    with translation.override("fr"):  # the customer's language
        mode = str(order.get_delivery_mode_display())
    assert shipping.description.endswith(mode)
    assert (shipping.quantity, shipping.unit_price_incl_vat) == (1, Decimal("6.00"))
    assert (shipping.total_excl_vat, shipping.total_vat, shipping.vat_rate) == (
        Decimal("5.00"),
        Decimal("1.00"),
        Decimal("20.0"),
    )
    assert first.total_incl_vat == Decimal("19.90") + Decimal("6.00")
    assert not second.lines.filter(kind=InvoiceLine.Kind.SHIPPING).exists()

    notes = credit_notes_for_order(order=order, reason="annulée")

    credited_shipping = [line for note in notes for line in note.lines.filter(kind=InvoiceLine.Kind.SHIPPING)]
    assert [line.total_incl_vat for line in credited_shipping] == [Decimal("6.00")]
    assert sum(note.total_incl_vat for note in notes) == first.total_incl_vat + second.total_incl_vat
