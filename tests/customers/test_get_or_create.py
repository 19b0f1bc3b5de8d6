"""Customers found or created by email, one at a time (single intake) and by batch (batch intake): the same
rules either way, on SQLite and PostgreSQL."""

import pytest
from django.db import DataError, connection, transaction

from common.models import DomainEvent
from customers import services
from customers.models import Customer
from tests.orders.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def _created_events() -> list[int]:
    return sorted(
        DomainEvent.objects.filter(code="customer.created").values_list("payload__customer_id", flat=True)
    )


def test_one_customer_found_case_insensitively_and_empty_fields_filled():
    known = CustomerFactory(email="Ana@Example.fr", first_name="Ana", phone="")
    customer, created = services.customer_get_or_create(
        email="ana@example.FR", data={"first_name": "Anna", "phone": "+33611223344"}
    )
    assert (customer.pk, created) == (known.pk, False)
    known.refresh_from_db()
    assert (known.first_name, known.phone) == ("Ana", "+33611223344")  # kept; filled
    fresh, created = services.customer_get_or_create(email="new@example.fr", data={"last_name": "Roux"})
    assert created and fresh.last_name == "Roux"
    assert _created_events() == [fresh.pk]


def test_a_batch_finds_fills_and_creates_each_customer_once():
    known = CustomerFactory(email="Ana@Example.fr", first_name="Ana", phone="")
    found = services.customers_get_or_create_many(
        people=[
            ("ana@example.fr", {"first_name": "Anna", "phone": "+33611223344"}),
            ("Lea@example.fr", {"first_name": "Léa"}),
            ("lea@EXAMPLE.fr", {"last_name": "Petit", "first_name": "Lea"}),  # the same person again
            ("  marc@example.fr ", {}),
        ]
    )
    assert set(found) == {"ana@example.fr", "lea@example.fr", "marc@example.fr"}
    assert found["ana@example.fr"].pk == known.pk
    known.refresh_from_db()
    assert (known.first_name, known.phone) == ("Ana", "+33611223344")
    lea = Customer.objects.get(email__iexact="lea@example.fr")
    assert (lea.email, lea.first_name, lea.last_name) == ("Lea@example.fr", "Léa", "Petit")
    assert Customer.objects.get(email="marc@example.fr").pk == found["marc@example.fr"].pk
    # only the two new customers are announced, once each; a second batch announces nobody
    assert _created_events() == sorted([lea.pk, found["marc@example.fr"].pk])
    again = services.customers_get_or_create_many(people=[("LEA@example.fr", {"phone": "+33700000000"})])
    assert again["lea@example.fr"].pk == lea.pk
    assert _created_events() == sorted([lea.pk, found["marc@example.fr"].pk])
    assert Customer.objects.count() == 3


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the one-statement upsert is PostgreSQL's")
def test_the_upsert_is_one_statement_text_whatever_the_number_of_customers():
    """The rows travel as one JSON parameter: one text (prepared once per connection) for any batch size."""
    texts = []

    def capture(execute, sql, params, many, context):
        texts.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(capture):
        services.customers_get_or_create_many(people=[("one@example.fr", {"first_name": "Un"})])
        services.customers_get_or_create_many(
            people=[("two@example.fr", {}), ("three@example.fr", {"language": "en", "phone": "+33611"})]
        )
    upserts = [t for t in texts if "ON CONFLICT" in t]
    assert len(upserts) == 2 and upserts[0] == upserts[1]
    three = Customer.objects.get(email="three@example.fr")
    assert (three.language, three.phone, three.first_name, three.sms_opt_in) == ("en", "+33611", "", False)
    assert three.created_at == three.updated_at


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the one-statement upsert is PostgreSQL's")
def test_a_value_too_long_is_refused_not_cut():
    with pytest.raises(DataError), transaction.atomic():
        services.customers_get_or_create_many(people=[("long@example.fr", {"first_name": "x" * 101})])
    assert not Customer.objects.filter(email="long@example.fr").exists()
