from django import forms
from django.utils.translation import gettext_lazy as _

from customers.services import MAX_NOTE_LENGTH


class CustomerFilterForm(forms.Form):
    q = forms.CharField(
        label=_("Search"),
        required=False,
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": _("Email, name, company or phone"), "autocomplete": "off"}
        ),
    )
    kind = forms.ChoiceField(
        label=_("Customers"),
        required=False,
        choices=[("", _("Everyone")), ("b2b", _("Businesses")), ("private", _("Private customers"))],
    )


class CustomerNoteForm(forms.Form):
    text = forms.CharField(
        label=_("New note"),
        max_length=MAX_NOTE_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": _("What the next colleague should know")}),
    )

    def clean_text(self):
        text = self.cleaned_data["text"].strip()
        if not text:
            raise forms.ValidationError(_("Write the note first."), code="required")
        return text


class CustomerEraseForm(forms.Form):
    confirm = forms.BooleanField(
        label=_("I confirm that the customer asked for the erasure of their personal data."), required=True
    )
