from django import forms
from django.utils.translation import gettext_lazy as _

from .models import AuditEntry


class AuditFilterForm(forms.Form):
    """The GET form of the audit log page. Invalid values are reported and ignored."""

    action = forms.ChoiceField(
        label=_("Action"), required=False, choices=[("", _("Every action")), *AuditEntry.Action.choices]
    )
    actor = forms.CharField(
        label=_("User"),
        required=False,
        max_length=254,
        widget=forms.TextInput(attrs={"placeholder": _("User name or email"), "type": "search"}),
    )
    date_from = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    before = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("date_from") and cleaned.get("date_to") and cleaned["date_from"] > cleaned["date_to"]:
            self.add_error("date_to", _("The end date is before the start date."))
        return cleaned

    def filters(self) -> dict:
        """The valid filters, after ``is_valid()`` (an invalid one is left out, and shown as an error)."""
        data = getattr(self, "cleaned_data", {})
        return {
            "action": data.get("action") or "",
            "actor": (data.get("actor") or "").strip(),
            "date_from": data.get("date_from"),
            "date_to": data.get("date_to"),
        }
