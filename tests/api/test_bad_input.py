"""Hostile input against every field of every endpoint, generated from the OpenAPI schema
(``/api/v1/schema/``), so a new endpoint, parameter or body field is swept without touching this file.

For each operation, a valid base request is built (the schema's request examples, the parameters'
examples, else a plain value of the field's type), then one field at a time is replaced by a poison:

- in a JSON body: a lone UTF-16 surrogate, a NUL character, bytes that are not UTF-8, an over-long string,
  and values of every wrong type (huge and negative numbers, a float, a boolean, null, a list, an object,
  a string);
- in the query string and the path: ``%00``, a surrogate encoded as ``%ED%A0%80``, ``%FF``, an over-long
  value, numbers out of range;
- in the headers (the documented ones, ``Authorization`` and ``Idempotency-Key``): NUL, a byte that is not
  ASCII, an over-long value.

Every answer must be below 500 and, for a 4xx, in the error format of DESIGN.md; a NUL, a surrogate or
non-UTF-8 bytes must be a 400 exactly. Nothing over-long may end up stored in any text column."""

import copy
import json
from dataclasses import dataclass, field

import pytest
from django.apps import apps
from django.db import models
from django.test import Client

from common.fields import EncryptedTextField

from .conftest import order_body

SURROGATE = "\ud800"
NUL = "a\x00b"
NOT_UTF8 = "__NOT_UTF8__"  # replaced by raw bytes once the body is encoded
OVERLONG = "OVERLONG" + "x" * 20_000
BAD_TEXT = (SURROGATE, NUL, NOT_UTF8)
BODY_POISONS = (
    SURROGATE,
    NUL,
    NOT_UTF8,
    OVERLONG,
    "",
    "x",
    10**30,
    -(10**30),
    -1,
    0.5,
    True,
    None,
    [],
    {},
    ["x", 1],
    {"x": SURROGATE},
)
RAW_BAD_TEXT = ("%00", "%ED%A0%80", "%FF")
RAW_POISONS = (*RAW_BAD_TEXT, "OVERLONG" + "x" * 8_000, "", "-1", "1e999", "99999999999999999999", "x", "0.5")
HEADER_POISONS = ("a\x00b", "\xff\xfe", "OVERLONG" + "x" * 8_000, "é", "")
AUTH_POISONS = ("Bearer \x00", "Bearer \xff", "Bearer " + "x" * 8_000, "Bearer", "Basic eDp4", "\x00")

# Plain values for parameters the schema gives no example for (by name; anything else by type).
HINTS = {
    "sku": "TSHIRT-M",
    "quantity": 1,
    "postcode": "69003",
    "country": "FR",
    "mode": "home",
    "carrier": "sandbox",
    "store": "paris",
    "location": "lyon",
    "limit": 10,
    "page": 1,
}


@dataclass
class Case:
    operation: str
    where: str
    target: str
    poison: object
    method: str
    path: str
    query: str
    body: bytes | None
    headers: dict = field(default_factory=dict)


def _resolve(schema: dict, node: dict) -> dict:
    while True:
        if "$ref" in node:
            node = schema["components"]["schemas"][node["$ref"].split("/")[-1]]
        elif "allOf" in node:
            node = node["allOf"][0]
        elif "oneOf" in node or "anyOf" in node:
            options = node.get("oneOf") or node.get("anyOf")
            node = next((o for o in options if o.get("type") != "null"), options[0])
        else:
            return node


def _plain(schema: dict, node: dict, name: str = ""):
    """A valid-looking value of the schema ``node``."""
    node = _resolve(schema, node)
    if "example" in node:
        return node["example"]
    if "enum" in node:
        return next(v for v in node["enum"] if v not in (None, ""))
    kind = node.get("type")
    if kind == "object":
        return {
            key: _plain(schema, sub, key)
            for key, sub in (node.get("properties") or {}).items()
            if key in node.get("required", [])
        }
    if kind == "array":
        return [_plain(schema, node.get("items") or {}, name)]
    if name in HINTS:
        return HINTS[name]
    if kind == "integer":
        return max(1, node.get("minimum", 1))
    if kind == "number":
        return 1.0
    if kind == "boolean":
        return True
    fmt = node.get("format")
    return {"date": "2099-01-01", "date-time": "2099-01-01T10:00:00Z", "email": "a@example.fr"}.get(
        fmt, "1.00" if fmt == "decimal" else "x"
    )


def _field_paths(schema: dict, node: dict, prefix: tuple = ()) -> list[tuple]:
    """Every field of a request body: objects' properties and the first item of arrays, recursively."""
    node = _resolve(schema, node)
    paths = []
    if node.get("type") == "object":
        for key, sub in (node.get("properties") or {}).items():
            if _resolve(schema, sub).get("readOnly"):
                continue
            paths.append((*prefix, key))
            paths.extend(_field_paths(schema, sub, (*prefix, key)))
    elif node.get("type") == "array":
        paths.extend(_field_paths(schema, node.get("items") or {}, (*prefix, 0)))
    return paths


def _set(body, path: tuple, value):
    body = copy.deepcopy(body)
    target = body
    for index, key in enumerate(path[:-1]):
        following = path[index + 1]
        if isinstance(target, list):
            while len(target) <= key:
                target.append({} if not isinstance(following, int) else [])
            if not isinstance(target[key], dict | list):
                target[key] = {} if not isinstance(following, int) else []
        elif not isinstance(target.get(key), dict | list):
            target[key] = {} if not isinstance(following, int) else []
        target = target[key]
    last = path[-1]
    if isinstance(target, list):
        while len(target) <= last:
            target.append(None)
    target[last] = value
    return body


def _encode(body) -> bytes:
    raw = json.dumps(body).encode()  # ensure_ascii: a surrogate travels as the escape "\ud800"
    return raw.replace(f'"{NOT_UTF8}"'.encode(), b'"\xff\xfe\xed\xa0\x80"')


def _query(params: dict, override: tuple[str, str] | None = None) -> str:
    from urllib.parse import quote

    parts = []
    for name, value in params.items():
        values = value if isinstance(value, list) else [value]
        for v in values:
            if override and override[0] == name:
                parts.append(f"{quote(name)}={override[1]}")
                break
            parts.append(f"{quote(name)}={quote(str(v).lower() if isinstance(v, bool) else str(v))}")
    return "&".join(parts)


def _path(template: str, values: dict, override: tuple[str, str] | None = None) -> str:
    from urllib.parse import quote

    path = template
    for name, value in values.items():
        raw = override[1] if override and override[0] == name else quote(str(value), safe="")
        path = path.replace("{" + name + "}", raw)
    return path


def _cases(schema: dict, path_values: dict) -> list[Case]:
    cases: list[Case] = []
    for template, operations in schema["paths"].items():
        for method, operation in operations.items():
            if method in ("get", "post", "put", "patch", "delete"):
                cases.extend(_operation_cases(schema, template, method, operation, path_values, len(cases)))
    return cases


def _operation_cases(schema, template, method, operation, path_values, start) -> list[Case]:
    params: dict[str, dict] = {"path": {}, "query": {}, "header": {}}
    for param in operation.get("parameters", []):
        example = next(iter((param.get("examples") or {}).values()), {}).get("value")
        value = example if example is not None else param.get("example")
        if value is None:
            value = path_values.get(param["name"]) or _plain(schema, param.get("schema") or {}, param["name"])
        if param["name"] == "If-None-Match":
            value = '"etag"'
        params[param["in"]][param["name"]] = value
    content = (operation.get("requestBody") or {}).get("content", {}).get("application/json")
    body = None
    fields: list[tuple] = []
    if content is not None:
        example = next(iter((content.get("examples") or {}).values()), {}).get("value")
        body = example if example is not None else _plain(schema, content["schema"])
        fields = _field_paths(schema, content["schema"])
    cases: list[Case] = []

    def add(where, target, poison, *, body_=body, query=None, path=None, headers=None):
        headers = dict(params["header"]) if headers is None else headers
        if where != "header" and "Idempotency-Key" in headers:
            headers["Idempotency-Key"] = f"sweep-{start + len(cases)}"  # each case a new key
        cases.append(
            Case(
                operation=operation["operationId"],
                where=where,
                target=target,
                poison=poison,
                method=method,
                path=path or _path(template, params["path"]),
                query=query if query is not None else _query(params["query"]),
                body=None if body_ is None else _encode(body_),
                headers=headers,
            )
        )

    for field_path in fields:
        for poison in BODY_POISONS:
            mutated = _set(body, field_path, poison)
            if "external_id" in mutated and field_path != ("external_id",):
                mutated["external_id"] = f"SWEEP-{start + len(cases)}"  # each case a new order
            add("body", ".".join(str(p) for p in field_path), poison, body_=mutated)
    if body is not None:
        for poison in BODY_POISONS:  # the whole body replaced
            add("body", "(body)", poison, body_=poison)
    for name in params["query"]:
        for poison in RAW_POISONS:
            add("query", name, poison, query=_query(params["query"], (name, poison)))
    for name in params["path"]:
        for poison in filter(None, RAW_POISONS):
            add("path", name, poison, path=_path(template, params["path"], (name, poison)))
    for name in sorted({*params["header"], "Idempotency-Key", "Accept-Language", "If-None-Match"}):
        for poison in HEADER_POISONS:
            add("header", name, poison, headers={**params["header"], name: poison})
    for poison in AUTH_POISONS:
        add("header", "Authorization", poison, headers={"Authorization": poison})
    return cases


def _problem(case: Case, response) -> str | None:
    status = response.status_code
    if status >= 500:
        return f"answered {status}"
    bad_text = (case.where == "body" and case.poison in BAD_TEXT) or (
        case.where in ("query", "path") and case.poison in RAW_BAD_TEXT
    )
    if bad_text and status != 400:
        return f"answered {status} to bad text instead of 400"
    if case.where == "header" and "\x00" in str(case.poison) and status != 400:
        return f"answered {status} to a NUL in a header instead of 400"
    if status >= 400:
        try:
            error = response.json()["error"]
        except (ValueError, KeyError, TypeError):
            return f"answered {status} outside the error format: {response.content[:200]!r}"
        if not (
            isinstance(error.get("code"), str)
            and isinstance(error.get("message"), str)
            and isinstance(error.get("details"), dict)
        ):
            return f"answered {status} with a malformed error: {error!r}"
    return None


def _stored_overlong() -> list[str]:
    found = []
    for model in apps.get_models():
        if not model._meta.managed or model._meta.proxy:
            continue
        for f in model._meta.concrete_fields:
            if isinstance(f, EncryptedTextField):
                continue  # ciphertext: nothing the API stores goes there, and it cannot be searched
            if isinstance(f, models.CharField | models.TextField) and not f.choices:
                if model._default_manager.filter(**{f"{f.attname}__contains": "OVERLONG"}).exists():
                    found.append(f"{model._meta.label}.{f.name}")
    return found


@pytest.mark.postgres
def test_every_field_of_every_endpoint_refuses_hostile_input_without_a_5xx(shop, api):
    # given: an existing order for the endpoints that take an order number
    created = api.post("/orders/", order_body(external_id="SWEEP-BASE"))
    assert created.status_code == 201
    client = Client(raise_request_exception=False)
    schema = json.loads(client.get("/api/v1/schema/", {"format": "json"}).content)
    cursor = api.get("/availability/changes/").json()["next_cursor"]
    cases = _cases(schema, {"number": created.json()["number"], "sku": "TSHIRT-M", "since": cursor})
    operations = {c.operation for c in cases}
    assert len(operations) == sum(
        1 for ops in schema["paths"].values() for m in ops if m in ("get", "post", "put", "patch", "delete")
    )
    assert len(cases) > 1000

    # when: each case is sent
    problems = []
    for case in cases:
        headers = {"Authorization": f"Bearer {shop.key}", **case.headers}
        url = case.path + (f"?{case.query}" if case.query else "")
        if case.method == "get":
            response = client.get(url, headers=headers)
        else:
            response = client.generic(
                case.method.upper(), url, case.body or b"", content_type="application/json", headers=headers
            )
        problem = _problem(case, response)
        if problem:
            poison = repr(case.poison)[:40]
            problems.append(f"{case.operation} {case.where} {case.target} = {poison}: {problem}")

    # then
    assert problems == []
    assert _stored_overlong() == []
