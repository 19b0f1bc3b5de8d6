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


def ean13(n: int) -> str:
    """A valid EAN-13 (French prefix 300-379) numbered ``n``."""
    from inventory.models import ean13_check_digit

    first12 = f"37{n:010d}"
    return first12 + str(ean13_check_digit(first12))


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product
        django_get_or_create = ("sku",)

    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    name = factory.Sequence(lambda n: f"Produit {n}")
    ean = factory.Sequence(lambda n: ean13(n + 1))
    weight_g = 250
    price = Decimal("24.90")
    vat_rate = Decimal("20.0")
