"""Factories for the REST API tests: products, channels with their locations, API keys, stock."""

from decimal import Decimal

import factory

from inventory import services as inventory_services
from inventory.models import Product
from orders.models import Channel, ChannelLocation
from orders.services.api_keys import api_key_create


def ean13(first12: str) -> str:
    """A valid EAN-13 from its first 12 digits."""
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(first12))
    return f"{first12}{(10 - total % 10) % 10}"


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product
        django_get_or_create = ("sku",)

    sku = factory.Sequence(lambda n: f"SKU-{n:04d}")
    name = factory.LazyAttribute(lambda o: f"Produit {o.sku}")
    ean = factory.Sequence(lambda n: ean13(f"300000{n:06d}"))
    weight_g = 250
    price = Decimal("19.90")
    vat_rate = Decimal("20.0")


class ChannelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Channel
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"chan-{n}")
    name = factory.LazyAttribute(lambda o: f"Canal {o.code}")
    kind = Channel.Kind.WEB


def channel_serves(channel: Channel, *locations) -> None:
    """The channel sources from these locations, in this order of priority."""
    for priority, location in enumerate(locations):
        ChannelLocation.objects.update_or_create(
            channel=channel, location=location, defaults={"priority": priority}
        )


def api_key(channel: Channel, *scopes: str) -> str:
    """A new key of the channel with these scopes (default ``all``); returns the raw key."""
    _key, raw = api_key_create(channel=channel, scopes=list(scopes or ["all"]))
    return raw


def stock(product: Product, location, quantity: int) -> None:
    """Units on hand, received through the service so the ledger says so."""
    inventory_services.stock_receive(product=product, location=location, quantity=quantity)
