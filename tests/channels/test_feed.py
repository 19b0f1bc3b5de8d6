"""The availability change feed (transaction windows: nothing is skipped under concurrency) and the ETag
of GET /api/v1/availability/."""

import threading

import pytest
from django.db import connection as db_connection
from django.db import transaction

from channels.feed import Cursor, changes_read, cursor_now
from inventory import services as inventory_services
from orders.services.api_keys import api_key_create

API = "/api/v1"


@pytest.fixture
def key(shopify_channel):
    _key, raw = api_key_create(channel=shopify_channel, scopes=["stock"])
    return raw


def get(client, path, key, **headers):
    return client.get(f"{API}{path}", headers={"Authorization": f"Bearer {key}", **headers})


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
def test_the_feed_returns_what_changed_since_the_cursor(client, key, products, lyon):
    start = get(client, "/availability/changes/", key).json()
    assert start["results"] == [] and start["has_more"] is False

    inventory_services.stock_receive(product=products["MUG"], location=lyon, quantity=2)
    page = get(client, f"/availability/changes/?since={start['next_cursor']}", key).json()
    assert page["results"] == [{"sku": "MUG", "available": 5, "preorderable": 0, "next_restock_on": None}]

    again = get(client, f"/availability/changes/?since={page['next_cursor']}", key).json()
    assert again["results"] == []


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
def test_the_feed_pages_with_has_more(client, key, products, lyon):
    cursor = get(client, "/availability/changes/", key).json()["next_cursor"]
    inventory_services.stock_receive(product=products["MUG"], location=lyon, quantity=1)
    inventory_services.stock_receive(product=products["TSHIRT-M"], location=lyon, quantity=1)
    first = get(client, f"/availability/changes/?since={cursor}&limit=1", key).json()
    second = get(client, f"/availability/changes/?since={first['next_cursor']}&limit=1", key).json()
    assert first["has_more"] is True and [r["sku"] for r in first["results"]] == ["MUG"]
    assert [r["sku"] for r in second["results"]] == ["TSHIRT-M"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
def test_a_change_committed_late_is_not_skipped(products, lyon):
    """Transaction A writes its change first but commits last; B commits in between and is read. An id
    cursor would move past A's row; the transaction window returns it on the next read."""
    cursor = cursor_now()
    a_wrote, b_done = threading.Event(), threading.Event()

    def slow_writer():
        try:
            with transaction.atomic():
                inventory_services.stock_receive(product=products["TSHIRT-M"], location=lyon, quantity=1)
                a_wrote.set()
                b_done.wait(10)
        finally:
            db_connection.close()

    thread = threading.Thread(target=slow_writer)
    thread.start()
    assert a_wrote.wait(10)
    inventory_services.stock_receive(product=products["MUG"], location=lyon, quantity=1)  # B
    ids, cursor, _more = changes_read(cursor=cursor)
    assert ids == []  # B is held back behind A, which is still running: nothing is skipped
    b_done.set()
    thread.join()
    ids, cursor, _more = changes_read(cursor=cursor)
    assert sorted(ids) == sorted([products["TSHIRT-M"].pk, products["MUG"].pk])
    assert changes_read(cursor=cursor)[0] == []


@pytest.mark.django_db
def test_a_bad_or_expired_cursor_is_refused_in_the_error_format(client, key):
    bad = get(client, "/availability/changes/?since=garbage", key)
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "validation_error"
    expired = get(client, f"/availability/changes/?since={Cursor(lo=1, issued=1000).encode()}", key)
    assert expired.status_code == 410
    assert expired.json()["error"]["code"] == "cursor_expired"
    assert get(client, "/availability/changes/?limit=0", key).status_code == 422
    assert client.get(f"{API}/availability/changes/").status_code == 401


@pytest.mark.django_db
def test_availability_has_an_etag_and_answers_304(client, key, products, lyon):
    first = get(client, "/availability/?sku=MUG&sku=TSHIRT-M", key)
    etag = first["ETag"]
    assert first.status_code == 200 and etag.startswith('"')
    same = get(client, "/availability/?sku=MUG&sku=TSHIRT-M", key, **{"If-None-Match": etag})
    assert same.status_code == 304 and same.content == b"" and same["ETag"] == etag
    weak = get(client, "/availability/?sku=MUG&sku=TSHIRT-M", key, **{"If-None-Match": f'"x", W/{etag}'})
    assert weak.status_code == 304

    inventory_services.stock_receive(product=products["MUG"], location=lyon, quantity=1)
    changed = get(client, "/availability/?sku=MUG&sku=TSHIRT-M", key, **{"If-None-Match": etag})
    assert changed.status_code == 200 and changed["ETag"] != etag
    assert changed.json()["results"][0] == {
        "sku": "MUG",
        "available": 4,
        "preorderable": 0,
        "next_restock_on": None,
    }


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
def test_orders_taken_and_cancelled_appear_in_the_feed(client, key, shopify_channel, products):
    from orders.services.lifecycle import order_cancel
    from tests.orders.factories import place_order

    cursor = get(client, "/availability/changes/", key).json()["next_cursor"]
    order = place_order(channel=shopify_channel, lines=[("MUG", 2)])
    page = get(client, f"/availability/changes/?since={cursor}", key).json()
    assert page["results"] == [{"sku": "MUG", "available": 1, "preorderable": 0, "next_restock_on": None}]
    order_cancel(order=order, reason="test")
    page = get(client, f"/availability/changes/?since={page['next_cursor']}", key).json()
    assert page["results"][0]["available"] == 3
