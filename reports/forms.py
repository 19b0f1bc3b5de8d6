"""The reports' filter forms: GET forms, so a report is a bookmarkable URL."""

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django import forms
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from inventory.models import Location

MAX_PERIOD_DAYS = 3 * 366

PRESETS = (  # (GET value, label, days back from today, today included)
    ("7", _("Last 7 days"), 7),
    ("30", _("Last 30 days"), 30),
    ("90", _("Last 90 days"), 90),
    ("365", _("Last 12 months"), 365),
)


@dataclass(frozen=True)
class Period:
    """Days ``start`` to ``end`` included, in the site's time zone (Europe/Paris)."""

    start: dt.date
    end: dt.date

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(settings.TIME_ZONE)

    @property
    def start_at(self) -> dt.datetime:
        return dt.datetime.combine(self.start, dt.time.min, tzinfo=self.tz)

    @property
    def end_before(self) -> dt.datetime:
        """The first instant after the period (exclusive bound)."""
        return dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time.min, tzinfo=self.tz)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def slug(self) -> str:
        return f"{self.start:%Y%m%d}-{self.end:%Y%m%d}"


def last_days(days: int, *, today: dt.date | None = None) -> Period:
    today = today or timezone.localdate()
    return Period(start=today - dt.timedelta(days=days - 1), end=today)


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%d", **kwargs)


class PeriodForm(forms.Form):
    """``?start=2026-01-01&end=2026-03-31`` or ``?preset=30``; the last 30 days without either."""

    default_days = 30

    preset = forms.ChoiceField(
        label=_("Period"),
        required=False,
        choices=[("", _("Custom dates"))] + [(value, label) for value, label, _days in PRESETS],
    )
    start = forms.DateField(label=_("From"), required=False, widget=DateInput())
    end = forms.DateField(label=_("To"), required=False, widget=DateInput())

    def clean(self):
        data = super().clean()
        today = timezone.localdate()
        start, end, preset = data.get("start"), data.get("end"), data.get("preset")
        if preset:
            days = next(d for value, _label, d in PRESETS if value == preset)
            period = last_days(days, today=today)
        elif start or end:
            end = end or today
            start = start or end - dt.timedelta(days=self.default_days - 1)
            if start > end:
                raise forms.ValidationError(_("The start date must be on or before the end date."))
            if (end - start).days + 1 > MAX_PERIOD_DAYS:
                raise forms.ValidationError(
                    _("A report covers at most %(days)s days: choose a shorter period."),
                    params={"days": MAX_PERIOD_DAYS},
                )
            period = Period(start=start, end=end)
        else:
            period = last_days(self.default_days, today=today)
        data["period"] = period
        return data

    def period(self) -> Period:
        """The period asked for; the default one when the form is unbound or invalid."""
        if self.is_bound and self.is_valid():
            return self.cleaned_data["period"]
        return last_days(self.default_days)


class SalesForm(PeriodForm):
    GRAINS = (("", _("Automatic")), ("day", _("Day")), ("week", _("Week")), ("month", _("Month")))
    grain = forms.ChoiceField(label=_("Group by"), required=False, choices=GRAINS)

    def grain_for(self, period: Period) -> str:
        chosen = self.cleaned_data.get("grain") if self.is_bound and self.is_valid() else ""
        if chosen:
            return chosen
        if period.days <= 62:
            return "day"
        return "week" if period.days <= 370 else "month"


SERVICE_LEVELS = (("0.90", "90 %"), ("0.95", "95 %"), ("0.975", "97.5 %"), ("0.99", "99 %"))


class ReorderForm(forms.Form):
    location = forms.ModelChoiceField(
        label=_("Location"),
        queryset=Location.objects.filter(active=True).order_by("code"),
        required=False,
        empty_label=_("All locations"),
        to_field_name="code",
    )
    service_level = forms.ChoiceField(
        label=_("Service level"),
        choices=SERVICE_LEVELS,
        required=False,
        help_text=_("Chance of not running out before the next delivery."),
    )
    show = forms.ChoiceField(
        label=_("Show"),
        required=False,
        choices=(("reorder", _("Lines to reorder")), ("all", _("All SKUs with demand"))),
    )
    q = forms.CharField(label=_("SKU or name"), required=False, max_length=100)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        default = f"{settings.REORDER_SERVICE_LEVEL:g}"
        if default in dict(SERVICE_LEVELS):
            self.fields["service_level"].initial = default

    def values(self) -> dict:
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        return {
            "location": data.get("location"),
            "service_level": float(data.get("service_level") or settings.REORDER_SERVICE_LEVEL),
            "only_reorder": (data.get("show") or "reorder") == "reorder",
            "q": (data.get("q") or "").strip(),
        }


class ForecastFilterForm(forms.Form):
    q = forms.CharField(label=_("SKU or name"), required=False, max_length=100)
    method = forms.ChoiceField(label=_("Method"), required=False)

    def __init__(self, *args, **kwargs):
        from .models import SalesForecast

        super().__init__(*args, **kwargs)
        self.fields["method"].choices = [("", _("All methods")), *SalesForecast.Method.choices]
