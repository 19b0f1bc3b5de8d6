"""The hot paths' INSERTs compiled once per process (common/inserts.py) write what create / bulk_create
would, give the rows their keys and database defaults, and skip a conflicting row when asked."""

import pytest
from django.db.models.signals import post_save, pre_save

from common.inserts import insert_rows
from customers.models import Notification
from orders.models import IdempotencyKey, Order, OrderLine, OrderLocation
from tests.orders.factories import ChannelFactory, OrderFactory

pytestmark = pytest.mark.django_db


def test_the_models_inserted_this_way_have_no_save_receivers():
    # insert_rows sends no signal: a receiver added to these models would be skipped silently
    for model in (Order, OrderLine, OrderLocation, IdempotencyKey, Notification):
        assert not pre_save.has_listeners(model), model
        assert not post_save.has_listeners(model), model


def test_an_order_row_gets_its_number_from_the_database_and_reads_back_the_same():
    # given: an order built as the intake does, its number left to the column's default
    template = OrderFactory()
    order = Order(
        channel=template.channel,
        customer=template.customer,
        external_id="INS-1",
        status=template.status,
        total_incl_vat=template.total_incl_vat,
    )
    # when
    assert insert_rows([order]) == [True]
    # then
    stored = Order.objects.get(pk=order.pk)
    assert order.number == stored.number and order.number.startswith("CMD-")
    assert order.created_at == stored.created_at
    assert order._state.adding is False


def test_several_rows_in_one_statement_keep_their_order(django_assert_num_queries):
    order = OrderFactory()
    product = order.lines.first().product if order.lines.exists() else None
    if product is None:
        from tests.inventory.factories import ProductFactory

        product = ProductFactory()
    lines = [
        OrderLine(
            order=order,
            line_no=10 + i,
            product=product,
            sku=product.sku,
            name=f"n{i}",
            quantity=i + 1,
            unit_price="1.50",
            vat_rate="20.0",
        )
        for i in range(3)
    ]
    for _round in range(2):  # compiled once, then only the values
        with django_assert_num_queries(1):
            assert insert_rows(lines) == [True, True, True]
        stored = list(OrderLine.objects.filter(pk__in=[line.pk for line in lines]).order_by("pk"))
        assert [(s.pk, s.line_no, s.quantity, s.name) for s in stored] == [
            (line.pk, line.line_no, line.quantity, line.name) for line in lines
        ]
        lines = [
            OrderLine(
                order=order,
                line_no=20 + i,
                product=product,
                sku=product.sku,
                name=f"m{i}",
                quantity=i + 5,
                unit_price="2.00",
                vat_rate="5.5",
            )
            for i in range(3)
        ]


def test_a_conflicting_row_is_skipped_without_breaking_the_transaction():
    channel = ChannelFactory()
    first = IdempotencyKey(channel=channel, key="k1", request_hash="a" * 64)
    assert insert_rows([first], conflict=("channel_id", "key")) == [True]
    again = IdempotencyKey(channel=channel, key="k1", request_hash="b" * 64)
    assert insert_rows([again], conflict=("channel_id", "key")) == [False]
    assert again.pk is None
    assert IdempotencyKey.objects.filter(channel=channel, key="k1").count() == 1  # the transaction goes on
    assert IdempotencyKey.objects.get(channel=channel, key="k1").request_hash == "a" * 64


def test_plain_values_are_sent_as_django_converts_them():
    # A plain text or boolean is sent as it is; anything else (an enum member, a lazy string, a number in a
    # text field, a subclass of a plain field) goes through Django's own conversion: the same values.
    from django.db import connection
    from django.utils.functional import lazy

    from common.inserts import _PLAIN, _fields, _value
    from orders.models import OrderStatus

    template = OrderFactory()
    order = Order(
        channel=template.channel,
        customer=template.customer,
        external_id=lazy(lambda: "INS-LAZY", str)(),
        status=OrderStatus.ALLOCATED,
        purchase_order=1234,
        note=None,
        ship_name="Ana",
        allow_preorder=True,
        total_incl_vat=template.total_incl_vat,
    )
    order.currency = "EUR"  # a plain str, beside the enum member of the status
    checked = 0
    for field in _fields(Order):
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            continue  # its pre_save takes the time anew at each call: not plain, the same code either way
        expected = field.get_db_prep_save(field.pre_save(order, True), connection)
        got = _value(field, _PLAIN.get(type(field)), order, connection)
        # psycopg's Jsonb wrappers do not compare: their contents do
        assert type(got) is type(expected), field.name
        assert getattr(got, "obj", got) == getattr(expected, "obj", expected), field.name
        checked += _PLAIN.get(type(field)) is not None
    assert checked > 10
