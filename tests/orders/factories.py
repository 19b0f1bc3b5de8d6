"""Factories of the orders tests. Orders that exercise stock go through ``order_create`` (``place_order``);
``OrderFactory`` writes rows directly, for pages that only read (lists, scope, query counts)."""

import itertools
from decimal import Decimal

import factory

from customers.models import Customer
from inventory import services as inventory_services
from inventory.models import Allocation
from orders.models import ApiKey, Channel, ChannelLocation, Order, OrderLine, OrderLocation
from orders.services.intake import LineInput, OrderInput, order_create
from tests.inventory.factories import LocationFactory, ProductFactory

_external_ids = itertools.count(1)


class ChannelFactory(factory.django.DjangoModelFactory):
    """``ChannelFactory(locations=[lyon, paris])``: the locations serve it in that order."""

    class Meta:
        model = Channel
        django_get_or_create = ("code",)
        skip_postgeneration_save = True

    code = factory.Sequence(lambda n: f"channel-{n}")
    name = factory.LazyAttribute(lambda o: f"Canal {o.code}")
    kind = Channel.Kind.WEB

    @factory.post_generation
    def locations(self, create, extracted, **kwargs):
        if create and extracted:
            for index, location in enumerate(extracted, start=1):
                ChannelLocation.objects.update_or_create(
                    channel=self, location=location, defaults={"priority": index * 10}
                )


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    email = factory.Sequence(lambda n: f"client{n}@example.fr")
    first_name = "Ana"
    last_name = "Roux"


class OrderFactory(factory.django.DjangoModelFactory):
    """An order written directly (no reservation). ``OrderFactory(lines=[(product, 2, location)])`` adds
    lines, each with a stock allocation at its location."""

    class Meta:
        model = Order
        skip_postgeneration_save = True

    number = factory.Sequence(lambda n: f"CMD-T-{n:06d}")
    channel = factory.SubFactory(ChannelFactory)
    external_id = factory.Sequence(lambda n: f"EXT-{n}")
    customer = factory.SubFactory(CustomerFactory)
    status = Order.Status.ALLOCATED
    delivery_mode = "home"
    ship_name = "Ana Roux"
    ship_line1 = "3 rue X"
    ship_postcode = "69003"
    ship_city = "Lyon"
    total_incl_vat = Decimal("39.80")

    @factory.post_generation
    def lines(self, create, extracted, **kwargs):
        if not (create and extracted):
            return
        for line_no, (product, quantity, location) in enumerate(extracted, start=1):
            line = OrderLine.objects.create(
                order=self,
                line_no=line_no,
                product=product,
                sku=product.sku,
                name=product.name,
                quantity=quantity,
                unit_price=product.price,
                vat_rate=product.vat_rate,
            )
            if location is not None:
                Allocation.objects.create(line=line, location=location, quantity=quantity)

    @factory.post_generation
    def order_locations(self, create, extracted, **kwargs):
        """What the intake records beside the allocations: where the order is handled."""
        if not create:
            return
        ids = set(Allocation.objects.filter(line__order=self).values_list("location_id", flat=True))
        if self.pickup_location_id:
            ids.add(self.pickup_location_id)
        OrderLocation.objects.bulk_create(
            [
                OrderLocation(order=self, location_id=i, status=self.status, created_at=self.created_at)
                for i in ids
            ]
        )


def stock(product, location, quantity: int):
    inventory_services.stock_receive(product=product, location=location, quantity=quantity)


def order_input(*, lines, email="ana@example.fr", delivery=None, **kwargs) -> OrderInput:
    """``lines`` is a list of (sku, quantity)."""
    return OrderInput(
        external_id=kwargs.pop("external_id", f"TEST-{next(_external_ids)}"),
        customer={"email": email, "first_name": "Ana", "last_name": "Roux"},
        delivery=delivery
        or {"mode": "home", "address": {"line1": "3 rue X", "postcode": "69003", "city": "Lyon"}},
        lines=[LineInput(sku=sku, quantity=quantity) for sku, quantity in lines],
        **kwargs,
    )


def place_order(*, channel, lines, actor=None, **kwargs) -> Order:
    """An order through the real intake (reservations, timeline); stock must be there."""
    return order_create(channel=channel, data=order_input(lines=lines, **kwargs), actor=actor)


MATRIX_ORDER = "CMD-MATRIX-1"
MATRIX_KEY_ID = 424242
MATRIX_CUSTOMER = 990301


def role_matrix_objects():
    """What the role matrix (tests/oms/test_roles.py) opens: channel ``web``, order ``CMD-MATRIX-1`` with
    stock at ``lyon`` and a pickup at store ``paris`` (so each role's staff sees it), and API key 424242."""
    lyon = LocationFactory(code="lyon", kind="warehouse")
    paris = LocationFactory(code="paris", kind="store", city="Paris", postcode="75004")
    channel = ChannelFactory(code="web", name="Web", locations=[lyon, paris])
    product = ProductFactory(sku="MATRIX-SKU")
    OrderFactory(
        number=MATRIX_ORDER,
        channel=channel,
        delivery_mode="store",
        pickup_location=paris,
        lines=[(product, 1, lyon)],
        customer=CustomerFactory(pk=MATRIX_CUSTOMER, email="matrix@example.fr"),
    )
    ApiKey.objects.create(
        pk=MATRIX_KEY_ID, channel=channel, prefix="oms_matrix00", hashed_key="0" * 64, scopes=["all"]
    )
