"""``active_products_by_sku``: the order intake's products read, built once per process, gives what
``Product.objects.filter(sku__in=…, active=True)`` gives (whole instances, every field's value and type)."""

from decimal import Decimal

import pytest

from inventory.models import Product
from inventory.selectors import active_products_by_sku
from tests.inventory.factories import ProductFactory


def _values(product: Product) -> dict:
    return {f.attname: getattr(product, f.attname) for f in Product._meta.concrete_fields}


@pytest.mark.django_db
def test_the_same_products_as_the_orm(django_assert_num_queries):
    ProductFactory(sku="A-1", price=Decimal("19.90"), vat_rate=Decimal("5.5"), customs_code="610910")
    ProductFactory(sku="B-2", is_kit=True, origin_country="PT", image="products/2026/12/b.png")
    ProductFactory(sku="OLD", active=False)
    skus = ["B-2", "A-1", "OLD", "NONE", "A-1"]
    with django_assert_num_queries(1):
        found = active_products_by_sku(skus=skus)
    expected = {p.sku: p for p in Product.objects.filter(sku__in=skus, active=True)}
    assert set(found) == set(expected) == {"A-1", "B-2"}
    for sku, product in found.items():
        assert _values(product) == _values(expected[sku])
        assert {k: type(v) for k, v in _values(product).items()} == {
            k: type(v) for k, v in _values(expected[sku]).items()
        }
        assert product.image.name == expected[sku].image.name
        assert not product._state.adding and product._state.db == "default"
    assert found["A-1"].price == Decimal("19.90") and found["A-1"].vat_rate == Decimal("5.5")


@pytest.mark.django_db
def test_no_sku_reads_nothing(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert active_products_by_sku(skus=[]) == {}
