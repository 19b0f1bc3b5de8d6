from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from common.models import QueuedJob


class Carrier(models.Model):
    class Adapter(models.TextChoices):
        SANDBOX = "sandbox", _("Sandbox (demo and tests)")
        COLISSIMO = "colissimo", _("Colissimo")
        CHRONOPOST = "chronopost", _("Chronopost")
        MONDIAL_RELAY = "mondial_relay", _("Mondial Relay")
        DHL = "dhl", _("DHL")
        STORE = "store", _("Own stores (click & collect)")

    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)
    adapter = models.CharField(_("adapter"), max_length=20, choices=Adapter.choices, default=Adapter.SANDBOX)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("carrier")
        verbose_name_plural = _("carriers")

    def __str__(self) -> str:
        return self.name


class CarrierService(models.Model):
    """A carrier's product: delivery mode, weight limit, cut-off at the location, days it delivers."""

    class Mode(models.TextChoices):
        HOME = "home", _("Home delivery")
        RELAY = "relay", _("Relay point")
        STORE = "store", _("Store pickup")

    carrier = models.ForeignKey(Carrier, on_delete=models.PROTECT, related_name="services")
    code = models.SlugField(_("code"), max_length=32)
    name = models.CharField(_("name"), max_length=100)
    delivery_mode = models.CharField(_("delivery mode"), max_length=8, choices=Mode.choices)
    max_weight_g = models.PositiveIntegerField(_("max weight (g)"), default=30000)
    cutoff_time = models.TimeField(
        _("cut-off time"), help_text=_("Parcels packed after this time leave the next day.")
    )
    delivery_weekdays = models.CharField(
        _("delivery days"),
        max_length=7,
        default="12345",
        help_text=_("ISO weekdays the carrier delivers: 1 = Monday … 7 = Sunday (e.g. 123456)."),
    )
    is_express = models.BooleanField(_("express"), default=False)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["carrier__name", "name"]
        verbose_name = _("carrier service")
        verbose_name_plural = _("carrier services")
        constraints = [
            models.UniqueConstraint(fields=["carrier", "code"], name="carrierservice_carrier_code_unique"),
            models.CheckConstraint(
                condition=Q(delivery_weekdays__regex=r"^[1-7]{1,7}$"), name="carrierservice_weekdays_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.carrier.name} {self.name}"

    @property
    def weekdays(self) -> set[int]:
        return {int(d) for d in self.delivery_weekdays}


class ServiceRate(models.Model):
    """Price grid: up to ``max_weight_g`` and ``max_distance_km`` → price excl. VAT. The cheapest matching
    cell wins: the smallest weight band then the smallest distance band that contain the parcel."""

    service = models.ForeignKey(CarrierService, on_delete=models.CASCADE, related_name="rates")
    max_weight_g = models.PositiveIntegerField(_("up to weight (g)"))
    max_distance_km = models.PositiveIntegerField(_("up to distance (km)"))
    price_excl_vat = models.DecimalField(_("price excl. VAT (EUR)"), max_digits=8, decimal_places=2)

    class Meta:
        ordering = ["service", "max_weight_g", "max_distance_km"]
        verbose_name = _("price grid cell")
        verbose_name_plural = _("price grid")
        constraints = [
            models.UniqueConstraint(
                fields=["service", "max_weight_g", "max_distance_km"], name="servicerate_band_unique"
            ),
            models.CheckConstraint(condition=Q(price_excl_vat__gte=0), name="servicerate_price_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.service_id} ≤{self.max_weight_g} g ≤{self.max_distance_km} km: {self.price_excl_vat}"


class ServiceTransit(models.Model):
    """Transit grid: up to ``max_distance_km`` → working days in transit."""

    service = models.ForeignKey(CarrierService, on_delete=models.CASCADE, related_name="transits")
    max_distance_km = models.PositiveIntegerField(_("up to distance (km)"))
    transit_days = models.PositiveSmallIntegerField(_("transit (working days)"))

    class Meta:
        ordering = ["service", "max_distance_km"]
        verbose_name = _("transit time")
        verbose_name_plural = _("transit grid")
        constraints = [
            models.UniqueConstraint(fields=["service", "max_distance_km"], name="servicetransit_band_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.service_id} ≤{self.max_distance_km} km: {self.transit_days} d"


class ShipmentStatus(models.TextChoices):
    CREATED = "created", _("Packed, no label yet")
    LABELLED = "labelled", _("Label ready")
    LABEL_FAILED = "label_failed", _("Label failed")
    HANDED_OVER = "handed_over", _("Handed to the carrier")
    IN_TRANSIT = "in_transit", _("In transit")
    OUT_FOR_DELIVERY = "out_for_delivery", _("Out for delivery")
    AVAILABLE_FOR_PICKUP = "available_for_pickup", _("Available for pickup")
    DELIVERED = "delivered", _("Delivered")
    EXCEPTION = "exception", _("Delivery problem")
    RETURNED = "returned", _("Returned to sender")
    CANCELLED = "cancelled", _("Cancelled")


class Shipment(QueuedJob):
    """One parcel of an order, from the moment it is closed at the pack station: its contents, box, weight,
    carrier service, label and tracking. Created by ``fulfillment`` through ``shipping.services``."""

    Status = ShipmentStatus
    FINAL = frozenset({ShipmentStatus.DELIVERED, ShipmentStatus.RETURNED, ShipmentStatus.CANCELLED})
    IN_FLIGHT = (
        ShipmentStatus.HANDED_OVER,
        ShipmentStatus.IN_TRANSIT,
        ShipmentStatus.OUT_FOR_DELIVERY,
        ShipmentStatus.AVAILABLE_FOR_PICKUP,
    )

    number = models.CharField(_("parcel number"), max_length=40, unique=True)
    order = models.ForeignKey(
        "orders.Order", on_delete=models.PROTECT, related_name="shipments", verbose_name=_("order")
    )
    location = models.ForeignKey(
        "inventory.Location", on_delete=models.PROTECT, related_name="shipments", verbose_name=_("ships from")
    )
    service = models.ForeignKey(
        CarrierService,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="shipments",
        verbose_name=_("carrier service"),
    )
    status = models.CharField(
        _("status"), max_length=24, choices=ShipmentStatus.choices, default=ShipmentStatus.CREATED
    )
    box = models.CharField(_("box"), max_length=32, blank=True)
    weight_g = models.PositiveIntegerField(_("weight (g)"))
    tracking_number = models.CharField(_("tracking number"), max_length=64, blank=True, db_index=True)
    label_pdf = models.FileField(_("label (PDF)"), upload_to="labels/%Y/%m/", blank=True)
    label_zpl = models.FileField(_("label (ZPL)"), upload_to="labels/%Y/%m/", blank=True)
    label_error = models.TextField(_("label error"), blank=True)
    label_attempts = models.PositiveSmallIntegerField(_("label attempts"), default=0)
    tracking_url = models.URLField(_("carrier tracking page"), max_length=300, blank=True)
    # The label's addresses, copied from the order when the parcel was closed (shipping never reads orders).
    recipient = models.JSONField(_("recipient"), default=dict, blank=True)
    relay_id = models.CharField(_("relay point"), max_length=64, blank=True)
    manifest = models.ForeignKey(
        "Manifest", on_delete=models.PROTECT, null=True, blank=True, related_name="shipments"
    )

    class Alert(models.TextChoices):
        LABEL_FAILED = "label_failed", _("Label failed")
        DELIVERY_FAILED = "delivery_failed", _("Delivery failed")
        RETURNED = "returned", _("Returned to sender")
        NO_NEWS = "no_news", _("No carrier news")

    alert = models.CharField(
        _("alert"),
        max_length=24,
        blank=True,
        choices=Alert.choices,
        help_text=_("A problem staff must look at: label failed, delivery failed, returned, no news."),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("packed at"), auto_now_add=True)
    shipped_at = models.DateTimeField(_("handed over at"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    last_event_at = models.DateTimeField(_("last carrier event at"), null=True, blank=True)
    next_check_at = models.DateTimeField(_("next tracking check"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("shipment")
        verbose_name_plural = _("shipments")
        permissions = [("handover", _("Can hand parcels over to carriers"))]
        constraints = [
            models.CheckConstraint(condition=Q(weight_g__gt=0), name="shipment_weight_positive"),
        ]
        indexes = [
            models.Index(fields=["location", "status", "-created_at"], name="shipment_location_status_idx"),
            models.Index(fields=["status", "next_check_at"], name="shipment_tracking_due_idx"),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def carrier(self):
        return self.service.carrier if self.service_id else None


class ShipmentLine(models.Model):
    """Units of an order line in a parcel."""

    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="lines")
    order_line = models.ForeignKey(
        "orders.OrderLine", on_delete=models.PROTECT, related_name="shipment_lines"
    )
    product = models.ForeignKey("inventory.Product", on_delete=models.PROTECT, related_name="+")
    sku = models.CharField(_("SKU"), max_length=64)
    quantity = models.PositiveIntegerField(_("quantity"))

    class Meta:
        ordering = ["shipment", "pk"]
        verbose_name = _("parcel line")
        verbose_name_plural = _("parcel lines")
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="shipmentline_quantity_positive"),
            models.UniqueConstraint(fields=["shipment", "order_line"], name="shipmentline_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.sku}"


class TrackingEvent(models.Model):
    """A carrier's tracking event for a parcel, stored once (carrier code + time)."""

    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="events")
    code = models.CharField(_("carrier code"), max_length=32)
    status = models.CharField(_("status"), max_length=24, choices=ShipmentStatus.choices)
    label = models.CharField(_("description"), max_length=255)
    at = models.DateTimeField(_("at"))
    place = models.CharField(_("place"), max_length=120, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["shipment", "-at"]
        verbose_name = _("tracking event")
        verbose_name_plural = _("tracking events")
        constraints = [
            models.UniqueConstraint(fields=["shipment", "code", "at"], name="trackingevent_once"),
        ]

    def __str__(self) -> str:
        return f"{self.shipment_id} {self.code} {self.at:%Y-%m-%d %H:%M}"


class RelayPoint(models.Model):
    """A carrier's relay point (point relais, locker, post office) in the local directory. Searches read this
    table, never the carrier: it is refreshed daily by a Celery task per carrier (``relay_points_refresh``).
    A point the carrier no longer lists is kept inactive, so orders that chose it still show it."""

    carrier = models.ForeignKey(Carrier, on_delete=models.CASCADE, related_name="relay_points")
    external_id = models.CharField(_("carrier's id"), max_length=64)
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("type"), max_length=16, blank=True)
    line1 = models.CharField(_("address"), max_length=200)
    line2 = models.CharField(_("address (continued)"), max_length=200, blank=True)
    postcode = models.CharField(_("postcode"), max_length=16)
    city = models.CharField(_("city"), max_length=120)
    country = models.CharField(_("country"), max_length=2, default="FR")
    latitude = models.DecimalField(_("latitude"), max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(_("longitude"), max_digits=9, decimal_places=6, null=True, blank=True)
    opening_hours = models.JSONField(
        _("opening hours"),
        default=dict,
        blank=True,
        help_text=_('Per ISO weekday (1 = Monday), the opening intervals: {"1": [["09:00", "12:30"]]}.'),
    )
    active = models.BooleanField(_("active"), default=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["carrier", "postcode", "name"]
        verbose_name = _("relay point")
        verbose_name_plural = _("relay points")
        constraints = [
            models.UniqueConstraint(
                fields=["carrier", "external_id"], name="relaypoint_carrier_external_unique"
            ),
        ]
        indexes = [
            models.Index(fields=["country", "postcode"], name="relaypoint_postcode_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.postcode} {self.city})"


class ShippingRule(models.Model):
    """Which carrier service ships a parcel: rules are tried by ``position`` and the first whose every
    condition holds wins; an empty condition matches anything. No rule matching → the service sourcing
    chose. Conditions on weight and order value are inclusive ranges."""

    position = models.PositiveIntegerField(_("position"), default=0)
    name = models.CharField(_("name"), max_length=100)
    channel = models.ForeignKey(
        "orders.Channel",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("channel"),
        help_text=_("Empty: every channel."),
    )
    delivery_mode = models.CharField(
        _("delivery mode"),
        max_length=8,
        choices=CarrierService.Mode.choices,
        blank=True,
        help_text=_("Empty: every delivery mode."),
    )
    country = models.CharField(
        _("destination country"),
        max_length=2,
        blank=True,
        help_text=_("Two-letter code, e.g. FR. Empty: every country."),
    )
    min_weight_g = models.PositiveIntegerField(_("from weight (g)"), null=True, blank=True)
    max_weight_g = models.PositiveIntegerField(_("up to weight (g)"), null=True, blank=True)
    min_order_value = models.DecimalField(
        _("from order value (EUR)"), max_digits=10, decimal_places=2, null=True, blank=True
    )
    max_order_value = models.DecimalField(
        _("up to order value (EUR)"), max_digits=10, decimal_places=2, null=True, blank=True
    )
    service = models.ForeignKey(
        CarrierService, on_delete=models.PROTECT, related_name="rules", verbose_name=_("ship with")
    )
    active = models.BooleanField(_("active"), default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "pk"]
        verbose_name = _("shipping rule")
        verbose_name_plural = _("shipping rules")
        constraints = [
            models.CheckConstraint(
                condition=Q(min_weight_g__isnull=True)
                | Q(max_weight_g__isnull=True)
                | Q(min_weight_g__lte=models.F("max_weight_g")),
                name="shippingrule_weight_range",
            ),
            models.CheckConstraint(
                condition=Q(min_order_value__isnull=True)
                | Q(max_order_value__isnull=True)
                | Q(min_order_value__lte=models.F("max_order_value")),
                name="shippingrule_value_range",
            ),
            models.CheckConstraint(
                condition=Q(min_order_value__isnull=True) | Q(min_order_value__gte=0),
                name="shippingrule_min_value_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Manifest(models.Model):
    """Parcels of one carrier handed to its driver at a location: they are shipped from then on."""

    location = models.ForeignKey("inventory.Location", on_delete=models.PROTECT, related_name="manifests")
    carrier = models.ForeignKey(Carrier, on_delete=models.PROTECT, related_name="manifests")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("handed over at"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("manifest")
        verbose_name_plural = _("manifests")

    def __str__(self) -> str:
        return self.code

    @property
    def code(self) -> str:
        return f"M{self.pk:05d}"


class NetworkVersion(models.Model):
    """The carrier network's version (one row), raised by every change of carriers, services or grids: each
    process keeps the network in memory and reloads it when this changes (shipping/selectors.py). The
    cache holds a copy so the order path reads no row for it; the row is the truth when the cache is down
    or was flushed."""

    version = models.BigIntegerField(default=0)
    changed_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("carrier network version")
        verbose_name_plural = _("carrier network versions")

    def __str__(self) -> str:
        return str(self.version)


class CarrierWebhook(models.Model):
    """One call of a carrier's tracking webhook whose signature was good, kept with its body: what it
    changed, or why it could not be read (failed) so that staff see it and replay it once fixed."""

    class Status(models.TextChoices):
        PROCESSED = "processed", _("Processed")
        IGNORED = "ignored", _("Ignored")
        FAILED = "failed", _("Failed")

    carrier = models.ForeignKey(
        Carrier, on_delete=models.CASCADE, related_name="webhooks", verbose_name=_("carrier")
    )
    headers = models.JSONField(default=dict, blank=True)
    payload = models.TextField(_("payload"))
    status = models.CharField(_("status"), max_length=16, choices=Status.choices)
    parcels_updated = models.PositiveIntegerField(_("parcels updated"), default=0)
    error_code = models.CharField(_("error code"), max_length=64, blank=True)
    error = models.TextField(_("error"), blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=1)
    received_at = models.DateTimeField(_("received at"), auto_now_add=True)
    processed_at = models.DateTimeField(_("processed at"), null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name = _("carrier webhook call")
        verbose_name_plural = _("carrier webhook calls")
        indexes = [models.Index(fields=["status", "-received_at"], name="carrierwebhook_status_idx")]

    def __str__(self) -> str:
        return f"{self.carrier_id} {self.status} {self.received_at:%Y-%m-%d %H:%M}"
