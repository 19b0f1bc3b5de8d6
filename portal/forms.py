"""Forms of the customer portal and account space."""

from django import forms
from django.contrib.auth.password_validation import validate_password
from django.utils.translation import gettext_lazy as _

from common.addresses import form_address_clean
from customers.models import Address, CustomerAccount
from inventory.models import Location


class LookupForm(forms.Form):
    number = forms.CharField(label=_("Order number"), max_length=32)
    email = forms.EmailField(label=_("Email address"), max_length=254)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["number"].widget.attrs.update({"autocomplete": "off", "autocapitalize": "characters"})
        self.fields["email"].widget.attrs.update({"autocomplete": "email"})


class SignInForm(forms.Form):
    email = forms.EmailField(label=_("Email address"), max_length=254)
    password = forms.CharField(label=_("Password"), strip=False, widget=forms.PasswordInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["email"].widget.attrs.update({"autocomplete": "email"})
        self.fields["password"].widget.attrs.update({"autocomplete": "current-password"})


class LinkRequestForm(forms.Form):
    email = forms.EmailField(label=_("Email address"), max_length=254)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["email"].widget.attrs.update({"autocomplete": "email"})


class SetPasswordForm(forms.Form):
    """A new password twice; with ``required=False`` (the sign-in link's page) both may stay empty."""

    password1 = forms.CharField(
        label=_("New password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password2 = forms.CharField(
        label=_("New password again"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args, required: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.required = required

    def clean(self):
        data = super().clean()
        one, two = data.get("password1") or "", data.get("password2") or ""
        if one != two:
            self.add_error("password2", _("The two passwords are different."))
        elif one:
            try:
                validate_password(one)
            except forms.ValidationError as exc:
                self.add_error("password1", exc)
        return data


class AddressForm(forms.ModelForm):
    class Meta:
        model = Address
        fields = [
            "kind",
            "name",
            "company",
            "line1",
            "line2",
            "postcode",
            "city",
            "country",
            "phone",
            "is_default",
        ]
        labels = {"is_default": _("Use as my default address")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        autocomplete = {
            "name": "name",
            "company": "organization",
            "line1": "address-line1",
            "line2": "address-line2",
            "postcode": "postal-code",
            "city": "address-level2",
            "country": "country",
            "phone": "tel",
        }
        for name, value in autocomplete.items():
            self.fields[name].widget.attrs["autocomplete"] = value

    def clean(self):
        cleaned = super().clean()
        form_address_clean(self, cleaned)
        return cleaned


class PreferencesForm(forms.Form):
    preferred_mode = forms.ChoiceField(
        label=_("Preferred delivery"),
        choices=[("", _("No preference")), *CustomerAccount.Mode.choices],
        required=False,
    )
    relay_point_id = forms.CharField(label=_("Relay point number"), max_length=64, required=False)
    relay_point_name = forms.CharField(label=_("Relay point name"), max_length=200, required=False)
    preferred_store = forms.ModelChoiceField(
        label=_("Preferred store"),
        queryset=Location.objects.none(),
        required=False,
        empty_label=_("No preference"),
    )
    sms_opt_in = forms.BooleanField(label=_("Send me text messages about my orders"), required=False)
    phone = forms.CharField(label=_("Mobile phone"), max_length=32, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["preferred_store"].queryset = Location.objects.filter(is_pickup_point=True).order_by(
            "name"
        )
        self.fields["phone"].widget.attrs.update({"autocomplete": "tel", "inputmode": "tel"})

    def clean(self):
        data = super().clean()
        mode = data.get("preferred_mode")
        if mode == CustomerAccount.Mode.RELAY and not data.get("relay_point_id"):
            self.add_error("relay_point_id", _("Give the number of your relay point."))
        if mode == CustomerAccount.Mode.STORE and not data.get("preferred_store"):
            self.add_error("preferred_store", _("Choose the store."))
        if data.get("sms_opt_in") and not (data.get("phone") or "").strip():
            self.add_error("phone", _("Text messages need a mobile phone number."))
        return data


class DeleteAccountForm(forms.Form):
    confirm = forms.BooleanField(
        label=_("I understand that my personal data will be erased and that I will be signed out."),
        required=True,
    )
