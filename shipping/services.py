"""Write operations on the carrier network: carriers, services, and their price and transit grids.

A grid edit is all-or-nothing: every rule is checked before anything is written, the service's row is
locked so two managers editing one grid queue up, and the grid is never left half-replaced."""

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from common.audit import Action, audit_record, audit_saved, audit_snapshot
from common.exceptions import DomainError

from .locks import lock_shipments
from .models import (
    Carrier,
    CarrierAccount,
    CarrierService,
    ChannelShippingSettings,
    DocumentBranding,
    ServiceRate,
    ServiceTransit,
    Shipment,
    ShipmentLine,
    ShipmentStatus,
)

MAX_PRICE = Decimal("999999.99")  # price_excl_vat: 8 digits, 2 decimals
MAX_TRANSIT_DAYS = 60


class InvalidService(DomainError):
    code = "invalid_carrier_service"
    status_code = 422


class InvalidGrid(DomainError):
    """A grid edit broke a rule. ``details["errors"]`` lists every problem found (nothing was written)."""

    code = "invalid_grid"
    status_code = 422

    def __init__(self, errors: list[str]):
        super().__init__(
            errors[0] if len(errors) == 1 else _("The grid was not saved:"), details={"errors": errors}
        )
        self.errors = errors


def weekdays_normalise(value: str) -> str:
    """``"6 1 2 3 4 5"`` → ``"123456"``: ISO weekday digits 1–7, each once, in order. Spaces and commas
    between them are allowed; anything else is refused."""
    compact = re.sub(r"[\s,;]+", "", value or "")
    if not compact:
        raise InvalidService(_("Give at least one delivery day (1 = Monday … 7 = Sunday)."))
    if not re.fullmatch(r"[1-7]+", compact):
        raise InvalidService(
            _("Delivery days are digits from 1 (Monday) to 7 (Sunday), e.g. 123456; “%(value)s” is not.")
            % {"value": value},
            details={"delivery_weekdays": value},
        )
    return "".join(sorted(set(compact)))


@transaction.atomic
def carrier_save(*, carrier: Carrier, data: dict) -> Carrier:
    before = audit_snapshot(carrier)
    for field, value in data.items():
        setattr(carrier, field, value)
    carrier.full_clean()
    carrier.save()
    audit_saved(instance=carrier, before=before)
    return carrier


@transaction.atomic
def service_save(*, service: CarrierService, data: dict) -> CarrierService:
    before = audit_snapshot(service)
    for field, value in data.items():
        setattr(service, field, value)
    service.delivery_weekdays = weekdays_normalise(service.delivery_weekdays)
    service.full_clean()
    service.save()
    audit_saved(instance=service, before=before)
    return service


def _grid_audit(service: CarrierService, *, grid: str, operation: str, **what) -> None:
    """A change of a service's price or transit grid, in the audit log (what changed, not the whole grid)."""
    details = {"operation": "changed", "grid": grid, "grid_change": operation}
    details.update(
        {name: str(value) if isinstance(value, Decimal) else value for name, value in what.items()}
    )
    audit_record(action=Action.SETTINGS_CHANGED, target=service, details=details)


# Grids


def _lock(service: CarrierService) -> None:
    CarrierService.objects.select_for_update().filter(pk=service.pk).values_list("pk").first()


def _band_errors(values: list, *, unit: str) -> list[str]:
    errors = []
    seen = set()
    for value in values:
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            errors.append(
                _("A band limit is a whole number above zero (%(unit)s); “%(value)s” is not.")
                % {"unit": unit, "value": value}
            )
        elif value in seen:
            errors.append(
                _("The band up to %(value)s %(unit)s appears twice.") % {"value": value, "unit": unit}
            )
        seen.add(value)
    return errors


def _price_errors(price, *, weight: int, km: int) -> list[str]:
    where = {"weight": weight, "km": km}
    if price is None:
        return [_("The price up to %(weight)s g and %(km)s km is missing.") % where]
    try:
        price = Decimal(price)
    except (InvalidOperation, TypeError, ValueError):
        return [_("The price up to %(weight)s g and %(km)s km is not a number.") % where]
    if not price.is_finite():
        return [_("The price up to %(weight)s g and %(km)s km is not a number.") % where]
    if price < 0:
        return [
            _("The price up to %(weight)s g and %(km)s km is negative (%(price)s).")
            % {**where, "price": price}
        ]
    if price > MAX_PRICE:
        return [
            _("The price up to %(weight)s g and %(km)s km is too high (%(price)s).")
            % {**where, "price": price}
        ]
    if price != price.quantize(Decimal("0.01")):
        return [
            _("The price up to %(weight)s g and %(km)s km has more than two decimals (%(price)s).")
            % {**where, "price": price}
        ]
    return []


@transaction.atomic
def rate_grid_replace(*, service: CarrierService, distances: list[int], rows: list[tuple[int, list]]) -> int:
    """Replace the whole price grid: ``distances`` are the column bands (km), each row is
    ``(max_weight_g, [price per distance])``. Every cell needs a price >= 0; no band twice. An empty
    grid (no rows) removes every price. Returns the number of cells written."""
    errors = _band_errors(distances, unit="km") + _band_errors([w for w, _p in rows], unit="g")
    for weight, prices in rows:
        if len(prices) != len(distances):
            errors.append(
                _("The band up to %(weight)s g has %(given)d prices for %(expected)d distance bands.")
                % {"weight": weight, "given": len(prices), "expected": len(distances)}
            )
            continue
        for km, price in zip(distances, prices, strict=True):
            errors += _price_errors(price, weight=weight, km=km)
    if rows and not distances:
        errors.append(_("The grid needs at least one distance band."))
    if errors:
        raise InvalidGrid(errors)
    _lock(service)
    ServiceRate.objects.filter(service=service).delete()
    cells = [
        ServiceRate(service=service, max_weight_g=weight, max_distance_km=km, price_excl_vat=Decimal(price))
        for weight, prices in rows
        for km, price in zip(distances, prices, strict=True)
    ]
    ServiceRate.objects.bulk_create(cells)
    _grid_audit(
        service,
        grid="price",
        operation="replaced",
        distances_km=list(distances),
        weights_g=[weight for weight, _prices in rows],
        cells=len(cells),
    )
    return len(cells)


@transaction.atomic
def rate_band_save(
    *, service: CarrierService, max_weight_g: int, prices: dict[int, Decimal], replace: int | None = None
) -> None:
    """Add a weight band (a row of the price grid, one price per existing distance band), or replace the
    band ``replace`` (its limit may change). Adding a band that exists is refused: edit its row."""
    _lock(service)
    rows = ServiceRate.objects.filter(service=service)
    distances = sorted(set(rows.values_list("max_distance_km", flat=True)))
    weights = set(rows.values_list("max_weight_g", flat=True))
    errors = _band_errors([max_weight_g], unit="g")
    if not distances:
        errors.append(_("The grid has no distance band yet: write the whole grid in the text editor first."))
    if replace is not None and replace not in weights:
        errors.append(_("The band up to %(weight)s g no longer exists.") % {"weight": replace})
    elif max_weight_g in weights and max_weight_g != replace:
        errors.append(
            _("A band up to %(weight)s g exists already: edit its row instead.") % {"weight": max_weight_g}
        )
    unknown = sorted(set(prices) - set(distances))
    if unknown:
        errors.append(
            _("The grid has no band up to %(km)s km.") % {"km": ", ".join(str(km) for km in unknown)}
        )
    for km in distances:
        errors += _price_errors(prices.get(km), weight=max_weight_g, km=km)
    if errors:
        raise InvalidGrid(errors)
    if replace is not None:
        before = {
            str(km): str(price)
            for km, price in rows.filter(max_weight_g=replace).values_list(
                "max_distance_km", "price_excl_vat"
            )
        }
        rows.filter(max_weight_g=replace).delete()
    ServiceRate.objects.bulk_create(
        [
            ServiceRate(
                service=service, max_weight_g=max_weight_g, max_distance_km=km, price_excl_vat=prices[km]
            )
            for km in distances
        ]
    )
    after = {str(km): str(prices[km]) for km in distances}
    if replace is None:
        _grid_audit(service, grid="price", operation="band_added", max_weight_g=max_weight_g, prices=after)
    else:
        _grid_audit(
            service,
            grid="price",
            operation="band_changed",
            max_weight_g={"before": replace, "after": max_weight_g},
            prices={"before": before, "after": after},
        )


@transaction.atomic
def rate_band_delete(
    *, service: CarrierService, max_weight_g: int | None = None, max_distance_km: int | None = None
) -> int:
    """Delete a weight band (a row) or a distance band (a column) of the price grid; returns the cells
    removed."""
    if (max_weight_g is None) == (max_distance_km is None):
        raise InvalidGrid([_("Choose one band to delete.")])
    _lock(service)
    rows = ServiceRate.objects.filter(service=service)
    if max_weight_g is not None:
        rows = rows.filter(max_weight_g=max_weight_g)
        missing = _("The band up to %(weight)s g no longer exists.") % {"weight": max_weight_g}
    else:
        rows = rows.filter(max_distance_km=max_distance_km)
        missing = _("The band up to %(km)s km no longer exists.") % {"km": max_distance_km}
    deleted, _by_model = rows.delete()
    if not deleted:
        raise InvalidGrid([missing])
    band = (
        {"max_weight_g": max_weight_g} if max_weight_g is not None else {"max_distance_km": max_distance_km}
    )
    _grid_audit(service, grid="price", operation="band_deleted", **band)
    return deleted


@transaction.atomic
def transit_band_save(
    *, service: CarrierService, max_distance_km: int, transit_days: int, replace: int | None = None
) -> ServiceTransit:
    """Add a distance band to the transit grid, or replace the band ``replace`` (its limit may change)."""
    _lock(service)
    existing = set(ServiceTransit.objects.filter(service=service).values_list("max_distance_km", flat=True))
    errors = _band_errors([max_distance_km], unit="km")
    if replace is not None and replace not in existing:
        errors.append(_("The band up to %(km)s km no longer exists.") % {"km": replace})
    elif max_distance_km in existing and max_distance_km != replace:
        errors.append(
            _("A band up to %(km)s km exists already: edit its row instead.") % {"km": max_distance_km}
        )
    if not isinstance(transit_days, int) or not 0 <= transit_days <= MAX_TRANSIT_DAYS:
        errors.append(
            _("Transit is a whole number of working days from 0 to %(max)d.") % {"max": MAX_TRANSIT_DAYS}
        )
    if errors:
        raise InvalidGrid(errors)
    previous = None
    if replace is not None:
        previous = (
            ServiceTransit.objects.filter(service=service, max_distance_km=replace)
            .values_list("transit_days", flat=True)
            .first()
        )
        ServiceTransit.objects.filter(service=service, max_distance_km=replace).delete()
    band = ServiceTransit.objects.create(
        service=service, max_distance_km=max_distance_km, transit_days=transit_days
    )
    if replace is None:
        _grid_audit(
            service,
            grid="transit",
            operation="band_added",
            max_distance_km=max_distance_km,
            days=transit_days,
        )
    else:
        _grid_audit(
            service,
            grid="transit",
            operation="band_changed",
            max_distance_km={"before": replace, "after": max_distance_km},
            days={"before": previous, "after": transit_days},
        )
    return band


@transaction.atomic
def transit_band_delete(*, service: CarrierService, max_distance_km: int) -> None:
    _lock(service)
    deleted, _by_model = ServiceTransit.objects.filter(
        service=service, max_distance_km=max_distance_km
    ).delete()
    if not deleted:
        raise InvalidGrid([_("The band up to %(km)s km no longer exists.") % {"km": max_distance_km}])
    _grid_audit(service, grid="transit", operation="band_deleted", max_distance_km=max_distance_km)


# --- Shipments -------------------------------------------------------------------------------------------


class ShipmentError(DomainError):
    code = "invalid_shipment"
    status_code = 409


@dataclass(frozen=True)
class ShipmentLineSpec:
    order_line_id: int
    product_id: int
    sku: str
    quantity: int


@transaction.atomic(savepoint=False)  # its callers' own savepoint catches a duplicate number
def shipment_create(
    *,
    number: str,
    order_id: int,
    location_id: int,
    service_id: int | None,
    weight_g: int,
    box: str = "",
    lines: list[ShipmentLineSpec],
    actor=None,
) -> Shipment:
    """A parcel closed at the pack station: the shipment waits for its label (carriers) and hand-over."""
    if not lines or any(line.quantity <= 0 for line in lines):
        raise ShipmentError(_("A parcel holds at least one unit."), code="empty_parcel")
    if not isinstance(weight_g, int) or weight_g <= 0:
        raise ShipmentError(_("A parcel weighs more than 0 g."), code="invalid_weight")
    shipment = Shipment.objects.create(
        number=number,
        order_id=order_id,
        location_id=location_id,
        service_id=service_id,
        weight_g=weight_g,
        box=box[:32],
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    ShipmentLine.objects.bulk_create(
        [
            ShipmentLine(
                shipment=shipment,
                order_line_id=line.order_line_id,
                product_id=line.product_id,
                sku=line.sku,
                quantity=line.quantity,
            )
            for line in lines
        ]
    )
    return shipment


@transaction.atomic
def shipments_cancel(*, order_id: int) -> list[Shipment]:
    """Cancel an order's parcels that have not left (its order was cancelled after packing)."""
    shipments = lock_shipments(
        order_id=order_id,
        statuses=[ShipmentStatus.CREATED, ShipmentStatus.LABELLED, ShipmentStatus.LABEL_FAILED],
    )
    for shipment in shipments:
        shipment.status = ShipmentStatus.CANCELLED
        shipment.save(update_fields=["status"])
    return shipments


@transaction.atomic
def shipments_collected(*, order_id: int, location_id: int | None = None) -> list[Shipment]:
    """The customer took the order at a store counter: its parcels there (a warehouse's, come to the store)
    are delivered."""
    shipments = lock_shipments(order_id=order_id, statuses=Shipment.IN_FLIGHT)
    now = timezone.now()
    for shipment in shipments:
        shipment.status = ShipmentStatus.DELIVERED
        shipment.delivered_at = now
        shipment.save(update_fields=["status", "delivered_at"])
    return shipments


@transaction.atomic
def shipments_arrived_at_store(*, order_id: int) -> list[Shipment]:
    """A warehouse's parcels for a click & collect order arrived at the store."""
    shipments = lock_shipments(order_id=order_id, statuses=Shipment.IN_FLIGHT)
    for shipment in shipments:
        shipment.status = ShipmentStatus.AVAILABLE_FOR_PICKUP
        shipment.save(update_fields=["status"])
    return shipments


# --- Carrier accounts, channel settings, branding ---------------------------------------------------------


@transaction.atomic
def carrier_account_save(
    *, adapter: str, values: dict, secrets: dict, test_mode: bool, actor=None
) -> CarrierAccount:
    """Save a carrier's credentials. A secret left empty keeps the stored one (secrets are write-only)."""
    import json

    from .carriers import ADAPTERS

    cls = ADAPTERS.get(adapter)
    if cls is None or not cls.credentials:
        raise InvalidService(_("This carrier has no credentials to enter."), code="unknown_adapter")
    known = {name for name, _label, _secret in cls.credentials}
    account, _created = CarrierAccount.objects.select_for_update().get_or_create(adapter=adapter)
    try:
        stored = json.loads(account.secrets or "{}")
    except ValueError:
        stored = {}
    stored.update({k: v for k, v in secrets.items() if k in known and v})
    account.values = {k: (v or "").strip() for k, v in values.items() if k in known}
    account.secrets = json.dumps(stored, sort_keys=True)
    account.test_mode = bool(test_mode)
    account.updated_by = actor if getattr(actor, "pk", None) else None
    account.save()
    return account


@transaction.atomic
def channel_shipping_settings_save(
    *, channel_id: int, return_label_in_parcel: bool, return_carrier: Carrier | None
) -> ChannelShippingSettings:
    from . import carriers

    if return_label_in_parcel and return_carrier is not None:
        if carriers.RETURN_LABEL not in carriers.get_adapter(return_carrier).supports:
            raise InvalidService(
                _("%(carrier)s makes no return labels: choose another carrier or leave it empty.")
                % {"carrier": return_carrier.name},
                code="no_return_label",
            )
    setting, _created = ChannelShippingSettings.objects.update_or_create(
        channel_id=channel_id,
        defaults={"return_label_in_parcel": return_label_in_parcel, "return_carrier": return_carrier},
    )
    return setting


@transaction.atomic
def branding_save(*, data: dict, logo=None, remove_logo: bool = False) -> DocumentBranding:
    branding, _created = DocumentBranding.objects.select_for_update().get_or_create(pk=1)
    for name in ("primary_color", "accent_color", "slip_message", "label_text"):
        if name in data:
            setattr(branding, name, data[name])
    if remove_logo:
        branding.logo = ""
    if logo is not None:
        branding.logo.save(logo.name, logo, save=False)
    branding.full_clean()
    branding.save()
    return branding
