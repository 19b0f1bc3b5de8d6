from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from common.models import QueuedJob


class PaymentTransaction(QueuedJob):
    """One movement of the customer's money for an order: an authorisation or a payment taken at checkout
    (from the channel), a payment recorded by staff, a capture, a refund, the cancellation of an authorisation
    (void) or a charge (a dearer exchange's difference) asked of the payment service. Those are jobs
    (``common/jobs.py``): the row is written with the change that asks for it,
    the provider is called after commit by a task with the row's idempotency key, so a retry never charges or
    refunds twice."""

    class Kind(models.TextChoices):
        AUTHORISATION = "authorisation", _("Authorisation")
        PAYMENT = "payment", _("Payment")
        CAPTURE = "capture", _("Capture")
        REFUND = "refund", _("Refund")
        VOID = "void", _("Authorisation cancelled")
        CHARGE = "charge", _("Charge")

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    order = models.ForeignKey("orders.Order", on_delete=models.CASCADE, related_name="payment_transactions")
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3, default="EUR")
    provider = models.CharField(_("payment service"), max_length=32, blank=True)
    reference = models.CharField(
        _("reference"), max_length=100, blank=True, help_text=_("The payment service's id of this movement.")
    )
    source_reference = models.CharField(
        _("charged with"),
        max_length=100,
        blank=True,
        help_text=_("A charge: the earlier payment whose means pay it (an exchange's original order)."),
    )
    credit_note = models.CharField(
        _("credit note"), max_length=32, blank=True, help_text=_("The credit note a refund pays back.")
    )
    idempotency_key = models.CharField(max_length=100, unique=True)
    error = models.TextField(_("error"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)

    class Meta:
        ordering = ["order", "created_at", "pk"]
        verbose_name = _("payment transaction")
        verbose_name_plural = _("payment transactions")
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="paymenttx_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.order_id} {self.kind} {self.amount} {self.status}"
