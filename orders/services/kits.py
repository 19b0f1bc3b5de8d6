"""Kits seen from an order: a kit's line holds one allocation per component (``OrderLine.components`` keeps
the composition it was ordered with), so counting a line's units that were reserved, shipped or returned
means counting whole kits."""

from collections.abc import Iterable

from ..models import OrderLine


def kit_units(components: list[dict], by_product: dict[int, int]) -> int:
    """Whole kits that these units of its components make (``by_product``: units by component id)."""
    if not components:
        return 0
    return min(by_product.get(part["product_id"], 0) // part["quantity"] for part in components)


def line_units(
    rows: Iterable[tuple[int, int, int, int]], *, components: dict[int, list[dict]] | None = None
) -> dict[int, int]:
    """Units by order line from allocation or parcel rows ``(line id, line's product id, product id,
    units)``: a plain line's units add up; a kit's line counts the whole kits its components make. Reads
    the lines' compositions only when a row is a kit's component (an order without kits costs nothing)."""
    units: dict[int, int] = {}
    kits: dict[int, dict[int, int]] = {}
    for line_id, line_product_id, product_id, quantity in rows:
        if product_id == line_product_id:
            units[line_id] = units.get(line_id, 0) + quantity
        else:
            by_product = kits.setdefault(line_id, {})
            by_product[product_id] = by_product.get(product_id, 0) + quantity
    if kits:
        if components is None:
            components = dict(OrderLine.objects.filter(pk__in=list(kits)).values_list("pk", "components"))
        for line_id, by_product in kits.items():
            units[line_id] = units.get(line_id, 0) + kit_units(components.get(line_id) or [], by_product)
    return units
