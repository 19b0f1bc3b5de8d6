"""``/orders/``: create (with ``Idempotency-Key``), read, cancel; pre-orders and their allocation when
the replenishment arrives. Every refusal writes nothing: no order, no movement, no reservation."""

from datetime import date, timedelta
from urllib.parse import urlparse

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

from inventory import services as inventory_services
from inventory.models import Allocation, IncomingStock
from orders.models import IdempotencyKey, Order
from orders.services.idempotency import request_fingerprint
from orders.timeline import order_timeline

from .conftest import db_state, level, order_body


def _error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["code"] == code, error
    return error


# --- create -------------------------------------------------------------------------------------------


def test_create_answers_201_with_the_order(api, shop):
    response = api.post("/orders/", order_body())
    assert response.status_code == 201
    body = response.json()
    order = Order.objects.get()
    assert body["number"] == order.number
    assert body["number"].startswith(f"CMD-{timezone.localdate().year}-")
    assert body["status"] == "allocated"
    assert body["external_id"] == "SHOP-1001"
    assert body["channel"] == "web"
    assert body["customer"] == {
        "email": "a@example.fr",
        "first_name": "Ana",
        "last_name": "Roux",
        "phone": "+33612345678",
    }
    assert body["delivery"] == {
        "mode": "home",
        "address": {
            "name": "Ana Roux",
            "company": "",
            "line1": "3 rue X",
            "line2": "",
            "postcode": "69003",
            "city": "Lyon",
            "country": "FR",
            "phone": "+33612345678",
        },
    }
    assert body["lines"] == [
        {
            "line": 1,
            "sku": "TSHIRT-M",
            "name": "T-shirt M",
            "quantity": 2,
            "quantity_cancelled": 0,
            "unit_price": "19.90",
            "vat_rate": "20.0",
            "components": [],
            "allocations": [
                {"sku": "TSHIRT-M", "location": "lyon", "quantity": 2, "kind": "stock", "expected_on": None}
            ],
        }
    ]
    assert body["total_incl_vat"] == "39.80"
    assert (body["shipping_fee"], body["shipping_vat_rate"], body["holds"]) == ("0.00", "20.0", [])
    assert body["payment"] == {
        "status": "unpaid",
        "provider": "",
        "reference": "",
        "amount_authorised": "0.00",
        "amount_paid": "0.00",
        "amount_refunded": "0.00",
        "amount_to_capture": "0.00",
        "amount_due": "39.80",
        "paid_at": None,
    }
    assert body["currency"] == "EUR"
    # The promise arrives with the promise release: an object {earliest, latest} or null until then.
    assert body["promised_delivery"] is None or set(body["promised_delivery"]) == {"earliest", "latest"}
    url = urlparse(body["tracking_url"])
    assert url.scheme in ("http", "https") and url.netloc
    assert body["tracking_url"] == f"{settings.SITE_URL}/track/{order.tracking_token}/"
    assert len(order.tracking_token) >= 32
    assert set(body) == {
        "number",
        "external_id",
        "channel",
        "status",
        "created_at",
        "customer",
        "delivery",
        "lines",
        "total_incl_vat",
        "shipping_fee",
        "shipping_vat_rate",
        "payment",
        "holds",
        "currency",
        "promised_delivery",
        "tracking_url",
    }
    assert body["created_at"] == timezone.localtime(order.created_at).isoformat()
    assert level(shop.tshirt, shop.lyon) == (10, 2)


def test_the_unit_price_defaults_to_the_catalogue_price(api, shop):
    response = api.post("/orders/", order_body(lines=[{"sku": "MUG", "quantity": 3}]))
    line = response.json()["lines"][0]
    assert (line["unit_price"], line["vat_rate"]) == ("8.50", "5.5")
    assert response.json()["total_incl_vat"] == "25.50"


def test_a_line_that_no_single_location_covers_is_split(api, shop):
    response = api.post("/orders/", order_body(lines=[{"sku": "TSHIRT-M", "quantity": 12}]))
    assert response.status_code == 201
    assert response.json()["lines"][0]["allocations"] == [
        {"sku": "TSHIRT-M", "location": "lyon", "quantity": 10, "kind": "stock", "expected_on": None},
        {"sku": "TSHIRT-M", "location": "lille", "quantity": 2, "kind": "stock", "expected_on": None},
    ]
    assert (level(shop.tshirt, shop.lyon), level(shop.tshirt, shop.lille)) == ((10, 10), (5, 2))


def test_relay_point_delivery(api, shop):
    relay = {
        "carrier": "mondial_relay",
        "id": "FR-012345",
        "name": "Tabac du Parc",
        "line1": "2 place Bellecour",
        "postcode": "69002",
        "city": "Lyon",
        "latitude": "45.757814",
        "longitude": 4.832011,
    }
    response = api.post("/orders/", order_body(delivery={"mode": "relay", "relay_point": relay}))
    assert response.status_code == 201, response.content
    delivery = response.json()["delivery"]
    assert delivery["mode"] == "relay"
    assert delivery["relay_point"] == {
        "carrier": "mondial_relay",
        "id": "FR-012345",
        "name": "Tabac du Parc",
        "line1": "2 place Bellecour",
        "postcode": "69002",
        "city": "Lyon",
        "country": "FR",
        "latitude": "45.757814",
        "longitude": "4.832011",
    }
    assert delivery["address"]["line1"] == "2 place Bellecour"


def test_store_pickup_takes_the_stores_stock_first(api, shop):
    from .factories import stock

    stock(shop.tshirt, shop.paris, 2)
    response = api.post("/orders/", order_body(delivery={"mode": "store", "store": "paris"}))
    assert response.status_code == 201
    body = response.json()
    assert body["delivery"]["mode"] == "store"
    assert body["delivery"]["store"] == "paris"
    assert body["delivery"]["address"]["city"] == "Paris"
    assert body["lines"][0]["allocations"] == [
        {"sku": "TSHIRT-M", "location": "paris", "quantity": 2, "kind": "stock", "expected_on": None}
    ]


def test_out_of_stock_is_409_with_details_and_writes_nothing(api, shop):
    before = db_state()
    body = order_body(lines=[{"sku": "TSHIRT-M", "quantity": 2}, {"sku": "MUG", "quantity": 4}])
    error = _error(api.post("/orders/", body), 409, "out_of_stock")
    assert error["details"] == {
        "lines": [{"sku": "MUG", "requested": 4, "available": 3, "preorderable": 0, "next_restock_on": None}]
    }
    assert error["message"] == "Not enough stock for MUG (4 requested, 3 available)"
    assert db_state() == before


def test_one_sku_on_two_lines_counts_both(api, shop):
    before = db_state()
    body = order_body(lines=[{"sku": "MUG", "quantity": 2}, {"sku": "MUG", "quantity": 2}])
    error = _error(api.post("/orders/", body), 409, "out_of_stock")
    assert error["details"]["lines"] == [
        {"sku": "MUG", "requested": 4, "available": 3, "preorderable": 0, "next_restock_on": None}
    ]
    assert db_state() == before


def test_duplicate_order_is_409_and_writes_nothing(api, shop):
    first = api.post("/orders/", order_body()).json()
    before = db_state()
    error = _error(
        api.post("/orders/", order_body(lines=[{"sku": "MUG", "quantity": 1}])), 409, "duplicate_order"
    )
    assert error["details"] == {"external_id": "SHOP-1001", "number": first["number"]}
    assert db_state() == before


def test_the_same_external_id_in_another_channel_is_another_order(api, shop):
    from tests.api.conftest import Api

    from .factories import ChannelFactory, api_key, channel_serves

    other = ChannelFactory(code="marketplace")
    channel_serves(other, shop.lyon)
    api.post("/orders/", order_body())
    response = Api(api_key(other, "orders")).post("/orders/", order_body())
    assert response.status_code == 201
    assert Order.objects.filter(external_id="SHOP-1001").count() == 2


# --- validation: 422, nothing written ---------------------------------------------------------------

INVALID = [
    ("unknown sku", {"lines": [{"sku": "NOPE", "quantity": 1}]}, "unknown_sku", {"skus": ["NOPE"]}),
    (
        "inactive sku",
        {"lines": [{"sku": "RETIRED", "quantity": 1}]},
        "unknown_sku",
        {"skus": ["RETIRED"]},
    ),
    ("zero quantity", {"lines": [{"sku": "TSHIRT-M", "quantity": 0}]}, "validation_error", None),
    ("negative quantity", {"lines": [{"sku": "TSHIRT-M", "quantity": -2}]}, "validation_error", None),
    ("quantity abc", {"lines": [{"sku": "TSHIRT-M", "quantity": "abc"}]}, "validation_error", None),
    ("quantity 1.5", {"lines": [{"sku": "TSHIRT-M", "quantity": 1.5}]}, "validation_error", None),
    ("quantity true", {"lines": [{"sku": "TSHIRT-M", "quantity": True}]}, "validation_error", None),
    ("quantity null", {"lines": [{"sku": "TSHIRT-M", "quantity": None}]}, "validation_error", None),
    ("quantity huge", {"lines": [{"sku": "TSHIRT-M", "quantity": 10**12}]}, "validation_error", None),
    (
        "negative price",
        {"lines": [{"sku": "TSHIRT-M", "quantity": 1, "unit_price": "-1.00"}]},
        "validation_error",
        None,
    ),
    (
        "price abc",
        {"lines": [{"sku": "TSHIRT-M", "quantity": 1, "unit_price": "abc"}]},
        "validation_error",
        None,
    ),
    ("no lines", {"lines": []}, "validation_error", None),
    ("lines not a list", {"lines": {"sku": "TSHIRT-M"}}, "validation_error", None),
    ("line not an object", {"lines": ["TSHIRT-M"]}, "validation_error", None),
    ("sku not a string", {"lines": [{"sku": ["TSHIRT-M"], "quantity": 1}]}, "validation_error", None),
    (
        "no external id",
        {"external_id": ""},
        "validation_error",
        {"external_id": ["This field may not be blank."]},
    ),
    ("external id too long", {"external_id": "x" * 101}, "validation_error", None),
    ("external id object", {"external_id": {"id": 1}}, "validation_error", None),
    (
        "no email",
        {"customer": {"first_name": "Ana"}},
        "validation_error",
        {"customer": {"email": ["This field is required."]}},
    ),
    ("bad email", {"customer": {"email": "ana"}}, "validation_error", None),
    (
        "email too long",
        {"customer": {"email": "a" * 64 + "@" + ("b" * 60 + ".") * 4 + "fr"}},
        "validation_error",
        None,
    ),
    ("customer not an object", {"customer": "a@example.fr"}, "validation_error", None),
    ("bad siren", {"customer": {"email": "a@example.fr", "siren": "12345"}}, "validation_error", None),
    (
        "home without address",
        {"delivery": {"mode": "home"}},
        "validation_error",
        {"delivery": {"address": ["Required for home delivery."]}},
    ),
    (
        "address without city",
        {"delivery": {"mode": "home", "address": {"line1": "3 rue X", "postcode": "69003"}}},
        "validation_error",
        {"delivery": {"address": {"city": ["This field is required."]}}},
    ),
    (
        "bad country",
        {
            "delivery": {
                "mode": "home",
                "address": {"line1": "x", "postcode": "1", "city": "y", "country": "FRA"},
            }
        },
        "validation_error",
        None,
    ),
    (
        "relay without id",
        {"delivery": {"mode": "relay", "relay_point": {"carrier": "mondial_relay"}}},
        "validation_error",
        {"delivery": {"relay_point": {"id": ["This field is required."]}}},
    ),
    (
        "relay without relay point",
        {"delivery": {"mode": "relay"}},
        "validation_error",
        {"delivery": {"relay_point": ["Required for relay delivery."]}},
    ),
    (
        "store without store",
        {"delivery": {"mode": "store"}},
        "validation_error",
        {"delivery": {"store": ["Required for store delivery."]}},
    ),
    (
        "unknown store",
        {"delivery": {"mode": "store", "store": "nope"}},
        "unknown_location",
        {"store": "nope"},
    ),
    (
        "warehouse is no store",
        {"delivery": {"mode": "store", "store": "lyon"}},
        "unknown_location",
        {"store": "lyon"},
    ),
    ("unknown mode", {"delivery": {"mode": "drone"}}, "validation_error", None),
    ("delivery not an object", {"delivery": "home"}, "validation_error", None),
    ("allow_preorder not a boolean", {"allow_preorder": "perhaps"}, "validation_error", None),
]


@pytest.mark.parametrize(("change", "code", "details"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID])
def test_invalid_order_is_422_and_writes_nothing(api, shop, change, code, details):
    from .factories import ProductFactory, stock

    stock(ProductFactory(sku="RETIRED", active=False), shop.lyon, 5)
    before = db_state()
    body = order_body(**change)
    if "customer" in change and isinstance(change["customer"], dict):
        body["customer"] = change["customer"]
    error = _error(api.post("/orders/", body), 422, code)
    if details is not None:
        assert error["details"] == details
    assert db_state() == before


def test_an_absurd_total_is_422_not_a_database_error(api, shop):
    from .factories import stock

    stock(shop.tshirt, shop.lyon, 5000)
    before = db_state()
    body = order_body(lines=[{"sku": "TSHIRT-M", "quantity": 5000, "unit_price": "99999999.99"}])
    error = _error(api.post("/orders/", body), 422, "validation_error")
    assert list(error["details"]) == ["total_incl_vat"]
    assert db_state() == before


# --- Idempotency-Key ----------------------------------------------------------------------------------


def test_the_same_key_and_body_replays_the_first_answer(api, shop):
    first = api.post("/orders/", order_body(), headers={"Idempotency-Key": "8e4f-1"})
    assert first.status_code == 201
    assert "Idempotent-Replayed" not in first
    before = db_state()
    again = api.post("/orders/", order_body(), headers={"Idempotency-Key": "8e4f-1"})
    assert again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert db_state() == before
    assert Order.objects.count() == 1


def test_the_same_key_with_another_body_is_422_reused(api, shop):
    api.post("/orders/", order_body(), headers={"Idempotency-Key": "k-1"})
    before = db_state()
    other = order_body(lines=[{"sku": "MUG", "quantity": 1}])
    error = _error(
        api.post("/orders/", other, headers={"Idempotency-Key": "k-1"}), 422, "idempotency_key_reused"
    )
    assert error["details"] == {"key": "k-1"}
    assert db_state() == before


def test_a_retry_while_the_first_runs_is_409_in_progress(api, shop):
    body = order_body()
    IdempotencyKey.objects.create(channel=shop.channel, key="k-2", request_hash=request_fingerprint(body))
    before = db_state()
    error = _error(
        api.post("/orders/", body, headers={"Idempotency-Key": "k-2"}), 409, "idempotency_key_in_progress"
    )
    assert error["details"] == {"key": "k-2"}
    assert db_state() == before


def test_an_abandoned_claim_is_taken_over(api, shop):
    body = order_body()
    claim = IdempotencyKey.objects.create(
        channel=shop.channel, key="k-3", request_hash=request_fingerprint(body)
    )
    IdempotencyKey.objects.filter(pk=claim.pk).update(created_at=timezone.now() - timedelta(minutes=6))
    response = api.post("/orders/", body, headers={"Idempotency-Key": "k-3"})
    assert response.status_code == 201
    claim.refresh_from_db()
    assert (claim.state, claim.response_status) == ("completed", 201)


def test_keys_are_per_channel(api, shop):
    from tests.api.conftest import Api

    from .factories import ChannelFactory, api_key, channel_serves

    other = ChannelFactory(code="marketplace")
    channel_serves(other, shop.lyon)
    api.post("/orders/", order_body(), headers={"Idempotency-Key": "same"})
    response = Api(api_key(other, "orders")).post(
        "/orders/", order_body(), headers={"Idempotency-Key": "same"}
    )
    assert response.status_code == 201
    assert Order.objects.count() == 2


def test_a_refusal_of_validation_stores_nothing_under_the_key(api, shop):
    bad = order_body(lines=[{"sku": "NOPE", "quantity": 1}])
    _error(api.post("/orders/", bad, headers={"Idempotency-Key": "k-4"}), 422, "unknown_sku")
    bad = order_body(lines=[{"sku": "TSHIRT-M", "quantity": 0}])
    _error(api.post("/orders/", bad, headers={"Idempotency-Key": "k-4"}), 422, "validation_error")
    assert not IdempotencyKey.objects.exists()
    response = api.post("/orders/", order_body(), headers={"Idempotency-Key": "k-4"})
    assert response.status_code == 201


def test_a_business_refusal_is_replayed(api, shop):
    body = order_body(lines=[{"sku": "MUG", "quantity": 9}])
    first = api.post("/orders/", body, headers={"Idempotency-Key": "k-5"})
    _error(first, 409, "out_of_stock")
    inventory_services.stock_receive(product=shop.mug, location=shop.lyon, quantity=10)
    again = api.post("/orders/", body, headers={"Idempotency-Key": "k-5"})
    assert (again.status_code, again.json()) == (409, first.json())
    assert not Order.objects.exists()


@pytest.mark.parametrize(
    "key",
    ["k" * 256, "tab\there", "new\nline", "clé"],
    ids=["256 chars", "tab", "newline", "latin-1"],
)
def test_an_invalid_idempotency_key_is_422(api, shop, key):
    before = db_state()
    response = api.post("/orders/", order_body(), headers={"Idempotency-Key": key})
    error = _error(response, 422, "validation_error")
    assert list(error["details"]) == ["Idempotency-Key"]
    assert db_state() == before


def test_a_nul_in_the_idempotency_key_is_a_malformed_request(api, shop):
    # A NUL in any header is refused by the middleware before the view runs.
    before = db_state()
    response = api.post("/orders/", order_body(), headers={"Idempotency-Key": "nul\x00"})
    error = _error(response, 400, "malformed_request")
    assert error["message"] == "The request's Idempotency-Key header contains a NUL character."
    assert db_state() == before


def test_a_255_character_key_is_fine(api, shop):
    response = api.post("/orders/", order_body(), headers={"Idempotency-Key": "k" * 255})
    assert response.status_code == 201


# --- read -----------------------------------------------------------------------------------------------


def test_get_adds_shipments_and_timeline(api, shop, django_assert_max_num_queries):
    created = api.post("/orders/", order_body()).json()
    with django_assert_max_num_queries(12):
        response = api.get(f"/orders/{created['number']}/")
    assert response.status_code == 200
    body = response.json()
    assert {k: v for k, v in body.items() if k not in ("shipments", "timeline")} == created
    assert body["shipments"] == []
    assert [e["type"] for e in body["timeline"]] == [
        "order.status_changed",
        "stock.reserved",
        "order.sourced",
        "order.created",
    ]
    for event in body["timeline"]:
        assert set(event) == {"type", "at", "message"}
        assert isinstance(event["message"], str) and event["message"]
        assert timezone.datetime.fromisoformat(event["at"]).tzinfo is not None


def test_an_order_of_another_channel_is_404(api, shop):
    from tests.api.conftest import Api

    from .factories import ChannelFactory, api_key, channel_serves

    number = api.post("/orders/", order_body()).json()["number"]
    other = ChannelFactory(code="marketplace")
    channel_serves(other, shop.lyon)
    response = Api(api_key(other, "orders")).get(f"/orders/{number}/")
    _error(response, 404, "not_found")
    response = Api(api_key(other, "orders")).post(f"/orders/{number}/cancel/", {})
    _error(response, 404, "not_found")
    assert Order.objects.get().status == "allocated"


def test_unknown_order_is_404(api, shop):
    _error(api.get("/orders/CMD-2026-999999/"), 404, "not_found")
    _error(api.post("/orders/CMD-2026-999999/cancel/", {}), 404, "not_found")


# --- cancel ---------------------------------------------------------------------------------------------


def test_cancel_releases_every_reservation(api, shop):
    inventory_services.incoming_create(
        product=shop.poster, location=shop.lille, quantity=5, expected_on=date(2099, 1, 1)
    )
    body = order_body(
        lines=[
            {"sku": "TSHIRT-M", "quantity": 12},
            {"sku": "MUG", "quantity": 1},
            {"sku": "POSTER", "quantity": 2},
        ],
        allow_preorder=True,
    )
    created = api.post("/orders/", body).json()
    assert created["status"] == "awaiting_stock"
    assert (level(shop.tshirt, shop.lyon), level(shop.tshirt, shop.lille), level(shop.mug, shop.lyon)) == (
        (10, 10),
        (5, 2),
        (3, 1),
    )
    assert IncomingStock.objects.get().reserved == 2

    response = api.post(f"/orders/{created['number']}/cancel/", {"reason": "customer changed their mind"})
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "cancelled"
    assert [line["allocations"] for line in body["lines"]] == [[], [], []]
    assert [e["type"] for e in body["timeline"][:2]] == ["order.cancelled", "order.status_changed"]
    assert "customer changed their mind" in body["timeline"][0]["message"]
    assert (level(shop.tshirt, shop.lyon), level(shop.tshirt, shop.lille), level(shop.mug, shop.lyon)) == (
        (10, 0),
        (5, 0),
        (3, 0),
    )
    assert IncomingStock.objects.get().reserved == 0
    assert not Allocation.objects.exists()
    call_command("stock_audit")


def test_cancel_a_cancelled_order_is_409_invalid_transition(api, shop):
    number = api.post("/orders/", order_body()).json()["number"]
    assert api.post(f"/orders/{number}/cancel/", {}).status_code == 200
    before = db_state()
    error = _error(api.post(f"/orders/{number}/cancel/", {}), 409, "invalid_transition")
    assert error["details"] == {"number": number, "status": "cancelled", "to": "cancelled"}
    assert db_state() == before


def test_cancel_with_an_empty_body_or_a_bad_reason(api, shop):
    number = api.post("/orders/", order_body()).json()["number"]
    before = db_state()
    _error(api.post(f"/orders/{number}/cancel/", {"reason": "r" * 256}), 422, "validation_error")
    _error(api.post(f"/orders/{number}/cancel/", {"reason": ["a"]}), 422, "validation_error")
    assert db_state() == before
    response = api.post(f"/orders/{number}/cancel/", raw="")
    assert (response.status_code, response.json()["status"]) == (200, "cancelled")
    assert "cancelled by the channel" in order_timeline(order=Order.objects.get())[0].message


# --- pre-orders -------------------------------------------------------------------------------------------


@pytest.fixture
def poster_incoming(shop):
    return inventory_services.incoming_create(
        product=shop.poster,
        location=shop.lyon,
        quantity=5,
        expected_on=timezone.localdate() + timedelta(days=9),
    )


def test_preorder_awaits_stock_with_an_incoming_allocation(api, shop, poster_incoming):
    body = order_body(lines=[{"sku": "POSTER", "quantity": 2}], allow_preorder=True)
    response = api.post("/orders/", body)
    assert response.status_code == 201
    created = response.json()
    assert created["status"] == "awaiting_stock"
    assert created["lines"][0]["allocations"] == [
        {
            "sku": "POSTER",
            "location": "lyon",
            "quantity": 2,
            "kind": "incoming",
            "expected_on": poster_incoming.expected_on.isoformat(),
        }
    ]
    poster_incoming.refresh_from_db()
    assert (poster_incoming.quantity, poster_incoming.reserved) == (5, 2)
    assert level(shop.poster, shop.lyon) == (0, 0)
    timeline = api.get(f"/orders/{created['number']}/").json()["timeline"]
    assert timeline[0]["type"] == "order.status_changed"


def test_preorder_mixes_stock_and_incoming(api, shop, poster_incoming):
    from .factories import stock

    stock(shop.poster, shop.lille, 1)
    body = order_body(lines=[{"sku": "POSTER", "quantity": 3}], allow_preorder=True)
    allocations = api.post("/orders/", body).json()["lines"][0]["allocations"]
    assert allocations == [
        {"sku": "POSTER", "location": "lille", "quantity": 1, "kind": "stock", "expected_on": None},
        {
            "sku": "POSTER",
            "location": "lyon",
            "quantity": 2,
            "kind": "incoming",
            "expected_on": poster_incoming.expected_on.isoformat(),
        },
    ]


def test_without_allow_preorder_it_is_409_out_of_stock(api, shop, poster_incoming):
    before = db_state()
    error = _error(
        api.post("/orders/", order_body(lines=[{"sku": "POSTER", "quantity": 2}])), 409, "out_of_stock"
    )
    assert error["details"] == {
        "lines": [
            {
                "sku": "POSTER",
                "requested": 2,
                "available": 0,
                "preorderable": 5,
                "next_restock_on": poster_incoming.expected_on.isoformat(),
            }
        ]
    }
    assert db_state() == before


def test_more_than_is_coming_is_409_even_with_preorders(api, shop, poster_incoming):
    before = db_state()
    body = order_body(lines=[{"sku": "POSTER", "quantity": 6}], allow_preorder=True)
    _error(api.post("/orders/", body), 409, "out_of_stock")
    assert db_state() == before


def test_receiving_allocates_waiting_orders_in_order_of_arrival(api, shop, poster_incoming):
    first = api.post(
        "/orders/", order_body("A", lines=[{"sku": "POSTER", "quantity": 2}], allow_preorder=True)
    )
    second = api.post(
        "/orders/", order_body("B", lines=[{"sku": "POSTER", "quantity": 2}], allow_preorder=True)
    )
    first, second = first.json()["number"], second.json()["number"]

    # 2 units arrive: they go to the first order only.
    inventory_services.incoming_receive(incoming=poster_incoming, quantity=2)
    a = api.get(f"/orders/{first}/").json()
    b = api.get(f"/orders/{second}/").json()
    assert a["status"] == "allocated"
    assert a["lines"][0]["allocations"] == [
        {"sku": "POSTER", "location": "lyon", "quantity": 2, "kind": "stock", "expected_on": None}
    ]
    assert b["status"] == "awaiting_stock"
    assert [x["kind"] for x in b["lines"][0]["allocations"]] == ["incoming"]
    assert level(shop.poster, shop.lyon) == (2, 2)
    poster_incoming.refresh_from_db()
    assert (poster_incoming.quantity, poster_incoming.reserved, poster_incoming.status) == (3, 2, "open")

    # 1 more: the second order has half of its units in stock and still waits.
    inventory_services.incoming_receive(incoming=poster_incoming, quantity=1)
    b = api.get(f"/orders/{second}/").json()
    assert b["status"] == "awaiting_stock"
    assert sorted((x["kind"], x["quantity"]) for x in b["lines"][0]["allocations"]) == [
        ("incoming", 1),
        ("stock", 1),
    ]
    assert b["timeline"][0]["type"] == "stock.incoming_received"

    # The rest: the second order is allocated, one unit is free stock.
    inventory_services.incoming_receive(incoming=poster_incoming)
    b = api.get(f"/orders/{second}/").json()
    assert b["status"] == "allocated"
    assert sorted((x["kind"], x["quantity"]) for x in b["lines"][0]["allocations"]) == [
        ("stock", 1),
        ("stock", 1),
    ]
    assert level(shop.poster, shop.lyon) == (5, 4)
    poster_incoming.refresh_from_db()
    assert (poster_incoming.quantity, poster_incoming.reserved, poster_incoming.status) == (0, 0, "received")
    call_command("stock_audit")


def test_cancel_a_preorder_then_receiving_leaves_free_stock(api, shop, poster_incoming):
    number = api.post(
        "/orders/", order_body(lines=[{"sku": "POSTER", "quantity": 2}], allow_preorder=True)
    ).json()["number"]
    api.post(f"/orders/{number}/cancel/", {})
    inventory_services.incoming_receive(incoming=poster_incoming)
    assert level(shop.poster, shop.lyon) == (5, 0)
    call_command("stock_audit")


# --- addresses ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "details"),
    [
        (
            {"postcode": "ABCDE"},
            {"postcode": ["“ABCDE” is not a valid postcode for France (for example 75004)."]},
        ),
        (
            {"country": "XX"},
            {"country": ["“XX” is not a country code: give the ISO 3166-1 alpha-2 code (FR, BE, DE, GB…)."]},
        ),
        (
            {"country": "DE", "postcode": "6900"},
            {"postcode": ["“6900” is not a valid postcode for Germany (for example 10115)."]},
        ),
    ],
)
def test_an_invalid_delivery_address_is_422_naming_the_field(api, shop, address, details):
    body = order_body()
    body["delivery"]["address"].update(address)
    before = db_state()
    error = _error(api.post("/orders/", body), 422, "validation_error")
    assert error["details"] == {"delivery": {"address": details}}
    assert db_state() == before


def test_an_invalid_relay_point_address_is_422(api, shop):
    body = order_body(
        delivery={
            "mode": "relay",
            "relay_point": {"carrier": "mondial_relay", "id": "FR-1", "postcode": "ABCDE", "city": "Lyon"},
        }
    )
    error = _error(api.post("/orders/", body), 422, "validation_error")
    assert error["details"] == {
        "delivery": {
            "relay_point": {"postcode": ["“ABCDE” is not a valid postcode for France (for example 75004)."]}
        }
    }


def test_the_delivery_address_is_stored_normalised(api, shop):
    body = order_body()
    body["delivery"]["address"].update({"postcode": " 69 003 ", "country": "fr"})
    created = api.post("/orders/", body)
    assert created.status_code == 201, created.content
    assert (
        created.json()["delivery"]["address"]["postcode"],
        created.json()["delivery"]["address"]["country"],
    ) == (
        "69003",
        "FR",
    )


def test_the_promise_checks_its_postcode_and_country(api, shop):
    response = api.get("/promise/", {"sku": "TSHIRT-M", "postcode": "ABCDE", "country": "FR"})
    error = _error(response, 422, "validation_error")
    assert error["details"] == {
        "postcode": ["“ABCDE” is not a valid postcode for France (for example 75004)."]
    }
    response = api.get("/promise/", {"sku": "TSHIRT-M", "postcode": "69003", "country": "XX"})
    assert list(_error(response, 422, "validation_error")["details"]) == ["country"]
    assert api.get("/promise/", {"sku": "TSHIRT-M", "postcode": "69003", "country": "fr"}).status_code == 200
