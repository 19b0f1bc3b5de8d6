"""Bad bytes in the API: the JSON parser refuses NUL characters and lone surrogates in any string, naming
where they are (400 ``malformed_json``), and the error answer that echoes a refused value is always
renderable. (Every field of every endpoint: tests/api/test_bad_input.py.)"""

import json

import pytest

from .conftest import db_state, order_body


@pytest.mark.parametrize(
    ("path", "body", "where"),
    [
        ("/orders/", "delivery.mode", "delivery.mode"),
        ("/orders/", "customer.language", "customer.language"),
        ("/orders/", "lines.0.sku", "lines[0].sku"),
        ("/products/", "vat_rate", "vat_rate"),
        ("/stock/movements/", "reason", "reason"),
    ],
)
@pytest.mark.parametrize(
    ("bad", "what"), [("\ud800", "a lone UTF-16 surrogate"), ("a\x00b", "a NUL character")]
)
def test_a_surrogate_or_a_nul_in_a_json_field_is_a_400_naming_it(api, shop, path, body, where, bad, what):
    # the four 500s of issue 13: delivery.mode, customer.language, vat_rate, reason (the validation message
    # echoed the value, which the JSON renderer could not encode)
    data = {
        "/orders/": order_body(),
        "/products/": {"sku": "NEW-1", "name": "New", "price": "1.00", "vat_rate": "20.0"},
        "/stock/movements/": {"sku": "MUG", "location": "lyon", "quantity": 1, "reason": "receipt"},
    }[path]
    target = data
    keys = body.split(".")
    for key in keys[:-1]:
        target = target[int(key)] if key.isdigit() else target[key]
    target[keys[-1]] = bad
    before = db_state()
    response = api.post(path, raw=json.dumps(data))
    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "code": "malformed_json",
            "message": f"JSON parse error - the string at {where} contains {what}.",
            "details": {"path": where, "reason": what},
        }
    }
    assert db_state() == before


def test_a_surrogate_in_an_object_key_is_a_400(api, shop):
    response = api.post("/orders/", raw='{"external_id": "A", "\\udc00": 1}')
    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"path": "\ufffd", "reason": "a lone UTF-16 surrogate"}


def test_a_validation_message_echoing_a_refused_value_is_always_renderable(api, shop):
    # a choice refused with its value quoted: the value is fine text here, the answer is a 422
    body = order_body()
    body["delivery"]["mode"] = "bateau"
    response = api.post("/orders/", body)
    assert response.status_code == 422
    assert response.json()["error"]["details"] == {"delivery": {"mode": ['"bateau" is not a valid choice.']}}


def test_the_error_handler_replaces_what_json_cannot_encode():
    from common.api import error_response

    response = error_response(code="x", message="bad \ud800", status_code=422, details={"f\udc00": ["\x00"]})
    assert response.data == {
        "error": {"code": "x", "message": "bad \ufffd", "details": {"f\ufffd": ["\ufffd"]}}
    }


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/products/CAF%C3%89-BR%C3%89SIL/", 404),  # UTF-8 is fine: an unknown SKU
        ("/availability/?sku=CAF%C3%89", 200),
        ("/products/CAF%FF/", 400),
        ("/products/CAF%ED%A0%80/", 400),
        ("/availability/?sku=CAF%FF", 400),
    ],
)
def test_only_bytes_that_are_not_utf8_in_the_url_are_malformed(api, shop, path, status):
    response = api.get(path)
    assert response.status_code == status
    if status == 400:
        assert response.json()["error"]["code"] == "malformed_request"
