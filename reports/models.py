"""Stored results of the sales forecast and the locations' reorder policies. Their tables keep the names
they had when the reports were part of the ``orders`` app (``db_table``): the move to this app changed
Django's state only (migrations orders 0020 and reports 0001)."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class ForecastRun(models.Model):
    """One computation of every SKU's forecast (the "recompute" button or the nightly beat entry).
    At most one runs at a time (a partial unique constraint), so two clicks start one computation."""

    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    class Trigger(models.TextChoices):
        MANUAL = "manual", _("Recompute button")
        NIGHTLY = "nightly", _("Nightly schedule")

    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.RUNNING)
    trigger = models.CharField(_("started by"), max_length=8, choices=Trigger.choices, default=Trigger.MANUAL)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    total = models.PositiveIntegerField(_("SKUs to compute"), default=0)
    done = models.PositiveIntegerField(_("SKUs computed"), default=0)
    error = models.TextField(_("error"), blank=True)
    created_at = models.DateTimeField(_("requested at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    heartbeat_at = models.DateTimeField(_("last progress at"), null=True, blank=True)

    class Meta:
        db_table = "orders_forecastrun"
        ordering = ["-created_at", "-id"]
        verbose_name = _("forecast run")
        verbose_name_plural = _("forecast runs")
        constraints = [
            models.UniqueConstraint(
                fields=["status"], condition=Q(status="running"), name="forecastrun_one_running"
            ),
            models.CheckConstraint(
                condition=Q(done__lte=models.F("total")), name="forecastrun_done_le_total"
            ),
        ]

    def __str__(self) -> str:
        return f"forecast run {self.pk} ({self.status})"

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        return int(self.done * 100 / self.total) if self.total else 0


class SalesForecast(models.Model):
    """A SKU's forecast of units sold per day, as computed by the last run: the method chosen, the
    history it learnt from, the daily forecast from ``forecast_start``, the backtest error and the spread
    of daily demand per location (for safety stock). One row per product, replaced by each run."""

    class Method(models.TextChoices):
        HOLT_WINTERS = "holt_winters", _("Holt-Winters")
        MOVING_AVERAGE = "moving_average", _("Moving average")
        NO_SALES = "no_sales", _("No sales")

    product = models.OneToOneField(
        "inventory.Product",
        on_delete=models.CASCADE,
        related_name="sales_forecast",
        verbose_name=_("product"),
    )
    run = models.ForeignKey(ForecastRun, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    computed_at = models.DateTimeField(_("computed at"))
    method = models.CharField(_("method"), max_length=16, choices=Method.choices)
    history_start = models.DateField(_("history from"))
    history_end = models.DateField(_("history to"))
    units_sold = models.PositiveIntegerField(_("units sold in the history"))
    forecast_start = models.DateField(_("forecast from"))
    daily = models.JSONField(_("forecast units per day"), default=list)
    mape = models.FloatField(_("backtest MAPE"), null=True, blank=True)
    backtest_days = models.PositiveSmallIntegerField(_("days held out"), default=0)
    sigma = models.FloatField(_("daily error spread"), default=0)
    # {"<location id>": {"share": 0..1, "sigma": units/day}} over the recent weeks of allocations.
    locations = models.JSONField(_("demand per location"), default=dict, blank=True)

    class Meta:
        db_table = "orders_salesforecast"
        ordering = ["product__sku"]
        verbose_name = _("sales forecast")
        verbose_name_plural = _("sales forecasts")
        permissions = [("view_reports", _("Can view reports, forecasts and reorder suggestions"))]

    def __str__(self) -> str:
        return f"forecast {self.product_id} ({self.method})"

    @property
    def history_days(self) -> int:
        return (self.history_end - self.history_start).days + 1

    def total(self, days: int) -> float:
        return float(sum(self.daily[:days]))


class ReorderPolicy(models.Model):
    """How a location is replenished, for the reorder suggestions: the lead time (days from ordering to
    the units being on the shelf there) and the review period (days between two purchase lists). Without
    a row, the defaults of the settings for the location's kind apply (REORDER_LEAD_TIME_DAYS)."""

    location = models.OneToOneField(
        "inventory.Location",
        on_delete=models.CASCADE,
        related_name="reorder_policy",
        verbose_name=_("location"),
    )
    lead_time_days = models.PositiveSmallIntegerField(
        _("lead time (days)"),
        help_text=_("Days from placing a purchase order to the units being on the shelf."),
    )
    review_days = models.PositiveSmallIntegerField(
        _("review period (days)"), default=7, help_text=_("Days between two purchase lists.")
    )

    class Meta:
        db_table = "orders_reorderpolicy"
        ordering = ["location__code"]
        verbose_name = _("reorder policy")
        verbose_name_plural = _("reorder policies")
        constraints = [
            models.CheckConstraint(
                condition=Q(lead_time_days__gte=1), name="reorderpolicy_lead_time_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.location_id}: {self.lead_time_days} d"
