import pytest

from inventory import services
from oms.roles import MANAGER, STORE_STAFF, WAREHOUSE_STAFF
from tests.inventory.factories import ProductFactory


@pytest.fixture
def product(db):
    return ProductFactory(sku="TSHIRT-M", name="T-shirt bleu M", ean="3760000000017")


@pytest.fixture
def stocked(product, warehouse, store, other_warehouse):
    """TSHIRT-M: 10 at lyon (2 reserved), 4 at the paris store, 7 at lille."""
    services.stock_receive(product=product, location=warehouse, quantity=10)
    services.stock_reserve(product_id=product.pk, location_id=warehouse.pk, quantity=2)
    services.stock_receive(product=product, location=store, quantity=4)
    services.stock_receive(product=product, location=other_warehouse, quantity=7)
    return product


@pytest.fixture
def warehouse_user(role_users):
    return role_users[WAREHOUSE_STAFF]


@pytest.fixture
def store_user(role_users):
    return role_users[STORE_STAFF]


@pytest.fixture
def manager(role_users):
    return role_users[MANAGER]
