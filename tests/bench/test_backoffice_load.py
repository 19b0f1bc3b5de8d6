"""The back-office benchmark's bulk load (bench/backoffice.py) against the current schema: a few hundred
orders copied into the test database exactly as the 10-million-order run does it, then read back through
the list's selectors. A model change the COPY does not know about (a new NOT NULL column, a moved table)
fails here, not in the middle of an hour-long load."""

import random
import sys
from pathlib import Path

import pytest
from django.db import connection

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _database_url() -> str:
    s = connection.settings_dict
    return f"postgresql://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def test_bulk_load_fills_every_table_the_lists_read_and_keeps_the_indexes():
    import backoffice

    from inventory.models import Allocation
    from orders.models import Order, OrderLine, OrderLocation
    from orders.selectors import order_list, order_list_count

    # given: the reference data through the ORM and the indexes the schema has
    ref = backoffice.load_reference_data()
    url = _database_url()
    import psycopg

    with psycopg.connect(url) as conn:
        before = sorted(backoffice.secondary_indexes(conn, backoffice.COLUMNS))
    assert len(before) >= 10

    # when
    rows = backoffice.bulk_load(url=url, orders=300, customers=60, ref=ref, seed=7, quiet=True)

    # then: every row counted is there, and the indexes dropped for the COPY are back, identical
    assert rows["orders_order"] == Order.objects.count() == 300
    assert rows["orders_orderline"] == OrderLine.objects.count()
    assert rows["orders_allocation"] == Allocation.objects.count() > 0
    assert rows["orders_orderlocation"] == OrderLocation.objects.count() > 0
    with psycopg.connect(url) as conn:
        assert sorted(backoffice.secondary_indexes(conn, backoffice.COLUMNS)) == before
    # the lists read it: the manager sees every order, staff of a location the orders handled there
    from django.contrib.auth import get_user_model

    manager = get_user_model().objects.get(username="bench-manager")
    assert order_list_count(order_list(user=manager, filters={}))[0] == 300
    lyon = next(loc for loc in ref["locations"] if loc.code == "lyon")
    at_lyon = set(OrderLocation.objects.filter(location=lyon).values_list("order_id", flat=True))
    listed = set(order_list(user=manager, filters={"location": lyon}).values_list("pk", flat=True))
    assert listed == at_lyon and len(at_lyon) > 0
    # an order allocated somewhere is handled there
    sample = random.Random(1).sample(list(Allocation.objects.values_list("order_id", "location_id")), 20)
    for order_id, location_id in sample:
        assert OrderLocation.objects.filter(order_id=order_id, location_id=location_id).exists()
    # each order carries its customer's names in lower case, as the triggers would have written them
    with connection.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM orders_order o JOIN customers_customer c ON c.id = o.customer_id "
            "WHERE o.search_first_name <> lower(c.first_name) OR o.search_last_name <> lower(c.last_name)"
        )
        assert cur.fetchone()[0] == 0
    # the sequences follow the explicit ids: the next order gets a fresh id
    with connection.cursor() as cur:
        cur.execute("SELECT nextval(pg_get_serial_sequence('orders_order', 'id'))")
        assert cur.fetchone()[0] == 301
