"""Models of the channel connectors. Their tables keep the names they had when the connectors were part of
the ``orders`` app (``db_table``): the move to this app changed Django's state only (migrations orders 0019
and channels 0001)."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from common.fields import EncryptedTextField
from common.models import QueuedJob


class ChannelConnection(QueuedJob):
    """How the OMS talks to a channel's shop: address, credentials (write-only in the pages), what it syncs,
    the delivery mode of each shipping method, the column mapping of file imports, and sync state. Its job
    fields (``QueuedJob``) are the stock push's: due when availability changed, leased while a push runs."""

    # Credentials: encrypted at rest (common.fields.EncryptedTextField), write-only in the pages and admin.
    SECRET_FIELDS = ("api_key", "access_token", "api_secret", "webhook_secret", "refresh_token")

    channel = models.OneToOneField(
        "orders.Channel", on_delete=models.CASCADE, related_name="connection", verbose_name=_("channel")
    )
    base_url = models.CharField(
        _("shop address"),
        max_length=255,
        blank=True,
        help_text=_("Shopify: my-shop.myshopify.com. WooCommerce and PrestaShop: https://shop.example.fr."),
    )
    api_version = models.CharField(_("API version"), max_length=16, blank=True, default="2026-01")
    # The WooCommerce consumer key is half of the Basic-auth credential (WooCommerce itself shows it once).
    api_key = EncryptedTextField(
        _("API key"),
        help_text=_("WooCommerce consumer key. PrestaShop webservice key goes in the access token."),
    )
    access_token = EncryptedTextField(_("access token"))
    api_secret = EncryptedTextField(_("API secret"))
    webhook_secret = EncryptedTextField(_("webhook secret"))
    # Amazon: the Login with Amazon refresh token (the seller's authorisation of our app).
    refresh_token = EncryptedTextField(_("refresh token"))
    marketplace_id = models.CharField(
        _("marketplace id"), max_length=32, blank=True, help_text=_("Amazon: A13V1IB3VIYZZH for amazon.fr.")
    )
    seller_id = models.CharField(
        _("seller id"),
        max_length=64,
        blank=True,
        help_text=_(
            "Amazon: the merchant token (selling partner id). "
            "Mirakl: the shop id, when the key has several shops."
        ),
    )
    remote_location_id = models.CharField(
        _("remote location"),
        max_length=100,
        blank=True,
        help_text=_("Shopify location whose available quantities we set (gid://shopify/Location/…)."),
    )
    sandbox = models.BooleanField(
        _("sandbox"),
        default=False,
        help_text=_(
            "Amazon and Mirakl: an offline simulation of the marketplace (demo): nothing leaves the server."
        ),
    )
    push_stock = models.BooleanField(_("push stock to the channel"), default=False)
    poll_orders = models.BooleanField(_("poll orders (PrestaShop)"), default=False)
    delivery_modes = models.JSONField(
        _("delivery modes by shipping method"),
        default=dict,
        blank=True,
        help_text=_("Shipping method title → home, relay:<carrier> or store:<store code>."),
    )
    import_mapping = models.JSONField(_("import column mapping"), default=dict, blank=True)
    cancelled_states = models.CharField(
        _("cancelled order states"),
        max_length=100,
        blank=True,
        default="6",
        help_text=_("PrestaShop order state ids that mean cancelled, comma-separated."),
    )
    order_cursor = models.CharField(max_length=64, blank=True)
    stock_cursor = models.CharField(max_length=255, blank=True)
    last_order_sync_at = models.DateTimeField(_("last order sync"), null=True, blank=True)
    last_stock_push_at = models.DateTimeField(_("last stock push"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    last_error_at = models.DateTimeField(_("last error at"), null=True, blank=True)
    # Mirakl: the marketplace's reason codes (RE02 ``GET /api/reasons/{type}``), cached per connector as
    # {"ORDER_CANCEL": [{"code", "label"}], "REFUND": [...], "fetched_at": iso}, and the manager's default
    # per kind of our own changes sent to it: {"cancellation": code, "refund": code}.
    marketplace_reasons = models.JSONField(_("marketplace reasons"), default=dict, blank=True)
    default_reasons = models.JSONField(_("default reasons"), default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "orders_channelconnection"
        verbose_name = _("channel connection")
        verbose_name_plural = _("channel connections")

    def __str__(self) -> str:
        return f"{self.channel_id} → {self.base_url or '-'}"

    def secret_is_set(self, name: str) -> bool:
        return bool(getattr(self, name))


class WebhookDelivery(QueuedJob):
    """One payload a channel sent (webhook) or we fetched (polling), stored once by its delivery id before it
    is processed in a task: failures keep their payload and can be replayed."""

    class Status(models.TextChoices):
        RECEIVED = "received", _("Received")
        PROCESSED = "processed", _("Processed")
        IGNORED = "ignored", _("Ignored")
        FAILED = "failed", _("Failed")

    channel = models.ForeignKey(
        "orders.Channel", on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("channel")
    )
    delivery_id = models.CharField(_("delivery id"), max_length=255)
    topic = models.CharField(_("topic"), max_length=64)
    headers = models.JSONField(default=dict, blank=True)
    payload = models.TextField(_("payload"))
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.RECEIVED)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    error_code = models.CharField(_("error code"), max_length=64, blank=True)
    error = models.TextField(_("error"), blank=True)
    error_details = models.JSONField(default=dict, blank=True)
    external_id = models.CharField(_("external id"), max_length=100, blank=True)
    order = models.ForeignKey(
        "orders.Order", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    received_at = models.DateTimeField(_("received at"), auto_now_add=True)
    processed_at = models.DateTimeField(_("processed at"), null=True, blank=True)

    class Meta:
        db_table = "orders_webhookdelivery"
        ordering = ["-received_at", "-id"]
        verbose_name = _("channel delivery")
        verbose_name_plural = _("channel deliveries")
        constraints = [
            models.UniqueConstraint(fields=["channel", "delivery_id"], name="delivery_channel_id_unique")
        ]
        indexes = [models.Index(fields=["channel", "status", "-received_at"], name="delivery_status_idx")]

    def __str__(self) -> str:
        return f"{self.channel_id} {self.topic} {self.delivery_id}"


class ChannelListing(models.Model):
    """A product's id on a channel's shop (Shopify inventory item, WooCommerce product, PrestaShop
    stock_available), found by SKU and kept to push stock without looking it up again."""

    channel = models.ForeignKey("orders.Channel", on_delete=models.CASCADE, related_name="listings")
    product = models.ForeignKey("inventory.Product", on_delete=models.CASCADE, related_name="+")
    remote_id = models.CharField(max_length=100)
    extra = models.JSONField(default=dict, blank=True)
    last_pushed_quantity = models.IntegerField(null=True, blank=True)
    last_pushed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "orders_channellisting"
        verbose_name = _("channel listing")
        verbose_name_plural = _("channel listings")
        constraints = [
            models.UniqueConstraint(fields=["channel", "product"], name="listing_channel_product_unique")
        ]

    def __str__(self) -> str:
        return f"{self.channel_id}:{self.product_id} → {self.remote_id}"


class ChannelFulfillment(models.Model):
    """A parcel reported to the channel (Shopify fulfilment, WooCommerce note): at most once per parcel."""

    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        DONE = "done", _("Sent")
        FAILED = "failed", _("Failed")

    channel = models.ForeignKey("orders.Channel", on_delete=models.CASCADE, related_name="+")
    shipment = models.OneToOneField(
        "shipping.Shipment", on_delete=models.CASCADE, related_name="channel_fulfillment"
    )
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    remote_id = models.CharField(max_length=100, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "orders_channelfulfillment"
        verbose_name = _("fulfilment sent to a channel")
        verbose_name_plural = _("fulfilments sent to channels")

    def __str__(self) -> str:
        return f"{self.shipment_id} {self.state}"


class AvailabilityChange(models.Model):
    """Append-only log: the availability of ``product`` changed in the transaction ``xid``.

    Read by the change feed of the REST API and by the stock push. Readers take rows by transaction id
    below the snapshot's xmin (every older transaction has ended), so a row committed late is never skipped,
    which an id or a timestamp cursor cannot promise under concurrency. ``xid`` is 0 on SQLite (one writer
    at a time: the id order is the commit order)."""

    product = models.ForeignKey("inventory.Product", on_delete=models.CASCADE, related_name="+")
    xid = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        db_table = "orders_availabilitychange"
        verbose_name = _("availability change")
        verbose_name_plural = _("availability changes")
        indexes = [models.Index(fields=["xid", "id"], name="availchange_xid_idx")]

    def __str__(self) -> str:
        return f"{self.product_id}@{self.xid}"


class ImportJob(QueuedJob):
    """A CSV or XLSX file of orders: checked (dry run) or imported, all or nothing, in a task."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    channel = models.ForeignKey("orders.Channel", on_delete=models.CASCADE, related_name="import_jobs")
    file = models.FileField(_("file"), upload_to="imports/%Y/%m/")
    filename = models.CharField(_("file name"), max_length=255)
    dry_run = models.BooleanField(_("dry run"), default=True)
    mapping = models.JSONField(default=dict)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    total_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    orders_created = models.PositiveIntegerField(default=0)
    orders_skipped = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)
    message = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "orders_importjob"
        ordering = ["-created_at", "-id"]
        verbose_name = _("order import")
        verbose_name_plural = _("order imports")

    def __str__(self) -> str:
        return f"{self.channel_id} {self.filename}"


class MarketplaceAdjustment(models.Model):
    """A cancellation or a refund of order lines made on a marketplace (Mirakl: the ``cancelations`` and
    ``refunds`` of each order line, listed by OR11 whoever made them, the operator, the customer service or
    the shop through OR28 / OR30), applied here once: its id is unique per channel, and the row is written in
    the transaction that applies it (units cancelled through ``order_lines_cancel``; a refund's credit note
    issued by invoicing from ``order.channel_refunded``). A failed one keeps its error and is tried again
    when the order is read again or its delivery replayed."""

    class Kind(models.TextChoices):
        CANCELLATION = "cancellation", _("Cancellation")
        REFUND = "refund", _("Refund")

    class State(models.TextChoices):
        APPLIED = "applied", _("Applied")
        BEFORE_IMPORT = "before_import", _("Made before the order was taken")
        FAILED = "failed", _("Failed")
        OURS = "ours", _("Sent by us (not applied again)")

    channel = models.ForeignKey("orders.Channel", on_delete=models.CASCADE, related_name="+")
    order = models.ForeignKey("orders.Order", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    remote_id = models.CharField(_("marketplace id"), max_length=100)
    remote_line_id = models.CharField(_("marketplace order line"), max_length=100, blank=True)
    sku = models.CharField(max_length=64, blank=True)
    quantity = models.PositiveIntegerField(_("quantity"), default=0)
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2, default=0)
    shipping_amount = models.DecimalField(_("shipping amount"), max_digits=12, decimal_places=2, default=0)
    reason_code = models.CharField(_("reason"), max_length=64, blank=True)
    state = models.CharField(_("state"), max_length=16, choices=State.choices)
    error = models.TextField(_("error"), blank=True)
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("marketplace cancellation or refund")
        verbose_name_plural = _("marketplace cancellations and refunds")
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "kind", "remote_id"], name="marketplace_adjustment_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.channel_id} {self.kind} {self.remote_id}"


class MarketplaceSend(QueuedJob):
    """One of our own changes told to a marketplace (Mirakl: OR30 units cancelled, OR28 refund, OR29 whole
    order cancelled): written by the ``channels.marketplace_outbound`` consumer of the event log, at most once
    per change (``key``: the event's change, unique per channel), sent by its job with backoff. Mirakl's ids
    of what it created (``remote_ids``) let OR11's echo of the same cancellation or refund be recognised as
    ours and not applied a second time (``MarketplaceAdjustment`` state ``ours``). A refusal (4xx) keeps its
    error for the connector's page, where a manager replays it."""

    class Kind(models.TextChoices):
        CANCELLATION = "cancellation", _("Units cancelled (OR30)")
        REFUND = "refund", _("Refund (OR28)")
        ORDER_CANCEL = "order_cancel", _("Order cancelled (OR29)")

    class State(models.TextChoices):
        PENDING = "pending", _("To send")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Refused")

    channel = models.ForeignKey("orders.Channel", on_delete=models.CASCADE, related_name="+")
    order = models.ForeignKey("orders.Order", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    key = models.CharField(_("our change"), max_length=100)
    reason_code = models.CharField(_("reason"), max_length=64, blank=True)
    items = models.JSONField(_("lines"), default=list, blank=True)
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.PENDING)
    remote_ids = models.JSONField(_("marketplace ids"), default=list, blank=True)
    error = models.TextField(_("error"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("change sent to a marketplace")
        verbose_name_plural = _("changes sent to marketplaces")
        constraints = [models.UniqueConstraint(fields=["channel", "key"], name="marketplace_send_once")]
        indexes = [models.Index(fields=["channel", "state"], name="marketplace_send_state_idx")]

    def __str__(self) -> str:
        return f"{self.channel_id} {self.kind} {self.key}"
