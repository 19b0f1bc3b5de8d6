"""The pickers' schedule for managers: a week per location, add / edit / delete a shift, copy a week."""

from datetime import date, timedelta
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views import View

from common.views import BackofficeMixin
from inventory.selectors import location_list

from .forms import ShiftForm
from .models import PickerShift
from .selectors import monday_of, planning_week, shifts_in_week
from .services import InvalidShift, shift_delete, shift_save, shifts_copy_week


def planning_url(*, location_code: str, day: date) -> str:
    query = urlencode({"location": location_code, "week": monday_of(day).isoformat()})
    return f"{reverse('fulfillment:planning')}?{query}"


def _parse_day(value: str | None, default: date) -> date:
    try:
        return date.fromisoformat(value) if value else default
    except ValueError:
        return default


class PlanningMixin(BackofficeMixin):
    permission_required = "fulfillment.plan_shifts"

    def locations(self):
        return location_list(user=self.request.user)

    def location_from_query(self, code: str | None, locations):
        """The location named in the query (404 when the user may not plan it), else the first warehouse."""
        if code:
            for location in locations:
                if location.code == code:
                    return location
            raise Http404(_("No such location."))
        return next(
            (loc for loc in locations if loc.kind == "warehouse"), locations[0] if locations else None
        )


class PlanningView(PlanningMixin, View):
    template_name = "fulfillment/planning.html"

    def get(self, request):
        locations = list(self.locations())
        location = self.location_from_query(request.GET.get("location"), locations)
        today = timezone.localdate()
        this_monday = monday_of(today)
        monday = monday_of(_parse_day(request.GET.get("week"), today))
        context = {
            "locations": locations,
            "location": location,
            "this_monday": this_monday,
            "today": today,
        }
        if location is not None:
            week = planning_week(location=location, monday=monday, today=today)
            context.update(
                week=week,
                # Copying into a week that is already over plans nothing useful.
                can_copy=week.shift_count > 0 and week.next + timedelta(days=6) >= today,
            )
        return render(request, self.template_name, context)


class ShiftEditView(PlanningMixin, View):
    """Add a shift (no id in the URL; ``?location=&date=`` pre-fill it) or edit one."""

    template_name = "fulfillment/shift_form.html"

    def get_object(self, pk):
        if pk is None:
            return PickerShift()
        return get_object_or_404(
            PickerShift.objects.select_related("location"), pk=pk, location__in=self.locations()
        )

    def _render(self, request, form, shift, back_url, status=200):
        context = {"form": form, "shift": shift, "back_url": back_url}
        return render(request, self.template_name, context, status=status)

    @staticmethod
    def _back_url(location, day) -> str:
        if location is None:
            return reverse("fulfillment:planning")
        return planning_url(location_code=location.code, day=day or timezone.localdate())

    def get(self, request, pk=None):
        shift = self.get_object(pk)
        locations = self.locations()
        initial = {}
        if shift.pk is None:
            location = locations.filter(code=request.GET.get("location", "")).first()
            initial = {
                "location": location or locations.filter(kind="warehouse").first() or locations.first(),
                "date": _parse_day(request.GET.get("date"), timezone.localdate()),
                "pickers": 1,
            }
            back_url = self._back_url(initial["location"], initial["date"])
        else:
            back_url = self._back_url(shift.location, shift.date)
        form = ShiftForm(instance=shift, initial=initial, locations=locations)
        return self._render(request, form, shift, back_url)

    def post(self, request, pk=None):
        shift = self.get_object(pk)
        created = shift.pk is None
        back_url = None if created else self._back_url(shift.location, shift.date)
        form = ShiftForm(request.POST, instance=shift, locations=self.locations())
        valid = form.is_valid()
        if created:
            back_url = self._back_url(form.cleaned_data.get("location"), form.cleaned_data.get("date"))
        if not valid:
            return self._render(request, form, shift, back_url, status=400)
        try:
            shift = shift_save(shift=form.instance)
        except InvalidShift as exc:  # booked meanwhile, or the same start planned meanwhile
            form.add_error(None, exc.message)
            return self._render(request, form, shift, back_url, status=400)
        values = {
            "date": date_format(shift.date, "DATE_FORMAT"),
            "start": shift.start.strftime("%H:%M"),
            "end": shift.end.strftime("%H:%M"),
            "capacity": shift.capacity_lines,
        }
        if created:
            text = _("Shift added on %(date)s, %(start)s–%(end)s: %(capacity)d lines of capacity.")
        else:
            text = _("Shift of %(date)s, %(start)s–%(end)s saved: %(capacity)d lines of capacity.")
        messages.success(request, text % values)
        return redirect(planning_url(location_code=shift.location.code, day=shift.date))


class ShiftDeleteView(PlanningMixin, View):
    """GET: the consequence spelled out; POST: delete (refused while lines are booked in the shift)."""

    template_name = "fulfillment/shift_confirm_delete.html"

    def get_object(self, pk):
        return get_object_or_404(
            PickerShift.objects.select_related("location"), pk=pk, location__in=self.locations()
        )

    def _context(self, shift):
        return {"shift": shift, "back_url": planning_url(location_code=shift.location.code, day=shift.date)}

    def get(self, request, pk):
        shift = self.get_object(pk)
        return render(request, self.template_name, self._context(shift))

    def post(self, request, pk):
        shift = self.get_object(pk)
        try:
            shift_delete(shift=shift)
        except InvalidShift as exc:
            context = {**self._context(shift), "error": exc.message}
            return render(request, self.template_name, context, status=400)
        messages.success(
            request,
            _("Shift of %(date)s, %(start)s–%(end)s deleted.")
            % {
                "date": date_format(shift.date, "DATE_FORMAT"),
                "start": shift.start.strftime("%H:%M"),
                "end": shift.end.strftime("%H:%M"),
            },
        )
        return redirect(planning_url(location_code=shift.location.code, day=shift.date))


class WeekCopyForm(forms.Form):
    location = forms.ModelChoiceField(queryset=None, to_field_name="code")
    week = forms.DateField()

    def __init__(self, *args, locations, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["location"].queryset = locations

    def clean_week(self):
        return monday_of(self.cleaned_data["week"])


class WeekCopyView(PlanningMixin, View):
    """Copy a week's shifts to the next week. GET asks for confirmation (what will be copied); POST copies.
    Shifts already planned next week at the same start are kept, so copying twice creates nothing more."""

    template_name = "fulfillment/week_copy.html"

    def _render(self, request, form, status=200):
        context = {"form": form}
        if form.is_valid():
            location, monday = form.cleaned_data["location"], form.cleaned_data["week"]
            context.update(
                location=location,
                monday=monday,
                next_monday=monday + timedelta(days=7),
                shift_count=shifts_in_week(location=location, monday=monday).count(),
                already_planned=shifts_in_week(location=location, monday=monday + timedelta(days=7)).count(),
                back_url=planning_url(location_code=location.code, day=monday),
            )
        else:
            context["back_url"] = reverse("fulfillment:planning")
        return render(request, self.template_name, context, status=status)

    def get(self, request):
        code = request.GET.get("location")
        if not code:
            default = self.location_from_query(None, list(self.locations()))
            code = default.code if default else ""
        data = {
            "location": code,
            "week": request.GET.get("week") or monday_of(timezone.localdate()).isoformat(),
        }
        form = WeekCopyForm(data, locations=self.locations())
        return self._render(request, form, status=200 if form.is_valid() else 400)

    def post(self, request):
        form = WeekCopyForm(request.POST, locations=self.locations())
        if not form.is_valid():
            return self._render(request, form, status=400)
        location, monday = form.cleaned_data["location"], form.cleaned_data["week"]
        next_monday = monday + timedelta(days=7)
        copied = shifts_copy_week(location=location, from_monday=monday, to_monday=next_monday)
        week_label = date_format(next_monday, "DATE_FORMAT")
        if copied:
            messages.success(
                request,
                ngettext(
                    "%(count)d shift copied to the week of %(date)s.",
                    "%(count)d shifts copied to the week of %(date)s.",
                    copied,
                )
                % {"count": copied, "date": week_label},
            )
        else:
            messages.info(
                request,
                _("Nothing to copy: the week of %(date)s already has these shifts.") % {"date": week_label},
            )
        return redirect(planning_url(location_code=location.code, day=next_monday))
