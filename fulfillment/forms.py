from django import forms
from django.core.exceptions import NON_FIELD_ERRORS
from django.core.validators import MinValueValidator
from django.utils.translation import gettext_lazy as _

from .models import PickerShift
from .services import InvalidShift, shift_check


class ShiftCheckMixin:
    """Runs the shift's business rules (``shift_check``) once the instance holds the submitted values, so
    a refusal is a message on the form rather than an error on save (the planning page and Django
    admin)."""

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end and end <= start:
            self.add_error("end", _("A shift ends after it starts."))
        return cleaned

    def _post_clean(self):
        super()._post_clean()
        if any(name != NON_FIELD_ERRORS for name in self._errors):
            return
        try:
            shift_check(shift=self.instance)
        except InvalidShift as exc:
            self._errors.pop(NON_FIELD_ERRORS, None)  # the model's constraint messages say less
            self.add_error(None, exc.message)


class ShiftForm(ShiftCheckMixin, forms.ModelForm):
    class Meta:
        model = PickerShift
        fields = ["location", "date", "start", "end", "pickers", "lines_per_picker_hour"]
        widgets = {
            "date": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "start": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "end": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "pickers": forms.NumberInput(attrs={"min": 1}),
            "lines_per_picker_hour": forms.NumberInput(attrs={"min": 1}),
        }
        help_texts = {
            "lines_per_picker_hour": _("Order lines one picker picks in an hour."),
        }

    def __init__(self, *args, locations, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["location"].queryset = locations
        self.fields["location"].empty_label = None
        for name in ("pickers", "lines_per_picker_hour"):
            self.fields[name].validators.append(MinValueValidator(1))
