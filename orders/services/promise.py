"""The promise before ordering (what a checkout page shows): for a basket and a destination, each
delivery option — mode, carrier service, price, and the delivery window — computed by the same sourcing
and promise rules as a real order, without writing anything."""

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from inventory.exceptions import OutOfStock
from inventory.models import Location, Product
from inventory.selectors import kit_parts
from shipping.calendar import add_working_days

from ..exceptions import InvalidOrder, UnknownLocation, UnknownProduct
from ..models import Channel, DeliveryMode
from .sourcing import (
    channel_location_ids,
    decide,
    destination_of,
    line_request,
    ship_and_delivery,
)

VAT = Decimal("1.20")
CENT = Decimal("0.01")


@dataclass(frozen=True)
class PromiseOption:
    mode: str
    carrier: str
    service: str
    service_code: str
    express: bool
    price_excl_vat: Decimal
    price_incl_vat: Decimal
    earliest: date
    latest: date
    parcels: int
    ship_from: list[str]
    store: str | None = None


@dataclass(frozen=True)
class Unavailable:
    mode: str
    code: str
    message: str
    store: str | None = None


def _latest(earliest: date, weekdays: set[int]) -> date:
    return add_working_days(earliest, settings.PROMISE_MARGIN_DAYS, weekdays or {1, 2, 3, 4, 5, 6})


def promise_quote(
    *,
    channel: Channel,
    items: list[tuple[str, int]],
    modes: list[str],
    postcode: str = "",
    country: str = "FR",
    latitude=None,
    longitude=None,
    store_code: str | None = None,
    allow_preorder: bool = False,
    now: datetime | None = None,
) -> tuple[list[PromiseOption], list[Unavailable]]:
    now = now or timezone.now()
    if not items:
        raise InvalidOrder("Give at least one sku.", details={"sku": ["Required."]})
    skus = [sku for sku, _ in items]
    products = {p.sku: p for p in Product.objects.filter(sku__in=skus, active=True)}
    unknown = sorted(set(skus) - set(products))
    if unknown:
        raise UnknownProduct(
            "Unknown or inactive SKU: " + ", ".join(unknown) + ".", details={"skus": unknown}
        )
    parts = kit_parts(products=products.values())
    lines = [
        line_request(index=i, product=products[sku], quantity=quantity, parts=parts.get(products[sku].pk))
        for i, (sku, quantity) in enumerate(items)
    ]
    destination = destination_of(postcode=postcode, country=country, latitude=latitude, longitude=longitude)
    needs_destination = [m for m in modes if m != DeliveryMode.STORE]
    if needs_destination and destination is None:
        raise InvalidOrder(
            "Give a French postcode (or coordinates, or a known country) for home and relay delivery.",
            details={"postcode": ["Required for home and relay delivery."]},
        )

    options: list[PromiseOption] = []
    unavailable: list[Unavailable] = []
    for mode in modes:
        if mode == DeliveryMode.STORE:
            stores = _stores(channel=channel, store_code=store_code)
            for store in stores:
                _store_option(channel, lines, store, allow_preorder, now, options, unavailable)
            continue
        try:
            decision = decide(
                channel=channel,
                lines=lines,
                mode=mode,
                destination=destination,
                allow_preorder=allow_preorder,
                now=now,
            )
        except OutOfStock:
            unavailable.append(Unavailable(mode, "out_of_stock", "Not enough stock for this basket."))
            continue
        found = _service_options(decision, mode)
        if not found:
            unavailable.append(
                Unavailable(mode, "no_service", "No carrier service takes these parcels there.")
            )
        options.extend(found)
    options.sort(key=lambda o: (o.earliest, o.price_excl_vat))
    return options, unavailable


def _stores(*, channel: Channel, store_code: str | None) -> list[Location]:
    qs = Location.objects.filter(kind=Location.Kind.STORE, active=True)
    if store_code:
        store = qs.filter(code=store_code).first()
        if store is None:
            raise UnknownLocation(f"No store with code {store_code!r}.", details={"store": store_code})
        return [store]
    return list(qs.filter(pk__in=channel_location_ids(channel=channel)).order_by("code"))


def _service_options(decision, mode: str) -> list[PromiseOption]:
    """One option per service of the mode that can carry every parcel of the chosen plan."""
    plan = decision.plan
    by_service: dict[int, list] = {}
    for parcel in plan.parcels:
        for quote in decision.network.quotes(
            mode=mode, weight_g=parcel.weight_g, distance_km=parcel.distance_km
        ):
            by_service.setdefault(quote.service_id, []).append((parcel, quote))
    options = []
    for pairs in by_service.values():
        if len(pairs) != len(plan.parcels):
            continue  # this service cannot carry one of the parcels
        deliveries = [ship_and_delivery(quote=q, ready=p.ready, slots=p.slots)[1] for p, q in pairs]
        quote = pairs[0][1]
        earliest = max(deliveries)
        price = sum((q.price_excl_vat for _, q in pairs), Decimal("0")).quantize(CENT)
        options.append(
            PromiseOption(
                mode=mode,
                carrier=quote.carrier,
                service=quote.name,
                service_code=quote.code,
                express=quote.is_express,
                price_excl_vat=price,
                price_incl_vat=(price * VAT).quantize(CENT),
                earliest=earliest,
                latest=_latest(earliest, set(quote.weekdays)),
                parcels=len(plan.parcels),
                ship_from=[p.location.code for p in plan.parcels],
            )
        )
    return options


def _store_option(channel, lines, store, allow_preorder, now, options, unavailable) -> None:
    try:
        decision = decide(
            channel=channel,
            lines=lines,
            mode=DeliveryMode.STORE,
            pickup_location=store,
            allow_preorder=allow_preorder,
            now=now,
        )
    except OutOfStock:
        unavailable.append(
            Unavailable("store", "out_of_stock", "Not enough stock for this basket.", store.code)
        )
        return
    plan = decision.plan
    earliest = plan.delivery_date
    if earliest is None:
        unavailable.append(
            Unavailable("store", "no_service", "No transfer service reaches this store.", store.code)
        )
        return
    price = sum((p.shipping for p in plan.parcels), Decimal("0")).quantize(CENT)
    quotes = [p.quote for p in plan.parcels if p.quote]
    options.append(
        PromiseOption(
            mode="store",
            carrier=quotes[0].carrier if quotes else "store",
            service=store.name,
            service_code="store",
            express=False,
            price_excl_vat=price,
            price_incl_vat=(price * VAT).quantize(CENT),
            earliest=earliest,
            latest=_latest(earliest, {1, 2, 3, 4, 5, 6}),
            parcels=len(plan.parcels),
            ship_from=[p.location.code for p in plan.parcels],
            store=store.code,
        )
    )
