import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone, translation

from inventory.models import Allocation, StockLevel
from returns import services
from returns.models import ReturnReason
from shipping.models import Carrier, CarrierService, Shipment
from tests.events import log_event
from tests.inventory.factories import LocationFactory, ProductFactory
from tests.orders.factories import ChannelFactory, OrderFactory


@pytest.fixture(autouse=True)
def _english_and_media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    with translation.override("en"):
        yield


class World:
    """A delivered order of channel web: 2 × TSHIRT (19.90) and 1 × MUG (12.00) shipped from lyon by the
    sandbox carrier, delivered 5 days ago; a store (paris) takes returns too."""

    def __init__(self):
        self.lyon = LocationFactory(code="lyon", kind="warehouse")
        self.paris = LocationFactory(code="paris", kind="store", city="Paris", postcode="75004")
        self.channel = ChannelFactory(code="web", locations=[self.lyon])
        self.tshirt = ProductFactory(sku="TSHIRT", price=Decimal("19.90"), vat_rate=Decimal("20.0"))
        self.mug = ProductFactory(sku="MUG", price=Decimal("12.00"), vat_rate=Decimal("20.0"))
        carrier = Carrier.objects.create(code="sbx", name="Sandbox", adapter="sandbox")
        self.service = CarrierService.objects.create(
            carrier=carrier, code="home", name="Home", delivery_mode="home", cutoff_time=dt.time(16)
        )
        self.delivered_at = timezone.now() - dt.timedelta(days=5)
        self.order = self.make_order()
        self.reasons = {r.code: r for r in ReturnReason.objects.all()}

    def make_order(self, *, status="delivered", shipped=True, channel=None):
        order = OrderFactory(
            channel=channel or self.channel,
            status=status,
            lines=[(self.tshirt, 2, self.lyon), (self.mug, 1, self.lyon)],
            ship_name="Ana Roux",
            total_incl_vat=Decimal("51.80"),
        )
        if shipped:
            Allocation.objects.filter(line__order=order).update(consumed_at=self.delivered_at)
            Shipment.objects.create(
                number=f"{order.number}-1",
                order=order,
                location=self.lyon,
                service=self.service,
                weight_g=800,
                status="delivered",
                delivered_at=self.delivered_at,
            )
        return order

    def line(self, order, sku):
        return order.lines.get(sku=sku)

    def request(self, order=None, *, items=None, method="post", store=None, **kwargs):
        order = order or self.order
        items = items or [("TSHIRT", 1, "wrong_size")]
        return services.return_request(
            order=order,
            lines=[
                services.LineRequest(order_line=self.line(order, sku), quantity=q, reason=self.reasons[code])
                for sku, q, code in items
            ],
            method=method,
            store=store,
            **kwargs,
        )

    def on_hand(self, product, location=None):
        level = StockLevel.objects.filter(product=product, location=location or self.lyon).first()
        return level.on_hand if level else 0


@pytest.fixture
def world(db):
    return World()


def delivered_event(order, at):
    log_event(order, "order.status_changed", at, {"to": "delivered"})
