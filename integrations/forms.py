from django import forms
from django.utils.translation import gettext_lazy as _

from common.fields import SecretFormField, SecretWidget

from .hubspot.sync import DEFAULT_STAGES
from .models import WebhookDelivery
from .webhooks import catalogue


class EndpointForm(forms.Form):
    url = forms.URLField(
        label=_("URL"),
        max_length=500,
        assume_scheme="https",
        help_text=_("Where the events are POSTed, on a public address (https advised)."),
    )
    description = forms.CharField(label=_("Description"), max_length=200, required=False)
    events = forms.MultipleChoiceField(
        label=_("Events"), choices=catalogue.choices, widget=forms.CheckboxSelectMultiple
    )
    secret = forms.CharField(
        label=_("Signing secret"),
        required=False,
        min_length=16,
        max_length=200,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}, render_value=False),
        help_text=_("Leave blank to have one generated (shown once). At least 16 characters."),
    )
    contact_email = forms.EmailField(
        label=_("Who to tell if it keeps failing"),
        required=False,
        help_text=_("Besides you: an address of the team that runs the receiver."),
    )


class EndpointEditForm(EndpointForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["secret"].help_text = _("Leave blank to keep the current secret.")


class DeliveryFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=[("", _("All"))] + list(WebhookDelivery.Status.choices)
    )


class HubspotForm(forms.Form):
    active = forms.BooleanField(label=_("Send customers and orders to HubSpot"), required=False)
    sandbox = forms.BooleanField(label=_("Sandbox (offline demo: nothing leaves the server)"), required=False)
    token = SecretFormField(
        label=_("Private app access token"),
        required=False,
        widget=SecretWidget(),
        help_text=_(
            "HubSpot → Settings → Integrations → Private apps; scopes crm.objects.contacts.write, "
            "crm.objects.deals.write, crm.schemas.deals.write, crm.objects.line_items.write."
        ),
    )
    pipeline = forms.CharField(label=_("Deal pipeline (internal id)"), max_length=64, initial="default")
    burst_limit = forms.IntegerField(
        label=_("Requests allowed per 10 seconds"),
        min_value=1,
        max_value=1000,
        initial=100,
        help_text=_("100 on Free and Starter accounts, 190 on Professional and Enterprise."),
    )

    def __init__(self, *args, stages: dict | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        from orders.models import OrderStatus

        for value, label in OrderStatus.choices:
            self.fields[f"stage_{value}"] = forms.CharField(
                label=_("Deal stage when the order is “%(status)s”") % {"status": label},
                max_length=64,
                required=False,
                initial=(stages or {}).get(value) or DEFAULT_STAGES.get(value, ""),
            )

    def stages(self) -> dict:
        return {k[6:]: v for k, v in self.cleaned_data.items() if k.startswith("stage_") and v}


class ResyncForm(forms.Form):
    email = forms.EmailField(label=_("One customer (email)"), required=False)
    since = forms.DateField(
        label=_("Or everything changed since"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean(self):
        data = super().clean()
        if not data.get("email") and not data.get("since"):
            raise forms.ValidationError(_("Enter a customer's email or a date."))
        return data
