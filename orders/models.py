import hashlib
import secrets
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Channel(models.Model):
    """A sales channel: where orders come from, which locations serve it, how it sources."""

    class Kind(models.TextChoices):
        WEB = "web", _("Own web shop")
        STORE = "store", _("Store")
        SHOPIFY = "shopify", _("Shopify")
        WOOCOMMERCE = "woocommerce", _("WooCommerce")
        PRESTASHOP = "prestashop", _("PrestaShop")
        AMAZON = "amazon", _("Amazon (SP-API)")
        MIRAKL = "mirakl", _("Mirakl marketplace")
        MARKETPLACE = "marketplace", _("Marketplace")
        API = "api", _("API")

    class Strategy(models.TextChoices):
        COST = "cost", _("Lowest cost")
        NEAREST = "nearest", _("Nearest location")
        PRIORITY = "priority", _("Location order")

    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=120)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.WEB)
    locations = models.ManyToManyField(
        "inventory.Location", through="ChannelLocation", related_name="channels", verbose_name=_("locations")
    )
    safety_buffer = models.PositiveIntegerField(
        _("safety buffer"), default=0, help_text=_("Units per SKU kept back from the availability shown.")
    )
    sourcing_strategy = models.CharField(
        _("sourcing strategy"), max_length=16, choices=Strategy.choices, default=Strategy.COST
    )
    active = models.BooleanField(_("active"), default=True)
    # Shipping charges of the orders the OMS prices itself (phone orders; channels send their own fee).
    free_shipping_above = models.DecimalField(
        _("free shipping from"),
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_("Goods total (incl. VAT) from which shipping is free. Empty: never free."),
    )
    shipping_vat_rate = models.DecimalField(
        _("shipping VAT rate (%)"), max_digits=3, decimal_places=1, default=Decimal("20.0")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("channel")
        verbose_name_plural = _("channels")

    def __str__(self) -> str:
        return self.name


class ChannelLocation(models.Model):
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="channel_locations")
    location = models.ForeignKey("inventory.Location", on_delete=models.PROTECT, related_name="+")
    priority = models.PositiveSmallIntegerField(_("priority"), default=0, help_text=_("Lower serves first."))

    class Meta:
        ordering = ["channel", "priority", "location__code"]
        verbose_name = _("channel location")
        verbose_name_plural = _("channel locations")
        constraints = [
            models.UniqueConstraint(fields=["channel", "location"], name="channel_location_unique")
        ]

    def __str__(self) -> str:
        return f"{self.channel_id} → {self.location_id} ({self.priority})"


class ApiKey(models.Model):
    """A channel's key for the REST API. Only its SHA-256 is stored; the key is shown once."""

    class Scope(models.TextChoices):
        ORDERS = "orders", _("Orders")
        CATALOG = "catalog", _("Catalogue")
        STOCK = "stock", _("Stock")
        ALL = "all", _("Everything")

    PREFIX = "oms_"

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(_("name"), max_length=100, blank=True)
    prefix = models.CharField(_("prefix"), max_length=16, editable=False)
    hashed_key = models.CharField(max_length=64, unique=True, editable=False)
    scopes = models.JSONField(_("scopes"), default=list)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.channel_id})"

    @staticmethod
    def hash(raw_key: str) -> str:
        # Keys carry 256 bits of randomness: a plain SHA-256 cannot be brute-forced
        # and allows an indexed lookup.
        return hashlib.sha256(raw_key.encode()).hexdigest()

    @classmethod
    def generate(cls) -> tuple[str, str, str]:
        """A new key: (raw key, display prefix, hash)."""
        raw = f"{cls.PREFIX}{secrets.token_urlsafe(32)}"
        return raw, raw[: len(cls.PREFIX) + 8], cls.hash(raw)

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def has_scope(self, scope: str) -> bool:
        return self.Scope.ALL in self.scopes or scope in self.scopes


class OrderStatus(models.TextChoices):
    RECEIVED = "received", _("Received")
    AWAITING_STOCK = "awaiting_stock", _("Awaiting stock")
    ALLOCATED = "allocated", _("Allocated")
    IN_PREPARATION = "in_preparation", _("In preparation")
    PARTIALLY_SHIPPED = "partially_shipped", _("Partially shipped")
    SHIPPED = "shipped", _("Shipped")
    OUT_FOR_DELIVERY = "out_for_delivery", _("Out for delivery")
    READY_FOR_PICKUP = "ready_for_pickup", _("Ready for pickup")
    DELIVERED = "delivered", _("Delivered")
    RETURNED = "returned", _("Returned")
    CANCELLED = "cancelled", _("Cancelled")


# The status machine of DESIGN.md: status -> statuses it may move to. One transition function per move
# lives in orders/services/lifecycle.py; nothing else sets ``order.status``.
ORDER_TRANSITIONS: dict[str, frozenset[str]] = {
    OrderStatus.RECEIVED: frozenset(
        {OrderStatus.ALLOCATED, OrderStatus.AWAITING_STOCK, OrderStatus.CANCELLED}
    ),
    OrderStatus.AWAITING_STOCK: frozenset({OrderStatus.ALLOCATED, OrderStatus.CANCELLED}),
    OrderStatus.ALLOCATED: frozenset(
        {OrderStatus.IN_PREPARATION, OrderStatus.AWAITING_STOCK, OrderStatus.CANCELLED}
    ),
    OrderStatus.IN_PREPARATION: frozenset(
        {
            OrderStatus.PARTIALLY_SHIPPED,
            OrderStatus.SHIPPED,
            OrderStatus.READY_FOR_PICKUP,
            OrderStatus.AWAITING_STOCK,
            OrderStatus.CANCELLED,
        }
    ),
    OrderStatus.PARTIALLY_SHIPPED: frozenset({OrderStatus.SHIPPED}),
    OrderStatus.SHIPPED: frozenset(
        {
            OrderStatus.OUT_FOR_DELIVERY,
            OrderStatus.READY_FOR_PICKUP,
            OrderStatus.DELIVERED,
            OrderStatus.RETURNED,
        }
    ),
    OrderStatus.OUT_FOR_DELIVERY: frozenset({OrderStatus.DELIVERED, OrderStatus.READY_FOR_PICKUP}),
    OrderStatus.READY_FOR_PICKUP: frozenset({OrderStatus.DELIVERED, OrderStatus.RETURNED}),
    OrderStatus.DELIVERED: frozenset({OrderStatus.RETURNED}),
    OrderStatus.RETURNED: frozenset(),
    OrderStatus.CANCELLED: frozenset(),
}
CANCELLABLE = frozenset(s for s, targets in ORDER_TRANSITIONS.items() if OrderStatus.CANCELLED in targets)
# Statuses in which what has shipped may come back (the returns app, above this one, asks).
RETURNABLE_STATUSES = frozenset(
    {
        OrderStatus.PARTIALLY_SHIPPED,
        OrderStatus.SHIPPED,
        OrderStatus.OUT_FOR_DELIVERY,
        OrderStatus.READY_FOR_PICKUP,
        OrderStatus.DELIVERED,
    }
)


class PaymentStatus(models.TextChoices):
    """Where the customer's money is: nothing recorded yet (invoice to pay by its due date), waiting for it
    (a bank transfer, a payment to confirm: the order is held), authorised (captured when it ships), paid,
    partly or wholly refunded, or an authorisation cancelled at the payment service (voided: the order was
    cancelled before anything was captured)."""

    UNPAID = "unpaid", _("Not paid")
    PENDING = "pending", _("Payment pending")
    AUTHORISED = "authorised", _("Authorised")
    PAID = "paid", _("Paid")
    PARTIALLY_REFUNDED = "partially_refunded", _("Partially refunded")
    REFUNDED = "refunded", _("Refunded")
    VOIDED = "voided", _("Authorisation cancelled")


class HoldKind(models.TextChoices):
    """What keeps an order's reservations but stops its release to picking until staff (or the channel, for a
    payment) clears it."""

    PAYMENT = "payment", _("Payment pending")
    FRAUD = "fraud", _("Fraud review")
    ADDRESS = "address", _("Address to check")
    MANUAL = "manual", _("Manual hold")


class GoodwillReason(models.TextChoices):
    """Why staff give money back without units coming back (a "geste commercial")."""

    LATE_DELIVERY = "late_delivery", _("Late delivery")
    SHIPPING_CHARGE = "shipping_charge", _("Shipping charge refunded")
    DAMAGED = "damaged", _("Damaged item kept by the customer")
    PRICE = "price_adjustment", _("Price adjustment")
    SERVICE = "service", _("Service failure")
    MARKETPLACE = "marketplace", _("Refunded by the marketplace")
    OTHER = "other", _("Other")


class CancelReason(models.TextChoices):
    """Why staff cancel an order or some of its units (the timeline says it; a marketplace's own reason codes
    are offered beside these for its orders)."""

    CUSTOMER = "customer_request", _("The customer asked")
    OUT_OF_STOCK = "out_of_stock", _("Out of stock")
    PRICE_ERROR = "price_error", _("Price error")
    FRAUD = "fraud", _("Fraud suspected")
    ADDRESS = "address", _("Undeliverable address")
    PAYMENT = "payment", _("Payment not received")
    OTHER = "other", _("Other")


class DeliveryMode(models.TextChoices):
    HOME = "home", _("Home delivery")
    RELAY = "relay", _("Relay point")
    STORE = "store", _("Store pickup")


PICKUP_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud at a counter


# 32 letters: a random byte's low five bits pick one uniformly (a table instead of secrets.choice per letter).
_PICKUP_CODE_TABLE = bytes(ord(PICKUP_CODE_ALPHABET[b % 32]) for b in range(256))


def new_pickup_code() -> str:
    return secrets.token_bytes(6).translate(_PICKUP_CODE_TABLE).decode("ascii")


def new_tracking_token() -> str:
    return secrets.token_urlsafe(24)  # 192 bits


class NextOrderNumber(models.Func):
    """The next order number, ``CMD-<year>-<000001>``, taken by the database when the order row is inserted
    (PostgreSQL: the function ``orders_next_order_number()`` over the sequence, migration 0019), so intake
    spends no statement of its own on it. SQLite has no sequences: intake sets the number itself there
    (``next_order_number``), and this default is never used."""

    function = "orders_next_order_number"
    template = "%(function)s()"
    arity = 0
    output_field = models.CharField()

    def as_sqlite(self, compiler, connection, **extra_context):
        return "''", []


class Order(models.Model):
    Status = OrderStatus

    number = models.CharField(_("number"), max_length=32, unique=True, db_default=NextOrderNumber())
    channel = models.ForeignKey(
        Channel, on_delete=models.PROTECT, related_name="orders", verbose_name=_("channel")
    )
    external_id = models.CharField(_("external id"), max_length=100)
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="orders", verbose_name=_("customer")
    )
    status = models.CharField(
        _("status"), max_length=20, choices=OrderStatus.choices, default=OrderStatus.RECEIVED
    )
    delivery_mode = models.CharField(_("delivery mode"), max_length=8, choices=DeliveryMode.choices)
    # Delivery address snapshot (home delivery; the relay's or store's address otherwise).
    ship_name = models.CharField(_("recipient"), max_length=200, blank=True)
    ship_company = models.CharField(_("company"), max_length=200, blank=True)
    ship_line1 = models.CharField(_("address"), max_length=200, blank=True)
    ship_line2 = models.CharField(_("address (continued)"), max_length=200, blank=True)
    ship_postcode = models.CharField(_("postcode"), max_length=16, blank=True)
    ship_city = models.CharField(_("city"), max_length=120, blank=True)
    ship_country = models.CharField(_("country"), max_length=2, default="FR")
    ship_phone = models.CharField(_("phone"), max_length=32, blank=True)
    ship_latitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    ship_longitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    relay_point = models.JSONField(_("relay point"), default=dict, blank=True)
    pickup_location = models.ForeignKey(
        "inventory.Location",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="pickup_orders",
        verbose_name=_("pickup store"),
    )
    allow_preorder = models.BooleanField(_("pre-order allowed"), default=False)
    currency = models.CharField(max_length=3, default="EUR")
    total_incl_vat = models.DecimalField(_("total incl. VAT"), max_digits=12, decimal_places=2, default=0)
    # The shipping charge the customer pays (incl. VAT, part of total_incl_vat) and its VAT rate: its own
    # line on the invoice, credited with the goods when the customer is not at fault.
    shipping_fee = models.DecimalField(
        _("shipping charge incl. VAT"), max_digits=10, decimal_places=2, default=Decimal("0")
    )
    shipping_vat_rate = models.DecimalField(
        _("shipping VAT rate (%)"), max_digits=3, decimal_places=1, default=Decimal("20.0")
    )
    # Payment: set from the channel at intake (no extra query), then by the payment services
    # (orders/payments/services.py) from the provider's answers and the staff's records.
    payment_status = models.CharField(
        _("payment"), max_length=20, choices=PaymentStatus.choices, default=PaymentStatus.UNPAID
    )
    payment_provider = models.CharField(
        _("payment service"),
        max_length=32,
        blank=True,
        help_text=_("stripe, mollie, sandbox (captured and refunded from here), or the channel's own."),
    )
    payment_reference = models.CharField(_("payment reference"), max_length=100, blank=True)
    amount_authorised = models.DecimalField(
        _("amount authorised"), max_digits=12, decimal_places=2, default=Decimal("0")
    )
    amount_paid = models.DecimalField(_("amount paid"), max_digits=12, decimal_places=2, default=Decimal("0"))
    amount_refunded = models.DecimalField(
        _("amount refunded"), max_digits=12, decimal_places=2, default=Decimal("0")
    )
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    # Holds (HoldKind values) that stop the release to picking; their history is on the timeline.
    holds = models.JSONField(_("holds"), default=list, blank=True)
    promised_earliest = models.DateField(_("promised from"), null=True, blank=True)
    promised_latest = models.DateField(_("promised by"), null=True, blank=True)
    planned_ship_date = models.DateField(
        _("planned ship date"),
        null=True,
        blank=True,
        help_text=_("The day the last parcel must leave to keep the promise."),
    )
    tracking_token = models.CharField(max_length=64, unique=True, default=new_tracking_token, editable=False)
    pickup_code = models.CharField(
        _("pickup code"),
        max_length=6,
        default=new_pickup_code,
        editable=False,
        help_text=_("Given by the customer at the counter to collect a click & collect order."),
    )
    purchase_order = models.CharField(_("purchase order number"), max_length=100, blank=True)
    note = models.TextField(_("note"), blank=True)
    cancel_reason = models.CharField(_("cancellation reason"), max_length=255, blank=True)
    # The customer's names in lower case, copied by PostgreSQL triggers (migration 0030) when the order is
    # written and when the customer's names change, so the list's name search tests the order's own row
    # (orders.selectors._search). Not used on SQLite, where they stay empty.
    search_first_name = models.CharField(max_length=100, blank=True, default="", editable=False)
    search_last_name = models.CharField(max_length=100, blank=True, default="", editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "external_id"], name="order_channel_external_id_unique"
            ),
            models.CheckConstraint(condition=Q(total_incl_vat__gte=0), name="order_total_not_negative"),
            models.CheckConstraint(condition=Q(shipping_fee__gte=0), name="order_shipping_fee_not_negative"),
            models.CheckConstraint(
                condition=Q(amount_authorised__gte=0) & Q(amount_paid__gte=0) & Q(amount_refunded__gte=0),
                name="order_payment_amounts_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(amount_refunded__lte=models.F("amount_paid")),
                name="order_refunded_at_most_paid",
            ),
            models.CheckConstraint(
                condition=~Q(delivery_mode="store") | Q(pickup_location__isnull=False),
                name="order_store_mode_has_store",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "-created_at"], name="order_status_created_idx"),
            models.Index(fields=["channel", "-created_at"], name="order_channel_created_idx"),
            models.Index(fields=["-created_at", "-id"], name="order_created_idx"),
            # Back-office list: sorted by total (scanned backwards for the largest first) and searched
            # by external id whatever the channel.
            models.Index(fields=["total_incl_vat", "id"], name="order_total_idx"),
            models.Index(fields=["external_id"], name="order_external_id_idx"),
        ]
        permissions = [("cancel_order", _("Can cancel orders"))]

    def __str__(self) -> str:
        return self.number

    @staticmethod
    def search_names(customer) -> dict:
        """The copy of ``customer``'s names an order is written with (what the trigger would read)."""
        return {
            "search_first_name": customer.first_name.lower()[:100],
            "search_last_name": customer.last_name.lower()[:100],
        }

    @property
    def tracking_path(self) -> str:
        return f"/track/{self.tracking_token}/"

    @property
    def tracking_url(self) -> str:
        return f"{settings.SITE_URL}{self.tracking_path}"


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    line_no = models.PositiveSmallIntegerField(_("line"))
    product = models.ForeignKey("inventory.Product", on_delete=models.PROTECT, related_name="order_lines")
    sku = models.CharField(_("SKU"), max_length=64)
    name = models.CharField(_("name"), max_length=200)
    # The units the customer still gets; 0 once every unit was cancelled or removed by an edit (the row
    # stays: invoices and the timeline point to it).
    quantity = models.PositiveIntegerField(_("quantity"))
    quantity_cancelled = models.PositiveIntegerField(_("units cancelled"), default=0)
    unit_price = models.DecimalField(_("unit price incl. VAT"), max_digits=10, decimal_places=2)
    vat_rate = models.DecimalField(_("VAT rate (%)"), max_digits=3, decimal_places=1)
    # A kit's composition when it was ordered (``[{"product_id", "sku", "name", "quantity"}]`` per kit
    # unit), so a later change of the kit changes neither what was reserved, picked and shipped for this
    # line nor what its return puts back on the shelf. Empty for a plain product.
    components = models.JSONField(_("kit components"), default=list, blank=True)

    class Meta:
        ordering = ["order", "line_no"]
        verbose_name = _("order line")
        verbose_name_plural = _("order lines")
        constraints = [
            models.UniqueConstraint(fields=["order", "line_no"], name="orderline_order_line_no_unique"),
            models.CheckConstraint(
                condition=Q(quantity__gt=0) | Q(quantity_cancelled__gt=0), name="orderline_quantity_positive"
            ),
            models.CheckConstraint(condition=Q(unit_price__gte=0), name="orderline_price_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.order_id}/{self.line_no} {self.quantity} × {self.sku}"

    @property
    def total(self):
        return self.unit_price * self.quantity


class OrderChange(models.Model):
    """One change of an order after it was placed (an edit before picking, units cancelled, an exchange):
    who, when, what (before and after) and the money difference (incl. VAT; negative: the customer owes
    less). Written by the services of orders/services/edits.py in the change's transaction."""

    class Kind(models.TextChoices):
        EDIT = "edit", _("Edit")
        CANCELLATION = "cancellation", _("Units cancelled")
        EXCHANGE = "exchange", _("Exchange")

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="changes")
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    source = models.CharField(_("source"), max_length=32, help_text=_("backoffice, api, shopify…"))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    changes = models.JSONField(_("changes"), default=list)
    reason = models.CharField(_("reason"), max_length=255, blank=True)
    total_before = models.DecimalField(_("total before"), max_digits=12, decimal_places=2)
    total_after = models.DecimalField(_("total after"), max_digits=12, decimal_places=2)
    difference = models.DecimalField(_("difference"), max_digits=12, decimal_places=2)
    created_at = models.DateTimeField(_("at"), auto_now_add=True)

    class Meta:
        ordering = ["order", "-created_at", "-id"]
        verbose_name = _("order change")
        verbose_name_plural = _("order changes")
        constraints = [
            models.CheckConstraint(
                condition=Q(difference=models.F("total_after") - models.F("total_before")),
                name="orderchange_difference_is_after_minus_before",
            )
        ]

    def __str__(self) -> str:
        return f"{self.order_id} {self.kind} {self.difference}"


class GoodwillRefund(models.Model):
    """An amount given back on an order without units coming back (a "geste commercial": a late delivery, the
    shipping charge). Written by ``orders.services.goodwill.order_goodwill_refund`` under the order's lock,
    once per ``key``; its event ``order.goodwill_refunded`` brings the credit note (invoicing), the refund
    through the payment service (orders.payments), the customer's message and, for a marketplace's order,
    OR28 (channels)."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="goodwill_refunds")
    key = models.CharField(max_length=100, help_text=_("One refund per key: a retry changes nothing."))
    amount = models.DecimalField(_("amount incl. VAT"), max_digits=12, decimal_places=2)
    reason = models.CharField(_("reason"), max_length=32, choices=GoodwillReason.choices)
    reason_code = models.CharField(_("marketplace reason"), max_length=64, blank=True)
    note = models.CharField(_("note"), max_length=500, blank=True)
    source = models.CharField(_("source"), max_length=32, help_text=_("backoffice, api, mirakl…"))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("at"), auto_now_add=True)

    class Meta:
        ordering = ["order", "-created_at", "-id"]
        verbose_name = _("goodwill refund")
        verbose_name_plural = _("goodwill refunds")
        constraints = [
            models.UniqueConstraint(fields=["order", "key"], name="goodwillrefund_once_per_key"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="goodwillrefund_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.order_id} {self.amount} {self.reason}"


class IdempotencyKey(models.Model):
    """The first answer to an ``Idempotency-Key``, replayed for 24 h (Stripe's semantics)."""

    class State(models.TextChoices):
        IN_PROGRESS = "in_progress", _("In progress")
        COMPLETED = "completed", _("Completed")

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    state = models.CharField(max_length=16, choices=State.choices, default=State.IN_PROGRESS)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    # The answer's JSON as it was sent, keys in their order (jsonb would sort them): the replay is byte
    # for byte the first answer.
    response_body = models.TextField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("idempotency key")
        verbose_name_plural = _("idempotency keys")
        constraints = [
            models.UniqueConstraint(fields=["channel", "key"], name="idempotency_channel_key_unique")
        ]

    def __str__(self) -> str:
        return self.key


class OrderCounter(models.Model):
    """Order number counter where the database has no sequences (SQLite); Postgres uses a sequence."""

    name = models.CharField(max_length=32, primary_key=True)
    value = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name}={self.value}"


class OrderLocation(models.Model):
    """Where an order is handled (its stock or incoming allocations, its pickup store), with the order's
    status and date copied: location-scoped lists (warehouse and store staff) read this small indexed table
    instead of walking lines and allocations. Kept by the intake, the status transitions and re-sourcing;
    rows stay when reservations are released, so a cancelled order stays visible where it was."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="order_locations")
    location = models.ForeignKey("inventory.Location", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=20, choices=OrderStatus.choices)
    created_at = models.DateTimeField()
    # What sourcing planned for the parcel leaving this location: its carrier service and ship day
    # (the pick waves are cut by the service's cut-off).
    service = models.ForeignKey(
        "shipping.CarrierService", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    ship_by = models.DateField(null=True, blank=True)

    class Meta:
        verbose_name = _("order location")
        verbose_name_plural = _("order locations")
        constraints = [models.UniqueConstraint(fields=["order", "location"], name="orderlocation_unique")]
        indexes = [
            models.Index(
                fields=["location", "status", "-created_at", "-order"], name="orderloc_loc_status_idx"
            ),
            models.Index(fields=["location", "-created_at", "-order"], name="orderloc_loc_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.order_id}@{self.location_id}"


# Payments: what was authorised, captured, received and refunded, one row per provider call or record.
from .payments.models import PaymentTransaction  # noqa: E402, F401
