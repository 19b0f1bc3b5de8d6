"""Outbound webhooks (endpoints, their deliveries and each attempt) and the HubSpot connector (the connection
and the records waiting to be pushed). Deliveries and HubSpot records are durable rows written by consumers of
the event log; the sending is a job (``common.jobs``) so nothing is lost when the broker or a worker dies."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from common.fields import EncryptedTextField
from common.models import QueuedJob


class WebhookEndpoint(QueuedJob):
    """A URL that receives the events it subscribed to, signed with its secret. ``QueuedJob``'s fields carry
    the job "tell the owner it was disabled"."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        DISABLED = "disabled", _("Disabled")

    url = models.URLField(_("URL"), max_length=500)
    description = models.CharField(_("description"), max_length=200, blank=True)
    secret = EncryptedTextField(_("signing secret"))
    events = models.JSONField(_("events"), default=list, help_text=_("The event types sent to this URL."))
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.ACTIVE)
    # Who is told when it is disabled: the staff member who registered it, or the address given.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("owner"),
    )
    contact_email = models.EmailField(_("contact email"), blank=True)
    # Registered through the API with a channel's key: only that channel's keys see and delete it.
    channel = models.ForeignKey(
        "orders.Channel",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("channel"),
    )
    consecutive_failures = models.PositiveIntegerField(_("failures in a row"), default=0)
    last_success_at = models.DateTimeField(_("last success"), null=True, blank=True)
    disabled_at = models.DateTimeField(_("disabled at"), null=True, blank=True)
    disabled_reason = models.CharField(_("why it was disabled"), max_length=300, blank=True)
    owner_notified_at = models.DateTimeField(_("owner told at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")
        constraints = [
            models.CheckConstraint(
                condition=Q(status="active", disabled_at__isnull=True)
                | Q(status="disabled", disabled_at__isnull=False),
                name="webhook_endpoint_disabled_at_iff_disabled",
            )
        ]

    def __str__(self) -> str:
        return self.url

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE


class WebhookDelivery(QueuedJob):
    """One event for one endpoint: the payload sent (the same bytes at every attempt, so its ``id`` lets the
    receiver deduplicate), its status and its last answer. ``QueuedJob``'s fields make the sending a job."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        RETRYING = "retrying", _("Retrying")
        SUCCEEDED = "succeeded", _("Delivered")
        FAILED = "failed", _("Failed")  # given up after every attempt, or refused for good (410)

    uuid = models.UUIDField(_("delivery id"), default=uuid.uuid4, unique=True, editable=False)
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("endpoint")
    )
    # No database constraint: the event log is partitioned by month (its key is id + created_at) and old
    # months are archived (common/partitions.py).
    event = models.ForeignKey(
        "common.DomainEvent",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("domain event"),
        db_constraint=False,
    )
    event_type = models.CharField(_("event type"), max_length=64)
    order_id = models.BigIntegerField(_("order"), null=True, blank=True)
    payload = models.JSONField(_("payload"))
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(_("last answer"), null=True, blank=True)
    last_response = models.TextField(_("answer (excerpt)"), blank=True)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)
    last_duration_ms = models.PositiveIntegerField(_("time (ms)"), null=True, blank=True)
    last_attempt_at = models.DateTimeField(_("last attempt"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    # Attempts before the last replay: a replay gets the whole retry schedule again.
    budget_from = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        constraints = [
            # A consumer that handles an event twice (it never does) still makes one delivery per endpoint.
            models.UniqueConstraint(
                fields=["endpoint", "event"],
                condition=Q(event__isnull=False),
                name="webhook_delivery_one_per_event",
            ),
            models.CheckConstraint(
                condition=~Q(status="succeeded") | Q(delivered_at__isnull=False),
                name="webhook_delivery_delivered_at",
            ),
        ]
        indexes = [
            models.Index(fields=["endpoint", "-id"], name="webhook_delivery_endpoint_idx"),
            # "Is an earlier delivery of this order to this endpoint still unsent?" (ordering per order)
            models.Index(
                fields=["endpoint", "order_id", "id"],
                condition=Q(status__in=["pending", "retrying"], order_id__isnull=False),
                name="webhook_delivery_unsent_idx",
            ),
            # The unsent ones in id order: what a worker's batch claims (sending.deliveries_drain)
            models.Index(
                fields=["id"],
                condition=Q(status__in=["pending", "retrying"]),
                name="webhook_delivery_todo_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} → {self.endpoint_id} ({self.status})"

    @property
    def is_unsent(self) -> bool:
        return self.status in (self.Status.PENDING, self.Status.RETRYING)


class WebhookAttempt(models.Model):
    """The log: one row per request sent (when, how long, the answer's status and an excerpt, or the
    error)."""

    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log", verbose_name=_("delivery")
    )
    number = models.PositiveSmallIntegerField(_("attempt"))
    at = models.DateTimeField(_("at"), default=timezone.now)
    status_code = models.PositiveSmallIntegerField(_("answer"), null=True, blank=True)
    response_excerpt = models.TextField(_("answer (excerpt)"), blank=True)
    error = models.CharField(_("error"), max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField(_("time (ms)"))
    succeeded = models.BooleanField(_("succeeded"), default=False)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("webhook attempt")
        verbose_name_plural = _("webhook attempts")

    def __str__(self) -> str:
        return f"{self.delivery_id} #{self.number}"


class HubspotConnection(models.Model):
    """The HubSpot account the OMS writes to (one). The private-app token is write-only and encrypted."""

    name = models.CharField(_("name"), max_length=100, default="HubSpot")
    active = models.BooleanField(_("active"), default=True)
    sandbox = models.BooleanField(
        _("sandbox"),
        default=False,
        help_text=_("Answer locally instead of calling HubSpot (offline demo); nothing leaves the server."),
    )
    token = EncryptedTextField(_("private app access token"), blank=True)
    pipeline = models.CharField(_("deal pipeline"), max_length=64, default="default")
    # OMS order status -> HubSpot deal stage internal id (defaults: the default pipeline's stages).
    stages = models.JSONField(_("deal stage per order status"), default=dict, blank=True)
    # Requests HubSpot allows this app per 10 seconds (100 on Free/Starter, 190 on Professional/Enterprise).
    burst_limit = models.PositiveIntegerField(_("requests per 10 seconds"), default=100)
    paused_until = models.DateTimeField(_("waiting for the rate limit until"), null=True, blank=True)
    last_push_at = models.DateTimeField(_("last push"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("HubSpot connection")
        verbose_name_plural = _("HubSpot connections")

    def __str__(self) -> str:
        return self.name


class HubspotRecord(models.Model):
    """A customer (contact) or an order (deal) as HubSpot knows it: its HubSpot id once pushed, and whether
    it changed since (``dirty_at``, set by the consumer of the event log and by a resync; cleared by the push
    only if nothing changed meanwhile)."""

    class Kind(models.TextChoices):
        CONTACT = "contact", _("Contact")
        DEAL = "deal", _("Deal")

    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    ref_id = models.BigIntegerField(_("customer or order"))
    hubspot_id = models.CharField(_("HubSpot id"), max_length=32, blank=True)
    line_item_ids = models.JSONField(_("HubSpot line items"), default=list, blank=True)
    lines_signature = models.CharField(max_length=64, blank=True)
    dirty_at = models.DateTimeField(_("to push since"), null=True, blank=True, db_index=True)
    erase = models.BooleanField(_("to erase"), default=False)
    attempts = models.PositiveSmallIntegerField(_("failed pushes"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    pushed_at = models.DateTimeField(_("pushed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("HubSpot record")
        verbose_name_plural = _("HubSpot records")
        constraints = [
            models.UniqueConstraint(fields=["kind", "ref_id"], name="hubspot_record_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.ref_id} → {self.hubspot_id or '?'}"
