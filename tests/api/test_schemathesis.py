"""Schemathesis against our own OpenAPI schema (``/api/v1/schema/``), through the WSGI application, on a
seeded database (the ``shop`` fixture: channel ``web`` with lyon, lille and the store paris, products
with stock, a key with scope ``all``). For valid and invalid inputs alike: no 5xx, and every answer
conforms to the schema (documented status code and content type, body valid against the response
schema). The schema's request examples make the happy paths run too."""

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from oms.wsgi import application

schema = schemathesis.openapi.from_wsgi("/api/v1/schema/", application)
schema.config.generation.update(
    modes=[schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE]
)
CONFORMANCE = [status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def wsgi_keeps_the_test_connection():
    """As Django's test Client does: the WSGI handler must not close, at the start and end of each request,
    the connection that holds the test's transaction (it would on PostgreSQL)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_api_conforms_to_its_schema(case, shop, wsgi_keeps_the_test_connection):
    response = case.call(headers={"Authorization": f"Bearer {shop.key}"})
    case.validate_response(response, checks=[not_a_server_error])
    case.validate_response(response, checks=CONFORMANCE)


def test_the_answers_about_a_real_order_conform_too(shop, wsgi_keeps_the_test_connection):
    """Generated order numbers never exist: check the answers about an existing order here (created,
    pre-ordered, read, cancelled, cancelled again) against their response schemas."""
    from werkzeug.test import Client

    from .conftest import order_body

    client = Client(application)
    headers = {"Authorization": f"Bearer {shop.key}"}
    incoming = {"sku": "POSTER", "location": "lille", "quantity": 3, "expected_on": "2099-01-01"}
    assert client.post("/api/v1/stock/incoming/", json=incoming, headers=headers).status_code == 201
    body = order_body(
        lines=[{"sku": "TSHIRT-M", "quantity": 12}, {"sku": "POSTER", "quantity": 1}], allow_preorder=True
    )
    created = client.post("/api/v1/orders/", json=body, headers=headers)
    assert (created.status_code, created.json["status"]) == (201, "awaiting_stock")
    schema["/api/v1/orders/"]["POST"].validate_response(created)
    number = created.json["number"]
    detail = client.get(f"/api/v1/orders/{number}/", headers=headers)
    assert detail.status_code == 200
    schema["/api/v1/orders/{number}/"]["GET"].validate_response(detail)
    for expected in (200, 409):
        cancelled = client.post(f"/api/v1/orders/{number}/cancel/", json={}, headers=headers)
        assert cancelled.status_code == expected
        schema["/api/v1/orders/{number}/cancel/"]["POST"].validate_response(cancelled)


def test_the_answers_about_a_real_replenishment_conform_too(shop, wsgi_keeps_the_test_connection):
    """Generated ids never exist: list a replenishment with a pre-order waiting on it, receive part of it,
    the rest, then once too many, each answer checked against its response schema."""
    from werkzeug.test import Client

    from .conftest import order_body

    client = Client(application)
    headers = {"Authorization": f"Bearer {shop.key}"}
    incoming = {"sku": "POSTER", "location": "lyon", "quantity": 3, "expected_on": "2099-01-01"}
    incoming_id = client.post("/api/v1/stock/incoming/", json=incoming, headers=headers).json["id"]
    body = order_body(lines=[{"sku": "POSTER", "quantity": 2}], allow_preorder=True)
    assert client.post("/api/v1/orders/", json=body, headers=headers).status_code == 201
    listed = client.get("/api/v1/stock/incoming/?sku=POSTER", headers=headers)
    assert (listed.status_code, listed.json["results"][0]["reserved"]) == (200, 2)
    schema["/api/v1/stock/incoming/"]["GET"].validate_response(listed)
    receive = schema["/api/v1/stock/incoming/{id}/receive/"]["POST"]
    path = f"/api/v1/stock/incoming/{incoming_id}/receive/"
    for payload, expected in (({"quantity": 1}, 200), ({}, 200), ({}, 409)):
        response = client.post(path, json=payload, headers=headers)
        assert response.status_code == expected
        receive.validate_response(response)
