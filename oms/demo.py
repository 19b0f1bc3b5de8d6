"""Demo data for ``seed_demo``: a French multi-channel shop. Deterministic (a fixed random seed) and
idempotent: what exists is left alone, so running it twice changes nothing."""

import random
from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from common.exceptions import DomainError
from customers.models import Customer
from fulfillment.models import Box
from inventory import services as inventory_services
from inventory.models import IncomingStock, Location, Product, StockLevel, ean13_check_digit
from invoicing.models import LegalEntity
from oms import demo_floor
from oms.demo_history import seed_history
from oms.demo_network import (
    seed_carrier_extras,
    seed_customs_codes,
    seed_network,
    seed_relay_points,
    seed_shifts,
)
from orders.models import Channel, ChannelLocation, Order, OrderStatus
from orders.services import lifecycle
from orders.services.intake import LineInput, OrderInput, order_create
from returns import services as returns
from returns.models import Return, ReturnReason, ReturnRule
from shipping.selectors import relay_point_search

from .demo_marketplaces import seed_marketplaces

# family, VAT rate, price range (EUR incl. VAT), weight range (g), variants
FAMILIES = [
    ("TSHIRT", "T-shirt coton bio", "20.0", (15, 35), (150, 250), ["XS", "S", "M", "L", "XL"]),
    ("SWEAT", "Sweat à capuche", "20.0", (45, 89), (450, 700), ["S", "M", "L", "XL"]),
    ("JEAN", "Jean droit", "20.0", (59, 119), (500, 800), ["36", "38", "40", "42", "44"]),
    ("BASKET", "Baskets cuir", "20.0", (79, 149), (800, 1200), ["39", "40", "41", "42", "43", "44"]),
    (
        "CAFE",
        "Café en grains 1 kg",
        "5.5",
        (14, 29),
        (1000, 1050),
        ["ETHIOPIE", "BRESIL", "COLOMBIE", "PEROU"],
    ),
    ("THE", "Thé en vrac 100 g", "5.5", (6, 18), (100, 130), ["VERT", "NOIR", "EARLGREY", "ROOIBOS"]),
    ("LIVRE", "Livre de cuisine", "5.5", (19, 39), (400, 900), ["BISTROT", "PATISSERIE", "VEGETAL"]),
    ("TASSE", "Tasse en grès", "20.0", (9, 19), (250, 350), ["BLANC", "BLEU", "VERT", "ROUGE"]),
    ("GOURDE", "Gourde inox 750 ml", "20.0", (19, 35), (300, 380), ["NOIR", "BLANC", "SAUGE"]),
    ("SAC", "Sac cabas toile", "20.0", (12, 29), (200, 300), ["NATUREL", "NOIR", "MOUTARDE"]),
    ("BOUGIE", "Bougie parfumée", "20.0", (16, 32), (300, 450), ["FIGUE", "CEDRE", "AMBRE", "THE"]),
    ("CONFITURE", "Confiture artisanale", "5.5", (5, 9), (370, 400), ["FRAISE", "ABRICOT", "FIGUE"]),
    ("MIEL", "Miel de lavande 250 g", "5.5", (8, 14), (330, 360), ["LAVANDE", "ACACIA"]),
    ("CHOCO", "Tablette de chocolat", "5.5", (3, 7), (100, 110), ["NOIR70", "LAIT", "BLANC", "NOISETTE"]),
    ("SAVON", "Savon de Marseille", "20.0", (4, 9), (100, 150), ["OLIVE", "LAVANDE", "AMANDE"]),
    ("PLAID", "Plaid laine", "20.0", (49, 99), (900, 1300), ["GRIS", "BEIGE", "BLEU"]),
    ("CARNET", "Carnet A5 ligné", "20.0", (7, 15), (200, 260), ["KRAFT", "NOIR", "TERRACOTTA"]),
    ("STYLO", "Stylo plume", "20.0", (15, 45), (30, 60), ["NOIR", "BORDEAUX", "VERT"]),
    ("CHAUSSETTES", "Chaussettes laine", "20.0", (9, 15), (80, 120), ["35-38", "39-42", "43-46"]),
    ("BONNET", "Bonnet côtelé", "20.0", (19, 29), (90, 130), ["NOIR", "ECRU", "ROUILLE"]),
    ("MASQUE", "Masque de protection", "10.0", (5, 12), (20, 40), ["S", "M", "L"]),
    ("VITAMINE", "Complément vitamine D", "2.1", (8, 15), (60, 90), ["60", "120"]),
]

CHANNELS = [
    # code, name, kind, buffer, location codes in priority order
    ("web", "Boutique en ligne", "web", 0, ["lyon", "lille", "bordeaux", "paris-marais", "marseille"]),
    ("shopify", "Boutique Shopify", "shopify", 2, ["lille", "lyon", "bordeaux"]),
]

FIRST_NAMES = [
    "Ana",
    "Louis",
    "Chloé",
    "Hugo",
    "Léa",
    "Jules",
    "Inès",
    "Gabriel",
    "Manon",
    "Arthur",
    "Camille",
    "Nathan",
    "Zoé",
    "Lucas",
    "Emma",
    "Noah",
    "Jade",
    "Paul",
    "Alice",
    "Adam",
]
LAST_NAMES = [
    "Roux",
    "Martin",
    "Bernard",
    "Petit",
    "Durand",
    "Leroy",
    "Moreau",
    "Simon",
    "Laurent",
    "Michel",
    "Garcia",
    "Fontaine",
    "Chevalier",
    "Robin",
    "Masson",
    "Blanc",
    "Guerin",
    "Muller",
    "Henry",
    "Faure",
]
CITIES = [
    ("69003", "Lyon"),
    ("75011", "Paris"),
    ("13006", "Marseille"),
    ("31000", "Toulouse"),
    ("33000", "Bordeaux"),
    ("59000", "Lille"),
    ("44000", "Nantes"),
    ("67000", "Strasbourg"),
    ("34000", "Montpellier"),
    ("35000", "Rennes"),
    ("06000", "Nice"),
    ("21000", "Dijon"),
    ("29200", "Brest"),
    ("20000", "Ajaccio"),
]
STREETS = [
    "rue de la République",
    "avenue Jean Jaurès",
    "rue Victor Hugo",
    "boulevard Pasteur",
    "place du Marché",
    "rue des Lilas",
    "chemin des Vignes",
    "rue Nationale",
    "allée des Tilleuls",
    "quai de Saône",
]


def _ean(n: int) -> str:
    first12 = f"376{n:09d}"
    return first12 + str(ean13_check_digit(first12))


def seed_catalogue(rng: random.Random) -> list[Product]:
    products = []
    n = 0
    for colour_index in range(10):
        for code, label, vat, (low, high), (wlow, whigh), variants in FAMILIES:
            for variant in variants:
                n += 1
                if len(products) >= 200:
                    return products
                sku = f"{code}-{variant}" if colour_index == 0 else f"{code}-{variant}-{colour_index}"
                price = Decimal(rng.randint(low * 100, high * 100)).quantize(Decimal("1")) / 100
                price = (price.to_integral_value() - Decimal("0.10")) if price > 5 else price
                product, _ = Product.objects.get_or_create(
                    sku=sku,
                    defaults={
                        "name": f"{label} {variant.title()}" + (f" n°{colour_index}" if colour_index else ""),
                        "ean": _ean(n),
                        "weight_g": rng.randint(wlow, whigh),
                        "price": price,
                        "vat_rate": Decimal(vat),
                    },
                )
                products.append(product)
            if len(products) >= 200:
                return products
    return products


@transaction.atomic
def seed_stock(rng: random.Random, products: list[Product]) -> None:
    if StockLevel.objects.exists():
        return
    locations = list(Location.objects.filter(active=True).order_by("code"))
    today = timezone.localdate()
    opening, incoming = [], []
    for product in products:
        if product.is_kit:
            continue  # a kit's stock is its components'
        for location in locations:
            is_store = location.kind == Location.Kind.STORE
            if rng.random() < (0.45 if is_store else 0.15):
                continue  # not stocked there
            quantity = rng.randint(1, 12) if is_store else rng.randint(5, 120)
            aisle = "ABCDEF"[rng.randrange(6)]
            bin_code = f"{aisle}-{rng.randint(1, 24):02d}-{rng.randint(1, 5)}"
            opening.append((product, location, quantity, bin_code))
        if rng.random() < 0.12:
            warehouse = rng.choice([loc for loc in locations if loc.kind == Location.Kind.WAREHOUSE])
            incoming.append(
                {
                    "product": product,
                    "location": warehouse,
                    "quantity": rng.randint(20, 200),
                    "expected_on": today + timedelta(days=rng.randint(3, 21)),
                    "reference": f"PO-2026-{rng.randint(1000, 9999)}",
                }
            )
    # Every level in two statements (levels, ledger receipts) instead of a receipt each.
    inventory_services.stock_open(rows=opening, reference="seed: opening stock")
    for spec in incoming:
        inventory_services.incoming_create(**spec)


# Kits (bundles) of the demo: SKU, name, price, VAT rate, components (SKU, units per kit). Single VAT rate
# each (a kit mixing rates would need its price split per rate on the invoice).
KITS = [
    (
        "COFFRET-PETIT-DEJ",
        "Coffret petit-déjeuner",
        "39.90",
        "5.5",
        [("CAFE-ETHIOPIE", 1), ("CONFITURE-FRAISE", 2), ("MIEL-LAVANDE", 1)],
    ),
    (
        "COFFRET-THE",
        "Coffret dégustation de thés",
        "34.90",
        "5.5",
        [("THE-VERT", 1), ("THE-NOIR", 1), ("THE-EARLGREY", 1)],
    ),
    (
        "KIT-RANDO",
        "Kit randonnée",
        "54.90",
        "20.0",
        [("GOURDE-NOIR", 1), ("BONNET-NOIR", 1), ("CHAUSSETTES-39-42", 2)],
    ),
]


def seed_kits() -> list[Product]:
    """The demo's kits: no stock of their own, their availability is their components'."""
    kits = []
    for sku, name, price, vat, parts in KITS:
        kit, created = Product.objects.get_or_create(
            sku=sku, defaults={"name": name, "price": Decimal(price), "vat_rate": Decimal(vat)}
        )
        components = {p.sku: p for p in Product.objects.filter(sku__in=[c for c, _q in parts])}
        if created and len(components) == len(parts):
            inventory_services.kit_set_components(
                kit=kit, components=[(components[c], quantity) for c, quantity in parts]
            )
            kit.refresh_from_db()
        kits.append(kit)
    return kits


def seed_channels() -> list[Channel]:
    channels = []
    for code, name, kind, buffer, location_codes in CHANNELS:
        channel, created = Channel.objects.get_or_create(
            code=code, defaults={"name": name, "kind": kind, "safety_buffer": buffer}
        )
        if created:
            for priority, location_code in enumerate(location_codes):
                ChannelLocation.objects.create(
                    channel=channel, location=Location.objects.get(code=location_code), priority=priority
                )
        channels.append(channel)
    return channels


BOXES = [
    # code, name, length, width, height (mm), empty weight (g)
    ("s", "S", 250, 180, 100, 120),
    ("m", "M", 350, 250, 150, 220),
    ("l", "L", 500, 350, 250, 400),
    ("mailer", "Enveloppe matelassée", 320, 230, 30, 40),
]


def seed_boxes() -> None:
    for code, name, length, width, height, tare in BOXES:
        Box.objects.update_or_create(
            code=code,
            defaults={
                "name": name,
                "length_mm": length,
                "width_mm": width,
                "height_mm": height,
                "tare_g": tare,
            },
        )


# The demo's orders of today, by how far they have gone; about a day of orders, like each day of the
# history (so the sales chart has no spike at today). Each goes through the real floor (oms/demo_floor.py).
PLAN = (
    [OrderStatus.DELIVERED] * 6
    + [OrderStatus.OUT_FOR_DELIVERY] * 3
    + [OrderStatus.SHIPPED] * 4
    + [OrderStatus.IN_PREPARATION] * 3
    + [OrderStatus.ALLOCATED] * 5
    + [OrderStatus.CANCELLED] * 2
    + [OrderStatus.RETURNED]
    + ["store_ready", "store_ready", "partial", "preorder", "preorder"]
)


def _store_lines(rng: random.Random, store: Location) -> list[LineInput]:
    """One or two products the store has on its own shelves (collected there, nothing to send)."""
    levels = list(
        StockLevel.objects.filter(location=store, on_hand__gt=F("reserved") + 1, product__active=True)
        .select_related("product")
        .order_by("product__sku")
    )
    chosen = rng.sample(levels, min(len(levels), rng.randint(1, 2)))
    return [LineInput(sku=level.product.sku, quantity=1) for level in chosen]


def _split_lines(channel: Channel) -> list[LineInput]:
    """Two products that no single location of the channel holds together: the order leaves in two
    parcels from two warehouses (the demo's partially shipped order)."""
    location_ids = list(channel.locations.values_list("pk", flat=True))
    where: dict[str, set[int]] = {}
    for sku, location_id in StockLevel.objects.filter(
        location_id__in=location_ids, on_hand__gt=F("reserved") + 2, product__active=True
    ).values_list("product__sku", "location_id"):
        where.setdefault(sku, set()).add(location_id)
    singles = sorted((sku, next(iter(locs))) for sku, locs in where.items() if len(locs) == 1)
    for sku, location_id in singles:
        other = next((o for o, loc in singles if loc != location_id and location_id not in where[o]), None)
        if other:
            return [LineInput(sku=sku, quantity=1), LineInput(sku=other, quantity=1)]
    return []


def _advance(order: Order, target: str) -> None:
    """Take an order along the floor to its target (the tracking poll of seed_orders finishes the way)."""
    if target == OrderStatus.CANCELLED:
        lifecycle.order_cancel(order=order, reason="demo: customer changed their mind")
    elif target == OrderStatus.IN_PREPARATION:
        demo_floor.start_preparation(order)
    elif target == "store_ready":
        demo_floor.ready_for_pickup(order)
    elif target == "partial":
        demo_floor.ship(order, only_first=True)
    elif target in (
        OrderStatus.SHIPPED,
        OrderStatus.OUT_FOR_DELIVERY,
        OrderStatus.DELIVERED,
        OrderStatus.RETURNED,
    ):
        shipments = demo_floor.ship(order)
        phase = {
            OrderStatus.SHIPPED: "transit",
            OrderStatus.OUT_FOR_DELIVERY: "out",
        }.get(target, "delivered")
        offsets = [demo_floor.carrier_phase_offset(s, phase) for s in shipments if s.tracking_number]
        if offsets:
            extra = timedelta(hours=6) if phase == "delivered" else timedelta(0)
            demo_floor.move_back(order, max(offsets) + extra)


def _return_everything(order: Order, store: Location, reason: ReturnReason) -> None:
    """The customer brought every item back to the store and was refunded: the order is returned."""
    state = returns.returnable(order)
    if state.refusal:
        return
    lines = {line.pk: line for line in order.lines.all()}
    ret = returns.return_request(
        order=order,
        lines=[
            returns.LineRequest(order_line=lines[line_id], quantity=units, reason=reason)
            for line_id, units in state.lines.items()
        ],
        method="store",
        store=store,
    )
    returns.return_accept(ret=ret)
    returns.return_receive(
        ret=ret, location=store, results={line.pk: (line.quantity, 0) for line in ret.lines.all()}
    )
    returns.return_refund(ret=Return.objects.get(pk=ret.pk), reference="DEMO-REFUND-0")


def seed_orders(
    rng: random.Random, channels: list[Channel], products: list[Product], kits: list[Product] = ()
) -> int:
    if Order.objects.filter(external_id__startswith="DEMO-").exists():
        return 0
    stores = list(Location.objects.filter(kind=Location.Kind.STORE).order_by("code"))
    created = 0
    targets: list[tuple[Order, str]] = []
    for index, target in enumerate(PLAN):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        postcode, city = rng.choice(CITIES)
        channel = channels[index % len(channels)]
        store = rng.choice(stores)
        if target == "store_ready":
            channel = next(c for c in channels if c.code == "web")  # the web shop offers click & collect
            delivery = {"mode": "store", "store": store.code}
        elif index % 7 == 3:
            # A relay point of the directory near the customer.
            relay = {
                "carrier": "mondial-relay",
                "id": f"FR-{rng.randint(10000, 99999)}",
                "name": "Relais Tabac Presse",
                "line1": f"{rng.randint(1, 90)} {rng.choice(STREETS)}",
                "postcode": postcode,
                "city": city,
                "country": "FR",
            }
            nearby = relay_point_search(postcode=postcode, country="FR", carrier="mondial-relay", limit=3)
            if nearby:
                point = nearby[index % len(nearby)]
                relay.update(
                    id=point.external_id,
                    name=point.name,
                    line1=point.line1,
                    postcode=point.postcode,
                    city=point.city,
                )
            delivery = {"mode": "relay", "relay_point": relay}
        else:
            delivery = {
                "mode": "home",
                "address": {
                    "line1": f"{rng.randint(1, 120)} {rng.choice(STREETS)}",
                    "postcode": postcode,
                    "city": city,
                    "country": "FR",
                    "name": f"{first} {last}",
                },
            }
        if target == "preorder":
            incoming = IncomingStock.objects.filter(status="open").order_by("pk")
            product = incoming[index % max(1, incoming.count())].product if incoming.exists() else products[0]
            free = StockLevel.objects.filter(product=product, location__channels=channel)
            available = sum(level.on_hand - level.reserved for level in free)
            lines = [LineInput(sku=product.sku, quantity=max(1, available + rng.randint(1, 3)))]
        elif target == "store_ready":
            lines = _store_lines(rng, store)
        elif target == "partial":
            lines = _split_lines(channel) or [LineInput(sku=products[0].sku, quantity=1)]
        else:
            lines = [
                LineInput(sku=p.sku, quantity=rng.randint(1, 3))
                for p in rng.sample(products, rng.randint(1, 3))
            ]
            kit = kits[index % len(kits)] if kits and index % 5 == 1 else None
            if kit is not None and kit.is_kit:  # some orders have a kit: pickers pick its components
                lines.append(LineInput(sku=kit.sku, quantity=1))
        if not lines:
            continue
        data = OrderInput(
            external_id=f"DEMO-{index + 1:04d}",
            customer={
                "email": f"{first}.{last}.{index % 23}@example.fr".lower(),
                "first_name": first,
                "last_name": last,
                "phone": f"+336{rng.randint(10000000, 99999999)}",
            },
            delivery=delivery,
            lines=lines,
            allow_preorder=target == "preorder",
        )
        try:
            order = order_create(channel=channel, data=data, source="demo")
        except DomainError:  # a demo order that cannot be taken (stock) is skipped
            continue
        created += 1
        targets.append((order, target))
    for order, target in targets:
        _advance(Order.objects.get(pk=order.pk), target)
    # The carrier's news of the parcels handed over earlier (beat does this every ten minutes).
    demo_floor.track_all()
    store = returns.return_stores().first()
    reason = ReturnReason.objects.filter(code="changed_mind").first()
    for order, target in targets:
        if target == OrderStatus.RETURNED and store is not None and reason is not None:
            _return_everything(Order.objects.get(pk=order.pk), store, reason)
    return created


def seed_customers_b2b() -> None:
    Customer.objects.get_or_create(
        email="achats@maison-dupont.fr",
        defaults={
            "first_name": "Claire",
            "last_name": "Dupont",
            "company": "Maison Dupont SARL",
            "siren": "552100554",
            "vat_number": "FR40552100554",
            "phone": "+33478000000",
        },
    )


def seed_legal_entity() -> LegalEntity:
    """The demo shop's company, default seller of every channel, so shipped demo orders are invoiced."""
    entity, _created = LegalEntity.objects.get_or_create(
        siret="73282932000074",
        defaults={
            "name": "Maison Démo",
            "legal_form": "SAS",
            "share_capital": Decimal("50000.00"),
            "address_line1": "12 rue du Dauphiné",
            "postcode": "69800",
            "city": "Saint-Priest",
            "siren": "732829320",
            "rcs_city": "Lyon",
            "vat_number": "FR44732829320",
            "email": "factures@maison-demo.fr",
            "phone": "+33478000001",
            "website": "maison-demo.fr",
            "payment_terms_days": 30,
            "payment_terms": "Paiement comptant à la commande ; virement à 30 jours pour les professionnels.",
            "late_penalty_rate": Decimal("12.00"),
            "bank_name": "Banque Démo",
            "iban": "FR7630006000011234567890189",
            "bic": "AGRIFRPPXXX",
            # The demo prints emails on the console: don't send each invoice there.
            "email_documents": False,
            # Business invoices go to the sandbox plateforme agréée (e-invoicing page: play the buyer there).
            "platform": "sandbox",
            "is_default": not LegalEntity.objects.filter(is_default=True).exists(),
        },
    )
    return entity


def seed_all(*, forecast: bool = True) -> dict:
    rng = random.Random(20261125)  # noqa: S311 - demo data, not security
    products = seed_catalogue(rng)
    seed_customs_codes()
    seed_stock(rng, products)
    kits = seed_kits()
    channels = seed_channels()
    seed_network()
    seed_relay_points()
    seed_shifts()
    seed_customers_b2b()
    seed_boxes()
    seed_legal_entity()
    seed_return_rules()
    orders = seed_orders(rng, channels, products, kits=kits)
    history = seed_history(random.Random(20260601))  # noqa: S311 - demo data, not security
    if forecast:
        seed_forecast()
    seed_returns()
    seed_carrier_extras()
    seed_marketplaces()  # after the orders and history: their figures stay the same
    return {"products": len(products), "orders_created": orders, "history_orders_created": history}


def seed_forecast() -> None:
    """Compute the sales forecast once, so the forecast pages show something right after seeding (the
    nightly beat entry and the page's button recompute it later)."""
    from reports.models import ForecastRun, SalesForecast
    from reports.services import forecast_run_execute

    if (
        SalesForecast.objects.exists()
        or ForecastRun.objects.filter(status=ForecastRun.Status.RUNNING).exists()
    ):
        return
    run = ForecastRun.objects.create(trigger=ForecastRun.Trigger.MANUAL, heartbeat_at=timezone.now())
    forecast_run_execute(run_id=run.pk)


def seed_return_rules() -> None:
    """A return policy for the web channel (30 days, a photo for damaged items)."""
    web = Channel.objects.filter(code="web").first()
    if web is not None:
        rule, _created = ReturnRule.objects.get_or_create(channel=web, defaults={"window_days": 30})
        rule.photo_reasons.add(*ReturnReason.objects.filter(code="damaged"))


def seed_returns() -> None:
    """A few returns at each step (requested, accepted in store, received, refunded), through the returns'
    services. Idempotent (the returns of orders returned whole are seed_orders')."""
    if Return.objects.exclude(refund_reference="DEMO-REFUND-0").exists():
        return
    store = returns.return_stores().first()
    reasons = {r.code: r for r in ReturnReason.objects.all()}
    steps = ["requested", "label_sent", "received", "refunded"]
    candidates = Order.objects.filter(status=OrderStatus.DELIVERED).order_by("-created_at")[:60]
    for order in candidates:
        if not steps or store is None:
            break
        state = returns.returnable(order)
        if state.refusal:
            continue
        line_id, units = next(iter(state.lines.items()))
        step = steps.pop(0)
        reason = reasons["wrong_size" if step != "received" else "changed_mind"]
        ret = returns.return_request(
            order=order,
            lines=[
                returns.LineRequest(order_line=order.lines.get(pk=line_id), quantity=units, reason=reason)
            ],
            method="store",
            store=store,
        )
        if step == "requested":
            continue
        returns.return_accept(ret=ret)
        if step == "label_sent":
            continue
        line = ret.lines.get()
        returns.return_receive(ret=ret, location=store, results={line.pk: (line.quantity, 0)})
        if step == "refunded":
            returns.return_refund(ret=ret, reference="DEMO-REFUND-1")
