"""``address_remember``: an address is kept once; the first one of its kind is the default."""

import pytest

from customers.models import Address, Customer
from customers.services import address_remember

HOME = {"line1": "3 rue X", "postcode": "69003", "city": "Lyon", "country": "FR"}


@pytest.fixture
def customer(db):
    return Customer.objects.create(email="ana@example.fr", first_name="Ana", last_name="Roux")


def test_first_address_is_the_default(customer, django_assert_num_queries):
    # when
    with django_assert_num_queries(2):  # one read, one insert
        address = address_remember(customer=customer, address=HOME)
    # then
    assert address.is_default is True
    assert (address.line1, address.postcode, address.city, address.country) == (
        "3 rue X",
        "69003",
        "Lyon",
        "FR",
    )
    assert Address.objects.filter(customer=customer).count() == 1


def test_same_address_is_reused_in_one_query(customer, django_assert_num_queries):
    # given
    first = address_remember(customer=customer, address=HOME)
    address_remember(customer=customer, address={**HOME, "line1": "5 rue Y"})
    # when
    with django_assert_num_queries(1):
        again = address_remember(customer=customer, address=dict(HOME))
    # then
    assert again.pk == first.pk
    assert Address.objects.filter(customer=customer).count() == 2


def test_another_address_is_added_not_default(customer):
    # given
    first = address_remember(customer=customer, address=HOME)
    # when
    second = address_remember(customer=customer, address={**HOME, "line2": "Bâtiment B"})
    # then
    assert second.pk != first.pk
    assert second.is_default is False
    assert list(Address.objects.filter(customer=customer, is_default=True)) == [first]


def test_billing_book_is_separate(customer):
    # given
    address_remember(customer=customer, address=HOME)
    # when
    billing = address_remember(customer=customer, address=HOME, kind=Address.Kind.BILLING)
    # then
    assert billing.is_default is True
    assert Address.objects.filter(customer=customer).count() == 2


def test_other_customers_book_does_not_count(customer):
    # given
    other = Customer.objects.create(email="louis@example.fr")
    address_remember(customer=other, address=HOME)
    # when
    mine = address_remember(customer=customer, address=HOME)
    # then
    assert mine.customer_id == customer.pk
    assert mine.is_default is True
