from decimal import Decimal

import factory

from inventory.models import Location, Product


class LocationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Location
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"loc-{n}")
    name = factory.LazyAttribute(lambda o: f"Entrepôt {o.code}")
    kind = Location.Kind.WAREHOUSE
    address_line1 = "1 rue de la Paix"
    postcode = "69003"
    city = "Lyon"
    latitude = Decimal("45.760000")
    longitude = Decimal("4.850000")


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product
        django_get_or_create = ("sku",)

    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    name = factory.LazyAttribute(lambda o: f"Produit {o.sku}")
    price = Decimal("19.90")
    vat_rate = Decimal("20.0")
    weight_g = 300
