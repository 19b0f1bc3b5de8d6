"""Form of the managers' settings page for reorder policies."""

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import ReorderPolicy


class ReorderPolicyForm(forms.ModelForm):
    class Meta:
        model = ReorderPolicy
        fields = ["lead_time_days", "review_days"]

    def clean_lead_time_days(self):
        days = self.cleaned_data["lead_time_days"]
        if not 1 <= days <= 365:
            raise forms.ValidationError(_("A lead time is from 1 to 365 days."), code="lead_time")
        return days

    def clean_review_days(self):
        days = self.cleaned_data["review_days"]
        if not 1 <= days <= 90:
            raise forms.ValidationError(_("A review period is from 1 to 90 days."), code="review")
        return days
