"""The REST API's authentication, scopes and error envelope, the same for every endpoint (DESIGN.md
"REST API (v1) — the contract"): 401 without a valid key, 401 ``api_key_revoked``, 403 without the scope,
400 ``malformed_json``, and a request refused there writes nothing."""

import pytest

from orders.models import ApiKey
from orders.services.api_keys import api_key_revoke

from .conftest import Api, db_state, order_body
from .factories import api_key

# Every operation of the contract: (method, path, body) with a valid body, and the scopes it accepts.
OPERATIONS = [
    ("get", "/locations/", None, {"orders", "catalog", "stock"}),
    ("get", "/products/", None, {"catalog"}),
    ("post", "/products/", {"sku": "NEW-1", "name": "New", "price": "1.00", "vat_rate": "20.0"}, {"catalog"}),
    ("get", "/products/TSHIRT-M/", None, {"catalog"}),
    ("get", "/stock/?sku=TSHIRT-M", None, {"stock"}),
    (
        "post",
        "/stock/movements/",
        {"sku": "TSHIRT-M", "location": "lyon", "quantity": 1, "reason": "receipt"},
        {"stock"},
    ),
    (
        "post",
        "/stock/incoming/",
        {"sku": "POSTER", "location": "lyon", "quantity": 1, "expected_on": "2099-01-01"},
        {"stock"},
    ),
    ("get", "/availability/?sku=TSHIRT-M", None, {"stock", "catalog", "orders"}),
    (
        "get",
        "/promise/?sku=TSHIRT-M&quantity=1&postcode=69003&country=FR&mode=home",
        None,
        {"orders", "catalog", "stock"},
    ),
    ("post", "/orders/", order_body(), {"orders"}),
    ("get", "/orders/CMD-0/", None, {"orders"}),
    ("post", "/orders/CMD-0/cancel/", {}, {"orders"}),
]
IDS = [f"{m.upper()} {p}" for m, p, _, _ in OPERATIONS]


def _call(api: Api, method: str, path: str, body):
    if method == "get":
        return api.client.get(f"/api/v1{path}", headers=api._headers(None))
    return api.post(path, body)


def _assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["details"], dict)
    return body["error"]


@pytest.mark.parametrize(("method", "path", "body", "scopes"), OPERATIONS, ids=IDS)
def test_no_key_is_401_and_writes_nothing(shop, method, path, body, scopes):
    before = db_state()
    response = _call(Api(None), method, path, body)
    _assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert db_state() == before


@pytest.mark.parametrize(("method", "path", "body", "scopes"), OPERATIONS, ids=IDS)
def test_unknown_key_is_401(shop, method, path, body, scopes):
    before = db_state()
    _assert_error(_call(Api("oms_not-a-real-key"), method, path, body), 401, "not_authenticated")
    assert db_state() == before


@pytest.mark.parametrize(
    "header", ["Token abc", "Bearer", "Bearer a b", "Basic dXNlcjpwYXNz", "bearer"], ids=repr
)
def test_malformed_authorization_header_is_401(shop, header):
    response = Api(None).client.get("/api/v1/locations/", headers={"Authorization": header})
    _assert_error(response, 401, "not_authenticated")


@pytest.mark.parametrize(("method", "path", "body", "scopes"), OPERATIONS, ids=IDS)
def test_revoked_key_is_401_api_key_revoked(shop, method, path, body, scopes):
    raw = api_key(shop.channel, "all")
    api_key_revoke(key=ApiKey.objects.get(hashed_key=ApiKey.hash(raw)))
    before = db_state()
    error = _assert_error(_call(Api(raw), method, path, body), 401, "api_key_revoked")
    assert error["message"] == "This API key has been revoked."
    assert db_state() == before


def test_any_key_may_list_the_locations(shop):
    raw, prefix, hashed = ApiKey.generate()
    ApiKey.objects.create(channel=shop.channel, prefix=prefix, hashed_key=hashed, scopes=[])
    assert Api(raw).get("/locations/").status_code == 200


def test_key_of_an_inactive_channel_is_401(shop, api):
    shop.channel.active = False
    shop.channel.save(update_fields=["active"])
    _assert_error(api.get("/locations/"), 401, "not_authenticated")


SCOPED = [o for o in OPERATIONS if o[1] != "/locations/"]  # any key may list the locations


@pytest.mark.parametrize(
    ("method", "path", "body", "scopes"), SCOPED, ids=[f"{m.upper()} {p}" for m, p, _, _ in SCOPED]
)
def test_key_without_the_scope_is_403_and_writes_nothing(shop, method, path, body, scopes):
    other = {"orders", "catalog", "stock"} - scopes
    if other:
        raw = api_key(shop.channel, *sorted(other))
    else:  # any scope will do: a key without scopes (made by hand) may not
        raw, prefix, hashed = ApiKey.generate()
        ApiKey.objects.create(channel=shop.channel, prefix=prefix, hashed_key=hashed, scopes=[])
    before = db_state()
    response = _call(Api(raw), method, path, body)
    error = _assert_error(response, 403, "permission_denied")
    assert error["message"] == "This API key does not have the scope this endpoint needs."
    assert db_state() == before


@pytest.mark.parametrize(("method", "path", "body", "scopes"), OPERATIONS, ids=IDS)
def test_key_with_the_scope_gets_through(shop, method, path, body, scopes):
    response = _call(Api(api_key(shop.channel, sorted(scopes)[0])), method, path, body)
    assert response.status_code not in (401, 403), response.content


@pytest.mark.parametrize(("method", "path", "body", "scopes"), [o for o in OPERATIONS if o[0] == "post"])
def test_malformed_json_is_400_and_writes_nothing(api, method, path, body, scopes):
    before = db_state()
    for raw in ['{"sku": ', "{'sku': 1}", "nope", '{"a": 1}}', '{"a": NaN}']:
        error = _assert_error(api.post(path, raw=raw), 400, "malformed_json")
        assert error["message"].startswith("JSON parse error")
    assert db_state() == before


@pytest.mark.parametrize(("method", "path", "body", "scopes"), [o for o in OPERATIONS if o[0] == "post"])
@pytest.mark.parametrize("raw", ["[]", '"x"', "null", "42", "true", "[{}]"])
def test_non_object_json_body_is_422_and_writes_nothing(api, method, path, body, scopes, raw):
    before = db_state()
    error = _assert_error(api.post(path, raw=raw), 422, "validation_error")
    assert list(error["details"]) == ["non_field_errors"]
    assert db_state() == before


def test_a_form_body_is_415(api):
    response = api.client.post(
        "/api/v1/products/", {"sku": "X"}, headers={"Authorization": f"Bearer {api.key}"}
    )
    _assert_error(response, 415, "unsupported_media_type")


def test_a_method_the_endpoint_does_not_have_is_405(api):
    response = api.client.delete("/api/v1/orders/", headers={"Authorization": f"Bearer {api.key}"})
    error = _assert_error(response, 405, "method_not_allowed")
    assert error["message"] == 'Method "DELETE" not allowed.'
    assert response["Allow"] == "POST, OPTIONS"


def test_the_api_answers_in_english_whatever_the_browser_says(api):
    headers = {"Authorization": f"Bearer {api.key}", "Accept-Language": "fr"}
    response = api.client.get("/api/v1/products/NOPE/", headers=headers)
    assert response.json()["error"]["message"] == "Not found."


def test_a_use_of_the_key_is_recorded_at_most_once_a_minute(shop, api):
    key = ApiKey.objects.get(hashed_key=ApiKey.hash(shop.key))
    assert key.last_used_at is None
    api.get("/locations/")
    key.refresh_from_db()
    first = key.last_used_at
    assert first is not None
    api.get("/locations/")
    key.refresh_from_db()
    assert key.last_used_at == first


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/stock/?sku=A%00B"),
        ("get", "/api/v1/availability/?sku=TSHIRT-M&sku=%00"),
        ("get", "/api/v1/availability/?s%00ku=TSHIRT-M"),
        ("get", "/api/v1/products/A%00B/"),
        ("get", "/api/v1/orders/CMD%00/"),
        ("post", "/api/v1/orders/CMD%00/cancel/"),
        ("get", "/api/v1/locations/?page=%00"),
    ],
)
def test_a_nul_in_the_path_or_query_is_400_not_a_database_error(api, method, path):
    # PostgreSQL refuses NUL in text: these used to be 500s there.
    before = db_state()
    response = getattr(api.client, method)(path, headers=api._headers(None))
    error = _assert_error(response, 400, "malformed_request")
    where = "query string" if "?" in path else "path"
    assert error["message"] == f"The request's {where} contains a NUL character or bytes that are not UTF-8."
    assert db_state() == before


@pytest.mark.parametrize(
    "path", ["/api/v1/nothing/", "/api/v2/orders/", "/api/v1/products/A%0AB/", "/api/v1/orders/X/Y/Z/"]
)
def test_a_url_under_api_that_no_endpoint_serves_is_a_json_404(api, path):
    response = api.client.get(path, headers=api._headers(None))
    error = _assert_error(response, 404, "not_found")
    assert error["message"] == "No API endpoint at this URL."


def test_the_back_office_keeps_its_html_404(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize(
    "raw",
    [
        "[" * 100_000 + "]" * 100_000,
        '{"a":' * 50_000 + "1" + "}" * 50_000,
        '{"external_id": "X", "extra": ' + "[" * 40 + "]" * 40 + "}",
    ],
    ids=["100000 arrays", "50000 objects", "40 levels"],
)
def test_a_too_deeply_nested_body_is_400_not_a_recursion_error(api, raw):
    before = db_state()
    error = _assert_error(
        api.post("/orders/", raw=raw, headers={"Idempotency-Key": "k"}), 400, "malformed_json"
    )
    assert error["message"] == "JSON parse error - nested deeper than 32 levels."
    assert db_state() == before


def test_a_body_32_levels_deep_is_parsed(api):
    raw = '{"reason": "x", "extra": ' + "[" * 31 + "]" * 31 + "}"
    response = api.post("/orders/CMD-0/cancel/", raw=raw)
    assert response.status_code == 404  # parsed, then no such order


def test_a_body_over_the_upload_limit_is_a_json_400(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    before = db_state()
    response = api.post("/orders/", order_body(note="x" * 20_000))
    error = _assert_error(response, 400, "malformed_request")
    assert error["message"] == "The request is too large or malformed."
    assert db_state() == before


def test_too_many_query_parameters_is_a_json_400(api):
    response = api.get("/availability/", {"sku": [f"S{n}" for n in range(1001)]})
    _assert_error(response, 400, "malformed_request")
