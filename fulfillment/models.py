from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from common.fields import EncryptedTextField
from common.models import QueuedJob


class PickerShift(models.Model):
    """The pickers' schedule: who picks at a location, when, and how fast. Capacity is in order lines."""

    location = models.ForeignKey("inventory.Location", on_delete=models.CASCADE, related_name="shifts")
    date = models.DateField(_("date"))
    start = models.TimeField(_("start"))
    end = models.TimeField(_("end"))
    pickers = models.PositiveSmallIntegerField(_("pickers"))
    lines_per_picker_hour = models.PositiveSmallIntegerField(_("lines per picker-hour"), default=30)
    capacity_lines = models.PositiveIntegerField(
        _("capacity (lines)"),
        default=0,
        editable=False,
        help_text=_("pickers × hours × lines per picker-hour"),
    )
    lines_booked = models.PositiveIntegerField(_("lines booked"), default=0)

    class Meta:
        ordering = ["location", "date", "start"]
        verbose_name = _("picker shift")
        verbose_name_plural = _("picker shifts")
        constraints = [
            models.CheckConstraint(condition=Q(end__gt=F("start")), name="pickershift_end_after_start"),
            models.UniqueConstraint(
                fields=["location", "date", "start"], name="pickershift_location_date_start"
            ),
        ]
        indexes = [models.Index(fields=["location", "date"], name="pickershift_location_date_idx")]
        permissions = [
            ("plan_shifts", _("Can plan picker shifts")),
            ("pick", _("Can pick")),
            ("pack", _("Can pack")),
            ("store_pickup", _("Can prepare and hand over click & collect orders")),
        ]

    def __str__(self) -> str:
        return f"{self.location_id} {self.date} {self.start:%H:%M}-{self.end:%H:%M}"

    @property
    def hours(self) -> float:
        return (self.end.hour * 60 + self.end.minute - self.start.hour * 60 - self.start.minute) / 60

    def compute_capacity(self) -> int:
        return int(self.pickers * self.hours * self.lines_per_picker_hour)

    @property
    def lines_left(self) -> int:
        return max(0, self.capacity_lines - self.lines_booked)


class CapacityBooking(models.Model):
    """Lines of an order booked in a shift (an order may spill over several shifts)."""

    shift = models.ForeignKey(PickerShift, on_delete=models.CASCADE, related_name="bookings")
    order = models.ForeignKey("orders.Order", on_delete=models.CASCADE, related_name="capacity_bookings")
    lines = models.PositiveIntegerField(_("lines"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("capacity booking")
        verbose_name_plural = _("capacity bookings")
        constraints = [
            models.CheckConstraint(condition=Q(lines__gt=0), name="capacitybooking_lines_positive")
        ]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.lines} lines in {self.shift_id}"


class WaveSettings(models.Model):
    """How a location's waves are cut: at most ``max_orders`` orders, released by hand or automatically
    ``release_minutes_before_cutoff`` before each carrier cut-off."""

    location = models.OneToOneField(
        "inventory.Location",
        on_delete=models.CASCADE,
        related_name="wave_settings",
        verbose_name=_("location"),
    )
    max_orders = models.PositiveSmallIntegerField(_("orders per wave"), default=20)
    auto_release = models.BooleanField(_("release automatically before each cut-off"), default=True)
    release_minutes_before_cutoff = models.PositiveSmallIntegerField(
        _("minutes before the cut-off"), default=120
    )

    class Meta:
        verbose_name = _("wave settings")
        verbose_name_plural = _("wave settings")
        constraints = [
            models.CheckConstraint(condition=Q(max_orders__gt=0), name="wavesettings_max_orders_positive")
        ]

    def __str__(self) -> str:
        return f"{self.location_id}: {self.max_orders}"


class Wave(models.Model):
    """Orders of one location picked together, for one carrier cut-off."""

    class Status(models.TextChoices):
        RELEASED = "released", _("To pick")
        PICKING = "picking", _("Picking")
        DONE = "done", _("Picked")
        CANCELLED = "cancelled", _("Cancelled")

    location = models.ForeignKey(
        "inventory.Location", on_delete=models.PROTECT, related_name="waves", verbose_name=_("location")
    )
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.RELEASED)
    cutoff = models.TimeField(_("cut-off"), null=True, blank=True)
    ship_by = models.DateField(_("ships on"), null=True, blank=True)
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    released_at = models.DateTimeField(_("released at"), auto_now_add=True)
    picker = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("picker"),
    )
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)

    class Meta:
        ordering = ["-released_at", "-id"]
        verbose_name = _("wave")
        verbose_name_plural = _("waves")
        indexes = [models.Index(fields=["location", "status"], name="wave_location_status_idx")]

    def __str__(self) -> str:
        return self.code

    @property
    def code(self) -> str:
        return f"W{self.pk:05d}"


class PreparationStatus(models.TextChoices):
    TO_PICK = "to_pick", _("To pick")
    WAVED = "waved", _("In a wave")
    PICKING = "picking", _("Picking")
    TO_PACK = "to_pack", _("To pack")
    PACKED = "packed", _("Packed")
    READY = "ready", _("Ready for pickup")
    COLLECTED = "collected", _("Collected")
    CANCELLED = "cancelled", _("Cancelled")


class Preparation(models.Model):
    """What one location prepares for one order: the order's lines allocated from its stock, picked in a
    wave, then packed into parcels (``ship``) or set aside for the customer (``pickup``, click & collect).
    ``orders`` hands the work over through ``preparation_sync``; this app never reads orders' tables."""

    Status = PreparationStatus
    OPEN = frozenset({PreparationStatus.TO_PICK, PreparationStatus.WAVED, PreparationStatus.PICKING})

    class Kind(models.TextChoices):
        SHIP = "ship", _("To ship")
        PICKUP = "pickup", _("Click & collect here")

    order = models.ForeignKey("orders.Order", on_delete=models.CASCADE, related_name="preparations")
    order_number = models.CharField(_("order"), max_length=32, db_index=True)
    location = models.ForeignKey(
        "inventory.Location",
        on_delete=models.PROTECT,
        related_name="preparations",
        verbose_name=_("location"),
    )
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices, default=Kind.SHIP)
    status = models.CharField(
        _("status"), max_length=12, choices=PreparationStatus.choices, default=PreparationStatus.TO_PICK
    )
    service = models.ForeignKey(
        "shipping.CarrierService",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("carrier service"),
    )
    express = models.BooleanField(_("express"), default=False)
    cutoff = models.TimeField(_("cut-off"), null=True, blank=True)
    ship_by = models.DateField(_("ships on"), null=True, blank=True)
    promised_latest = models.DateField(_("promised by"), null=True, blank=True)
    customer_name = models.CharField(_("customer"), max_length=200, blank=True)
    ship_to = models.TextField(_("ship to"), blank=True, help_text=_("The address on the packing slip."))
    pickup_code = models.CharField(_("pickup code"), max_length=6, blank=True)
    wave = models.ForeignKey(
        Wave, on_delete=models.SET_NULL, null=True, blank=True, related_name="preparations"
    )
    tote = models.PositiveSmallIntegerField(_("tote"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    picked_at = models.DateTimeField(_("picked at"), null=True, blank=True)
    packed_at = models.DateTimeField(_("packed at"), null=True, blank=True)
    ready_at = models.DateTimeField(_("ready at"), null=True, blank=True)
    collected_at = models.DateTimeField(_("collected at"), null=True, blank=True)
    uncollected_flagged_at = models.DateTimeField(_("flagged as not collected"), null=True, blank=True)

    class Meta:
        ordering = ["ship_by", "cutoff", "-express", "promised_latest", "created_at", "pk"]
        verbose_name = _("preparation")
        verbose_name_plural = _("preparations")
        constraints = [
            models.UniqueConstraint(
                fields=["order", "location"],
                condition=~Q(status="cancelled"),
                name="preparation_one_open_per_order_location",
            ),
        ]
        indexes = [
            models.Index(fields=["location", "status"], name="prep_location_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.order_number} @ {self.location_id}"

    @property
    def tote_code(self) -> str:
        return f"{self.wave.code}-T{self.tote}" if self.wave_id and self.tote else ""


class PreparationLine(models.Model):
    """Units of an order line to prepare at the location: picked, reported short, packed. A kit's line is
    prepared as one preparation line per component (``kit_sku``, ``kit_name`` and ``per_kit`` say which
    kit it belongs to, for the pick list and the packing slip)."""

    preparation = models.ForeignKey(Preparation, on_delete=models.CASCADE, related_name="lines")
    order_line = models.ForeignKey("orders.OrderLine", on_delete=models.CASCADE, related_name="+")
    product = models.ForeignKey("inventory.Product", on_delete=models.PROTECT, related_name="+")
    sku = models.CharField(_("SKU"), max_length=64)
    name = models.CharField(_("name"), max_length=200)
    ean = models.CharField(_("EAN"), max_length=13, blank=True)
    bin_code = models.CharField(_("bin"), max_length=32, blank=True)
    weight_g = models.PositiveIntegerField(_("unit weight (g)"), default=0)
    quantity = models.PositiveIntegerField(_("to prepare"))
    picked = models.PositiveIntegerField(_("picked"), default=0)
    put_back = models.PositiveIntegerField(
        _("to put back"),
        default=0,
        help_text=_("Units picked and then cancelled: they go back to their bin."),
    )
    short = models.PositiveIntegerField(_("short"), default=0)
    packed = models.PositiveIntegerField(_("packed"), default=0)
    kit_sku = models.CharField(_("kit SKU"), max_length=64, blank=True)
    kit_name = models.CharField(_("kit"), max_length=200, blank=True)
    per_kit = models.PositiveIntegerField(_("units per kit"), default=0)

    class Meta:
        ordering = ["preparation", "pk"]
        verbose_name = _("preparation line")
        verbose_name_plural = _("preparation lines")
        constraints = [
            models.UniqueConstraint(
                fields=["preparation", "order_line", "product"], name="preparationline_unique"
            ),
            models.CheckConstraint(condition=Q(picked__lte=F("quantity")), name="preparationline_picked_max"),
            models.CheckConstraint(condition=Q(packed__lte=F("picked")), name="preparationline_packed_max"),
        ]
        indexes = [
            # the few lines whose units wait to be put back, listed by the pick screens (put_backs_at)
            models.Index(
                fields=["preparation"], condition=Q(put_back__gt=0), name="preparationline_put_back"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.sku}"

    @property
    def to_pick(self) -> int:
        return self.quantity - self.picked

    @property
    def to_pack(self) -> int:
        return self.picked - self.packed

    @property
    def unpacked(self) -> int:
        return self.quantity - self.packed


class Box(models.Model):
    """A carton size at the pack station."""

    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)
    length_mm = models.PositiveIntegerField(_("length (mm)"))
    width_mm = models.PositiveIntegerField(_("width (mm)"))
    height_mm = models.PositiveIntegerField(_("height (mm)"))
    tare_g = models.PositiveIntegerField(_("empty weight (g)"), default=0)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["length_mm", "width_mm", "height_mm"]
        verbose_name = _("box")
        verbose_name_plural = _("boxes")

    def __str__(self) -> str:
        return f"{self.name} ({self.length_mm}×{self.width_mm}×{self.height_mm} mm)"


class Parcel(models.Model):
    """A parcel being packed at the pack station; closing it creates the shipment."""

    class Status(models.TextChoices):
        OPEN = "open", _("Being packed")
        CLOSED = "closed", _("Closed")

    preparation = models.ForeignKey(Preparation, on_delete=models.CASCADE, related_name="parcels")
    seq = models.PositiveSmallIntegerField(_("parcel"))
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.OPEN)
    box = models.ForeignKey(Box, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    weight_g = models.PositiveIntegerField(_("weight (g)"), null=True, blank=True)
    shipment = models.OneToOneField(
        "shipping.Shipment", on_delete=models.PROTECT, null=True, blank=True, related_name="parcel"
    )
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["preparation", "seq"]
        verbose_name = _("parcel")
        verbose_name_plural = _("parcels")
        constraints = [
            models.UniqueConstraint(fields=["preparation", "seq"], name="parcel_seq_unique"),
            # one parcel open at a time per preparation: two packers cannot fill two open parcels
            models.UniqueConstraint(
                fields=["preparation"], condition=Q(status="open"), name="parcel_one_open"
            ),
            models.CheckConstraint(
                condition=Q(status="open") | (Q(shipment__isnull=False) & Q(weight_g__gt=0)),
                name="parcel_closed_has_shipment",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.preparation.order_number} #{self.seq}"


class ParcelItem(models.Model):
    parcel = models.ForeignKey(Parcel, on_delete=models.CASCADE, related_name="items")
    line = models.ForeignKey(PreparationLine, on_delete=models.CASCADE, related_name="parcel_items")
    quantity = models.PositiveIntegerField(_("quantity"))

    class Meta:
        ordering = ["parcel", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["parcel", "line"], name="parcelitem_unique"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="parcelitem_quantity_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.line_id}"


class ScanEvent(models.Model):
    """Every accepted scan of the pick and pack screens, so the last one can be undone and work audited."""

    class Action(models.TextChoices):
        PICK = "pick", _("Picked")
        SHORT = "short", _("Reported short")
        PACK = "pack", _("Packed")
        PUT_BACK = "put_back", _("Put back")

    line = models.ForeignKey(PreparationLine, on_delete=models.CASCADE, related_name="scans")
    action = models.CharField(_("action"), max_length=8, choices=Action.choices)
    quantity = models.PositiveIntegerField(_("quantity"))
    parcel = models.ForeignKey(Parcel, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    reason = models.CharField(_("reason"), max_length=16, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    at = models.DateTimeField(auto_now_add=True)
    undone_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("scan")
        verbose_name_plural = _("scans")

    def __str__(self) -> str:
        return f"{self.action} {self.quantity} × {self.line_id}"


class DocumentJob(QueuedJob):
    """A long print job (pick lists, packing slips, labels) run by a Celery task, its progress polled."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    kind = models.CharField(_("kind"), max_length=32)
    params = models.JSONField(default=dict)
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.PENDING)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    file = models.FileField(upload_to="documents/%Y/%m/", blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("print job")
        verbose_name_plural = _("print jobs")

    def __str__(self) -> str:
        return f"{self.kind} {self.status}"

    @property
    def percent(self) -> int:
        return int(100 * self.done / self.total) if self.total else (100 if self.status == "done" else 0)


class WarehousePartner(models.Model):
    """How we talk to the WMS of an outsourced location (a 3PL): a JSON-over-HTTP API, or files dropped in
    a shared folder. The API key is stored encrypted."""

    class Adapter(models.TextChoices):
        HTTP_JSON = "http_json", _("JSON over HTTP")
        CSV_DROP = "csv_drop", _("CSV files in a shared folder")

    location = models.OneToOneField(
        "inventory.Location",
        on_delete=models.CASCADE,
        related_name="partner",
        verbose_name=_("location"),
        limit_choices_to={"kind": "outsourced"},
    )
    name = models.CharField(_("name"), max_length=120)
    adapter = models.CharField(
        _("exchange"), max_length=12, choices=Adapter.choices, default=Adapter.HTTP_JSON
    )
    base_url = models.URLField(_("API address"), max_length=300, blank=True)
    api_key = EncryptedTextField(_("API key"), blank=True)
    drop_dir = models.CharField(
        _("shared folder"),
        max_length=300,
        blank=True,
        help_text=_("Orders are written to its out/ folder; shipments and stock files are read from in/."),
    )
    active = models.BooleanField(_("active"), default=True)
    sandbox = models.BooleanField(
        _("sandbox"),
        default=False,
        help_text=_("JSON WMS: an offline simulation that accepts requests and ships them (demo)."),
    )
    sync_late_after_minutes = models.PositiveIntegerField(
        _("late after (minutes)"),
        default=60,
        help_text=_("The dashboard warns when no sync succeeded for this long."),
    )
    shipments_cursor = models.CharField(_("shipments read up to"), max_length=200, blank=True)
    last_sync_at = models.DateTimeField(_("last successful sync"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    last_error_at = models.DateTimeField(_("last error at"), null=True, blank=True)

    class Meta:
        verbose_name = _("3PL partner")
        verbose_name_plural = _("3PL partners")

    def __str__(self) -> str:
        return self.name


class FulfilmentRequest(QueuedJob):
    """A preparation of an outsourced location, sent to its WMS (a job: never lost, never sent twice)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("To send")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")
        SHIPPED = "shipped", _("Shipped")
        PARTIAL = "partial", _("Partly shipped")
        CANCEL_PENDING = "cancel_pending", _("Cancellation to send")
        CANCELLED = "cancelled", _("Cancelled")

    preparation = models.OneToOneField(
        Preparation,
        on_delete=models.CASCADE,
        related_name="fulfilment_request",
        verbose_name=_("preparation"),
    )
    partner = models.ForeignKey(WarehousePartner, on_delete=models.CASCADE, related_name="requests")
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    payload = models.JSONField(_("payload"), default=dict)
    reference = models.CharField(_("WMS reference"), max_length=100, blank=True)
    error = models.TextField(_("error"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        verbose_name = _("fulfilment request")
        verbose_name_plural = _("fulfilment requests")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.payload.get('order_number', '')} → {self.partner_id}"


class PartnerShipment(models.Model):
    """A shipment confirmation received from a WMS, kept as received: applied once (unique per partner),
    or kept with its error to replay."""

    class Status(models.TextChoices):
        APPLIED = "applied", _("Applied")
        FAILED = "failed", _("Failed")

    partner = models.ForeignKey(WarehousePartner, on_delete=models.CASCADE, related_name="shipments")
    external_id = models.CharField(_("WMS shipment"), max_length=100)
    order_number = models.CharField(_("order"), max_length=32)
    payload = models.JSONField(_("payload"), default=dict)
    status = models.CharField(_("status"), max_length=8, choices=Status.choices)
    error = models.TextField(_("error"), blank=True)
    received_at = models.DateTimeField(_("received at"), auto_now_add=True)
    applied_at = models.DateTimeField(_("applied at"), null=True, blank=True)

    class Meta:
        verbose_name = _("3PL shipment")
        verbose_name_plural = _("3PL shipments")
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["partner", "external_id"], name="partnershipment_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.external_id} ({self.order_number})"


class StockSnapshot(models.Model):
    """A 3PL's stock count, reconciled against our ledger: every difference is booked as a movement."""

    partner = models.ForeignKey(WarehousePartner, on_delete=models.CASCADE, related_name="snapshots")
    external_id = models.CharField(_("WMS snapshot"), max_length=100)
    taken_at = models.DateTimeField(_("taken at"))
    received_at = models.DateTimeField(_("received at"), auto_now_add=True)
    products = models.PositiveIntegerField(_("products"), default=0)
    differences = models.PositiveIntegerField(_("differences"), default=0)
    units_in = models.IntegerField(_("units found"), default=0)
    units_out = models.IntegerField(_("units missing"), default=0)

    class Meta:
        verbose_name = _("3PL stock snapshot")
        verbose_name_plural = _("3PL stock snapshots")
        ordering = ["-taken_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["partner", "external_id"], name="stocksnapshot_unique"),
        ]

    def __str__(self) -> str:
        return self.external_id


class StockSnapshotLine(models.Model):
    """One SKU of a snapshot that differed from our ledger, with the movement that booked it."""

    snapshot = models.ForeignKey(StockSnapshot, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey("inventory.Product", on_delete=models.PROTECT, null=True, related_name="+")
    sku = models.CharField(_("SKU"), max_length=64)
    theirs = models.IntegerField(_("3PL count"))
    ours = models.IntegerField(_("our ledger"), null=True)
    difference = models.IntegerField(_("difference"))
    # No database constraint: the ledger is partitioned by month (its key is id + created_at) and old months
    # are archived (common/partitions.py).
    movement = models.ForeignKey(
        "inventory.StockMovement",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
    )
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        ordering = ["sku"]

    def __str__(self) -> str:
        return f"{self.sku}: {self.difference:+d}"
