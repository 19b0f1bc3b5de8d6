"""``address_remember`` and ``address_keep``: an address is kept once, the first of its kind the default."""

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


def test_address_keep_does_it_in_one_statement(customer, django_assert_num_queries):
    """``address_keep`` (the consumer of ``order.created``): as ``address_remember``, one statement each."""
    from customers.services import address_keep

    # when: the first address, another one, then the first again
    with django_assert_num_queries(1):
        address_keep(customer_id=customer.pk, address=HOME)
    with django_assert_num_queries(1):
        address_keep(customer_id=customer.pk, address={**HOME, "line1": "5 rue Y", "phone": "0600000000"})
    with django_assert_num_queries(1):
        address_keep(customer_id=customer.pk, address=dict(HOME))
    address_keep(customer_id=customer.pk, address=HOME, kind=Address.Kind.BILLING)
    # then: each kept once, the first of its kind the default
    rows = list(
        Address.objects.filter(customer=customer)
        .order_by("pk")
        .values_list("kind", "line1", "phone", "is_default")
    )
    assert rows == [
        ("shipping", "3 rue X", "", True),
        ("shipping", "5 rue Y", "0600000000", False),
        ("billing", "3 rue X", "", True),
    ]
