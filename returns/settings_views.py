"""Managers' settings pages of returns: each channel's return rule and the return reasons (they used to be
edited in Django admin only)."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views import View

from common.views import BackofficeMixin
from orders.models import Channel

from .models import ReturnReason, ReturnRule
from .services import return_reason_save, return_rule_save
from .settings_forms import ReturnReasonForm, ReturnRuleForm


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
        return redirect("returns:return_settings")


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
        return redirect("returns:return_settings")
