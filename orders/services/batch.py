"""Batch intake: a list of orders taken in one call, each all-or-nothing with its own result, behind
``POST /api/v1/orders/batch/``, the marketplace pollers and the 3PL imports.

It keeps the single intake's rules (``intake.py``: the same validation, the same sourcing decision, the same
rows and events) and pays the fixed costs once for the whole batch instead of once per order:

- one read of the catalogue, one of the external ids already taken;
- each order is planned by ``sourcing.decide`` as if the batch's earlier orders had already taken their
  units (``extra_free``), so a batch does not plan the same units twice; the channel's locations, the free
  stock, the pickers' shifts and the carrier network are read once per round (``sourcing_preload``);
- one transaction per round: inventory locks the stock levels the round plans to use, in the one lock
  order, and holds each order's units entirely or not at all (``inventory.services.stock_hold_groups``);
  the orders it could hold are written with one statement per table (customers, numbers, orders, lines,
  allocations, locations, events). An order whose stock was taken meanwhile by another order or batch is
  planned again in the next round (at most ``MAX_ATTEMPTS`` rounds), then refused as out of stock, exactly
  as the single intake does.

The results come back in the order of the input: the order, or the domain error that refused it.
"""

from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from types import SimpleNamespace
from typing import NamedTuple

from django.db import IntegrityError, OperationalError, connection, transaction
from django.utils import timezone

from common.exceptions import DomainError
from common.instances import build
from customers import services as customer_services
from inventory import services as inventory_services
from inventory.exceptions import OutOfStock
from inventory.models import Allocation, Product
from inventory.selectors import kit_parts

from ..exceptions import DuplicateOrder
from ..models import Channel, Order, OrderLine, OrderLocation, OrderStatus
from ..payments.services import payment_fields
from . import rows
from .events import events_write
from .intake import (
    CENT,
    MAX_ATTEMPTS,
    OrderInput,
    _delivery_fields,
    _destination,
    _events,
    _fill_caches,
    _order_total,
    _out_of_stock,
    _validate,
    next_order_number,
)
from .sourcing import decide, line_request, sourcing_preload

MAX_BATCH = 500


class Held(NamedTuple):
    """One allocation of a taken order as its answer shows it (``orders.api.held_body``)."""

    sku: str
    location: str
    quantity: int
    kind: str
    expected_on: object  # a date, or None


class BatchResult:
    """One order of the batch: taken (``order``) or refused (``error``).

    A taken order's ``order`` has what ``order_detail_queryset`` would load (its lines with their
    allocations, products, locations, replenishments) filled in on first read: the API's answer does not
    read it (``written``: the order, its lines and, per line, what it holds, as plain values), the channels'
    pollers do."""

    __slots__ = ("_order", "_fill", "error", "lines", "held")

    def __init__(
        self,
        order: Order | None = None,
        error: DomainError | None = None,
        *,
        fill=None,
        lines=None,
        held=None,
    ):
        self._order = order
        self._fill = fill
        self.error = error
        self.lines = lines
        self.held = held

    @property
    def order(self) -> Order | None:
        if self._fill is not None:
            fill, self._fill = self._fill, None
            fill()
        return self._order

    @property
    def ok(self) -> bool:
        return self._order is not None

    @property
    def written(self) -> tuple[Order, list, list[list[Held]]]:
        """The order as written (its channel, customer and pickup store set; its related managers not
        filled), its lines in order, and per line its allocations in the order of their ids."""
        return self._order, self.lines, self.held


@dataclass
class _Planned:
    index: int
    data: OrderInput
    products: dict
    store: object
    decision: object
    allocations: list  # the decision's (``Decision.allocations`` builds them at each read)


def orders_create_batch(
    *, channel: Channel, orders: list[OrderInput], actor=None, source: str = "api"
) -> list[BatchResult]:
    """Take every order that can be taken; one result per order, in the input's order. Raises only for
    what is not about one order (a database failure): then no order of the current round is written."""
    if len(orders) > MAX_BATCH:
        raise ValueError(f"At most {MAX_BATCH} orders per batch.")
    results: list[BatchResult | None] = [None] * len(orders)
    skus = {line.sku for data in orders for line in (data.lines or [])}
    catalogue = {p.sku: p for p in Product.objects.filter(sku__in=skus, active=True)} if skus else {}
    taken = _taken(channel=channel, external_ids={str(d.external_id) for d in orders})
    valid: list[tuple[int, OrderInput, dict, object]] = []
    seen: set[str] = set()
    for index, data in enumerate(orders):
        try:
            products, store = _validate(channel=channel, data=data, catalogue=catalogue)
            payment_fields(payment=data.payment, total=Decimal("0"))  # an unknown status refuses this order
            external_id = str(data.external_id)
            if external_id in taken or external_id in seen:
                raise _duplicate(channel=channel, external_id=external_id, number=taken.get(external_id))
        except DomainError as exc:
            results[index] = BatchResult(error=exc)
            continue
        seen.add(external_id)
        valid.append((index, data, products, store))

    pending = valid
    rounds = 0
    first = True
    while pending and rounds < MAX_ATTEMPTS:
        planned = _plan(channel=channel, pending=pending, results=results)
        if first and _fast():
            # The first round writes before it reserves (the stock levels locked only at the end); if any
            # order's stock was taken since it was planned, nothing of it is kept and every order is planned
            # again, in rounds that reserve first and keep what they could hold (not counted: an order still
            # has MAX_ATTEMPTS chances to be held).
            first = False
            retry = _write_then_hold(
                channel=channel, planned=planned, results=results, actor=actor, source=source
            )
            if retry is not None:
                pending = [(p.index, p.data, p.products, p.store) for p in retry]
                continue
            retry = []
        else:
            retry = _write(channel=channel, planned=planned, results=results, actor=actor, source=source)
        rounds += 1
        pending = [(p.index, p.data, p.products, p.store) for p in retry]
    for index, data, _products, _store in pending:
        results[index] = BatchResult(error=_out_of_stock(channel=channel, data=data))
    return results  # type: ignore[return-value]


_ORDERS = Order._meta.db_table
_TAKEN = (
    f'SELECT x.external_id, (SELECT o."number" FROM "{_ORDERS}" o '  # noqa: S608 - the model's own table
    'WHERE o."channel_id" = %s AND o."external_id" = x.external_id) '
    "FROM unnest(%s::varchar[]) AS x(external_id)"
)


def _taken(*, channel: Channel, external_ids: set[str]) -> dict[str, str]:
    """The channel's orders that already hold these external ids: ``{external id: number}``. On PostgreSQL
    one index probe per id (a subquery per id): ``external_id IN (...)`` was planned, on a table whose
    statistics were stale (a fast-growing table, or a server without autovacuum, as the benchmarks'), as a
    scan of every order of the channel filtered by id, so each batch read all its channel's orders."""
    if connection.vendor != "postgresql":
        return dict(
            Order.objects.filter(channel=channel, external_id__in=external_ids).values_list(
                "external_id", "number"
            )
        )
    with connection.cursor() as cursor:
        cursor.execute(_TAKEN, [channel.pk, sorted(external_ids)])
        return {external_id: number for external_id, number in cursor.fetchall() if number is not None}


def _duplicate(*, channel: Channel, external_id: str, number: str | None) -> DuplicateOrder:
    if number:
        message = f"Order {external_id} of channel {channel.code} already exists as {number}."
    else:
        message = f"Order {external_id} of channel {channel.code} appears twice in the batch."
    return DuplicateOrder(message, details={"external_id": external_id, "number": number})


def _plan(*, channel, pending, results) -> list[_Planned]:
    """Each order's sourcing decision, as if the earlier orders of the batch had taken their units."""
    consumed: dict[tuple[int, int], int] = {}
    planned: list[_Planned] = []
    every = {p.pk: p for _i, _d, products, _s in pending for p in products.values()}
    # Kits: their components, read once for the batch, and only when a product row says it is one.
    parts = kit_parts(products=every.values())
    components = {part.product_id for items in parts.values() for part in items}
    preload = sourcing_preload(channel=channel, product_ids=set(every) | components)
    for index, data, products, store in pending:
        lines = [
            line_request(
                index=i,
                product=products[line.sku],
                quantity=line.quantity,
                parts=parts.get(products[line.sku].pk),
            )
            for i, line in enumerate(data.lines)
        ]
        try:
            decision = decide(
                channel=channel,
                lines=lines,
                mode=data.delivery["mode"],
                destination=_destination(data),
                pickup_location=store,
                allow_preorder=data.allow_preorder,
                taken=consumed,
                preload=preload,
            )
        except OutOfStock:
            results[index] = BatchResult(error=_out_of_stock(channel=channel, data=data))
            continue
        allocations = decision.allocations
        for p in allocations:
            if p.kind == Allocation.Kind.STOCK:
                consumed[(p.product_id, p.location_id)] = consumed.get((p.product_id, p.location_id), 0) + (
                    p.quantity
                )
        planned.append(_Planned(index, data, products, store, decision, allocations))
    return planned


def _fast() -> bool:
    """PostgreSQL: the rows are built before the transaction and written as JSON (``rows``)."""
    return rows.plain(Order) and rows.plain(OrderLine) and rows.plain(OrderLocation)


def _numbers(count: int) -> list[str]:
    if connection.vendor != "postgresql":
        return [next_order_number() for _ in range(count)]
    from django.utils import timezone

    year = timezone.localdate().year
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval('orders_order_number_seq') FROM generate_series(1, %s)", [count])
        return [f"CMD-{year}-{row[0]:06d}" for row in cursor.fetchall()]


def _groups(planned: list[_Planned]) -> list[list]:
    return [
        [
            inventory_services.Hold(
                product_id=a.product_id,
                location_id=a.location_id,
                quantity=a.quantity,
                incoming_id=a.incoming_id,
            )
            for a in p.allocations
        ]
        for p in planned
    ]


class _NotHeld(Exception):
    """Some order of the round could not be held: its transaction is rolled back."""


def _deadlock(exc: OperationalError) -> bool:
    return getattr(exc.__cause__, "sqlstate", None) == "40P01"


def _write_then_hold(*, channel, planned: list[_Planned], results, actor, source) -> list[_Planned] | None:
    """The first round, written before it reserves: the customers, orders, lines, locations and events are
    written first (the customers before the stock levels, as the single intake takes them), then inventory
    locks the round's stock levels and holds every order's units, the allocations are written and the
    transaction commits: the stock levels stay locked for two statements and the commit, not for the whole
    round. Returns None when every order was written; otherwise nothing of the round was written, and the
    orders to plan again are returned."""
    if not planned:
        return None
    prepared = _prepare(channel=channel, ready=planned, actor=actor, source=source)
    try:
        with transaction.atomic(durable=True):
            _ready, written = _store(prepared=prepared)
            allocations = written.allocations
            held = inventory_services.stock_hold_groups(groups=_groups(planned))
            if not all(held):
                raise _NotHeld
            inventory_services.allocations_insert(allocations=allocations)
    except _NotHeld:
        return planned
    except (IntegrityError, OperationalError) as exc:
        return _round_failed(exc, channel=channel, planned=planned, results=results)
    _answer(channel=channel, ready=planned, written=written, allocations=allocations, results=results)
    return None


def _write(*, channel, planned: list[_Planned], results, actor, source) -> list[_Planned]:
    """A later round, reserving first: hold the planned units, write the orders that were held. Returns those
    to plan again (their stock was taken since they were planned)."""
    if not planned:
        return []
    written = None
    prepared = _prepare(channel=channel, ready=planned, actor=actor, source=source) if _fast() else None
    try:
        with transaction.atomic(durable=True):
            held = inventory_services.stock_hold_groups(groups=_groups(planned))
            ready = [p for p, ok in zip(planned, held, strict=True) if ok]
            if ready and prepared is not None:
                ready, written = _store(prepared=prepared, keep=held)
            elif ready:
                written = _insert_orm(channel=channel, ready=ready, actor=actor, source=source)
            if written is not None:
                allocations = inventory_services.allocations_insert(allocations=written.allocations)
    except (IntegrityError, OperationalError) as exc:
        return _round_failed(exc, channel=channel, planned=planned, results=results)
    if written is not None:
        _answer(channel=channel, ready=ready, written=written, allocations=allocations, results=results)
    return [p for p, ok in zip(planned, held, strict=True) if not ok]


def _round_failed(exc, *, channel, planned, results) -> list[_Planned]:
    """A round rolled back by the database: nothing of it was written. Another request took one of its
    external ids between our check and our insert: every order is tried again (the duplicate is then
    refused). Chosen as a deadlock's victim (a concurrent writer that reserves first and then upserts one
    of our customers): planned again. Anything else is raised."""
    if isinstance(exc, IntegrityError) and "external_id" in str(exc):
        return _refuse_taken(channel=channel, planned=planned, results=results)
    if isinstance(exc, OperationalError) and _deadlock(exc):
        return planned
    raise exc


def _refuse_taken(*, channel, planned, results) -> list[_Planned]:
    taken = dict(
        Order.objects.filter(
            channel=channel, external_id__in=[str(p.data.external_id) for p in planned]
        ).values_list("external_id", "number")
    )
    again = []
    for p in planned:
        number = taken.get(str(p.data.external_id))
        if number:
            results[p.index] = BatchResult(
                error=_duplicate(channel=channel, external_id=str(p.data.external_id), number=number)
            )
        else:
            again.append(p)
    return again


@dataclass
class _Written:
    orders: list
    lines_of: list
    locations_of: list
    allocations: list  # built, to write once their units are held
    parts: dict


def _insert_orm(*, channel, ready: list[_Planned], actor, source) -> _Written:
    """Other databases than PostgreSQL: the customers, orders, lines, locations and events of ``ready``,
    one statement each. The allocations (built) are the caller's to write once their units are held."""
    parts = kit_parts(products={pr.pk: pr for p in ready for pr in p.products.values()}.values())
    customer_events: list = []
    customers = customer_services.customers_get_or_create_many(
        # By email, so that two batches sharing customers take their rows in the same order (a stable sort:
        # the first order of a customer in the batch still creates it).
        people=sorted(
            ((p.data.customer["email"], p.data.customer) for p in ready), key=lambda x: x[0].strip().lower()
        ),
        events=customer_events,
    )
    numbers = _numbers(len(ready))
    orders = []
    for p, number in zip(ready, numbers, strict=True):
        customer = customers[p.data.customer["email"].strip().lower()]
        decision = p.decision
        promise = decision.promise
        waiting = any(a.kind == Allocation.Kind.INCOMING for a in decision.allocations)
        total = _order_total(data=p.data, products=p.products)
        orders.append(
            Order(
                # As the single intake: the payment (a pending one holds the order) and the shipping charge.
                **payment_fields(payment=p.data.payment, total=total),
                number=number,
                channel=channel,
                external_id=str(p.data.external_id)[:100],
                customer=customer,
                status=OrderStatus.AWAITING_STOCK if waiting else OrderStatus.ALLOCATED,
                allow_preorder=p.data.allow_preorder,
                total_incl_vat=total,
                shipping_fee=(p.data.shipping_fee or Decimal("0")).quantize(CENT),
                shipping_vat_rate=channel.shipping_vat_rate,
                purchase_order=(p.data.purchase_order or "")[:100],
                promised_earliest=promise[0] if promise else None,
                promised_latest=promise[1] if promise else None,
                planned_ship_date=max(
                    (x.ship_date for x in decision.plan.parcels if x.ship_date), default=None
                ),
                note=p.data.note or "",
                **_delivery_fields(data=p.data, customer=customer, store=p.store),
            )
        )
    Order.objects.bulk_create(orders)
    lines_of: list[list[OrderLine]] = []
    all_lines: list[OrderLine] = []
    for p, order in zip(ready, orders, strict=True):
        lines = [
            OrderLine(
                order=order,
                line_no=i,
                product=p.products[line.sku],
                sku=line.sku,
                name=p.products[line.sku].name,
                quantity=line.quantity,
                unit_price=line.unit_price if line.unit_price is not None else p.products[line.sku].price,
                vat_rate=p.products[line.sku].vat_rate,
                components=[part.as_dict() for part in parts.get(p.products[line.sku].pk, ())],
            )
            for i, line in enumerate(p.data.lines, start=1)
        ]
        lines_of.append(lines)
        all_lines.extend(lines)
    OrderLine.objects.bulk_create(all_lines)
    reservations = []
    locations = []
    locations_of: list[list[OrderLocation]] = []
    events = list(customer_events)
    for p, order, lines in zip(ready, orders, lines_of, strict=True):
        plan = p.allocations
        reservations.extend(a.reservation(order_id=order.pk, line_id=lines[a.line_index].pk) for a in plan)
        scheduled = {
            parcel.location.pk: (parcel.quote.service_id if parcel.quote else None, parcel.ship_date)
            for parcel in p.decision.plan.parcels
        }
        own_locations = [
            OrderLocation(
                order=order,
                location_id=location_id,
                status=order.status,
                created_at=order.created_at,
                service_id=scheduled.get(location_id, (None, None))[0],
                ship_by=scheduled.get(location_id, (None, None))[1],
            )
            for location_id in sorted({a.location_id for a in plan} | ({p.store.pk} if p.store else set()))
        ]
        locations_of.append(own_locations)
        locations.extend(own_locations)
        events.extend(
            _events(
                order=order,
                channel=channel,
                data=p.data,
                plan=plan,
                order_lines=lines,
                parts=parts,
                actor=actor,
                source=source,
                decision=p.decision,
            )
        )
    OrderLocation.objects.bulk_create(locations)
    events_write(events)
    allocations = inventory_services.allocations_prepare(reservations=reservations)
    return _Written(orders, lines_of, locations_of, allocations, parts)


_NO_NAME = SimpleNamespace(full_name="")  # the customer's name is known once the customer is upserted


@dataclass
class _Prepared:
    """The rows of a round's orders, built before any lock (PostgreSQL): per order, its Order with its id and
    number, its lines, locations, allocations (built, not written) and events, and their JSON rows."""

    ready: list
    orders: list
    order_rows: list
    lines_of: list
    line_rows_of: list
    locations_of: list
    location_rows_of: list
    allocations_of: list
    events_of: list
    parts: dict


def _prepare(*, channel, ready: list[_Planned], actor, source) -> _Prepared:
    """Everything of ``ready`` that needs no lock: ids and numbers from their sequences (one statement), the
    rows and events built. Only the customers (upserted in the transaction) are missing from the orders."""
    parts = kit_parts(products={pr.pk: pr for p in ready for pr in p.products.values()}.values())
    numbers, order_ids, line_ids = rows.ids_next(
        [
            ("orders_order_number_seq", len(ready)),
            (rows.serial(Order), len(ready)),
            (rows.serial(OrderLine), sum(len(p.data.lines) for p in ready)),
        ]
    )
    year = timezone.localdate().year
    now = timezone.now()
    prepared = _Prepared(ready, [], [], [], [], [], [], [], [], parts)
    next_line = iter(line_ids)
    for p, number, order_id in zip(ready, numbers, order_ids, strict=True):
        decision = p.decision
        promise = decision.promise
        plan = p.allocations
        waiting = any(a.kind == Allocation.Kind.INCOMING for a in plan)
        total = _order_total(data=p.data, products=p.products)
        order = build(
            Order,
            # As the single intake: the payment (a pending one holds the order) and the shipping charge.
            **payment_fields(payment=p.data.payment, total=total),
            pk=order_id,
            number=f"CMD-{year}-{number:06d}",
            channel=channel,
            external_id=str(p.data.external_id)[:100],
            status=OrderStatus.AWAITING_STOCK if waiting else OrderStatus.ALLOCATED,
            allow_preorder=p.data.allow_preorder,
            total_incl_vat=total,
            shipping_fee=(p.data.shipping_fee or Decimal("0")).quantize(CENT),
            shipping_vat_rate=channel.shipping_vat_rate,
            purchase_order=(p.data.purchase_order or "")[:100],
            promised_earliest=promise[0] if promise else None,
            promised_latest=promise[1] if promise else None,
            planned_ship_date=max((x.ship_date for x in decision.plan.parcels if x.ship_date), default=None),
            note=p.data.note or "",
            **_delivery_fields(data=p.data, customer=_NO_NAME, store=p.store),
        )
        lines = [
            build(
                OrderLine,
                pk=next(next_line),
                order=order,
                line_no=i,
                product=p.products[line.sku],
                sku=line.sku,
                name=p.products[line.sku].name,
                quantity=line.quantity,
                unit_price=line.unit_price if line.unit_price is not None else p.products[line.sku].price,
                vat_rate=p.products[line.sku].vat_rate,
                components=[part.as_dict() for part in parts.get(p.products[line.sku].pk, ())],
            )
            for i, line in enumerate(p.data.lines, start=1)
        ]
        scheduled = {
            parcel.location.pk: (parcel.quote.service_id if parcel.quote else None, parcel.ship_date)
            for parcel in decision.plan.parcels
        }
        order_row = rows.row(Order, order, now=now)  # sets created_at, which the locations copy
        own_locations = [
            build(
                OrderLocation,
                order=order,
                location_id=location_id,
                status=order.status,
                created_at=order.created_at,
                service_id=scheduled.get(location_id, (None, None))[0],
                ship_by=scheduled.get(location_id, (None, None))[1],
            )
            for location_id in sorted({a.location_id for a in plan} | ({p.store.pk} if p.store else set()))
        ]
        prepared.orders.append(order)
        prepared.order_rows.append(order_row)
        prepared.lines_of.append(lines)
        prepared.line_rows_of.append([rows.row(OrderLine, line, now=now) for line in lines])
        prepared.locations_of.append(own_locations)
        prepared.allocations_of.append(
            inventory_services.allocations_prepare(
                reservations=[a.reservation(order_id=order.pk, line_id=lines[a.line_index].pk) for a in plan]
            )
        )
        prepared.events_of.append(
            _events(
                order=order,
                channel=channel,
                data=p.data,
                plan=plan,
                order_lines=lines,
                parts=parts,
                actor=actor,
                source=source,
                decision=decision,
            )
        )
    return prepared


def _store(*, prepared: _Prepared, keep: list[bool] | None = None) -> tuple[list[_Planned], _Written]:
    """In the caller's transaction: the customers upserted, then the orders (``keep``: those held), lines,
    locations and events written, one statement each, with no Python left to run but filling in the
    customers."""
    picked = [i for i in range(len(prepared.ready)) if keep is None or keep[i]]
    ready = [prepared.ready[i] for i in picked]
    customer_events: list = []
    customers = customer_services.customers_get_or_create_many(
        # By email, so that two batches sharing customers take their rows in the same order (a stable sort:
        # the first order of a customer in the batch still creates it).
        people=sorted(
            ((p.data.customer["email"], p.data.customer) for p in ready), key=lambda x: x[0].strip().lower()
        ),
        events=customer_events,
    )
    at_customer, at_name = rows.column(Order, "customer_id"), rows.column(Order, "ship_name")
    # The copy of the customer's names the list's search reads (written here, so the trigger of orders 0030
    # does not run per row).
    at_first, at_last = rows.column(Order, "search_first_name"), rows.column(Order, "search_last_name")
    order_rows = []
    for i, p in zip(picked, ready, strict=True):
        order, order_row = prepared.orders[i], prepared.order_rows[i]
        order.customer = customers[p.data.customer["email"].strip().lower()]
        order_row[at_customer] = order.customer.pk
        names = Order.search_names(order.customer)
        order.search_first_name = order_row[at_first] = names["search_first_name"]
        order.search_last_name = order_row[at_last] = names["search_last_name"]
        if not order.ship_name:  # no name with the address: the customer's
            order.ship_name = order_row[at_name] = (order.customer.full_name or "")[:200]
        order_rows.append(order_row)
    orders = [prepared.orders[i] for i in picked]
    lines_of = [prepared.lines_of[i] for i in picked]
    locations_of = [prepared.locations_of[i] for i in picked]
    rows.rows_write(Order, order_rows, orders)
    rows.rows_write(
        OrderLine, [r for i in picked for r in prepared.line_rows_of[i]], [x for ls in lines_of for x in ls]
    )
    now = orders[0].created_at
    locations = [x for ls in locations_of for x in ls]
    rows.rows_write(OrderLocation, [rows.row(OrderLocation, x, now=now) for x in locations], locations)
    events_write(customer_events + [e for i in picked for e in prepared.events_of[i]])
    allocations = [a for i in picked for a in prepared.allocations_of[i]]
    return ready, _Written(orders, lines_of, locations_of, allocations, prepared.parts)


def _answer(*, channel, ready: list[_Planned], written: _Written, allocations: list, results) -> None:
    """After commit: each order's result, from the rows just written (as the single intake does: nothing is
    read back). What its answer shows is kept as plain values; the order's related caches
    (``_fill_caches``) are filled only if someone reads ``result.order``."""
    start = 0
    for p, order, lines, own_locations in zip(
        ready, written.orders, written.lines_of, written.locations_of, strict=True
    ):
        plan = p.allocations
        own = allocations[start : start + len(plan)]
        start += len(plan)
        codes = {parcel.location.pk: parcel.location.code for parcel in p.decision.plan.parcels}
        if p.store is not None:
            codes.setdefault(p.store.pk, p.store.code)
        skus = {product.pk: product.sku for product in p.products.values()}
        if written.parts:
            for items in written.parts.values():
                for part in items:
                    skus.setdefault(part.product_id, part.sku)
        per_line: dict[int, list] = {line.pk: [] for line in lines}
        for planned, allocation in zip(plan, own, strict=True):
            per_line[allocation.line_id].append(
                (
                    allocation.pk,
                    Held(
                        skus[allocation.product_id],
                        codes[allocation.location_id],
                        allocation.quantity,
                        allocation.kind,
                        planned.expected_on if planned.incoming_id else None,
                    ),
                )
            )
        ordered = sorted(lines, key=_line_no)
        results[p.index] = BatchResult(
            order,
            fill=partial(
                _fill_caches,
                products=p.products,
                parts=written.parts,
                order=order,
                channel=channel,
                customer=order.customer,
                store=p.store,
                order_lines=lines,
                allocations=own,
                plan=plan,
                decision=p.decision,
                order_locations=own_locations,
            ),
            lines=ordered,
            held=[[h for _pk, h in sorted(per_line[line.pk], key=_first)] for line in ordered],
        )


def _first(pair):
    return pair[0]


def _line_no(line):
    return line.line_no
