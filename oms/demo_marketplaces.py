"""The demo's marketplaces and 3PL, all in sandbox mode (no account, nothing leaves the server): Amazon.fr
(SP-API sandbox) and Fnac Darty (a Mirakl marketplace) whose simulated orders arrive by the marketplace poll
(beat, or the in-process beat of ``make run``), and an outsourced warehouse whose simulated WMS takes the
fulfilment requests and ships them a couple of minutes later. Fnac Darty's orders go to the 3PL first when
it holds their products, so the whole loop shows: order polled → accepted (OR21) → sent to the 3PL → shipped
by it → tracking and shipment sent back (OR23, OR24), quantities pushed (OF01).

Seeded after the demo's orders and history, so their deterministic figures are unchanged."""

import random
from decimal import Decimal

from channels.models import ChannelConnection
from fulfillment.models import WarehousePartner
from inventory import services as inventory_services
from inventory.models import Location, Product, StockLevel
from orders.models import Channel, ChannelLocation

THREE_PL = "3pl-venissieux"
MARKETPLACES = [
    # code, name, kind, safety buffer, location codes in priority order
    ("amazon-fr", "Amazon.fr", Channel.Kind.AMAZON, 2, ["lyon", "lille"]),
    ("fnac-darty", "Fnac Darty (Mirakl)", Channel.Kind.MIRAKL, 1, [THREE_PL, "lyon"]),
]


def seed_marketplaces() -> dict:
    location, created = Location.objects.get_or_create(
        code=THREE_PL,
        defaults={
            "name": "Logisticien Vénissieux (sandbox)",
            "kind": Location.Kind.OUTSOURCED,
            "address_line1": "3 avenue de la Division Leclerc",
            "postcode": "69200",
            "city": "Vénissieux",
            "country": "FR",
            "latitude": Decimal("45.697000"),
            "longitude": Decimal("4.886000"),
            "storage_cost_per_unit_day": Decimal("0.0060"),
            "handling_cost_per_line": Decimal("0.80"),
        },
    )
    WarehousePartner.objects.get_or_create(
        location=location, defaults={"name": "Logisticien Vénissieux", "sandbox": True}
    )
    if created or not StockLevel.objects.filter(location=location).exists():
        rng = random.Random(20261204)  # noqa: S311 - demo data, not security
        products = list(Product.objects.filter(is_kit=False, active=True).order_by("sku")[:60])
        rows = [(p, location, rng.randint(10, 60), "") for p in rng.sample(products, min(12, len(products)))]
        inventory_services.stock_open(rows=rows, reference="seed: 3PL opening stock")
    channels = 0
    for code, name, kind, buffer, location_codes in MARKETPLACES:
        channel, new = Channel.objects.get_or_create(
            code=code, defaults={"name": name, "kind": kind, "safety_buffer": buffer}
        )
        if new:
            channels += 1
            for priority, location_code in enumerate(location_codes, start=1):
                ChannelLocation.objects.create(
                    channel=channel, location=Location.objects.get(code=location_code), priority=priority
                )
        ChannelConnection.objects.get_or_create(
            channel=channel,
            defaults={
                "sandbox": True,
                "poll_orders": True,
                "push_stock": True,
                "marketplace_id": "A13V1IB3VIYZZH" if kind == Channel.Kind.AMAZON else "",
                "seller_id": "SANDBOX",
                "delivery_modes": {"Standard": "home", "*": "home"},
            },
        )
    return {"marketplaces": channels}
