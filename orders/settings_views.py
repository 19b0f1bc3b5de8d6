"""Managers' settings pages for what the README used to send them to Django admin for: return rules per
channel, return reasons, and reorder policies per location."""

from django.conf import settings
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views import View

from common.views import BackofficeMixin
from inventory.models import Location

from .models import Channel, ReorderPolicy, ReturnReason, ReturnRule
from .services.settings import reorder_policy_reset, reorder_policy_save, return_reason_save, return_rule_save
from .settings_forms import ReorderPolicyForm, ReturnReasonForm, ReturnRuleForm


class ReturnSettingsView(BackofficeMixin, View):
    permission_required = "oms.manage_settings"

    def get(self, request):
        rules = {r.channel_id: r for r in ReturnRule.objects.prefetch_related("photo_reasons")}
        channels = [(c, rules.get(c.pk)) for c in Channel.objects.order_by("name")]
        return render(
            request,
            "orders/settings/returns.html",
            {"channels": channels, "reasons": list(ReturnReason.objects.all())},
        )


class ReturnRuleEditView(BackofficeMixin, View):
    permission_required = "oms.manage_settings"
    template_name = "orders/settings/return_rule.html"

    def get(self, request, code):
        channel = get_object_or_404(Channel, code=code)
        rule = ReturnRule.objects.filter(channel=channel).first() or ReturnRule(channel=channel)
        return render(
            request, self.template_name, {"channel": channel, "form": ReturnRuleForm(instance=rule)}
        )

    def post(self, request, code):
        channel = get_object_or_404(Channel, code=code)
        rule = ReturnRule.objects.filter(channel=channel).first() or ReturnRule(channel=channel)
        form = ReturnRuleForm(request.POST, instance=rule)
        if not form.is_valid():
            return render(request, self.template_name, {"channel": channel, "form": form}, status=400)
        return_rule_save(
            channel=channel,
            window_days=form.cleaned_data["window_days"],
            fee=form.cleaned_data["fee"],
            photo_reasons=form.cleaned_data["photo_reasons"],
        )
        messages.success(request, _("Return rule of %(channel)s saved.") % {"channel": channel.name})
        return redirect("orders:return_settings")


class ReturnReasonEditView(BackofficeMixin, View):
    permission_required = "oms.manage_settings"
    template_name = "orders/settings/return_reason.html"

    def _reason(self, pk):
        return get_object_or_404(ReturnReason, pk=pk) if pk else ReturnReason()

    def get(self, request, pk=None):
        reason = self._reason(pk)
        return render(
            request, self.template_name, {"reason": reason, "form": ReturnReasonForm(instance=reason)}
        )

    def post(self, request, pk=None):
        reason = self._reason(pk)
        form = ReturnReasonForm(request.POST, instance=reason)
        if not form.is_valid():
            return render(request, self.template_name, {"reason": reason, "form": form}, status=400)
        return_reason_save(reason=reason, data=form.cleaned_data)
        messages.success(request, _("Return reason “%(label)s” saved.") % {"label": reason})
        return redirect("orders:return_settings")


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
            return redirect("orders:reorder_settings")
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
        return redirect("orders:reorder_settings")
