"""Managers' settings page of the reorder suggestions: each location's reorder policy (lead time and review
period; it used to be edited in Django admin only)."""

from django.conf import settings
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views import View

from common.views import BackofficeMixin
from inventory.models import Location

from .models import ReorderPolicy
from .services import reorder_policy_reset, reorder_policy_save
from .settings_forms import ReorderPolicyForm


class ReorderSettingsView(BackofficeMixin, View):
    permission_required = "oms.manage_settings"

    def get(self, request):
        policies = {p.location_id: p for p in ReorderPolicy.objects.all()}
        defaults = settings.REORDER_LEAD_TIME_DAYS
        rows = [
            {
                "location": location,
                "policy": policies.get(location.pk),
                "default_lead_time": defaults.get(location.kind, defaults.get("warehouse")),
            }
            for location in Location.objects.filter(active=True).order_by("kind", "name")
        ]
        return render(
            request,
            "orders/settings/reorder.html",
            {"rows": rows, "default_review": settings.REORDER_REVIEW_DAYS},
        )


class ReorderPolicyEditView(BackofficeMixin, View):
    permission_required = "oms.manage_settings"
    template_name = "orders/settings/reorder_policy.html"

    def _context(self, location, form):
        defaults = settings.REORDER_LEAD_TIME_DAYS
        return {
            "location": location,
            "form": form,
            "has_policy": ReorderPolicy.objects.filter(location=location).exists(),
            "default_lead_time": defaults.get(location.kind, defaults.get("warehouse")),
            "default_review": settings.REORDER_REVIEW_DAYS,
        }

    def get(self, request, code):
        location = get_object_or_404(Location, code=code)
        policy = ReorderPolicy.objects.filter(location=location).first()
        initial = {} if policy else self._defaults(location)
        form = ReorderPolicyForm(instance=policy, initial=initial)
        return render(request, self.template_name, self._context(location, form))

    @staticmethod
    def _defaults(location) -> dict:
        defaults = settings.REORDER_LEAD_TIME_DAYS
        return {
            "lead_time_days": defaults.get(location.kind, defaults.get("warehouse")),
            "review_days": settings.REORDER_REVIEW_DAYS,
        }

    def post(self, request, code):
        location = get_object_or_404(Location, code=code)
        if request.POST.get("action") == "reset":
            reorder_policy_reset(location=location)
            messages.success(
                request, _("%(location)s uses the default lead time again.") % {"location": location.name}
            )
            return redirect("reports:reorder_settings")
        form = ReorderPolicyForm(
            request.POST, instance=ReorderPolicy.objects.filter(location=location).first()
        )
        if not form.is_valid():
            return render(request, self.template_name, self._context(location, form), status=400)
        reorder_policy_save(
            location=location,
            lead_time_days=form.cleaned_data["lead_time_days"],
            review_days=form.cleaned_data["review_days"],
        )
        messages.success(request, _("Reorder policy of %(location)s saved.") % {"location": location.name})
        return redirect("reports:reorder_settings")
