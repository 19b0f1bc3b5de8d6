"""Kits (bundles): a SKU sold as one product and made of other products. A kit has no stock of its own; its
availability is what its components allow at each location (``selectors.availability``), and ordering one
reserves its components (``selectors.component_demands`` turns order lines into what is reserved)."""

from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from ..events import availability_changed
from ..exceptions import KitRefused
from ..models import Allocation, IncomingStock, KitComponent, Product, StockLevel

MAX_COMPONENTS = 50


def kit_refuse_stock(*, product: Product) -> None:
    """Stock operations name a kit's components, never the kit (it has no shelf of its own)."""
    if product.is_kit:
        raise KitRefused(
            _("%(sku)s is a kit: it has no stock of its own. Receive, count and move its components.")
            % {"sku": product.sku},
            code="kit_has_no_stock",
            details={"sku": product.sku},
        )


@transaction.atomic
def kit_set_components(*, kit: Product, components: list[tuple[Product, int]]) -> list[KitComponent]:
    """Make ``kit`` a kit of these (product, units per kit) components, replacing its composition; an empty
    list makes it a plain product again. Orders already taken keep the composition they were taken with
    (their lines keep a copy). Refused: a component that is a kit or the kit itself, a product that is
    itself a component of a kit, a quantity that is not a whole number above zero, the same component
    twice, and a product with stock, replenishments or reservations of its own."""
    kit = Product.objects.select_for_update().get(pk=kit.pk)
    errors = []
    seen: set[int] = set()
    for product, quantity in components:
        if not isinstance(quantity, int) or isinstance(quantity, bool) or not 0 < quantity <= 999:
            errors.append(
                _("%(sku)s: the quantity per kit is a whole number from 1 to 999.") % {"sku": product.sku}
            )
        if product.pk == kit.pk:
            errors.append(_("A kit cannot contain itself."))
        elif product.is_kit:
            errors.append(_("%(sku)s is a kit itself: add its components instead.") % {"sku": product.sku})
        if product.pk in seen:
            errors.append(_("%(sku)s is listed twice.") % {"sku": product.sku})
        seen.add(product.pk)
    if len(components) > MAX_COMPONENTS:
        errors.append(_("A kit has at most %(count)s components.") % {"count": MAX_COMPONENTS})
    if components and not kit.is_kit:
        if KitComponent.objects.filter(component=kit).exists():
            errors.append(
                _("%(sku)s is a component of another kit: a kit cannot be part of a kit.") % {"sku": kit.sku}
            )
        if (
            StockLevel.objects.filter(product=kit).filter(~Q(on_hand=0) | ~Q(reserved=0)).exists()
            or IncomingStock.objects.filter(product=kit, status=IncomingStock.Status.OPEN).exists()
            or Allocation.objects.filter(product=kit, consumed_at__isnull=True).exists()
        ):
            errors.append(
                _(
                    "%(sku)s has stock, replenishments or reservations of its own: move them to other "
                    "products before making it a kit."
                )
                % {"sku": kit.sku}
            )
    if errors:
        raise KitRefused(" ".join(dict.fromkeys(str(e) for e in errors)), details={"errors": errors})
    KitComponent.objects.filter(kit=kit).delete()
    rows = KitComponent.objects.bulk_create(
        [KitComponent(kit=kit, component=product, quantity=quantity) for product, quantity in components]
    )
    Product.objects.filter(pk=kit.pk).update(is_kit=bool(components))
    availability_changed(product_ids=[kit.pk])
    return rows
