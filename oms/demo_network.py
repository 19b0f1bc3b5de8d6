"""Demo carrier network and picker schedule: realistic French services (prices excl. VAT are
illustrative, in the range of 2026 public B2C rates) and two shifts a day in the warehouses.

The demo carriers use the sandbox adapter (labels made locally, tracking that advances by itself): no
carrier account is needed. Their relay points come from the sandbox network, loaded into the directory."""

from datetime import time, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from fulfillment.models import PickerShift
from fulfillment.services import shift_save
from inventory.models import Location
from shipping.carriers import adapter_config
from shipping.models import Carrier, CarrierService, ServiceRate, ServiceTransit
from shipping.relay_services import relay_points_load_sandbox

WEIGHTS = [250, 500, 1000, 2000, 5000, 10000, 30000]
DISTANCES = [300, 700, 1200, 10000]  # km; the last band covers Corsica and overseas

# carrier code, name, adapter, service code, service name, mode, max weight, cut-off, weekdays, express,
# base price at 250 g, price per extra band, distance surcharge per band, transit days per distance band
SERVICES = [
    (
        "colissimo",
        "Colissimo",
        "sandbox",
        "domicile",
        "Domicile",
        "home",
        30000,
        time(16, 0),
        "123456",
        False,
        "4.95",
        "0.90",
        "0.00",
        [1, 2, 2, 5],
    ),
    (
        "colissimo",
        "Colissimo",
        "sandbox",
        "point-retrait",
        "Point Retrait",
        "relay",
        20000,
        time(16, 0),
        "123456",
        False,
        "3.95",
        "0.70",
        "0.00",
        [2, 2, 3, 6],
    ),
    (
        "chronopost",
        "Chronopost",
        "sandbox",
        "chrono13",
        "Chrono 13",
        "home",
        30000,
        time(18, 0),
        "12345",
        True,
        "11.90",
        "1.60",
        "1.00",
        [1, 1, 1, 3],
    ),
    (
        "mondial-relay",
        "Mondial Relay",
        "sandbox",
        "point-relais",
        "Point Relais",
        "relay",
        30000,
        time(14, 0),
        "123456",
        False,
        "3.49",
        "0.60",
        "0.30",
        [2, 3, 4, 7],
    ),
    (
        "magasin",
        "Nos magasins",
        "store",
        "retrait",
        "Retrait en magasin",
        "store",
        30000,
        time(15, 0),
        "123456",
        False,
        "2.50",
        "0.20",
        "0.50",
        [1, 2, 3, 6],
    ),
]


# Carriers played offline by the sandbox in their own label look, number format and event codes (issue 20):
# the demo shows every carrier without any account. Same columns as SERVICES; their adapter is the real one.
PLAYED_SERVICES = [
    (
        "fedex",
        "FedEx",
        "fedex",
        "international-priority",
        "International Priority",
        "home",
        68000,
        time(17, 0),
        "12345",
        True,
        "24.00",
        "3.00",
        "6.00",
        [1, 1, 1, 2],
    ),
    (
        "ups",
        "UPS",
        "ups",
        "standard",
        "Standard",
        "home",
        70000,
        time(17, 30),
        "12345",
        False,
        "8.90",
        "1.20",
        "1.50",
        [1, 2, 2, 4],
    ),
    (
        "dpd",
        "DPD France",
        "dpd_fr",
        "predict",
        "Predict",
        "home",
        30000,
        time(17, 0),
        "12345",
        False,
        "6.40",
        "0.95",
        "0.40",
        [1, 1, 2, 5],
    ),
    (
        "gls",
        "GLS",
        "gls",
        "home",
        "Business Parcel",
        "home",
        40000,
        time(16, 30),
        "12345",
        False,
        "6.10",
        "0.85",
        "0.40",
        [1, 2, 2, 5],
    ),
    (
        "dhl-express",
        "DHL Express",
        "dhl_express",
        "express-worldwide",
        "Express Worldwide",
        "home",
        70000,
        time(18, 0),
        "12345",
        True,
        "29.00",
        "3.50",
        "7.00",
        [1, 1, 1, 2],
    ),
]

# Customs codes (HS) and countries of origin of the demo catalogue's families, for the CN23 of parcels to
# the DOM-TOM and abroad. Notebooks (CARNET) have none, so the demo shows a refused declaration too.
CUSTOMS = {
    "TSHIRT": ("610910", "PT"),
    "SWEAT": ("611020", "PT"),
    "JEAN": ("620342", "TN"),
    "BASKET": ("640399", "IT"),
    "CAFE": ("090121", "FR"),
    "THE": ("090230", "CN"),
    "LIVRE": ("490199", "FR"),
    "TASSE": ("691200", "FR"),
    "GOURDE": ("732393", "CN"),
    "SAC": ("420292", "IN"),
    "BOUGIE": ("340600", "FR"),
    "CONFITURE": ("200799", "FR"),
    "MIEL": ("040900", "FR"),
    "CHOCO": ("180632", "FR"),
    "SAVON": ("340111", "FR"),
    "PLAID": ("630120", "FR"),
}


def seed_customs_codes() -> int:
    """Fill the demo products' customs code and origin where empty (by family, the SKU's first part)."""
    from inventory.models import Product

    updated = 0
    for family, (code, origin) in CUSTOMS.items():
        updated += Product.objects.filter(sku__startswith=f"{family}-", customs_code="").update(
            customs_code=code, origin_country=origin
        )
    return updated


def seed_carrier_extras() -> None:
    """The web channel slips a return label in its parcels; the documents carry a thank-you note."""
    from orders.models import Channel
    from shipping.models import ChannelShippingSettings, DocumentBranding

    web = Channel.objects.filter(code="web").first()
    if web is not None:
        ChannelShippingSettings.objects.get_or_create(channel=web, defaults={"return_label_in_parcel": True})
    DocumentBranding.objects.get_or_create(
        pk=1,
        defaults={
            "slip_message": "Merci pour votre commande ! Un retour ? L'étiquette est dans le colis.",
            "label_text": "Merci !",
        },
    )


@transaction.atomic
def seed_network() -> int:
    created = 0
    played = {row[0] for row in PLAYED_SERVICES}
    for (
        carrier_code,
        carrier_name,
        adapter,
        code,
        name,
        mode,
        max_weight,
        cutoff,
        weekdays,
        express,
        base,
        step,
        surcharge,
        transits,
    ) in SERVICES + PLAYED_SERVICES:
        carrier, _ = Carrier.objects.get_or_create(
            code=carrier_code,
            defaults={"name": carrier_name, "adapter": adapter, "sandbox": carrier_code in played},
        )
        if carrier_code in played:
            pass
        elif carrier.adapter != adapter and not any(adapter_config(carrier.adapter).values()):
            # A demo database seeded before the sandbox existed: its carriers had real adapters without
            # credentials, which could make no label. Settings with credentials keep the real adapter.
            carrier.adapter = adapter
            carrier.save(update_fields=["adapter"])
        service, was_created = CarrierService.objects.get_or_create(
            carrier=carrier,
            code=code,
            defaults={
                "name": name,
                "delivery_mode": mode,
                "max_weight_g": max_weight,
                "cutoff_time": cutoff,
                "delivery_weekdays": weekdays,
                "is_express": express,
            },
        )
        if not was_created:
            continue
        created += 1
        for w_index, weight in enumerate(WEIGHTS):
            for d_index, distance in enumerate(DISTANCES):
                price = Decimal(base) + Decimal(step) * w_index + Decimal(surcharge) * d_index
                if distance == 10000:
                    price += Decimal("8.00")  # Corsica and overseas
                ServiceRate.objects.create(
                    service=service, max_weight_g=weight, max_distance_km=distance, price_excl_vat=price
                )
        for distance, days in zip(DISTANCES, transits, strict=True):
            ServiceTransit.objects.create(service=service, max_distance_km=distance, transit_days=days)
    return created


def seed_relay_points() -> int:
    """The sandbox relay network in the directory of every sandbox carrier with a relay service
    (an upsert: running it again changes nothing)."""
    loaded = 0
    carriers = Carrier.objects.filter(adapter="sandbox", services__delivery_mode="relay").distinct()
    for carrier in carriers:
        result = relay_points_load_sandbox(carrier=carrier)
        loaded += result.created + result.updated + result.unchanged
    return loaded


def seed_shifts(days: int = 21) -> int:
    today = timezone.localdate()
    monday = today - timedelta(days=today.weekday())
    created = 0
    # an outsourced warehouse's picking is its 3PL's: no shifts of ours there
    for location in Location.objects.filter(active=True).exclude(kind=Location.Kind.OUTSOURCED):
        if location.kind == Location.Kind.WAREHOUSE:
            plan = {d: [(time(6), time(13), 4, 30), (time(13), time(20), 3, 30)] for d in range(5)}
            plan[5] = [(time(8), time(12), 2, 30)]
        else:
            plan = {d: [(time(10), time(18), 1, 15)] for d in range(6)}
        for offset in range(days):
            day = monday + timedelta(days=offset)
            for start, end, pickers, rate in plan.get(day.weekday(), []):
                if PickerShift.objects.filter(location=location, date=day, start=start).exists():
                    continue
                shift_save(
                    shift=PickerShift(
                        location=location,
                        date=day,
                        start=start,
                        end=end,
                        pickers=pickers,
                        lines_per_picker_hour=rate,
                    )
                )
                created += 1
    return created
