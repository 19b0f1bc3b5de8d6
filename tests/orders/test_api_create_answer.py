"""The answer to ``POST /api/v1/orders/``: read back once, stored as is for the Idempotency-Key replay, and
in a fixed number of queries (the intake benchmark's figures depend on it)."""

import json
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from inventory import services as inventory_services
from orders.models import Channel, ChannelLocation, IdempotencyKey, Order
from orders.services.api_keys import api_key_create
from tests.inventory.factories import LocationFactory

BODY = {
    "external_id": "SHOP-1001",
    "customer": {"email": "a@example.fr", "first_name": "Ana", "last_name": "Roux", "phone": "+33612345678"},
    "delivery": {
        "mode": "home",
        "address": {"line1": "3 rue X", "postcode": "69003", "city": "Lyon", "country": "FR"},
    },
    "lines": [{"sku": "TSHIRT-M", "quantity": 2, "unit_price": "19.90"}, {"sku": "MUG", "quantity": 1}],
    "allow_preorder": True,
}


def _queries(client, body, key=None) -> tuple[int, object]:
    with CaptureQueriesContext(connection) as ctx:
        response = _post(client, body, key=key)
    assert response.status_code == 201, response.content
    return len(ctx.captured_queries), response


def _body(external_id: str, skus) -> dict:
    return {**BODY, "external_id": external_id, "lines": [{"sku": sku, "quantity": 1} for sku in skus]}


@pytest.fixture
def api(db):
    translation.activate("en")
    location = LocationFactory(code="lyon")
    channel = Channel.objects.create(code="web", name="Web")
    ChannelLocation.objects.create(channel=channel, location=location, priority=0)
    for sku, price in (("TSHIRT-M", "19.90"), ("MUG", "9.50"), ("CAP", "12.00")):
        product = inventory_services.product_create(
            data={"sku": sku, "name": sku.title(), "price": Decimal(price), "vat_rate": Decimal("20.0")}
        )
        inventory_services.stock_receive(product=product, location=location, quantity=10)
    _, raw = api_key_create(channel=channel, scopes=["orders"])
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")


def _post(client, body, key=None):
    headers = {"Idempotency-Key": key} if key else {}
    return client.post("/api/v1/orders/", data=body, content_type="application/json", headers=headers)


def test_created_answer_is_the_stored_replay(api):
    # when
    created = _post(api, BODY, key="k-1")
    replay = _post(api, BODY, key="k-1")
    # then
    assert created.status_code == 201
    assert replay.status_code == 201
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == created.json()
    body = created.json()
    assert body["external_id"] == "SHOP-1001"
    assert body["status"] == "allocated"
    assert body["total_incl_vat"] == "49.30"
    assert [(line["sku"], line["quantity"], line["allocations"]) for line in body["lines"]] == [
        (
            "TSHIRT-M",
            2,
            [{"sku": "TSHIRT-M", "location": "lyon", "quantity": 2, "kind": "stock", "expected_on": None}],
        ),
        ("MUG", 1, [{"sku": "MUG", "location": "lyon", "quantity": 1, "kind": "stock", "expected_on": None}]),
    ]
    assert Order.objects.count() == 1
    assert json.loads(IdempotencyKey.objects.get(key="k-1").response_body) == body
    assert replay.content == created.content  # byte for byte, keys in the same order


def test_the_answer_costs_a_fixed_number_of_queries(api):
    # given: a first order, so that the customer and the address exist for all the measured ones
    _post(api, _body("WARM", ["MUG"]))
    # when
    one_line, _ = _queries(api, _body("A", ["MUG"]))
    three_lines, _ = _queries(api, _body("B", ["MUG", "TSHIRT-M", "CAP"]))
    one_line_key, _ = _queries(api, _body("C", ["MUG"]), key="k-c")
    three_lines_key, answer = _queries(api, _body("D", ["MUG", "TSHIRT-M", "CAP"]), key="k-d")
    # then: more lines cost nothing more (every level is reserved in one statement, the answer is built
    # from what was written); a key costs its claim (one INSERT … ON CONFLICT DO NOTHING, no savepoint) and
    # its store, whatever the size of the order (the stored answer is the one sent).
    assert three_lines == one_line
    assert three_lines_key == one_line_key
    assert one_line_key - one_line == 2
    assert len(answer.json()["lines"]) == 3


def test_created_answer_without_key(api):
    # when
    created = _post(api, BODY)
    # then
    assert created.status_code == 201
    order = Order.objects.get()
    body = created.json()
    assert body["number"] == order.number
    assert body["tracking_url"].endswith(f"/track/{order.tracking_token}/")
    assert [line["line"] for line in body["lines"]] == [1, 2]
    assert "timeline" not in body
    assert IdempotencyKey.objects.count() == 0


def test_detail_still_has_the_timeline(api):
    # given
    number = _post(api, BODY).json()["number"]
    # when
    detail = api.get(f"/api/v1/orders/{number}/")
    # then
    assert detail.status_code == 200
    types = [event["type"] for event in detail.json()["timeline"]]
    assert types[-1] == "order.created"  # newest first
    assert {"stock.reserved", "order.status_changed"} <= set(types)


# --- the intake's budget of statements -------------------------------------------------------------------

BUDGET = 15


class _RequestStatements:
    """The statements a request sends, without those of the event log's consumers (they run in Celery
    workers in production; tests run them right after the commit, in the request) and without SAVEPOINT /
    RELEASE, which stand for BEGIN / COMMIT inside the test's transaction. The SAVEPOINTs are counted apart:
    one per transaction the request opens, so no nested savepoint (a real one in production) is left."""

    def __init__(self):
        self.statements: list[str] = []
        self.savepoints = 0

    def __call__(self, execute, sql, params, many, context):
        from common import eventlog

        if not getattr(eventlog._local, "consuming", False):
            verb = sql.lstrip().split(" ", 1)[0].upper()
            if verb == "SAVEPOINT":
                self.savepoints += 1
            elif verb not in ("RELEASE", "ROLLBACK"):
                self.statements.append(sql)
        return execute(sql, params, many, context)


def _measured(client, body, key=None) -> _RequestStatements:
    counter = _RequestStatements()
    with connection.execute_wrapper(counter):
        response = _post(client, body, key=key)
    assert response.status_code == 201, response.content
    return counter


def _two_lines(external_id: str, email: str = "a@example.fr") -> dict:
    return {
        **BODY,
        "external_id": external_id,
        "customer": {**BODY["customer"], "email": email},
        "lines": [{"sku": "MUG", "quantity": 1}, {"sku": "CAP", "quantity": 2}],
    }


@pytest.mark.parametrize(
    ("case", "email", "key", "transactions"),
    [
        ("known customer, no key", "a@example.fr", None, 1),
        # the key's claim is one INSERT … ON CONFLICT DO NOTHING, in no transaction of its own
        ("known customer, Idempotency-Key", "A@Example.fr", "k-budget", 1),
        ("new customer, Idempotency-Key", "new@example.fr", "k-new", 1),
    ],
)
def test_intake_stays_within_its_budget_of_15_statements(api, case, email, key, transactions):
    # given: the customer a@example.fr and their address exist, the process is warm
    _post(api, _body("WARM", ["MUG"]))
    # when
    counter = _measured(api, _two_lines(f"B-{case}", email), key=key)
    # then
    assert len(counter.statements) <= BUDGET, "\n".join(counter.statements)
    assert counter.savepoints == transactions, "a nested savepoint is back in the intake"
    order = Order.objects.get(external_id=f"B-{case}")
    assert [(line.sku, line.quantity) for line in order.lines.order_by("line_no")] == [("MUG", 1), ("CAP", 2)]
    assert order.customer.email.lower() == email.lower()


def test_the_answer_is_built_from_what_was_written(api):
    # given
    created = _post(api, {**BODY, "external_id": "MEM"}, key="k-mem")
    # when: the same order read back by the detail endpoint
    detail = api.get(f"/api/v1/orders/{created.json()['number']}/").json()
    # then: the answer to the creation says exactly what the database holds
    body = created.json()
    assert {k: v for k, v in detail.items() if k not in ("timeline", "shipments")} == body
    assert body["number"].startswith("CMD-")


def test_the_order_carries_its_customers_names_for_the_list_search(api):
    # Intake writes them itself (the trigger of orders 0030 only fills a row that comes without them)
    assert _post(api, BODY).status_code == 201
    order = Order.objects.get(external_id="SHOP-1001")
    assert (order.search_first_name, order.search_last_name) == ("ana", "roux")
