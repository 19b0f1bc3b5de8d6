"""Hand an order's stock allocations to the locations that prepare them (fulfillment keeps its own rows and
never reads the orders' tables)."""

from django.db.models import BigIntegerField, CharField, Sum, Value

from fulfillment import services as fulfillment_services
from fulfillment.models import Preparation, PreparationStatus
from inventory.models import Allocation
from shipping.models import CarrierService

from ..models import DeliveryMode, Order, OrderLine, OrderLocation, OrderStatus

# Orders whose new stock allocations go straight to the locations' preparation.
PREPARING = frozenset(
    {
        OrderStatus.ALLOCATED,
        OrderStatus.IN_PREPARATION,
        OrderStatus.PARTIALLY_SHIPPED,
    }
)


def preparations_sync(*, order: Order) -> list:
    """Tell each location which units of the order it prepares (its stock allocations, shipped ones
    included), with the carrier service, cut-off and ship day planned by sourcing. The caller holds the
    order's lock (a cancellation cannot slip in between)."""
    if order.status == OrderStatus.CANCELLED:
        return []
    if order.status not in PREPARING and not Preparation.objects.filter(order_id=order.pk).exists():
        return []
    allocated = (
        Allocation.objects.filter(order=order, kind=Allocation.Kind.STOCK)
        .order_by()
        .values(
            "location_id",
            "line_id",
            "product_id",
            "product__sku",
            "product__name",
            "line__product_id",
            "line__sku",
            "line__name",
        )
        .annotate(quantity=Sum("quantity"))
    )
    # and, in the same statement (UNION ALL, rows without a line), the locations with an open preparation
    # of the order: those that prepared something before and may have nothing now (re-sourced lines)
    number, text = BigIntegerField(), CharField()
    open_preparations = (
        Preparation.objects.filter(order_id=order.pk)
        .exclude(status=PreparationStatus.CANCELLED)
        .order_by()
        .values("location_id")
        .annotate(
            no_line=Value(None, output_field=number),
            no_product=Value(None, output_field=number),
            no_sku=Value(None, output_field=text),
            no_name=Value(None, output_field=text),
            no_line_product=Value(None, output_field=number),
            no_line_sku=Value(None, output_field=text),
            no_line_name=Value(None, output_field=text),
            no_quantity=Value(None, output_field=number),
        )
    )
    both = list(allocated.union(open_preparations, all=True).order_by("location_id", "line_id", "product_id"))
    rows = [row for row in both if row["line_id"] is not None]
    open_at = {row["location_id"] for row in both if row["line_id"] is None}
    kit_lines: dict[int, dict[int, int]] = {}
    if any(row["product_id"] != row["line__product_id"] for row in rows):  # a kit: its components
        kit_lines = {
            pk: {part["product_id"]: part["quantity"] for part in components}
            for pk, components in OrderLine.objects.filter(order=order)
            .exclude(components=[])
            .values_list("pk", "components")
        }
    per_location: dict[int, list] = {}
    for row in rows:
        kit = row["product_id"] != row["line__product_id"]
        per_location.setdefault(row["location_id"], []).append(
            fulfillment_services.LineSpec(
                order_line_id=row["line_id"],
                product_id=row["product_id"],
                sku=row["product__sku"] if kit else row["line__sku"],
                name=row["product__name"] if kit else row["line__name"],
                quantity=row["quantity"],
                kit_sku=row["line__sku"] if kit else "",
                kit_name=row["line__name"] if kit else "",
                per_kit=kit_lines.get(row["line_id"], {}).get(row["product_id"], 0) if kit else 0,
            )
        )
    # locations that prepared something before and have nothing now (their lines were re-sourced)
    for location_id in open_at:
        per_location.setdefault(location_id, [])
    if order.holds:  # on hold: nothing goes to picking, what was handed over and not started comes back
        per_location = {location_id: [] for location_id in per_location}
    if order.status not in PREPARING:  # waiting for stock: only shrink the work already handed over
        existing = set(Preparation.objects.filter(order_id=order.pk).values_list("location_id", flat=True))
        per_location = {k: v for k, v in per_location.items() if k in existing}
    planned = {
        ol.location_id: ol
        for ol in OrderLocation.objects.filter(order=order).select_related("service", "location")
    }
    customer = order.customer
    relay = order.relay_point or {}
    ship_to = "\n".join(
        part
        for part in [
            order.ship_name,
            order.ship_company,
            f"{relay.get('name', '')} ({relay.get('id', '')})" if relay else "",
            order.ship_line1,
            order.ship_line2,
            f"{order.ship_postcode} {order.ship_city}".strip(),
            order.ship_country,
            order.ship_phone,
        ]
        if part
    )
    result = []
    for location_id, lines in sorted(per_location.items()):
        plan = planned.get(location_id)
        service: CarrierService | None = plan.service if plan else None
        pickup_here = order.delivery_mode == DeliveryMode.STORE and order.pickup_location_id == location_id
        prep = fulfillment_services.preparation_sync(
            spec=fulfillment_services.PreparationSpec(
                order_id=order.pk,
                order_number=order.number,
                location_id=location_id,
                kind=Preparation.Kind.PICKUP if pickup_here else Preparation.Kind.SHIP,
                lines=lines,
                service_id=service.pk if service else None,
                express=bool(service and service.is_express),
                cutoff=service.cutoff_time if service else None,
                ship_by=(plan.ship_by if plan else None) or order.planned_ship_date,
                promised_latest=order.promised_latest,
                customer_name=customer.full_name or customer.email,
                ship_to=ship_to,
                pickup_code=order.pickup_code if pickup_here else "",
                none_open=location_id not in open_at,  # read above, under the order's lock
                location_kind=plan.location.kind if plan else "",
                recipient={
                    "name": order.ship_name,
                    "company": order.ship_company,
                    "line1": order.ship_line1,
                    "line2": order.ship_line2,
                    "postcode": order.ship_postcode,
                    "city": order.ship_city,
                    "country": order.ship_country,
                    "phone": order.ship_phone or customer.phone,
                    "email": customer.email,
                    "relay_id": str(relay.get("id", "")) if relay else "",
                },
            )
        )
        if prep is not None:
            result.append(prep)
    return result
