"""Shipping rules settings (managers): the ordered list with its reordering, create, edit, delete."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views import View

from .forms import ShippingRuleForm
from .models import ShippingRule
from .rule_services import InvalidRule, rule_delete, rule_move, rule_save
from .selectors import rule_list
from .views import SettingsMixin


class RuleListView(SettingsMixin, View):
    """GET: the rules in the order they are tried. POST ``rule=<id>&move=up|down|top|bottom``: reorder."""

    template_name = "shipping/rule_list.html"
    OFFSETS = {"up": -1, "down": 1, "top": -(10**6), "bottom": 10**6}

    def get(self, request):
        return render(request, self.template_name, {"rules": rule_list()})

    def post(self, request):
        offset = self.OFFSETS.get(request.POST.get("move", ""))
        rule = ShippingRule.objects.filter(pk=request.POST.get("rule") or 0).first() if offset else None
        if rule is None:
            messages.error(request, _("This rule no longer exists: the list is shown as it is now."))
            return redirect("shipping:rule_list")
        try:
            position = rule_move(rule=rule, offset=offset)
        except InvalidRule as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request,
                _("Rule “%(name)s” is now number %(position)d.")
                % {"name": rule.name, "position": position + 1},
            )
        return redirect(f"{request.path}#rule-{rule.pk}")


class RuleEditView(SettingsMixin, View):
    """Create (no id in the URL) or edit a shipping rule; the service's refusals come back on the fields."""

    template_name = "shipping/rule_form.html"

    def get_object(self, pk):
        return get_object_or_404(ShippingRule, pk=pk) if pk else ShippingRule()

    def get(self, request, pk=None):
        rule = self.get_object(pk)
        return render(request, self.template_name, {"form": ShippingRuleForm(instance=rule), "rule": rule})

    def post(self, request, pk=None):
        rule = self.get_object(pk)
        form = ShippingRuleForm(request.POST, instance=rule)
        if form.is_valid():
            try:
                saved = rule_save(rule=rule if rule.pk else None, data=form.rule_input())
            except InvalidRule as exc:
                for field, message in exc.details.items():
                    form.add_error(field if field in form.fields else None, message)
            else:
                messages.success(request, _("Shipping rule “%(name)s” saved.") % {"name": saved.name})
                return redirect(f"{reverse('shipping:rule_list')}#rule-{saved.pk}")
        return render(request, self.template_name, {"form": form, "rule": rule}, status=400)


class RuleDeleteView(SettingsMixin, View):
    template_name = "shipping/rule_confirm_delete.html"

    def get(self, request, pk):
        rule = get_object_or_404(ShippingRule.objects.select_related("service__carrier", "channel"), pk=pk)
        return render(request, self.template_name, {"rule": rule})

    def post(self, request, pk):
        rule = get_object_or_404(ShippingRule, pk=pk)
        rule_delete(rule=rule)
        messages.success(request, _("Shipping rule “%(name)s” deleted.") % {"name": rule.name})
        return redirect("shipping:rule_list")
