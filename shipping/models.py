from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from common.fields import EncryptedTextField
from common.models import QueuedJob


class Carrier(models.Model):
    class Adapter(models.TextChoices):
        SANDBOX = "sandbox", _("Sandbox (demo and tests)")
        COLISSIMO = "colissimo", _("Colissimo")
        CHRONOPOST = "chronopost", _("Chronopost")
        MONDIAL_RELAY = "mondial_relay", _("Mondial Relay")
        DHL = "dhl", _("DHL (tracking)")
        DHL_EXPRESS = "dhl_express", _("DHL Express")
        FEDEX = "fedex", _("FedEx")
        UPS = "ups", _("UPS")
        DPD_FR = "dpd_fr", _("DPD France")
        GLS = "gls", _("GLS")
        STORE = "store", _("Own stores (click & collect)")

    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)
    adapter = models.CharField(_("adapter"), max_length=20, choices=Adapter.choices, default=Adapter.SANDBOX)
    sandbox = models.BooleanField(
        _("sandbox"),
        default=False,
        help_text=_(
            "Play this carrier offline: labels and tracking are made by the sandbox in the carrier's own "
            "formats and event codes (demo, training, tests). No parcel can travel with them."
        ),
    )
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


class CarrierAccount(models.Model):
    """A carrier's credentials entered in the settings; they override the environment's. Secrets are
    write-only in the form (never shown again)."""

    adapter = models.CharField(_("carrier"), max_length=20, choices=Carrier.Adapter.choices, unique=True)
    values = models.JSONField(_("account settings"), default=dict, blank=True)  # account numbers, ids
    # A JSON object of the secret values, encrypted at rest (common/fields.py): never shown after saving.
    secrets = EncryptedTextField(_("secrets"), blank=True)
    test_mode = models.BooleanField(
        _("test platform"), default=False, help_text=_("Send every call to the carrier's test platform.")
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("carrier account")
        verbose_name_plural = _("carrier accounts")

    def __str__(self) -> str:
        return self.get_adapter_display()


class ChannelShippingSettings(models.Model):
    """What shipping does for a sales channel's parcels: a prepaid return label slipped in every parcel."""

    channel = models.OneToOneField(
        "orders.Channel",
        on_delete=models.CASCADE,
        related_name="shipping_settings",
        verbose_name=_("channel"),
    )
    return_label_in_parcel = models.BooleanField(
        _("return label in the parcel"),
        default=False,
        help_text=_(
            "Print a prepaid return label with every outbound label; the packer slips it in the parcel. The "
            "return request opens when the carrier first scans it or the customer registers it."
        ),
    )
    return_carrier = models.ForeignKey(
        Carrier,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("return carrier"),
        help_text=_("Empty: the carrier of the parcel, when it makes return labels."),
    )

    class Meta:
        verbose_name = _("channel shipping settings")
        verbose_name_plural = _("channel shipping settings")

    def __str__(self) -> str:
        return f"{self.channel_id}"


class DocumentBranding(models.Model):
    """The merchant's look on packing slips, pick lists and, where the carrier leaves a free area, on labels.
    One row (pk 1)."""

    logo = models.ImageField(_("logo"), upload_to="branding/", blank=True)
    primary_color = models.CharField(
        _("main colour"),
        max_length=7,
        default="#1f5fbf",
        validators=[
            RegexValidator(r"^#[0-9a-fA-F]{6}$", _("A colour is # followed by 6 hexadecimal digits."))
        ],
    )
    accent_color = models.CharField(
        _("accent colour"),
        max_length=7,
        default="#f2f4f7",
        validators=[
            RegexValidator(r"^#[0-9a-fA-F]{6}$", _("A colour is # followed by 6 hexadecimal digits."))
        ],
    )
    slip_message = models.TextField(
        _("message on packing slips"),
        blank=True,
        max_length=500,
        help_text=_("A thank-you note, the returns address or a discount code, at the bottom of every slip."),
    )
    label_text = models.CharField(
        _("text on labels"),
        max_length=60,
        blank=True,
        help_text=_("Printed in the carrier's free area when it has one (60 characters)."),
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("document branding")
        verbose_name_plural = _("document branding")
        constraints = [
            models.CheckConstraint(condition=Q(pk=1), name="documentbranding_single_row"),
            models.CheckConstraint(
                condition=Q(primary_color__regex=r"^#[0-9a-fA-F]{6}$"), name="branding_primary_hex"
            ),
            models.CheckConstraint(
                condition=Q(accent_color__regex=r"^#[0-9a-fA-F]{6}$"), name="branding_accent_hex"
            ),
        ]

    def __str__(self) -> str:
        return str(_("Document branding"))


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
    channel = models.ForeignKey(
        "orders.Channel", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class ServiceReason(models.TextChoices):
        RULE = "rule", _("Shipping rule")
        SOURCING = "sourcing", _("Sourcing (cheapest service that takes the parcel)")
        MANUAL = "manual", _("Chosen by hand")

    service_reason = models.CharField(
        _("why this service"), max_length=8, blank=True, choices=ServiceReason.choices
    )
    service_rule = models.ForeignKey(
        "ShippingRule", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    service_note = models.CharField(_("note on the choice"), max_length=255, blank=True)
    service_chosen_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    label_printed_at = models.DateTimeField(_("label printed at"), null=True, blank=True)
    customs = models.JSONField(
        _("customs declaration"),
        default=dict,
        blank=True,
        help_text=_("The CN23 / commercial invoice data sent with the label (reason, lines)."),
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
    """Units of an order line in a parcel (of a kit's line: units of each of its components)."""

    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="lines")
    order_line = models.ForeignKey(
        "orders.OrderLine", on_delete=models.PROTECT, related_name="shipment_lines"
    )
    product = models.ForeignKey("inventory.Product", on_delete=models.PROTECT, related_name="+")
    sku = models.CharField(_("SKU"), max_length=64)
    quantity = models.PositiveIntegerField(_("quantity"))
    unit_value = models.DecimalField(
        _("unit value (EUR)"),
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_("The price paid for one unit, copied from the order: the customs value."),
    )

    class Meta:
        ordering = ["shipment", "pk"]
        verbose_name = _("parcel line")
        verbose_name_plural = _("parcel lines")
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="shipmentline_quantity_positive"),
            # A kit's line is shipped as its components: one row per product of the line.
            models.UniqueConstraint(fields=["shipment", "order_line", "product"], name="shipmentline_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.sku}"


class ParcelReturnLabel(models.Model):
    """A prepaid return label printed with a parcel's outbound label and slipped in the parcel ("label in
    parcel"). It stays here until it is used: when the carrier first scans it, or the customer registers it
    in the portal, ``orders`` opens the return request (``return_number``)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Being made")
        READY = "ready", _("In the parcel")
        FAILED = "failed", _("Failed")
        SCANNED = "scanned", _("Scanned by the carrier")
        REGISTERED = "registered", _("Registered by the customer")
        CANCELLED = "cancelled", _("Cancelled")

    shipment = models.OneToOneField(Shipment, on_delete=models.CASCADE, related_name="return_label")
    carrier = models.ForeignKey(Carrier, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.PENDING)
    tracking_number = models.CharField(_("tracking number"), max_length=64, blank=True, db_index=True)
    label_pdf = models.FileField(_("return label (PDF)"), upload_to="returns/in-parcel/%Y/%m/", blank=True)
    label_zpl = models.FileField(_("return label (ZPL)"), upload_to="returns/in-parcel/%Y/%m/", blank=True)
    error = models.TextField(_("error"), blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    return_number = models.CharField(_("return"), max_length=32, blank=True)
    scanned_at = models.DateTimeField(_("first scanned at"), null=True, blank=True)
    registered_at = models.DateTimeField(_("registered at"), null=True, blank=True)
    next_check_at = models.DateTimeField(_("next tracking check"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("return label in parcel")
        verbose_name_plural = _("return labels in parcels")
        constraints = [
            models.UniqueConstraint(
                fields=["carrier", "tracking_number"],
                condition=~Q(tracking_number=""),
                name="parcelreturnlabel_number_unique",
            ),
        ]

    def __str__(self) -> str:
        return self.tracking_number or f"{self.shipment_id}"


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
