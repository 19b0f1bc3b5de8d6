import pytest

from inventory.models import StockLevel
from oms.roles import STORE_STAFF, WAREHOUSE_STAFF
from tests.inventory.factories import LocationFactory, ProductFactory
from tests.oms.factories import UserFactory
from tests.orders.factories import ChannelFactory, place_order, stock


class Floor:
    """A warehouse (lyon) and a store (paris) serving channel ``web``; three products with bins."""

    def __init__(self):
        self.lyon = LocationFactory(code="lyon", name="Entrepôt Lyon", aisle_order="B,A")
        self.paris = LocationFactory(
            code="paris",
            name="Boutique Paris",
            kind="store",
            city="Paris",
            postcode="75004",
            is_pickup_point=True,
            opening_hours="Mon–Sat 10:00–19:00",
        )
        self.channel = ChannelFactory(code="web", name="Web", locations=[self.lyon, self.paris])
        self.shirt = ProductFactory(sku="SHIRT", name="T-shirt", weight_g=200)
        self.mug = ProductFactory(sku="MUG", name="Mug", weight_g=400)
        self.cap = ProductFactory(sku="CAP", name="Casquette", weight_g=100)
        for product, bin_code in ((self.shirt, "A-03-2"), (self.mug, "B-01-1"), (self.cap, "A-01-1")):
            stock(product, self.lyon, 20)
            StockLevel.objects.filter(product=product, location=self.lyon).update(bin_code=bin_code)
        self.picker = UserFactory(username="picker", role=WAREHOUSE_STAFF, locations=[self.lyon])
        self.seller = UserFactory(username="seller", role=STORE_STAFF, locations=[self.paris])

    def order(self, lines, **kwargs):
        return place_order(channel=self.channel, lines=lines, **kwargs)

    def level(self, product, location=None):
        return StockLevel.objects.get(product=product, location=location or self.lyon)


@pytest.fixture
def floor(db):
    return Floor()
