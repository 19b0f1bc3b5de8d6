"""Exchanges: units come back and another size goes out as a new order linked to the return, reserved when
the exchange is accepted (or on receipt, per channel rule), paid by the returned value; the difference is
charged through the payment service the original order was paid with, else left to pay (dearer), or
refunded with the return (cheaper)."""

from decimal import Decimal

import pytest
from django.urls import reverse

from inventory.exceptions import OutOfStock
from inventory.models import Allocation
from orders.models import Order, PaymentTransaction
from orders.payments.services import amount_due, payment_transaction_run
from orders.services.api_keys import api_key_create
from returns import services
from returns.exceptions import ReturnRefused
from returns.exchanges import exchange_options
from returns.models import Return, ReturnRule
from tests.api.conftest import Api
from tests.events import events_of
from tests.inventory.factories import ProductFactory
from tests.orders.factories import stock

pytestmark = pytest.mark.django_db


@pytest.fixture
def large(world):
    product = ProductFactory(
        sku="TSHIRT-L", name="T-shirt L", price=Decimal("24.90"), vat_rate=Decimal("20.0")
    )
    stock(product, world.lyon, 3)
    return product


def exchange(world, sku="TSHIRT-L", quantity=1):
    line = world.line(world.order, "TSHIRT")
    return services.return_request(
        order=world.order,
        lines=[
            services.LineRequest(
                order_line=line, quantity=quantity, reason=world.reasons["wrong_size"], exchange_sku=sku
            )
        ],
        method="store",
        store=world.paris,
    )


def test_the_options_are_the_same_product_and_its_other_sizes(world, large):
    ProductFactory(sku="TSHIRTS-X")  # another stem: not an option
    assert [p.sku for p in exchange_options(world.line(world.order, "TSHIRT"))] == ["TSHIRT", "TSHIRT-L"]


def test_accepting_the_exchange_reserves_the_replacement_as_a_new_order(world, large):
    ret = exchange(world)

    services.return_accept(ret=ret)

    ret.refresh_from_db()
    new = ret.exchange_order
    assert new is not None and new.number != world.order.number
    assert [(line.sku, line.quantity) for line in new.lines.all()] == [("TSHIRT-L", 1)]
    assert Allocation.objects.filter(order=new, product=large).get().quantity == 1
    # paid by the returned T-shirt (19.90); the 5.00 more is left to pay on the new order
    assert (ret.exchange_credit, new.amount_paid, new.total_incl_vat) == (
        Decimal("19.90"),
        Decimal("19.90"),
        Decimal("24.90"),
    )
    assert events_of(world.order, "return.exchange_placed").get().payload["difference"] == "5.00"


def test_a_replacement_out_of_stock_refuses_the_acceptance_whole(world):
    xl = ProductFactory(sku="TSHIRT-XL", price=Decimal("19.90"), vat_rate=Decimal("20.0"))
    stock(xl, world.lyon, 1)
    ret = exchange(world, sku="TSHIRT-XL", quantity=2)  # 2 wanted, 1 in stock

    with pytest.raises(OutOfStock):
        services.return_accept(ret=ret)

    ret.refresh_from_db()
    assert (ret.status, ret.exchange_order) == ("requested", None)
    assert not Order.objects.exclude(pk=world.order.pk).exists()
    assert not Allocation.objects.filter(product=xl).exists()


def test_on_receipt_policy_and_a_cheaper_replacement_refunds_the_difference(world):
    small = ProductFactory(sku="TSHIRT-S", price=Decimal("15.00"), vat_rate=Decimal("20.0"))
    stock(small, world.lyon, 3)
    ReturnRule.objects.update_or_create(channel=world.channel, defaults={"exchange_reserve_on": "received"})
    ret = exchange(world, sku="TSHIRT-S")
    services.return_accept(ret=ret)
    ret.refresh_from_db()
    assert ret.exchange_order is None  # not before the items are back

    line = ret.lines.get()
    services.return_receive(ret=ret, location=world.paris, results={line.pk: (1, 0)})

    ret.refresh_from_db()
    assert ret.exchange_order.total_incl_vat == Decimal("15.00")
    assert ret.exchange_credit == Decimal("15.00")
    quote = services.refund_quote(ret)
    assert (quote.lines, quote.exchanged, quote.total) == (
        Decimal("19.90"),
        Decimal("15.00"),
        Decimal("4.90"),
    )


def test_an_exchange_for_a_product_of_another_family_is_refused(world, large):
    ProductFactory(sku="MUG-XL")
    with pytest.raises(ReturnRefused):
        exchange(world, sku="MUG-XL")
    assert not Return.objects.exists()


def _paid_through(world, reference, provider="sandbox"):
    """The original order was paid at checkout through a payment service."""
    Order.objects.filter(pk=world.order.pk).update(
        payment_provider=provider,
        payment_reference=reference,
        payment_status="paid",
        amount_paid=world.order.total_incl_vat,
    )


def test_a_dearer_exchange_charges_the_difference_through_the_payment_service_once(
    world, large, django_capture_on_commit_callbacks
):
    _paid_through(world, "sbx_pi_9")
    ret = exchange(world)

    with django_capture_on_commit_callbacks(execute=True):
        services.return_accept(ret=ret)
    ret.refresh_from_db()
    new = ret.exchange_order
    # the task run again (a redelivered message) charges nothing more
    payment_transaction_run(transaction_id=PaymentTransaction.objects.get(order=new).pk)

    new.refresh_from_db()
    charge = PaymentTransaction.objects.get(order=new)
    assert (charge.kind, charge.status, charge.amount, charge.provider, charge.source_reference) == (
        "charge",
        "succeeded",
        Decimal("5.00"),
        "sandbox",
        "sbx_pi_9",
    )
    assert charge.idempotency_key == f"charge-{new.pk}-{ret.number}"
    assert charge.reference.startswith("sbx_pay_")
    assert (new.amount_paid, new.total_incl_vat, amount_due(new)) == (
        Decimal("24.90"),
        Decimal("24.90"),
        Decimal("0"),
    )
    assert events_of(new, "payment.received").get().payload["amount"] == "5.00"
    assert events_of(world.order, "return.exchange_placed").get().payload["charged"] is True


def test_a_refused_charge_leaves_the_difference_to_pay_and_says_so(
    world, large, django_capture_on_commit_callbacks, admin_client
):
    _paid_through(world, "sbx_declined_9")
    ret = exchange(world)

    with django_capture_on_commit_callbacks(execute=True):
        services.return_accept(ret=ret)

    new = Return.objects.get(pk=ret.pk).exchange_order
    charge = PaymentTransaction.objects.get(order=new)
    assert charge.status == "failed" and "declines" in charge.error
    assert (new.amount_paid, amount_due(new)) == (Decimal("19.90"), Decimal("5.00"))
    assert events_of(new, "payment.failed", kind="charge").count() == 1
    page = admin_client.get(reverse("orders:order_detail", args=[new.number]), HTTP_ACCEPT_LANGUAGE="en")
    assert "Left to pay" in page.content.decode()


def test_without_a_payment_service_the_difference_is_left_to_pay_on_the_page_and_in_the_api(
    world, large, django_capture_on_commit_callbacks, admin_client
):
    ret = exchange(world)  # the original order's payment is managed elsewhere (no provider)

    with django_capture_on_commit_callbacks(execute=True):
        services.return_accept(ret=ret)

    new = Return.objects.get(pk=ret.pk).exchange_order
    assert not PaymentTransaction.objects.filter(order=new).exists()
    assert amount_due(new) == Decimal("5.00")
    assert events_of(world.order, "return.exchange_placed").get().payload["charged"] is False
    page = admin_client.get(reverse("orders:order_detail", args=[new.number]), HTTP_ACCEPT_LANGUAGE="en")
    html = page.content.decode()
    assert "Left to pay" in html and "5.00" in html
    _key, secret = api_key_create(channel=new.channel, scopes=["all"])
    body = Api(secret).get(f"/orders/{new.number}/payments/").json()
    assert (body["amount_paid"], body["amount_due"], body["total_incl_vat"]) == ("19.90", "5.00", "24.90")
