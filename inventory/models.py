from decimal import Decimal

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from common.models import QueuedJob


class Location(models.Model):
    """A place that holds stock: a warehouse or a store (which can also be a pickup point)."""

    class Kind(models.TextChoices):
        WAREHOUSE = "warehouse", _("Warehouse")
        STORE = "store", _("Store")
        # Picking and packing happen in a third party's WMS (a 3PL): preparations are sent there as
        # fulfilment requests and its shipments and stock snapshots come back (fulfillment/outsourced).
        OUTSOURCED = "outsourced", _("Outsourced warehouse (3PL)")

    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=120)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.WAREHOUSE)
    address_line1 = models.CharField(_("address"), max_length=200)
    address_line2 = models.CharField(_("address (continued)"), max_length=200, blank=True)
    postcode = models.CharField(_("postcode"), max_length=16)
    city = models.CharField(_("city"), max_length=120)
    country = models.CharField(_("country"), max_length=2, default="FR")
    latitude = models.DecimalField(_("latitude"), max_digits=9, decimal_places=6)
    longitude = models.DecimalField(_("longitude"), max_digits=9, decimal_places=6)
    active = models.BooleanField(_("active"), default=True)
    is_pickup_point = models.BooleanField(
        _("pickup point"), default=False, help_text=_("Customers can collect orders here (click & collect).")
    )
    storage_cost_per_unit_day = models.DecimalField(
        _("storage cost per unit and day (EUR)"), max_digits=8, decimal_places=4, default=Decimal("0.0100")
    )
    handling_cost_per_line = models.DecimalField(
        _("handling cost per order line (EUR)"), max_digits=8, decimal_places=2, default=Decimal("0.50")
    )
    aisle_order = models.CharField(
        _("aisle walking order"),
        max_length=200,
        blank=True,
        help_text=_("Aisles in walking order, comma separated (e.g. A,B,D,C). Empty: alphabetical."),
    )
    opening_hours = models.TextField(
        _("opening hours"),
        blank=True,
        help_text=_("Shown to customers collecting an order here, e.g. Mon–Sat 10:00–19:00."),
    )

    class Meta:
        ordering = ["code"]
        verbose_name = _("location")
        verbose_name_plural = _("locations")
        constraints = [
            models.CheckConstraint(
                condition=Q(latitude__gte=-90) & Q(latitude__lte=90), name="location_latitude_range"
            ),
            models.CheckConstraint(
                condition=Q(longitude__gte=-180) & Q(longitude__lte=180), name="location_longitude_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class StaffProfile(models.Model):
    """Scopes a staff user to the locations they work at. Managers and superusers see every location."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="staff_profile",
        verbose_name=_("user"),
    )
    locations = models.ManyToManyField(
        Location, blank=True, related_name="staff", verbose_name=_("locations")
    )
    all_locations = models.BooleanField(
        _("all locations"), default=False, help_text=_("Works at every location, present and future.")
    )

    class Meta:
        verbose_name = _("staff profile")
        verbose_name_plural = _("staff profiles")

    def __str__(self) -> str:
        return str(self.user)


def ean13_check_digit(first12: str) -> int:
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(first12))
    return (10 - total % 10) % 10


def validate_ean13(value: str) -> None:
    from django.core.exceptions import ValidationError

    if not value:
        return
    if len(value) != 13 or not value.isdigit():
        raise ValidationError(_("An EAN-13 has exactly 13 digits."), code="ean_format")
    if ean13_check_digit(value[:12]) != int(value[12]):
        raise ValidationError(
            _("The EAN-13 check digit is wrong (expected %(digit)s)."),
            code="ean_check_digit",
            params={"digit": ean13_check_digit(value[:12])},
        )


class Product(models.Model):
    class Nature(models.TextChoices):
        """What the product is for VAT and the e-invoicing reform: goods delivered, or a service."""

        GOODS = "goods", _("Goods")
        SERVICES = "services", _("Service")

    class VatRate(models.TextChoices):
        STANDARD = "20.0", _("20 % (standard)")
        INTERMEDIATE = "10.0", _("10 % (intermediate)")
        REDUCED = "5.5", _("5.5 % (reduced)")
        SUPER_REDUCED = "2.1", _("2.1 % (super-reduced)")

    sku = models.CharField(_("SKU"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=200)
    ean = models.CharField(_("EAN-13"), max_length=13, blank=True, validators=[validate_ean13])
    weight_g = models.PositiveIntegerField(_("weight (g)"), default=0)
    # Packed size, for boxes and carriers' volumetric weight; 0 when unknown.
    length_mm = models.PositiveIntegerField(_("length (mm)"), default=0)
    width_mm = models.PositiveIntegerField(_("width (mm)"), default=0)
    height_mm = models.PositiveIntegerField(_("height (mm)"), default=0)
    price = models.DecimalField(_("price incl. VAT (EUR)"), max_digits=10, decimal_places=2)
    vat_rate = models.DecimalField(
        _("VAT rate (%)"),
        max_digits=3,
        decimal_places=1,
        choices=[(Decimal(v), label) for v, label in VatRate.choices],
    )
    nature = models.CharField(
        _("nature"),
        max_length=8,
        choices=Nature.choices,
        default=Nature.GOODS,
        help_text=_("A service (installation, gift wrapping, warranty…) or goods: printed on invoices."),
    )
    # Customs (parcels to the overseas départements and territories and outside the EU): the tariff code
    # (HS, 6 to 10 digits) and the country the product was made in, printed on the CN23.
    customs_code = models.CharField(
        _("customs code (HS)"),
        max_length=10,
        blank=True,
        validators=[RegexValidator(r"^\d{6,10}$", _("A customs code is 6 to 10 digits, e.g. 610910."))],
        help_text=_("Harmonised System tariff code, 6 to 10 digits (e.g. 610910 for cotton T-shirts)."),
    )
    origin_country = models.CharField(
        _("country of origin"),
        max_length=2,
        blank=True,
        validators=[RegexValidator(r"^[A-Z]{2}$", _("Give the two-letter country code, e.g. FR."))],
        help_text=_("Where the product was made: two-letter code, e.g. FR, PT, CN."),
    )
    image = models.ImageField(_("image"), upload_to="products/%Y/%m/", blank=True)
    active = models.BooleanField(
        _("active"),
        default=True,
        help_text=_("Archived products can no longer be ordered; their history stays."),
    )
    # A kit (bundle) is sold as one SKU and made of other products (``KitComponent``): it has no stock of
    # its own. Kept by ``kit_set_components`` so intake knows from the product row it reads anyway whether
    # a line needs its components (an order without kits costs no extra query).
    is_kit = models.BooleanField(_("kit"), default=False, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["sku"]
        verbose_name = _("product")
        verbose_name_plural = _("products")
        constraints = [
            models.UniqueConstraint(fields=["ean"], condition=~Q(ean=""), name="product_ean_unique"),
            models.CheckConstraint(condition=Q(price__gte=0), name="product_price_not_negative"),
            models.CheckConstraint(
                condition=Q(vat_rate__in=[Decimal("20.0"), Decimal("10.0"), Decimal("5.5"), Decimal("2.1")]),
                name="product_vat_rate_french",
            ),
            models.CheckConstraint(
                condition=Q(customs_code="") | Q(customs_code__regex=r"^[0-9]{6,10}$"),
                name="product_customs_code_digits",
            ),
            models.CheckConstraint(
                condition=Q(origin_country="") | Q(origin_country__regex=r"^[A-Z]{2}$"),
                name="product_origin_country_code",
            ),
        ]
        permissions = [("view_stock", _("Can see stock levels and the ledger"))]

    def __str__(self) -> str:
        return f"{self.sku} · {self.name}"

    @property
    def dimensions(self) -> tuple[int, int, int] | None:
        """(length, width, height) in mm, or None when not all three are known."""
        values = (self.length_mm, self.width_mm, self.height_mm)
        return values if all(values) else None


class KitComponent(models.Model):
    """``quantity`` units of ``component`` in every unit of ``kit``. A kit's availability at a location is
    what its components allow there; ordering a kit reserves its components; pickers pick and packers scan
    the components. A component is a plain product (kits are not nested)."""

    kit = models.ForeignKey(
        Product, on_delete=models.CASCADE, related_name="components", verbose_name=_("kit")
    )
    component = models.ForeignKey(
        Product, on_delete=models.PROTECT, related_name="in_kits", verbose_name=_("component")
    )
    quantity = models.PositiveIntegerField(_("quantity per kit"), default=1)

    class Meta:
        ordering = ["kit", "pk"]
        verbose_name = _("kit component")
        verbose_name_plural = _("kit components")
        constraints = [
            models.UniqueConstraint(fields=["kit", "component"], name="kitcomponent_unique"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="kitcomponent_quantity_positive"),
            models.CheckConstraint(condition=~Q(kit=F("component")), name="kitcomponent_not_itself"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.component_id} in {self.kit_id}"


class StockLevel(models.Model):
    """Units of a product at a location. ``on_hand`` always equals the sum of its ledger movements."""

    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="stock_levels")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="stock_levels")
    on_hand = models.IntegerField(_("on hand"), default=0)
    reserved = models.IntegerField(_("reserved"), default=0)
    bin_code = models.CharField(_("bin"), max_length=32, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("stock level")
        verbose_name_plural = _("stock levels")
        constraints = [
            models.UniqueConstraint(
                fields=["product", "location"], name="stocklevel_product_location_unique"
            ),
            models.CheckConstraint(condition=Q(on_hand__gte=0), name="stocklevel_on_hand_not_negative"),
            models.CheckConstraint(condition=Q(reserved__gte=0), name="stocklevel_reserved_not_negative"),
            models.CheckConstraint(
                condition=Q(reserved__lte=models.F("on_hand")), name="stocklevel_reserved_le_on_hand"
            ),
        ]
        permissions = [
            ("receive_stock", _("Can receive goods")),
            ("adjust_stock", _("Can adjust stock")),
            ("transfer_stock", _("Can transfer stock between locations")),
        ]

    def __str__(self) -> str:
        return f"{self.product_id}@{self.location_id}: {self.on_hand}/{self.reserved}"

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


class StockMovement(models.Model):
    """The append-only ledger: every change to ``on_hand`` writes one row, in the same transaction."""

    class Reason(models.TextChoices):
        RECEIPT = "receipt", _("Goods receipt")
        ADJUSTMENT = "adjustment", _("Adjustment")
        TRANSFER_OUT = "transfer_out", _("Transfer out")
        TRANSFER_IN = "transfer_in", _("Transfer in")
        SHIPMENT = "shipment", _("Shipped")
        RETURN = "return", _("Customer return")
        UNPACKED = "unpacked", _("Put back from a cancelled parcel")
        # The sum of an archived month's movements (common/partitions.py, ``archive_history``), so the ledger
        # still adds up to the stock on hand.
        CARRIED_FORWARD = "carried_forward", _("Carried forward from archived history")

    class AdjustmentCode(models.TextChoices):
        COUNT = "count", _("Inventory count")
        DAMAGED = "damaged", _("Damaged")
        LOST = "lost", _("Lost or stolen")
        FOUND = "found", _("Found")
        EXPIRED = "expired", _("Expired")
        OTHER = "other", _("Other")
        PARTNER_COUNT = "partner_count", _("3PL stock snapshot")

    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="movements")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="movements")
    delta = models.IntegerField(_("quantity"))
    reason = models.CharField(_("reason"), max_length=16, choices=Reason.choices)
    reason_code = models.CharField(
        _("reason code"), max_length=16, choices=AdjustmentCode.choices, blank=True
    )
    reference = models.CharField(_("reference"), max_length=100, blank=True)
    note = models.CharField(_("note"), max_length=255, blank=True)
    on_hand_after = models.IntegerField(_("on hand after"))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("at"), auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("stock movement")
        verbose_name_plural = _("stock movements")
        constraints = [models.CheckConstraint(condition=~Q(delta=0), name="stockmovement_delta_not_zero")]
        indexes = [
            models.Index(fields=["product", "location", "-created_at"], name="movement_product_loc_idx")
        ]

    def __str__(self) -> str:
        return f"{self.delta:+d} {self.reason} {self.product_id}@{self.location_id}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("Stock movements are append-only: write a new movement instead.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("Stock movements are append-only and cannot be deleted.")


class IncomingStock(models.Model):
    """A replenishment on its way (purchase order or transfer). Pre-orders reserve against it."""

    class Kind(models.TextChoices):
        PURCHASE = "purchase", _("Purchase order")
        TRANSFER = "transfer", _("Transfer")

    class Status(models.TextChoices):
        OPEN = "open", _("On its way")
        RECEIVED = "received", _("Received")
        CANCELLED = "cancelled", _("Cancelled")

    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="incoming")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="incoming")
    quantity = models.IntegerField(_("quantity still expected"))
    received = models.IntegerField(_("received"), default=0)
    reserved = models.IntegerField(_("reserved"), default=0)
    expected_on = models.DateField(_("expected on"))
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.PURCHASE)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.OPEN)
    reference = models.CharField(_("reference"), max_length=100, blank=True)
    from_location = models.ForeignKey(
        Location,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="outgoing_transfers",
        verbose_name=_("from location"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    received_at = models.DateTimeField(_("received at"), null=True, blank=True)

    class Meta:
        ordering = ["expected_on", "id"]
        verbose_name = _("incoming stock")
        verbose_name_plural = _("incoming stock")
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=0), name="incoming_quantity_not_negative"),
            models.CheckConstraint(condition=Q(reserved__gte=0), name="incoming_reserved_not_negative"),
            models.CheckConstraint(condition=Q(received__gte=0), name="incoming_received_not_negative"),
            models.CheckConstraint(
                condition=Q(reserved__lte=models.F("quantity")), name="incoming_reserved_le_quantity"
            ),
        ]
        indexes = [
            models.Index(fields=["product", "status", "expected_on"], name="incoming_product_status_idx")
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.product_id} → {self.location_id} on {self.expected_on}"

    @property
    def free(self) -> int:
        return self.quantity - self.reserved


class Allocation(models.Model):
    """Units of an order line held for it: reserved stock at a location, or units of a replenishment on its
    way (a pre-order). Inventory owns these rows and is the only code that writes them and the ``reserved``
    counters they stand for (``inventory/services/reservations.py``). ``consumed_at`` is set when the units
    left the stock with a parcel or at a store counter. The table keeps its name from when it lived in
    ``orders``."""

    class Kind(models.TextChoices):
        STOCK = "stock", _("Stock")
        INCOMING = "incoming", _("Incoming")

    order = models.ForeignKey("orders.Order", on_delete=models.CASCADE, related_name="allocations")
    line = models.ForeignKey("orders.OrderLine", on_delete=models.CASCADE, related_name="allocations")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="allocations")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="allocations")
    quantity = models.PositiveIntegerField(_("quantity"))
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices, default=Kind.STOCK)
    incoming = models.ForeignKey(
        IncomingStock, on_delete=models.PROTECT, null=True, blank=True, related_name="allocations"
    )
    consumed_at = models.DateTimeField(
        _("shipped at"), null=True, blank=True, help_text=_("Set when the units left with a parcel.")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        db_table = "orders_allocation"
        ordering = ["line", "pk"]
        verbose_name = _("allocation")
        verbose_name_plural = _("allocations")
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="allocation_quantity_positive"),
            models.CheckConstraint(
                condition=(Q(kind="stock") & Q(incoming__isnull=True))
                | (Q(kind="incoming") & Q(incoming__isnull=False)),
                name="allocation_kind_matches_incoming",
            ),
        ]
        indexes = [
            models.Index(fields=["incoming", "created_at"], name="allocation_incoming_idx"),
            # What is held at a location for a product (the audit; consuming at the pack station).
            models.Index(
                fields=["product", "location"],
                name="allocation_open_stock_idx",
                condition=Q(kind="stock", consumed_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} @ {self.location_id} ({self.kind})"

    def save(self, *args, **kwargs):
        # The order and product are copies of the line's (set by the services; filled here for a row made
        # one at a time without them).
        if self.line_id and (self.order_id is None or self.product_id is None):
            line_model = self._meta.get_field("line").related_model
            self.order_id, self.product_id = line_model.objects.values_list("order_id", "product_id").get(
                pk=self.line_id
            )
        super().save(*args, **kwargs)


class ProductImport(QueuedJob):
    """A CSV or XLSX file of products, checked (dry run) or imported all or nothing by a queued job that is
    never lost (common/jobs.py): each row creates the product of its SKU or updates the columns the file
    has."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    file = models.FileField(_("file"), upload_to="imports/catalogue/%Y/%m/")
    filename = models.CharField(_("file name"), max_length=255)
    dry_run = models.BooleanField(_("dry run"), default=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    total_rows = models.PositiveIntegerField(_("rows"), default=0)
    processed_rows = models.PositiveIntegerField(_("rows processed"), default=0)
    created_count = models.PositiveIntegerField(_("products created"), default=0)
    updated_count = models.PositiveIntegerField(_("products updated"), default=0)
    unchanged_count = models.PositiveIntegerField(_("products unchanged"), default=0)
    errors = models.JSONField(_("problems"), default=list, blank=True)
    message = models.TextField(_("message"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("catalogue import")
        verbose_name_plural = _("catalogue imports")

    def __str__(self) -> str:
        return self.filename

    @property
    def running(self) -> bool:
        return self.status in (self.Status.PENDING, self.Status.RUNNING)
