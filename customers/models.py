from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from common.models import QueuedJob


class Customer(models.Model):
    """A buyer, found or created by email at intake. B2B customers carry company, SIREN and VAT number."""

    class Language(models.TextChoices):
        FR = "fr", _("French")
        EN = "en", _("English")

    email = models.EmailField(_("email"), max_length=254)
    first_name = models.CharField(_("first name"), max_length=100, blank=True)
    last_name = models.CharField(_("last name"), max_length=100, blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    language = models.CharField(_("language"), max_length=2, choices=Language.choices, default=Language.FR)
    company = models.CharField(_("company"), max_length=200, blank=True)
    siren = models.CharField(_("SIREN"), max_length=9, blank=True)
    vat_number = models.CharField(_("VAT number"), max_length=20, blank=True)
    # Emails about an order are transactional and always sent; text messages only with consent.
    sms_opt_in = models.BooleanField(
        _("text messages about orders"),
        default=False,
        help_text=_("The customer agreed to receive text messages about their orders."),
    )
    sms_opt_in_at = models.DateTimeField(_("text messages agreed on"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["email"]
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        constraints = [
            models.UniqueConstraint(Lower("email"), name="customer_email_unique_ci"),
            models.CheckConstraint(
                condition=Q(siren="") | Q(siren__regex=r"^[0-9]{9}$"), name="customer_siren_9_digits"
            ),
        ]

    def __str__(self) -> str:
        return self.full_name or self.email

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def is_business(self) -> bool:
        return bool(self.company and self.vat_number)


class Address(models.Model):
    class Kind(models.TextChoices):
        SHIPPING = "shipping", _("Delivery")
        BILLING = "billing", _("Billing")

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="addresses")
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.SHIPPING)
    name = models.CharField(_("name"), max_length=200, blank=True)
    company = models.CharField(_("company"), max_length=200, blank=True)
    line1 = models.CharField(_("address"), max_length=200)
    line2 = models.CharField(_("address (continued)"), max_length=200, blank=True)
    postcode = models.CharField(_("postcode"), max_length=16)
    city = models.CharField(_("city"), max_length=120)
    country = models.CharField(_("country"), max_length=2, default="FR")
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    is_default = models.BooleanField(_("default"), default=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("address")
        verbose_name_plural = _("addresses")

    def __str__(self) -> str:
        return f"{self.line1}, {self.postcode} {self.city}"


class Notification(models.Model):
    """One message to a customer (an email or a text message): the transactional outbox. Written in the
    transaction that changed the order, sent after commit by a Celery task, retried by beat; the dedup key
    is unique, so a replayed event never queues a second message."""

    class Kind(models.TextChoices):
        ORDER_RECEIVED = "order_received", _("Order received")
        AWAITING_STOCK = "awaiting_stock", _("Order awaiting stock")
        SHIPPED = "shipped", _("Order shipped")
        OUT_FOR_DELIVERY = "out_for_delivery", _("Order out for delivery")
        READY_FOR_PICKUP = "ready_for_pickup", _("Order ready for pickup")
        DELIVERED = "delivered", _("Order delivered")
        DELAY = "delay", _("Delivery delayed")
        RETURN_ACCEPTED = "return_accepted", _("Return accepted")
        REFUND_ISSUED = "refund_issued", _("Refund issued")
        CANCELLED = "cancelled", _("Order cancelled")
        ORDER_CHANGED = "order_changed", _("Order changed")

    class Channel(models.TextChoices):
        EMAIL = "email", _("Email")
        SMS = "sms", _("Text message")

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="notifications", verbose_name=_("customer")
    )
    order = models.ForeignKey(
        "orders.Order",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="notifications",
        verbose_name=_("order"),
    )
    kind = models.CharField(_("event"), max_length=32, choices=Kind.choices)
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices, default=Channel.EMAIL)
    language = models.CharField(_("language"), max_length=2, choices=Customer.Language.choices)
    recipient = models.CharField(_("recipient"), max_length=254)
    subject = models.CharField(_("subject"), max_length=255, blank=True)
    body_text = models.TextField(_("text"))
    body_html = models.TextField(_("HTML"), blank=True)
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    dedup_key = models.CharField(
        _("deduplication key"),
        max_length=200,
        unique=True,
        help_text=_("The event this message is for: the same event never queues twice."),
    )
    resend_of = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="resends",
        verbose_name=_("resend of"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    next_attempt_at = models.DateTimeField(
        _("next attempt at"), null=True, blank=True, help_text=_("When beat tries again if still unsent.")
    )
    claimed_at = models.DateTimeField(_("sending since"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        permissions = [("resend_notification", _("Can resend notifications"))]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="sent") | Q(sent_at__isnull=False), name="notification_sent_has_sent_at"
            ),
        ]
        indexes = [
            # Beat's scan for what is due: pending or stuck in sending, by time.
            models.Index(
                fields=["next_attempt_at"],
                name="notification_due_idx",
                condition=Q(status__in=["pending", "sending"]),
            ),
            models.Index(fields=["order", "-created_at"], name="notification_order_idx"),
            models.Index(fields=["status", "-created_at"], name="notification_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} → {self.recipient} ({self.status})"


class CustomerAccount(models.Model):
    """A customer's sign-in to the account space ("espace client"), apart from ``Customer`` (which every
    buyer has, from intake): only customers who signed in once have one. The password is a Django hash
    (``make_password``); there is no ``User`` row, so a customer can never reach the back office, and a
    staff session never signs anyone into the account space. Delivery preferences live here as well."""

    class Mode(models.TextChoices):
        HOME = "home", _("Home delivery")
        RELAY = "relay", _("Relay point")
        STORE = "store", _("Store pickup")

    customer = models.OneToOneField(
        Customer, on_delete=models.CASCADE, related_name="account", verbose_name=_("customer")
    )
    password = models.CharField(_("password"), max_length=128, blank=True)
    last_login = models.DateTimeField(_("last sign-in"), null=True, blank=True)
    preferred_mode = models.CharField(_("preferred delivery"), max_length=8, choices=Mode.choices, blank=True)
    relay_point_id = models.CharField(_("relay point id"), max_length=64, blank=True)
    relay_point_name = models.CharField(_("relay point name"), max_length=200, blank=True)
    preferred_store = models.ForeignKey(
        "inventory.Location",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("preferred store"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("customer account")
        verbose_name_plural = _("customer accounts")

    def __str__(self) -> str:
        return str(self.customer_id)

    @property
    def has_password(self) -> bool:
        return bool(self.password)


class AccountLinkEmail(QueuedJob):
    """A sign-in link a customer asked for, to email (a queued job, common/jobs.py: sent after commit, or by
    the beat sweep if the broker lost the message, never twice). The link itself is made when the email is
    sent, from ``link_url`` (the link page's address with ``{token}`` where the token goes): a signed token
    is a key to the account and is never stored. One request waits at a time per customer."""

    class Status(models.TextChoices):
        PENDING = "pending", _("To send")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Not sent")

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    link_url = models.CharField(_("link address"), max_length=500)
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.PENDING)
    error = models.TextField(_("error"), blank=True)
    created_at = models.DateTimeField(_("asked at"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        verbose_name = _("sign-in link email")
        verbose_name_plural = _("sign-in link emails")
        constraints = [
            models.UniqueConstraint(
                fields=["customer"], condition=Q(status="pending"), name="account_link_one_pending"
            )
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} ({self.status})"


class CustomerNote(models.Model):
    """A note of customer service about a customer ("prefers calls after 6 pm", "VIP: upgrade shipping"),
    shown on the customer's page, newest first. Notes are kept as written (no editing)."""

    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="notes", verbose_name=_("customer")
    )
    text = models.TextField(_("note"))
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("author"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("customer note")
        verbose_name_plural = _("customer notes")
        constraints = [models.CheckConstraint(condition=~Q(text=""), name="customernote_text_not_empty")]
        indexes = [models.Index(fields=["customer", "-created_at"], name="customernote_customer_idx")]

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.text[:40]}"
