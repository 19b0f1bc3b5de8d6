"""Read-your-writes bookkeeping of common/replica.py, without a replica: a write pins its browser (cookie)
and its API key (cache) to the primary for REPLICA_PIN_SECONDS; the router reads the primary whenever no
replica is configured. The reads themselves are tested against a real standby in tests/replica."""

import time

from django.http import HttpResponse
from django.test import RequestFactory

from common import replica


def test_a_write_pins_the_browser_and_the_api_key_for_a_few_seconds(settings):
    settings.REPLICA_PIN_SECONDS = 15
    rf = RequestFactory()
    post = rf.post("/api/v1/orders/", HTTP_AUTHORIZATION="Bearer key-one")
    response = HttpResponse()
    before = time.time()
    replica.pin_to_primary(post, response)
    cookie = response.cookies[replica.PIN_COOKIE]
    assert cookie["max-age"] == 15 and cookie["httponly"]
    assert before + 14.999 <= float(cookie.value) <= time.time() + 15.001  # written to the millisecond
    # the same API key reads the primary; another key and a browser without the cookie do not
    assert replica.pinned_to_primary(rf.get("/api/v1/availability/", HTTP_AUTHORIZATION="Bearer key-one"))
    assert not replica.pinned_to_primary(rf.get("/api/v1/availability/", HTTP_AUTHORIZATION="Bearer key-two"))
    assert not replica.pinned_to_primary(rf.get("/orders/"))
    browser = rf.get("/orders/")
    browser.COOKIES[replica.PIN_COOKIE] = cookie.value
    assert replica.pinned_to_primary(browser)
    browser.COOKIES[replica.PIN_COOKIE] = f"{time.time() - 1:.3f}"  # expired
    assert not replica.pinned_to_primary(browser)


def test_without_a_replica_every_read_goes_to_the_primary():
    router = replica.ReplicaRouter()
    assert not replica.configured()
    with replica.replica_reads() as state:
        assert state.replica is False
        assert router.db_for_read(None) == "default"
    assert router.db_for_write(None) == "default"
    assert replica.replica_status().as_dict()["configured"] is False
