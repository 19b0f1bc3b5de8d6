from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _


class PickerShift(models.Model):
    """The pickers' schedule: who picks at a location, when, and how fast. Capacity is in order lines."""

    location = models.ForeignKey("inventory.Location", on_delete=models.CASCADE, related_name="shifts")
    date = models.DateField(_("date"))
    start = models.TimeField(_("start"))
    end = models.TimeField(_("end"))
    pickers = models.PositiveSmallIntegerField(_("pickers"))
    lines_per_picker_hour = models.PositiveSmallIntegerField(_("lines per picker-hour"), default=30)
    capacity_lines = models.PositiveIntegerField(
        _("capacity (lines)"),
        default=0,
        editable=False,
        help_text=_("pickers × hours × lines per picker-hour"),
    )
    lines_booked = models.PositiveIntegerField(_("lines booked"), default=0)

    class Meta:
        ordering = ["location", "date", "start"]
        verbose_name = _("picker shift")
        verbose_name_plural = _("picker shifts")
        constraints = [
            models.CheckConstraint(condition=Q(end__gt=F("start")), name="pickershift_end_after_start"),
            models.UniqueConstraint(
                fields=["location", "date", "start"], name="pickershift_location_date_start"
            ),
        ]
        indexes = [models.Index(fields=["location", "date"], name="pickershift_location_date_idx")]
        permissions = [
            ("plan_shifts", _("Can plan picker shifts")),
            ("pick", _("Can pick")),
            ("pack", _("Can pack")),
            ("store_pickup", _("Can prepare and hand over click & collect orders")),
        ]

    def __str__(self) -> str:
        return f"{self.location_id} {self.date} {self.start:%H:%M}-{self.end:%H:%M}"

    @property
    def hours(self) -> float:
        return (self.end.hour * 60 + self.end.minute - self.start.hour * 60 - self.start.minute) / 60

    def compute_capacity(self) -> int:
        return int(self.pickers * self.hours * self.lines_per_picker_hour)

    @property
    def lines_left(self) -> int:
        return max(0, self.capacity_lines - self.lines_booked)


class CapacityBooking(models.Model):
    """Lines of an order booked in a shift (an order may spill over several shifts)."""

    shift = models.ForeignKey(PickerShift, on_delete=models.CASCADE, related_name="bookings")
    order = models.ForeignKey("orders.Order", on_delete=models.CASCADE, related_name="capacity_bookings")
    lines = models.PositiveIntegerField(_("lines"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("capacity booking")
        verbose_name_plural = _("capacity bookings")
        constraints = [
            models.CheckConstraint(condition=Q(lines__gt=0), name="capacitybooking_lines_positive")
        ]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.lines} lines in {self.shift_id}"
