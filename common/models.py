"""Tables of the shared kernel, the bottom layer so every app can use them: the domain event log and its
consumers' bookkeeping (``common/eventlog.py``); the state every queued job carries (``QueuedJob``,
abstract), named leases and the rate-limit counters used while the cache is down (``common/jobs.py``,
``common/ratelimit.py``); the append-only audit log of security-relevant actions (``common.audit``).
PostgreSQL holds the truth; Redis only carries messages and caches. None of these
knows an app's models (an event names the order it concerns by id)."""

from django.conf import settings
from django.db import models
from django.db.models import Func, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class CurrentTransactionId(Func):
    """The id of the writing transaction (PostgreSQL ``pg_current_xact_id()``; NULL on SQLite, whose
    writers are serialised). Readers of the log use it to never skip a row committed late."""

    template = "(pg_current_xact_id()::text::bigint)"
    output_field = models.BigIntegerField()

    def as_sqlite(self, compiler, connection, **extra_context):
        return "NULL", []


class DomainEvent(models.Model):
    """One business fact, written in the transaction that made it happen: a dotted code
    (``order.created``), a versioned JSON payload, the order it concerns, who did it and when. The order's
    timeline is these rows rendered in the reader's language; every side effect that need not be atomic
    with the change is a consumer of them."""

    id = models.BigAutoField(primary_key=True)
    code = models.CharField(_("event"), max_length=64)
    version = models.PositiveSmallIntegerField(_("payload version"), default=1)
    payload = models.JSONField(_("payload"), default=dict, blank=True)
    order_id = models.BigIntegerField(_("order"), null=True, blank=True)
    subject = models.CharField(
        _("subject"), max_length=100, blank=True, help_text=_("The object it concerns, e.g. shipment:12.")
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    xid = models.BigIntegerField(null=True, blank=True, editable=False, db_default=CurrentTransactionId())
    created_at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("domain event")
        verbose_name_plural = _("domain events")
        indexes = [
            models.Index(fields=["order_id", "-created_at", "-id"], name="event_order_idx"),
            models.Index(fields=["xid", "id"], name="event_xid_idx"),
            # Reports read one kind of event over a period (picked, short picks, status changes).
            models.Index(fields=["code", "created_at"], name="event_code_at_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.code}"


class ConsumerProgress(models.Model):
    """How far a consumer has read the log. A read covers a window of transaction ids ``[lo, hi)`` (ids of
    rows on SQLite) page by page (``after_id``); the head event's failed attempts and when to retry it."""

    name = models.CharField(_("consumer"), max_length=64, primary_key=True)
    lo = models.BigIntegerField(default=0)
    hi = models.BigIntegerField(null=True, blank=True)
    after_id = models.BigIntegerField(default=0)
    attempts = models.PositiveIntegerField(_("failed attempts"), default=0)
    retry_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    processed = models.BigIntegerField(_("events processed"), default=0)
    last_event_at = models.DateTimeField(_("last event processed at"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("event consumer")
        verbose_name_plural = _("event consumers")

    def __str__(self) -> str:
        return self.name


class ConsumerFailure(models.Model):
    """An event a consumer could not handle after its retries ("parked"), or one held behind a parked event
    of the same order (so that an order's events stay in order). A manager replays or discards it."""

    class Status(models.TextChoices):
        PARKED = "parked", _("Parked")
        HELD = "held", _("Held behind an earlier failure")
        REPLAYED = "replayed", _("Replayed")
        DISCARDED = "discarded", _("Discarded")

    consumer = models.CharField(_("consumer"), max_length=64)
    # No database constraint: the log is partitioned by month (common/partitions.py), and a foreign key must
    # reference a unique key of the parent, which has to include the month. Deleting an event (never done
    # but by archiving, which refuses months with parked events) still cascades, in Django.
    event = models.ForeignKey(
        DomainEvent, on_delete=models.CASCADE, related_name="+", verbose_name=_("event"), db_constraint=False
    )
    order_id = models.BigIntegerField(_("order"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.PARKED)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    error = models.TextField(_("error"), blank=True)
    created_at = models.DateTimeField(_("parked at"), auto_now_add=True)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("parked event")
        verbose_name_plural = _("parked events")
        permissions = [("manage_event_consumers", _("Can see event consumers and replay parked events"))]
        constraints = [
            models.UniqueConstraint(fields=["consumer", "event"], name="consumerfailure_unique"),
        ]
        indexes = [
            models.Index(
                fields=["consumer", "order_id"],
                name="consumerfailure_open_idx",
                condition=Q(status__in=["parked", "held"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.consumer} #{self.event_id} ({self.status})"


class QueuedJob(models.Model):
    """What a row needs to be a job that is never lost and never done twice (common/jobs.py):

    - ``job_due_at``: from then on the beat sweep queues the job again, as long as it is set. Set when the
      work is asked for, moved to the end of the lease when a worker claims it, cleared when it is done or
      given up. ``NULL``: nothing to do.
    - ``job_lease_until``: a worker holds the job until then; another claim waits until it expires (its
      worker died) before taking it over.
    - ``job_attempts``: how many times a worker took it; past the kind's maximum it is given up.
    """

    job_due_at = models.DateTimeField(_("job due at"), null=True, blank=True, db_index=True)
    job_lease_until = models.DateTimeField(_("job leased until"), null=True, blank=True)
    job_attempts = models.PositiveSmallIntegerField(_("job attempts"), default=0)

    class Meta:
        abstract = True


class Lease(models.Model):
    """A named lease: one holder at a time until it expires (``common.jobs.lease``), e.g. one refresh of a
    carrier's relay points at a time, whatever worker runs it. A holder that dies frees it by expiry."""

    name = models.CharField(_("name"), max_length=200, primary_key=True)
    holder = models.CharField(_("holder"), max_length=64)
    expires_at = models.DateTimeField(_("expires at"))

    class Meta:
        verbose_name = _("lease")
        verbose_name_plural = _("leases")

    def __str__(self) -> str:
        return f"{self.name} → {self.holder}"


class RateLimitCounter(models.Model):
    """A fixed window of a rate limit counted in the database, used only while the cache cannot count
    (``common.ratelimit``): sign-in stays limited during a Redis outage."""

    key = models.CharField(_("key"), max_length=128, unique=True)
    count = models.PositiveIntegerField(_("count"), default=0)
    expires_at = models.DateTimeField(_("expires at"), db_index=True)

    class Meta:
        verbose_name = _("rate-limit counter")
        verbose_name_plural = _("rate-limit counters")

    def __str__(self) -> str:
        return f"{self.key}: {self.count}"


class AuditEntryQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise ValueError("The audit log is append-only: entries are never changed.")

    def delete(self):
        raise ValueError("The audit log is append-only: entries are never deleted.")


class AuditEntry(models.Model):
    """Who did what, when, from which address, to which object, with the values before and after where they
    matter. Never a secret's value: a secret is "set", "not set" or "replaced". Append-only: the model refuses
    changes and deletions, and on PostgreSQL a trigger refuses them too (migration 0002)."""

    class Action(models.TextChoices):
        STAFF_SIGN_IN = "staff.sign_in", _("Staff sign-in")
        STAFF_SIGN_IN_FAILED = "staff.sign_in_failed", _("Staff sign-in failed")
        STAFF_SIGN_OUT = "staff.sign_out", _("Staff sign-out")
        CUSTOMER_SIGN_IN = "customer.sign_in", _("Customer sign-in")
        CUSTOMER_SIGN_IN_FAILED = "customer.sign_in_failed", _("Customer sign-in failed")
        CUSTOMER_SIGN_OUT = "customer.sign_out", _("Customer sign-out")
        API_KEY_CREATED = "api_key.created", _("API key created")
        API_KEY_REVOKED = "api_key.revoked", _("API key revoked")
        SECRET_CHANGED = "secret.changed", _("Secret changed")
        ROLE_CHANGED = "role.changed", _("Roles of a user changed")
        ROLE_PERMISSIONS_CHANGED = "role.permissions_changed", _("Permissions of a role changed")
        SCOPE_CHANGED = "scope.changed", _("Location scope changed")
        STAFF_ACCOUNT_CHANGED = "staff.account_changed", _("Staff account changed")
        SETTINGS_CHANGED = "settings.changed", _("Settings changed")

    class ActorKind(models.TextChoices):
        STAFF = "staff", _("Staff")
        CUSTOMER = "customer", _("Customer")
        SYSTEM = "system", _("System")

    at = models.DateTimeField(_("at"), default=timezone.now, db_index=True)
    action = models.CharField(_("action"), max_length=40, choices=Action.choices)
    actor_kind = models.CharField(_("actor kind"), max_length=16, choices=ActorKind.choices)
    # A user's or a customer's id, without a foreign key: the log outlives the accounts it mentions.
    actor_id = models.BigIntegerField(_("actor id"), null=True, blank=True)
    actor_label = models.CharField(
        _("actor"),
        max_length=254,
        blank=True,
        help_text=_("User name or email at the time (or the one typed)."),
    )
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    target_type = models.CharField(_("object type"), max_length=100, blank=True)  # "orders.channelconnection"
    target_id = models.CharField(_("object id"), max_length=64, blank=True)
    target_label = models.CharField(_("object"), max_length=255, blank=True)
    # {"field": {"before": ..., "after": ...}}; a secret appears as "set", "not set" or "replaced".
    changes = models.JSONField(_("changes"), default=dict, blank=True)
    details = models.JSONField(_("details"), default=dict, blank=True)

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        default_permissions = ("view",)
        verbose_name = _("audit log entry")
        verbose_name_plural = _("audit log")
        indexes = [
            models.Index(fields=["action", "-id"], name="audit_action_idx"),
            models.Index(fields=["actor_label", "-id"], name="audit_actor_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.action} {self.actor_label}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("The audit log is append-only: entries are never changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("The audit log is append-only: entries are never deleted.")
