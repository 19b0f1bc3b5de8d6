"""Returns (RMA): the rules of each channel, the reasons, and the ``Return`` records with their lines.

Their tables keep the names they had when returns were part of the ``orders`` app (``db_table``): the move
to this app changed Django's state only (migrations returns 0001 and orders 0018)."""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from common.models import QueuedJob


class ReturnReason(models.Model):
    """Why a unit comes back. ``our_fault`` reasons (damaged, wrong item, late) refund shipping too."""

    code = models.SlugField(_("code"), max_length=32, unique=True)
    label = models.CharField(_("label"), max_length=120)
    our_fault = models.BooleanField(
        _("our fault"), default=False, help_text=_("The merchant's fault: shipping is refunded too.")
    )
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        db_table = "orders_returnreason"
        ordering = ["position", "code"]
        verbose_name = _("return reason")
        verbose_name_plural = _("return reasons")

    def __str__(self) -> str:
        return str(REASON_LABELS.get(self.code, self.label))


# The built-in reasons' labels, translated (a reason added in admin shows its own label).
REASON_LABELS = {
    "changed_mind": _("Changed my mind"),
    "wrong_size": _("Wrong size"),
    "damaged": _("Arrived damaged"),
    "wrong_item": _("Wrong item sent"),
    "late": _("Arrived too late"),
    "not_stated": _("Not stated (return label from the parcel)"),
}


class ReturnRule(models.Model):
    """A channel's return policy."""

    channel = models.OneToOneField(
        "orders.Channel", on_delete=models.CASCADE, related_name="return_rule", verbose_name=_("channel")
    )
    window_days = models.PositiveSmallIntegerField(
        _("return window (days)"),
        default=30,
        help_text=_("Days from delivery during which a return is accepted."),
    )
    photo_reasons = models.ManyToManyField(
        ReturnReason, blank=True, related_name="+", verbose_name=_("reasons that need a photo")
    )
    fee = models.DecimalField(
        _("return fee"),
        max_digits=8,
        decimal_places=2,
        default=Decimal("0.00"),
        help_text=_("Deducted from the refund unless the return is our fault; zero for free returns."),
    )

    class ExchangeReserve(models.TextChoices):
        ACCEPTED = "accepted", _("When the exchange is accepted")
        RECEIVED = "received", _("When the returned items are received")

    exchange_reserve_on = models.CharField(
        _("exchanges: replacement reserved"),
        max_length=8,
        choices=ExchangeReserve.choices,
        default=ExchangeReserve.ACCEPTED,
        help_text=_("When the replacement of an exchange is reserved and shipped as a new order."),
    )

    class Meta:
        db_table = "orders_returnrule"
        verbose_name = _("return rule")
        verbose_name_plural = _("return rules")
        constraints = [models.CheckConstraint(condition=Q(fee__gte=0), name="returnrule_fee_not_negative")]

    def __str__(self) -> str:
        return f"{self.channel_id}: {self.window_days} d"


class ReturnStatus(models.TextChoices):
    REQUESTED = "requested", _("Requested")
    LABEL_SENT = "label_sent", _("Accepted")
    RECEIVED = "received", _("Received")
    REFUNDED = "refunded", _("Refunded")
    REJECTED = "rejected", _("Rejected")


RETURN_TRANSITIONS: dict[str, frozenset[str]] = {
    ReturnStatus.REQUESTED: frozenset({ReturnStatus.LABEL_SENT, ReturnStatus.REJECTED}),
    ReturnStatus.LABEL_SENT: frozenset({ReturnStatus.RECEIVED, ReturnStatus.REJECTED}),
    ReturnStatus.RECEIVED: frozenset({ReturnStatus.REFUNDED}),
    ReturnStatus.REFUNDED: frozenset(),
    ReturnStatus.REJECTED: frozenset(),
}


class Return(QueuedJob):
    Status = ReturnStatus

    class Method(models.TextChoices):
        POST = "post", _("By post (return label)")
        STORE = "store", _("In store")

    class Source(models.TextChoices):
        PORTAL = "portal", _("Customer (portal)")
        STAFF = "staff", _("Customer service")
        PARCEL = "parcel", _("Return label from the parcel (carrier's scan)")

    number = models.CharField(_("number"), max_length=32, unique=True)
    order = models.ForeignKey(
        "orders.Order", on_delete=models.PROTECT, related_name="returns", verbose_name=_("order")
    )
    status = models.CharField(
        _("status"), max_length=16, choices=ReturnStatus.choices, default=ReturnStatus.REQUESTED
    )
    method = models.CharField(_("method"), max_length=8, choices=Method.choices)
    source = models.CharField(_("requested by"), max_length=8, choices=Source.choices)
    # Where the units come back: the chosen store, or the location the parcel left from (return address).
    location = models.ForeignKey(
        "inventory.Location", on_delete=models.PROTECT, related_name="+", verbose_name=_("returns to")
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    note = models.TextField(_("customer's note"), blank=True)
    # The return label (post): made by a Celery task through the carrier adapter.
    carrier = models.ForeignKey(
        "shipping.Carrier", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    tracking_number = models.CharField(_("tracking number"), max_length=64, blank=True)
    label_pdf = models.FileField(_("return label (PDF)"), upload_to="returns/%Y/%m/", blank=True)
    label_error = models.TextField(_("label error"), blank=True)
    label_attempts = models.PositiveSmallIntegerField(_("label attempts"), default=0)
    reject_reason = models.CharField(_("rejection reason"), max_length=255, blank=True)
    refund_amount = models.DecimalField(
        _("refund amount"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    refund_reference = models.CharField(_("payment reference"), max_length=100, blank=True)
    credit_notes = models.CharField(_("credit notes"), max_length=200, blank=True)
    # An exchange: the replacement ships as a new order, paid by the value of the units returned for it.
    exchange_order = models.ForeignKey(
        "orders.Order",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="exchange_returns",
        verbose_name=_("exchange order"),
    )
    exchange_credit = models.DecimalField(
        _("value applied to the exchange"),
        max_digits=12,
        decimal_places=2,
        default=Decimal("0.00"),
        help_text=_("Part of the returned value that pays the replacement order (not refunded)."),
    )
    created_at = models.DateTimeField(_("requested at"), auto_now_add=True)
    accepted_at = models.DateTimeField(_("accepted at"), null=True, blank=True)
    received_at = models.DateTimeField(_("received at"), null=True, blank=True)
    refunded_at = models.DateTimeField(_("refunded at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("rejected at"), null=True, blank=True)

    class Meta:
        db_table = "orders_return"
        ordering = ["-created_at", "-id"]
        verbose_name = _("return")
        verbose_name_plural = _("returns")
        permissions = [
            ("manage_returns", _("Can create, accept, reject and refund returns")),
            ("receive_return", _("Can receive and inspect returns")),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(refund_amount__isnull=True) | Q(refund_amount__gte=0),
                name="return_refund_not_negative",
            ),
        ]
        indexes = [models.Index(fields=["status", "-created_at"], name="return_status_created_idx")]

    def __str__(self) -> str:
        return self.number

    @property
    def label_path(self) -> str:
        return f"/track/{self.order.tracking_token}/returns/{self.number}/label.pdf"


class ReturnLine(models.Model):
    ret = models.ForeignKey(Return, on_delete=models.CASCADE, related_name="lines")
    order_line = models.ForeignKey(
        "orders.OrderLine",
        on_delete=models.PROTECT,
        related_name="return_lines",
        verbose_name=_("order line"),
    )
    quantity = models.PositiveIntegerField(_("quantity"))
    reason = models.ForeignKey(
        ReturnReason, on_delete=models.PROTECT, related_name="lines", verbose_name=_("reason")
    )
    photo = models.ImageField(_("photo"), upload_to="returns/photos/%Y/%m/", blank=True)
    exchange_product = models.ForeignKey(
        "inventory.Product",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("exchanged for"),
    )
    # Inspection: how many units go back to sellable stock and how many are written off.
    restocked = models.PositiveIntegerField(_("restocked"), default=0)
    written_off = models.PositiveIntegerField(_("written off"), default=0)
    inspected_at = models.DateTimeField(_("inspected at"), null=True, blank=True)
    inspected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    location = models.ForeignKey(
        "inventory.Location", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        db_table = "orders_returnline"
        ordering = ["ret", "order_line__line_no"]
        verbose_name = _("return line")
        verbose_name_plural = _("return lines")
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="returnline_quantity_positive"),
            models.CheckConstraint(
                condition=Q(restocked__lte=models.F("quantity") - models.F("written_off")),
                name="returnline_inspected_not_more_than_returned",
            ),
            models.UniqueConstraint(fields=["ret", "order_line"], name="returnline_unique_line"),
        ]

    def __str__(self) -> str:
        return f"{self.ret_id}: {self.quantity} × {self.order_line_id}"

    @property
    def received(self) -> int:
        return self.restocked + self.written_off

    @property
    def amount(self) -> Decimal:
        return self.order_line.unit_price * self.quantity
