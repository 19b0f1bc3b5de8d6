"""The audit log of security-relevant actions, in the bottom layer so every app records into it (through
``common.audit.audit_record``)."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


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
