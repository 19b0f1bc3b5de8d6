"""Order intake, the single entry for every channel (API, webhooks, CSV import, manual entry).

All-or-nothing: the order, its customer, its lines, every reservation and the timeline are written in one
transaction, or nothing is. Reservations are compare-and-set updates taken in a fixed order (product,
location), so concurrent orders can neither oversell nor deadlock; when stock moved between planning and
reserving, the whole attempt is rolled back and planned again.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import IntegrityError, connection, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from common.inserts import insert_rows
from customers import services as customer_services
from inventory import services as inventory_services
from inventory.events import availability_event
from inventory.exceptions import InvalidQuantity, OutOfStock
from inventory.models import Allocation, IncomingStock, Location, Product
from inventory.selectors import active_products_by_sku, availability, kit_parts

from ..exceptions import DuplicateOrder, InvalidOrder, UnknownLocation, UnknownProduct
from ..models import Channel, DeliveryMode, Order, OrderCounter, OrderLine, OrderLocation, OrderStatus
from ..payments.services import payment_fields
from .events import events_write, order_event, order_event_json
from .sourcing import Decision, channel_location_ids, decide, destination_of, line_request

MAX_ATTEMPTS = 4
CENT = Decimal("0.01")
# The largest amounts the columns hold: OrderLine.unit_price (10 digits) and Order.total_incl_vat (12).
MAX_UNIT_PRICE = Decimal("99999999.99")
MAX_TOTAL = Decimal("9999999999.99")


@dataclass
class LineInput:
    sku: str
    quantity: int
    unit_price: Decimal | None = None


@dataclass
class OrderInput:
    external_id: str
    customer: dict
    delivery: dict
    lines: list[LineInput]
    allow_preorder: bool = False
    purchase_order: str = ""
    note: str = ""
    extra: dict = field(default_factory=dict)
    # The shipping charge the customer pays, incl. VAT (the channel's; phone orders price it from the
    # carrier grid with ``shipping_fee_quote``). None: no charge.
    shipping_fee: Decimal | None = None
    # Where the money is, from the channel: {"status": "paid" | "authorised" | "pending" | ..., "amount",
    # "provider", "reference", "paid_at"}. A pending payment puts the order on a payment hold.
    payment: dict | None = None


class _StockMoved(Exception):
    """A compare-and-set reservation found less stock than planned: plan again."""


def next_order_number() -> str:
    year = timezone.localdate().year
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT nextval('orders_order_number_seq')")
            value = cursor.fetchone()[0]
    else:  # SQLite serialises writers: a counter row is enough
        OrderCounter.objects.get_or_create(name="order")
        OrderCounter.objects.filter(name="order").update(value=F("value") + 1)
        value = OrderCounter.objects.get(name="order").value
    return f"CMD-{year}-{value:06d}"


def _validate(
    *, channel: Channel, data: OrderInput, catalogue: dict[str, Product] | None = None
) -> tuple[dict[str, Product], Location | None]:
    """``catalogue``: the active products by SKU, read once for a whole batch (``services/batch.py``)."""
    if not data.external_id or not str(data.external_id).strip():
        raise InvalidOrder("external_id is required.", details={"external_id": ["This field is required."]})
    if not data.lines:
        raise InvalidOrder("An order needs at least one line.", details={"lines": ["At least one line."]})
    for index, line in enumerate(data.lines, start=1):
        if not isinstance(line.quantity, int) or isinstance(line.quantity, bool) or line.quantity <= 0:
            raise InvalidQuantity(
                f"Line {index}: the quantity must be a whole number greater than zero.",
                details={"line": index, "sku": line.sku, "quantity": line.quantity},
            )
        if line.unit_price is not None and line.unit_price < 0:
            raise InvalidOrder(f"Line {index}: the unit price cannot be negative.", details={"line": index})
        if line.unit_price is not None and line.unit_price > MAX_UNIT_PRICE:
            raise InvalidOrder(
                f"Line {index}: the unit price is too large.",
                details={"lines": {str(index - 1): {"unit_price": [f"At most {MAX_UNIT_PRICE}."]}}},
            )
    email = (data.customer or {}).get("email", "")
    if not email or "@" not in email:
        raise InvalidOrder(
            "The customer's email is required.", details={"customer": {"email": ["Required."]}}
        )

    skus = {line.sku for line in data.lines}
    if catalogue is None:
        products = active_products_by_sku(skus=skus)
    else:
        products = {sku: catalogue[sku] for sku in skus if sku in catalogue}
    unknown = sorted(skus - set(products))
    if unknown:
        raise UnknownProduct(
            "Unknown or inactive SKU: " + ", ".join(unknown) + ".", details={"skus": unknown}
        )
    if data.shipping_fee is not None and not (0 <= data.shipping_fee <= MAX_UNIT_PRICE):
        raise InvalidOrder(
            "The shipping charge must be between 0 and 99999999.99.",
            details={"shipping_fee": [f"Between 0 and {MAX_UNIT_PRICE}."]},
        )
    if _order_total(data=data, products=products) > MAX_TOTAL:
        raise InvalidOrder(
            "The order's total is too large.", details={"total_incl_vat": [f"At most {MAX_TOTAL} €."]}
        )

    mode = (data.delivery or {}).get("mode")
    store = None
    if mode == DeliveryMode.HOME:
        address = data.delivery.get("address") or {}
        missing = [f for f in ("line1", "postcode", "city") if not address.get(f)]
        if missing:
            raise InvalidOrder(
                "The delivery address is incomplete.",
                details={"delivery": {"address": {f: ["Required."] for f in missing}}},
            )
    elif mode == DeliveryMode.RELAY:
        relay = data.delivery.get("relay_point") or {}
        if not relay.get("id") or not relay.get("carrier"):
            raise InvalidOrder(
                "A relay point needs its carrier and id.",
                details={"delivery": {"relay_point": ["carrier and id."]}},
            )
    elif mode == DeliveryMode.STORE:
        code = data.delivery.get("store")
        store = (
            Location.objects.filter(code=code, kind=Location.Kind.STORE, active=True).first()
            if code
            else None
        )
        if store is None:
            raise UnknownLocation(f"No store with code {code!r}.", details={"store": code})
    else:
        raise InvalidOrder(
            "The delivery mode must be home, relay or store.", details={"delivery": {"mode": [str(mode)]}}
        )
    return products, store


def _order_total(*, data: OrderInput, products: dict[str, Product]) -> Decimal:
    """Goods and shipping, incl. VAT."""
    return (data.shipping_fee or Decimal("0")) + sum(
        (
            (line.unit_price if line.unit_price is not None else products[line.sku].price) * line.quantity
            for line in data.lines
        ),
        Decimal("0"),
    ).quantize(CENT)


def _delivery_fields(*, data: OrderInput, customer, store: Location | None) -> dict:
    delivery = data.delivery
    mode = delivery["mode"]
    fields = {"delivery_mode": mode}
    if mode == DeliveryMode.HOME:
        address = delivery["address"]
        source = address
    elif mode == DeliveryMode.RELAY:
        source = delivery["relay_point"]
        # Kept as JSON: decimals (coordinates) as strings, as everywhere in the API.
        fields["relay_point"] = {
            k: str(v) if isinstance(v, Decimal) else v for k, v in source.items() if v not in (None, "")
        }
    else:
        source = {
            "name": store.name,
            "line1": store.address_line1,
            "line2": store.address_line2,
            "postcode": store.postcode,
            "city": store.city,
            "country": store.country,
            "latitude": store.latitude,
            "longitude": store.longitude,
        }
        fields["pickup_location"] = store
    fields.update(
        ship_name=(source.get("name") or customer.full_name or "")[:200],
        ship_company=(source.get("company") or "")[:200],
        ship_line1=(source.get("line1") or "")[:200],
        ship_line2=(source.get("line2") or "")[:200],
        ship_postcode=(source.get("postcode") or "")[:16],
        ship_city=(source.get("city") or "")[:120],
        ship_country=(source.get("country") or "FR")[:2].upper(),
        ship_phone=(source.get("phone") or data.customer.get("phone") or "")[:32],
        ship_latitude=source.get("latitude"),
        ship_longitude=source.get("longitude"),
    )
    return fields


def _out_of_stock(*, channel: Channel, data: OrderInput) -> OutOfStock:
    """The refusal with, for every SKU of the order, what was asked and what this channel can offer."""
    wanted: dict[str, int] = {}
    for line in data.lines:
        wanted[line.sku] = wanted.get(line.sku, 0) + line.quantity
    avail = availability(skus=wanted, location_ids=channel_location_ids(channel=channel))
    short = []
    for sku, quantity in wanted.items():
        a = avail[sku]
        offer = a.available + (a.preorderable if data.allow_preorder else 0)
        if offer < quantity:
            short.append(
                {
                    "sku": sku,
                    "requested": quantity,
                    "available": a.available,
                    "preorderable": a.preorderable,
                    "next_restock_on": a.next_restock_on.isoformat() if a.next_restock_on else None,
                }
            )
    message = (
        "Not enough stock for "
        + ", ".join(f"{s['sku']} ({s['requested']} requested, {s['available']} available)" for s in short)
        if short
        else "Not enough stock."
    )
    return OutOfStock(message, details={"lines": short})


def order_create(
    *,
    channel: Channel,
    data: OrderInput,
    actor=None,
    source: str = "api",
    on_created: Callable[[Order], None] | None = None,
    durable: bool = True,
) -> Order:
    """Take an order: validate, find or create the customer, reserve every line (stock, else incoming when
    pre-orders are allowed), record allocations and the timeline. Raises a DomainError and writes nothing
    when the order cannot be taken. ``on_created`` runs inside the transaction (idempotency store).
    ``durable=False`` lets a caller take several orders in its own transaction (a file import, all or
    nothing): the order's writes then run in a savepoint."""
    products, store = _validate(channel=channel, data=data)
    # No read for a duplicate external id: the order's INSERT meets the unique constraint instead, and
    # that IntegrityError is the same "duplicate" answer (one statement fewer for every order taken).
    # Kits: their components, read only when a product row says it is one (no query for other orders).
    parts = kit_parts(products=products.values())
    lines = [
        line_request(
            index=index,
            product=products[line.sku],
            quantity=line.quantity,
            parts=parts.get(products[line.sku].pk),
        )
        for index, line in enumerate(data.lines)
    ]
    destination = _destination(data)
    for _attempt in range(MAX_ATTEMPTS):
        try:
            decision = decide(
                channel=channel,
                lines=lines,
                mode=data.delivery["mode"],
                destination=destination,
                pickup_location=store,
                allow_preorder=data.allow_preorder,
            )
        except OutOfStock:
            raise _out_of_stock(channel=channel, data=data) from None
        try:
            order = _create(
                channel=channel,
                data=data,
                products=products,
                parts=parts,
                store=store,
                decision=decision,
                actor=actor,
                source=source,
                on_created=on_created,
                durable=durable,
            )
        except _StockMoved:
            continue  # stock moved between planning and reserving: plan again with fresh figures
        return order
    raise _out_of_stock(channel=channel, data=data)


def _duplicate(*, channel: Channel, external_id: str) -> DuplicateOrder:
    number = (
        Order.objects.filter(channel=channel, external_id=external_id)
        .values_list("number", flat=True)
        .first()
    )
    return DuplicateOrder(
        f"Order {external_id} of channel {channel.code} already exists as {number}.",
        details={"external_id": external_id, "number": number},
    )


def _destination(data: OrderInput):
    delivery = data.delivery
    source = delivery.get("address") if delivery["mode"] == DeliveryMode.HOME else delivery.get("relay_point")
    if not source:
        return None  # store pickup: the store is the destination
    return destination_of(
        postcode=source.get("postcode", ""),
        country=source.get("country") or "FR",
        latitude=source.get("latitude"),
        longitude=source.get("longitude"),
    )


def _create(
    *, channel, data, products, parts, store, decision, actor, source, on_created, durable=True
) -> Order:
    """The order's rows, its reservations and its events, in one transaction. Nothing else happens here:
    the hand-over to the locations, the customer's message, the address book, the pickers' capacity,
    invoicing and the channels' feeds are consumers of the events, after commit."""
    plan = decision.allocations
    promise = decision.promise
    waiting = any(p.kind == Allocation.Kind.INCOMING for p in plan)
    status = OrderStatus.AWAITING_STOCK if waiting else OrderStatus.ALLOCATED
    try:
        with transaction.atomic(durable=durable):
            customer_data = dict(data.customer)
            customer_events: list = []  # customer.created, written with the order's events
            customer, _created = customer_services.customer_get_or_create(
                email=customer_data.pop("email"), data=customer_data, events=customer_events
            )
            total = _order_total(data=data, products=products)
            numbered = {} if connection.vendor == "postgresql" else {"number": next_order_number()}
            order = Order(
                **payment_fields(payment=data.payment, total=total),
                # PostgreSQL numbers the order itself (the column's default, returned by the INSERT).
                **numbered,
                channel=channel,
                external_id=str(data.external_id)[:100],
                customer=customer,
                **Order.search_names(customer),
                status=status,
                allow_preorder=data.allow_preorder,
                total_incl_vat=total,
                shipping_fee=(data.shipping_fee or Decimal("0")).quantize(CENT),
                shipping_vat_rate=channel.shipping_vat_rate,
                purchase_order=(data.purchase_order or "")[:100],
                promised_earliest=promise[0] if promise else None,
                promised_latest=promise[1] if promise else None,
                planned_ship_date=max(
                    (p.ship_date for p in decision.plan.parcels if p.ship_date), default=None
                ),
                note=data.note or "",
                **_delivery_fields(data=data, customer=customer, store=store),
            )
            # The order, its lines and where it is handled: statements compiled once per process
            # (common/inserts.py), their number and columns as create / bulk_create would send.
            insert_rows([order])
            order_lines = _inserted(
                [
                    OrderLine(
                        order=order,
                        line_no=index,
                        product=products[line.sku],
                        sku=line.sku,
                        name=products[line.sku].name,
                        quantity=line.quantity,
                        unit_price=(
                            line.unit_price if line.unit_price is not None else products[line.sku].price
                        ),
                        vat_rate=products[line.sku].vat_rate,
                        components=[part.as_dict() for part in parts.get(products[line.sku].pk, ())],
                    )
                    for index, line in enumerate(data.lines, start=1)
                ]
            )
            try:
                allocations = inventory_services.allocations_reserve(
                    reservations=[
                        p.reservation(order_id=order.pk, line_id=order_lines[p.line_index].pk) for p in plan
                    ],
                    announce=False,
                )
            except OutOfStock as exc:
                raise _StockMoved from exc
            planned = {
                parcel.location.pk: (parcel.quote.service_id if parcel.quote else None, parcel.ship_date)
                for parcel in decision.plan.parcels
            }
            order_locations = _inserted(
                [
                    OrderLocation(
                        order=order,
                        location_id=location_id,
                        status=order.status,
                        created_at=order.created_at,
                        service_id=planned.get(location_id, (None, None))[0],
                        ship_by=planned.get(location_id, (None, None))[1],
                    )
                    for location_id in sorted(
                        {p.location_id for p in plan} | ({store.pk} if store else set())
                    )
                ]
            )
            events_write(
                customer_events
                + _events(
                    order=order,
                    channel=channel,
                    data=data,
                    plan=plan,
                    order_lines=order_lines,
                    parts=parts,
                    actor=actor,
                    source=source,
                    decision=decision,
                )
            )
            _fill_caches(
                products=products,
                parts=parts,
                order=order,
                channel=channel,
                customer=customer,
                store=store,
                order_lines=order_lines,
                allocations=allocations,
                plan=plan,
                decision=decision,
                order_locations=order_locations,
            )
            if on_created is not None:
                on_created(order)
            return order
    except IntegrityError as exc:
        if "order_channel_external_id_unique" in str(exc) or "external_id" in str(exc):
            raise _duplicate(channel=channel, external_id=data.external_id) from None
        raise


def _inserted(rows: list) -> list:
    insert_rows(rows)
    return rows


def _prefetched(model, rows: list) -> QuerySet:
    """A queryset that already holds ``rows``, as ``prefetch_related`` leaves one: ``.all()`` gives the rows
    without a query, and ``.filter()`` / ``.get()`` still work (they query)."""
    queryset = model.objects.all()
    queryset._result_cache = list(rows)
    queryset._prefetch_done = True
    return queryset


def _fill_caches(
    *,
    products,
    parts,
    order,
    channel,
    customer,
    store,
    order_lines,
    allocations,
    plan,
    decision,
    order_locations,
) -> None:
    """Give the new order what ``order_detail_queryset`` would load (channel, customer, pickup store, lines
    with their allocations, their products, locations and replenishments) from the rows just written, so the
    answer is built without reading them back."""
    locations = {parcel.location.pk: parcel.location for parcel in decision.plan.parcels}
    # The product each allocation holds: the line's, or a kit's component (its id, SKU and name are known).
    held = {product.pk: product for product in products.values()}
    for items in parts.values():
        for part in items:
            held.setdefault(part.product_id, Product(pk=part.product_id, sku=part.sku, name=part.name))
    if store is not None:
        locations.setdefault(store.pk, store)
    order.channel = channel
    order.customer = customer
    order.pickup_location = store
    per_line: dict[int, list[Allocation]] = {line.pk: [] for line in order_lines}
    for planned, allocation in zip(plan, allocations, strict=True):
        allocation.order = order
        allocation.product = held[allocation.product_id]
        allocation.location = locations[allocation.location_id]
        allocation.incoming = (
            IncomingStock(pk=planned.incoming_id, expected_on=planned.expected_on)
            if planned.incoming_id
            else None
        )
        per_line[allocation.line_id].append(allocation)
    for line in order_lines:
        line.order = order
        line._prefetched_objects_cache = {
            "allocations": _prefetched(Allocation, sorted(per_line[line.pk], key=lambda a: a.pk))
        }
    order._prefetched_objects_cache = {
        "lines": _prefetched(OrderLine, sorted(order_lines, key=lambda line: line.line_no)),
        "order_locations": _prefetched(OrderLocation, order_locations),
        "allocations": _prefetched(Allocation, sorted(allocations, key=lambda a: a.pk)),
    }


def _events(*, order, channel, data, plan, order_lines, parts, actor, source, decision) -> list:
    """What the intake tells the log, written in one statement: the order taken (with what the address book
    and the customer's message need: its customer's id, the delivery address), how it was sourced and
    promised, what was reserved, its first status, and the change of availability of its products."""
    locations = {parcel.location.pk: parcel.location for parcel in decision.plan.parcels}
    product_ids = sorted({line.product_id for line in order_lines} | {p.product_id for p in plan})
    component_skus = {part.product_id: part.sku for items in parts.values() for part in items}
    events = [
        order_event(
            order,
            "order.created",
            actor=actor,
            channel=channel.name,
            channel_code=channel.code,
            source=source,
            customer_id=order.customer_id,
            count=len(order_lines),
            total=order.total_incl_vat,
            currency=order.currency,
            status=order.status,
            lines=[
                {"line_id": ol.pk, "product_id": ol.product_id, "sku": ol.sku, "quantity": ol.quantity}
                for ol in order_lines
            ],
            product_ids=product_ids,
            delivery={
                "mode": order.delivery_mode,
                "address": data.delivery.get("address") if order.delivery_mode == DeliveryMode.HOME else None,
            },
        ),
        order_event_json(order, "order.sourced", actor=actor, payload=decision.record()),
    ]
    if order.promised_earliest:
        events.append(
            order_event(
                order,
                "order.promised",
                actor=actor,
                earliest=order.promised_earliest,
                latest=order.promised_latest,
                parcels=_promise_parcels(decision),
                capacity=[
                    {
                        "location_id": parcel.location.pk,
                        "lines": sum(slot.lines for slot in parcel.slots),
                        "slots": [
                            {
                                "shift_id": slot.shift_id,
                                "date": slot.date,
                                "start": slot.start,
                                "end": slot.end,
                                "lines": slot.lines,
                            }
                            for slot in parcel.slots
                        ],
                    }
                    for parcel in decision.plan.parcels
                    if parcel.slots
                ],
            )
        )
    events.append(
        order_event(
            order,
            "stock.reserved",
            actor=actor,
            allocations=[
                {
                    "sku": component_skus.get(p.product_id, order_lines[p.line_index].sku)
                    if p.product_id != order_lines[p.line_index].product_id
                    else order_lines[p.line_index].sku,
                    "line_id": order_lines[p.line_index].pk,
                    "location": locations[p.location_id].code
                    if p.location_id in locations
                    else str(p.location_id),
                    "location_name": locations[p.location_id].name if p.location_id in locations else "",
                    "quantity": p.quantity,
                    "kind": p.kind,
                    "expected_on": p.expected_on,
                }
                for p in plan
            ],
        )
    )
    events.append(
        order_event(
            order, "order.status_changed", actor=actor, **{"from": OrderStatus.RECEIVED, "to": order.status}
        )
    )
    for kind in order.holds:  # a payment still to come: not released to picking until it is there
        events.append(order_event(order, "order.hold_placed", actor=actor, kind=kind, holds=order.holds))
    events.append(availability_event(product_ids=product_ids))
    return events


def _promise_parcels(decision: Decision) -> list[dict]:
    """How each parcel's date was found, for the timeline (rendered in the reader's language)."""
    parts = []
    for parcel in decision.plan.parcels:
        if parcel.quote is None:
            parts.append({"kind": "store", "location": parcel.location.name, "day": parcel.delivery_date})
            continue
        slot = parcel.slots[-1] if parcel.slots else None
        parts.append(
            {
                "kind": "ship",
                "location": parcel.location.name,
                "slot": {
                    "start": timezone.localtime(slot.start).strftime("%H:%M"),
                    "end": timezone.localtime(slot.end).strftime("%H:%M"),
                    "day": slot.date,
                }
                if slot
                else None,
                "ship": parcel.ship_date,
                "cutoff": parcel.quote.cutoff_time.strftime("%H:%M"),
                "service": parcel.quote.name,
                "days": parcel.quote.transit_days,
            }
        )
    return parts


def order_create_priced(*, channel: Channel, data: OrderInput, **kwargs) -> Order:
    """``order_create`` for an order the OMS prices itself (typed by staff): without a shipping charge
    given, it is priced from the carrier grid (``shipping_fee_quote``) before the order is taken."""
    if data.shipping_fee is None:
        from .shipping_fee import shipping_fee_quote

        products = {p.sku: p.price for p in Product.objects.filter(sku__in={line.sku for line in data.lines})}
        goods = sum(
            (
                (line.unit_price if line.unit_price is not None else products.get(line.sku, Decimal("0")))
                * line.quantity
                for line in data.lines
            ),
            Decimal("0"),
        )
        try:
            data.shipping_fee = shipping_fee_quote(
                channel=channel,
                items=[(line.sku, line.quantity) for line in data.lines],
                goods_total=goods,
                delivery=data.delivery,
            )
        except (OutOfStock, InvalidOrder, UnknownProduct, UnknownLocation):
            data.shipping_fee = None  # the intake says why the order cannot be taken
    return order_create(channel=channel, data=data, **kwargs)
