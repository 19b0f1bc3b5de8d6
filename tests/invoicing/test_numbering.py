"""Numbers are unique, chronological and without gaps, under concurrency and rollbacks (PostgreSQL)."""

import threading
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.utils import timezone

from invoicing.models import Invoice, NumberSequence
from invoicing.services import issue
from invoicing.services.issue import invoice_issue_for_order
from tests.inventory.factories import LocationFactory, ProductFactory
from tests.invoicing.factories import LegalEntityFactory
from tests.orders.factories import ChannelFactory, CustomerFactory, OrderFactory


@pytest.fixture
def no_render(monkeypatch):
    """Issue without rendering (this file is about numbers)."""
    monkeypatch.setattr(issue, "_schedule_render", lambda document_id: None)


def _orders(count: int):
    location = LocationFactory(code="lyon")
    product = ProductFactory(sku="NUM-1", price=Decimal("12.00"))
    channel = ChannelFactory(code="web")
    customer = CustomerFactory()
    return [
        OrderFactory(
            channel=channel, customer=customer, lines=[(product, 1, location)], order_locations=False
        )
        for _ in range(count)
    ]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_16_parallel_issuers_make_200_numbers_without_gap_or_duplicate(no_render):
    entity = LegalEntityFactory()
    orders = _orders(200)
    errors = []
    barrier = threading.Barrier(16)

    def issuer(chunk):
        try:
            barrier.wait()
            for order in chunk:
                invoice_issue_for_order(order=order, scope="all")
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=issuer, args=(orders[i::16],)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    numbers = list(Invoice.objects.order_by("sequence_number").values_list("sequence_number", flat=True))
    assert numbers == list(range(1, 201))
    assert Invoice.objects.values("number").distinct().count() == 200
    assert NumberSequence.objects.get(legal_entity=entity, series="FA").last_number == 200
    # Chronological: a later number never has an earlier issue time.
    times = list(Invoice.objects.order_by("sequence_number").values_list("created_at", flat=True))
    assert times == sorted(times)
    # Every order invoiced exactly once.
    assert Invoice.objects.values("order").distinct().count() == 200


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_issue_leaves_no_gap(no_render):
    LegalEntityFactory()
    first, second, third = _orders(3)
    invoice_issue_for_order(order=first, scope="all")

    class Boom(Exception):
        pass

    with pytest.raises(Boom), transaction.atomic():
        invoice_issue_for_order(order=second, scope="all")
        raise Boom  # e.g. the packing transaction fails after the invoice was issued

    assert Invoice.objects.filter(order=second).count() == 0
    invoice_issue_for_order(order=third, scope="all")
    invoice_issue_for_order(order=second, scope="all")
    year = timezone.localdate().year
    assert list(Invoice.objects.order_by("sequence_number").values_list("number", "order_id")) == [
        (f"FA-{year}-000001", first.pk),
        (f"FA-{year}-000002", third.pk),
        (f"FA-{year}-000003", second.pk),
    ]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_waiting_issuer_gets_the_next_number_after_the_first_commits(no_render):
    """While one transaction holds the sequence row, another waits for it instead of taking a number."""
    LegalEntityFactory()
    first, second = _orders(2)
    holding = threading.Event()
    release = threading.Event()
    results = {}

    def slow():
        try:
            with transaction.atomic():
                results["slow"] = invoice_issue_for_order(order=first, scope="all").sequence_number
                holding.set()
                release.wait(10)
        finally:
            connection.close()

    def fast():
        try:
            holding.wait(10)
            results["fast"] = invoice_issue_for_order(order=second, scope="all").sequence_number
        finally:
            connection.close()

    threads = [threading.Thread(target=slow), threading.Thread(target=fast)]
    for thread in threads:
        thread.start()
    holding.wait(10)
    threads[1].join(timeout=0.5)
    assert threads[1].is_alive()  # waiting on the locked sequence row
    release.set()
    for thread in threads:
        thread.join(timeout=10)
    assert results == {"slow": 1, "fast": 2}
