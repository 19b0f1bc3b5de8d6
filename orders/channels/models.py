"""Models of the channel connectors (part of the ``orders`` app: imported by orders/models.py)."""

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
    SECRET_FIELDS = ("api_key", "access_token", "api_secret", "webhook_secret")

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
    remote_location_id = models.CharField(
        _("remote location"),
        max_length=100,
        blank=True,
        help_text=_("Shopify location whose available quantities we set (gid://shopify/Location/…)."),
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
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
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
        ordering = ["-created_at", "-id"]
        verbose_name = _("order import")
        verbose_name_plural = _("order imports")

    def __str__(self) -> str:
        return f"{self.channel_id} {self.filename}"
