"""Forms of the managers' settings pages for returns."""

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import ReturnReason, ReturnRule


class ReturnRuleForm(forms.ModelForm):
    class Meta:
        model = ReturnRule
        fields = ["window_days", "fee", "photo_reasons"]
        widgets = {
            "photo_reasons": forms.CheckboxSelectMultiple,
            "fee": forms.NumberInput(attrs={"step": "0.01", "min": "0"}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["photo_reasons"].queryset = ReturnReason.objects.filter(active=True)
        self.fields["window_days"].min_value = 1

    def clean_window_days(self):
        days = self.cleaned_data["window_days"]
        if days < 1 or days > 365:
            raise forms.ValidationError(_("A return window is from 1 to 365 days."), code="window")
        return days

    def clean_fee(self):
        fee = self.cleaned_data["fee"]
        if fee is not None and fee < 0:
            raise forms.ValidationError(_("A fee cannot be negative."), code="negative_fee")
        return fee


class ReturnReasonForm(forms.ModelForm):
    class Meta:
        model = ReturnReason
        fields = ["code", "label", "our_fault", "position", "active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["code"].disabled = True
            self.fields["code"].help_text = _("The code cannot change: returns use it.")
        else:
            self.fields["code"].help_text = _("Letters, digits, - and _ (e.g. too_small).")
