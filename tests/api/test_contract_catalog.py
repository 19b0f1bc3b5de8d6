"""``/locations/`` and ``/products/``: the shapes of DESIGN.md and every error, nothing written on one."""

from decimal import Decimal

import pytest

from inventory.models import Product
from tests.inventory.factories import LocationFactory

from .conftest import db_state
from .factories import ProductFactory, ean13


def test_locations_are_a_paginated_list(api, shop):
    LocationFactory(code="old", name="Fermé", active=False)
    response = api.get("/locations/")
    assert response.status_code == 200
    assert response.json() == {
        "count": 3,
        "next": None,
        "previous": None,
        "results": [
            {
                "code": "lille",
                "name": "Entrepôt Lille",
                "kind": "warehouse",
                "city": "Lesquin",
                "postcode": "59810",
            },
            {
                "code": "lyon",
                "name": "Entrepôt Lyon",
                "kind": "warehouse",
                "city": "Lyon",
                "postcode": "69003",
            },
            {"code": "paris", "name": "Magasin Paris", "kind": "store", "city": "Paris", "postcode": "75004"},
        ],
    }


def test_locations_pages_link_to_each_other(api, shop, django_assert_max_num_queries):
    for n in range(60):
        LocationFactory(code=f"z{n:02d}")
    with django_assert_max_num_queries(5):
        first = api.get("/locations/").json()
    assert first["count"] == 63
    assert len(first["results"]) == 50
    assert first["previous"] is None
    assert first["next"] == "http://testserver/api/v1/locations/?page=2"
    second = api.get("/locations/", {"page": 2}).json()
    assert [r["code"] for r in second["results"]] == [f"z{n:02d}" for n in range(47, 60)]
    assert second["next"] is None
    assert second["previous"] == "http://testserver/api/v1/locations/"


@pytest.mark.parametrize("page", ["3", "0", "abc", "-1"])
def test_a_page_out_of_range_is_404(api, shop, page):
    response = api.get("/locations/", {"page": page})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


PRODUCT = {
    "sku": "MUG-BLEU",
    "name": "Mug bleu",
    "ean": ean13("376012345678"),
    "weight_g": 350,
    "price": "12.50",
    "vat_rate": "20.0",
}


def test_create_a_product(api, shop):
    response = api.post("/products/", PRODUCT)
    assert response.status_code == 201
    assert response.json() == {**PRODUCT, "is_kit": False, "components": []}
    product = Product.objects.get(sku="MUG-BLEU")
    assert (product.price, product.vat_rate, product.weight_g) == (Decimal("12.50"), Decimal("20.0"), 350)


@pytest.mark.parametrize(
    ("sent", "shown"),
    [
        ("20.0", "20.0"),
        ("20", "20.0"),
        (20, "20.0"),
        ("10", "10.0"),
        ("5.5", "5.5"),
        (5.5, "5.5"),
        ("2.1", "2.1"),
    ],
)
def test_vat_rate_is_a_percent_string(api, shop, sent, shown):
    response = api.post("/products/", {**PRODUCT, "ean": "", "vat_rate": sent})
    assert response.status_code == 201, response.content
    assert response.json()["vat_rate"] == shown


@pytest.mark.parametrize(
    ("sent", "shown"), [("19.9", "19.90"), (19.9, "19.90"), (0, "0.00"), ("1234567.89", "1234567.89")]
)
def test_price_is_a_decimal_string_with_cents(api, shop, sent, shown):
    response = api.post("/products/", {**PRODUCT, "ean": "", "price": sent})
    assert response.status_code == 201, response.content
    assert response.json()["price"] == shown


def test_optional_fields_have_defaults(api, shop):
    response = api.post("/products/", {"sku": "A-1", "name": "A", "price": "1.00", "vat_rate": "5.5"})
    assert response.status_code == 201
    assert response.json() == {
        "sku": "A-1",
        "name": "A",
        "ean": "",
        "weight_g": 0,
        "price": "1.00",
        "vat_rate": "5.5",
        "is_kit": False,
        "components": [],
    }


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"sku": ""}, "sku"),
        ({"sku": "has space"}, "sku"),
        ({"sku": "é"}, "sku"),
        ({"sku": "x" * 65}, "sku"),
        ({"sku": None}, "sku"),
        ({"name": ""}, "name"),
        ({"name": "n" * 201}, "name"),
        ({"ean": "123"}, "ean"),
        ({"ean": "12345678901234"}, "ean"),
        ({"ean": "376012345678" + str((int(ean13("376012345678")[-1]) + 1) % 10)}, "ean"),
        ({"ean": "37601234567ab"}, "ean"),
        ({"weight_g": -1}, "weight_g"),
        ({"weight_g": "heavy"}, "weight_g"),
        ({"weight_g": 1.5}, "weight_g"),
        ({"price": "-0.01"}, "price"),
        ({"price": "1.001"}, "price"),
        ({"price": "abc"}, "price"),
        ({"price": "NaN"}, "price"),
        ({"price": "Infinity"}, "price"),
        ({"price": "123456789.00"}, "price"),
        ({"vat_rate": "19.6"}, "vat_rate"),
        ({"vat_rate": "0"}, "vat_rate"),
        ({"vat_rate": None}, "vat_rate"),
        ({"vat_rate": [20]}, "vat_rate"),
    ],
)
def test_invalid_product_is_422_and_writes_nothing(api, shop, change, field):
    before = db_state()
    response = api.post("/products/", {**PRODUCT, **change})
    assert response.status_code == 422, response.content
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert list(error["details"]) == [field]
    assert db_state() == before


@pytest.mark.parametrize("missing", ["sku", "name", "price", "vat_rate"])
def test_missing_product_field_is_422(api, shop, missing):
    before = db_state()
    response = api.post("/products/", {k: v for k, v in PRODUCT.items() if k != missing})
    assert response.status_code == 422
    assert response.json()["error"]["details"] == {missing: ["This field is required."]}
    assert db_state() == before


def test_duplicate_sku_is_409(api, shop):
    before = db_state()
    response = api.post("/products/", {**PRODUCT, "sku": "TSHIRT-M", "ean": ""})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "duplicate_sku"
    assert response.json()["error"]["details"] == {"sku": "TSHIRT-M"}
    assert db_state() == before


def test_duplicate_ean_is_409(api, shop):
    before = db_state()
    response = api.post("/products/", {**PRODUCT, "ean": shop.tshirt.ean})
    assert response.status_code == 409
    assert response.json()["error"] == {
        "code": "duplicate_ean",
        "message": f"Another product has EAN {shop.tshirt.ean}.",
        "details": {"ean": shop.tshirt.ean},
    }
    assert db_state() == before


def test_get_a_product(api, shop):
    response = api.get("/products/TSHIRT-M/")
    assert response.status_code == 200
    assert response.json() == {
        "sku": "TSHIRT-M",
        "name": "T-shirt M",
        "ean": shop.tshirt.ean,
        "weight_g": 250,
        "price": "19.90",
        "vat_rate": "20.0",
        "is_kit": False,
        "components": [],
        "kit_availability": None,
    }


def test_unknown_product_is_404(api, shop):
    response = api.get("/products/NOPE/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_a_sku_with_a_slash_can_be_read_back(api, shop):
    assert api.post("/products/", {**PRODUCT, "sku": "REF/12-B", "ean": ""}).status_code == 201
    response = api.get("/products/REF/12-B/")
    assert response.status_code == 200
    assert response.json()["sku"] == "REF/12-B"


def test_products_list_is_paginated_by_sku(api, shop, django_assert_max_num_queries):
    ProductFactory(sku="OLD", active=False)
    with django_assert_max_num_queries(6):  # the kits' components in one more query
        response = api.get("/products/")
    assert response.status_code == 200
    body = response.json()
    assert (body["count"], body["next"], body["previous"]) == (3, None, None)
    assert [p["sku"] for p in body["results"]] == ["MUG", "POSTER", "TSHIRT-M"]
    assert body["results"][0] == {
        "sku": "MUG",
        "name": "Mug",
        "ean": shop.mug.ean,
        "weight_g": 250,
        "price": "8.50",
        "vat_rate": "5.5",
        "is_kit": False,
        "components": [],
    }
