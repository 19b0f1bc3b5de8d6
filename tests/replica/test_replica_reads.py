"""Reads from a real streaming replica (common/replica.py): the listed pages read the standby while it keeps
up; a user who has just written reads the primary (read-your-writes) even while the standby lags; a lagging
or unreachable standby is skipped and /healthz says so; everything else reads and writes the primary."""

import json
import time

import pytest
from django.db import connections
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from common import replica
from oms.roles import MANAGER
from tests.inventory.factories import ProductFactory, ean13
from tests.oms.factories import UserFactory

from .conftest import replay_paused, wait_replayed

pytestmark = [
    pytest.mark.replica,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, databases=["default", "replica"]),
]


def _manager_client(username: str) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(UserFactory(username=username, role=MANAGER))
    return client


def _new_product(sku: str, n: int) -> dict:
    return {
        "sku": sku,
        "name": f"Plaid écru {n}",
        "ean": ean13(9000 + n),
        "price": "49.90",
        "vat_rate": "20.0",
        "weight_g": "900",
        "length_mm": "400",
        "width_mm": "300",
        "height_mm": "120",
    }


def _product_tables(queries) -> list[str]:
    return [q["sql"] for q in queries if 'FROM "inventory_product"' in q["sql"]]


def test_a_listed_page_reads_the_replica_while_it_keeps_up():
    # given
    ProductFactory(sku="ON-THE-STANDBY", name="Lu sur la réplique")
    client = _manager_client("reader")
    wait_replayed()
    # when
    with (
        CaptureQueriesContext(connections["replica"]) as on_replica,
        CaptureQueriesContext(connections["default"]) as on_primary,
    ):
        response = client.get(reverse("inventory:catalogue"))
    # then
    assert response.status_code == 200
    assert "ON-THE-STANDBY" in response.content.decode()
    assert _product_tables(on_replica.captured_queries)
    assert _product_tables(on_primary.captured_queries) == []


def test_a_page_not_listed_and_every_write_go_to_the_primary():
    product = ProductFactory(sku="PRIMARY-ONLY")
    client = _manager_client("editor")
    wait_replayed()
    with (
        CaptureQueriesContext(connections["replica"]) as on_replica,
        CaptureQueriesContext(connections["default"]) as on_primary,
    ):
        response = client.get(reverse("inventory:product_edit", args=[product.pk]))
    assert response.status_code == 200
    assert _product_tables(on_replica.captured_queries) == []
    assert _product_tables(on_primary.captured_queries)
    # a read inside a transaction reads the primary whatever the scope
    with replica.replica_reads() as state:
        assert state.replica
        from django.db import transaction

        from inventory.models import Product

        with transaction.atomic():
            assert Product.objects.all().db == "default"
        assert Product.objects.all().db == "replica"
        Product.objects.filter(pk=product.pk).update(name="Renamed")
        assert Product.objects.all().db == "default"  # read your own write, in the same block


def test_a_writer_reads_their_own_write_while_the_replica_lags(settings):
    """The proof asked by the issue: a write followed by a read in the same session sees the write, with
    a lagging replica (replay paused; the lag limit high enough that only the pin keeps the read right)."""
    settings.REPLICA_MAX_LAG_SECONDS = 3600
    writer = _manager_client("writer")
    other = _manager_client("other")
    wait_replayed()
    with replay_paused():
        # when: the writer creates a product, then opens the catalogue
        response = writer.post(
            reverse("inventory:product_create"),
            _new_product("JUST-WRITTEN", 1),
        )
        assert response.status_code == 302, response.content[:500]
        assert replica.PIN_COOKIE in response.cookies
        mine = writer.get(reverse("inventory:catalogue"))
        theirs = other.get(reverse("inventory:catalogue"))
        # then: the writer sees it (primary), someone else reads the lagging standby, without it yet
        assert mine.status_code == theirs.status_code == 200
        assert "JUST-WRITTEN" in mine.content.decode()
        assert "JUST-WRITTEN" not in theirs.content.decode()
    wait_replayed()
    assert "JUST-WRITTEN" in other.get(reverse("inventory:catalogue")).content.decode()


def test_the_pin_ends_after_replica_pin_seconds(settings):
    settings.REPLICA_PIN_SECONDS = 1
    writer = _manager_client("brief")
    response = writer.post(
        reverse("inventory:product_create"),
        _new_product("PIN-ENDS", 2),
    )
    assert response.status_code == 302
    wait_replayed()
    time.sleep(1.1)
    writer.cookies.pop(replica.PIN_COOKIE, None)  # the browser drops it at max-age
    with CaptureQueriesContext(connections["replica"]) as on_replica:
        assert "PIN-ENDS" in writer.get(reverse("inventory:catalogue")).content.decode()
    assert _product_tables(on_replica.captured_queries)


def test_a_lagging_replica_is_skipped_and_healthz_says_so(settings, client):
    settings.REPLICA_MAX_LAG_SECONDS = 1
    reader = _manager_client("late-reader")
    wait_replayed()
    with replay_paused():
        ProductFactory(sku="WHILE-LAGGING")  # written on the primary by someone else: no pin
        deadline = time.monotonic() + 15
        while (replica.replica_status(fresh=True).lag_seconds or 0) <= 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        status = replica.replica_status(fresh=True)
        assert status.ok and status.lag_seconds > 1 and not status.usable
        with CaptureQueriesContext(connections["replica"]) as on_replica:
            page = reader.get(reverse("inventory:catalogue"))
        assert "WHILE-LAGGING" in page.content.decode()  # read from the primary
        assert _product_tables(on_replica.captured_queries) == []
        health = client.get("/healthz")
        body = json.loads(health.content)
        assert health.status_code == 200
        assert body["status"] == "degraded"
        assert body["replica"]["ok"] is True and body["replica"]["used"] is False
        assert body["replica"]["lag_seconds"] > 1 and body["replica"]["max_lag_seconds"] == 1
    wait_replayed()
    body = json.loads(client.get("/healthz").content)
    assert body["replica"]["used"] is True and body["replica"]["lag_seconds"] < 1


def test_an_unreachable_replica_is_skipped(client):
    reader = _manager_client("reader-down")
    ProductFactory(sku="REPLICA-DOWN")
    saved = connections["replica"].settings_dict
    connections["replica"].close()
    connections["replica"].settings_dict = {**saved, "PORT": "1"}  # nothing listens there
    try:
        replica.forget_status()
        page = reader.get(reverse("inventory:catalogue"))
        assert page.status_code == 200 and "REPLICA-DOWN" in page.content.decode()
        body = json.loads(client.get("/healthz").content)
        assert body["status"] == "degraded"
        assert body["replica"] == {
            "configured": True,
            "ok": False,
            "lag_seconds": None,
            "max_lag_seconds": body["replica"]["max_lag_seconds"],
            "used": False,
            "detail": "OperationalError",
        }
    finally:
        connections["replica"].close()
        connections["replica"].settings_dict = saved
