"""Forms of the orders back office: list filters, manual order entry, cancellation, channel settings."""

import re
import uuid

from django import forms
from django.urls import reverse_lazy
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from common.addresses import form_address_clean
from inventory.models import Location
from shipping.models import RelayPoint
from shipping.selectors import carrier_for_relay

from .forms_changes import CancelReasonMixin
from .models import ApiKey, Channel, DeliveryMode, OrderStatus
from .selectors import SORTS, products_for_codes, stores_for_pickup
from .services.intake import LineInput, OrderInput

PAGE_SIZES = (25, 50, 100)
DEFAULT_PAGE_SIZE = 50


# --- Order list filters -------------------------------------------------------------------------------


class OrderFilterForm(forms.Form):
    """The GET form of the order list. Invalid values are reported and ignored, the rest still applies."""

    q = forms.CharField(
        label=_("Search"),
        required=False,
        max_length=200,
        widget=forms.TextInput(
            attrs={
                "type": "search",
                "placeholder": _("Number, external id, email, name"),
                "autocomplete": "off",
            }
        ),
    )
    status = forms.MultipleChoiceField(
        label=_("Status"), required=False, choices=OrderStatus.choices, widget=forms.CheckboxSelectMultiple
    )
    channel = forms.ModelChoiceField(
        label=_("Channel"),
        required=False,
        queryset=Channel.objects.none(),
        to_field_name="code",
        empty_label=_("All channels"),
    )
    location = forms.ModelChoiceField(
        label=_("Location"),
        required=False,
        queryset=Location.objects.none(),
        to_field_name="code",
        empty_label=_("All locations"),
    )
    delivery_mode = forms.ChoiceField(
        label=_("Delivery mode"),
        required=False,
        choices=[("", _("All delivery modes")), *DeliveryMode.choices],
    )
    date_from = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    sort = forms.ChoiceField(required=False, choices=[(k, k) for k in SORTS], widget=forms.HiddenInput)
    per_page = forms.TypedChoiceField(
        label=_("Per page"),
        required=False,
        coerce=int,
        choices=[(n, n) for n in PAGE_SIZES],
        empty_value=DEFAULT_PAGE_SIZE,
        initial=DEFAULT_PAGE_SIZE,
    )

    def __init__(self, data=None, *args, channels, locations, **kwargs):
        if data is not None and not data.get("per_page"):
            data = data.copy()
            data["per_page"] = str(DEFAULT_PAGE_SIZE)
        super().__init__(data, *args, **kwargs)
        self.fields["channel"].queryset = channels
        self.fields["location"].queryset = locations

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("date_from") and cleaned.get("date_to") and cleaned["date_from"] > cleaned["date_to"]:
            self.add_error("date_to", _("The end date is before the start date."))
        return cleaned

    def filters(self) -> dict:
        """The valid filters (call after ``is_valid()``)."""
        data = dict(getattr(self, "cleaned_data", {}))
        data.pop("per_page", None)
        return {k: v for k, v in data.items() if v not in (None, "", [])}

    def page_size(self) -> int:
        return getattr(self, "cleaned_data", {}).get("per_page") or DEFAULT_PAGE_SIZE

    @property
    def active_count(self) -> int:
        """How many filters narrow the list (for the "clear filters" link and the estimate)."""
        return sum(1 for k in self.filters() if k != "sort")


# --- Cancellation ----------------------------------------------------------------------------------------


class OrderCancelForm(CancelReasonMixin, forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        max_length=255,
        required=False,
        help_text=_("Kept on the order's timeline. The customer is told the order is cancelled."),
    )

    def __init__(self, *args, order, **kwargs):
        super().__init__(*args, **kwargs)
        self.add_reason_fields(order=order)
        self.fields["reason_choice"].widget.attrs["autofocus"] = True

    def clean(self):
        cleaned = super().clean()
        if not self.reason_text():
            self.add_error("reason", _("Give the reason for the cancellation."))
        return cleaned


# --- Manual order entry ---------------------------------------------------------------------------------

EXTERNAL_ID_RE = re.compile(r"^PHONE-[0-9]{14}-[0-9a-f]{8}$")


def new_phone_external_id() -> str:
    """``PHONE-<local timestamp>-<8 hex>``: one per form shown, so submitting the same form twice is
    refused as a duplicate instead of taking the order twice."""
    return f"PHONE-{timezone.localtime():%Y%m%d%H%M%S}-{uuid.uuid4().hex[:8]}"


class ManualOrderForm(forms.Form):
    external_id = forms.CharField(widget=forms.HiddenInput, max_length=100)
    channel = forms.ModelChoiceField(
        label=_("Channel"), queryset=Channel.objects.none(), to_field_name="code", empty_label=None
    )
    email = forms.EmailField(label=_("Customer email"), max_length=254)
    first_name = forms.CharField(label=_("First name"), max_length=100, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=100, required=False)
    phone = forms.CharField(
        label=_("Phone"), max_length=32, required=False, widget=forms.TextInput(attrs={"type": "tel"})
    )
    company = forms.CharField(label=_("Company"), max_length=200, required=False)

    delivery_mode = forms.ChoiceField(
        label=_("Delivery mode"),
        choices=DeliveryMode.choices,
        initial=DeliveryMode.HOME,
        widget=forms.RadioSelect,
    )
    # Home delivery
    ship_name = forms.CharField(label=_("Recipient"), max_length=200, required=False)
    line1 = forms.CharField(label=_("Address"), max_length=200, required=False)
    line2 = forms.CharField(label=_("Address (continued)"), max_length=200, required=False)
    postcode = forms.CharField(label=_("Postcode"), max_length=16, required=False)
    city = forms.CharField(label=_("City"), max_length=120, required=False)
    country = forms.CharField(
        label=_("Country"),
        initial="FR",
        max_length=2,
        required=False,
        help_text=_("ISO code of two letters: FR, BE, DE, GB…"),
    )
    # Store pickup
    store = forms.ModelChoiceField(
        label=_("Pickup store"),
        queryset=Location.objects.none(),
        to_field_name="code",
        required=False,
        empty_label=_("Choose a store"),
    )
    # Relay point: filled by the relay-point picker (shipping/_relay_picker.html) from the local directory.
    relay_carrier = forms.CharField(
        label=_("Carrier"), max_length=32, required=False, widget=forms.HiddenInput
    )
    relay_id = forms.CharField(
        label=_("Relay point"), max_length=64, required=False, widget=forms.HiddenInput
    )
    relay_name = forms.CharField(max_length=200, required=False, widget=forms.HiddenInput)
    relay_line1 = forms.CharField(max_length=200, required=False, widget=forms.HiddenInput)
    relay_postcode = forms.CharField(max_length=16, required=False, widget=forms.HiddenInput)
    relay_city = forms.CharField(max_length=120, required=False, widget=forms.HiddenInput)

    allow_preorder = forms.BooleanField(
        label=_("Allow pre-order"),
        required=False,
        help_text=_("Lines out of stock are reserved on incoming stock, with its expected date."),
    )
    note = forms.CharField(
        label=_("Note"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )
    shipping_fee = forms.DecimalField(
        label=_("Shipping charge incl. VAT"),
        max_digits=10,
        decimal_places=2,
        min_value=0,
        required=False,
        help_text=_("Empty: the carrier grid's price, free from the channel's threshold."),
        widget=forms.NumberInput(attrs={"step": "0.01"}),
    )

    REQUIRED_BY_MODE = {
        DeliveryMode.HOME: ("line1", "postcode", "city"),
        DeliveryMode.STORE: ("store",),
        DeliveryMode.RELAY: ("relay_id",),
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        channels = Channel.objects.filter(active=True).order_by("name")
        self.fields["channel"].queryset = channels
        self.fields["store"].queryset = stores_for_pickup()
        if not self.is_bound:
            self.initial.setdefault("external_id", new_phone_external_id())
            web = next((c for c in channels if c.code == "web"), None)
            if web is not None:
                self.initial.setdefault("channel", web.code)

    def clean_external_id(self):
        value = self.cleaned_data["external_id"]
        if not EXTERNAL_ID_RE.match(value):
            raise forms.ValidationError(_("This form is out of date: reload the page."))
        return value

    def clean(self):
        cleaned = super().clean()
        mode = cleaned.get("delivery_mode")
        for name in self.REQUIRED_BY_MODE.get(mode, ()):
            if not cleaned.get(name):
                message = (
                    _("Search a postcode and choose a relay point in the list.")
                    if name == "relay_id"
                    else _("Required for this delivery mode.")
                )
                self.add_error(name, message)
        if mode == DeliveryMode.HOME and cleaned.get("postcode"):
            form_address_clean(self, cleaned)
        if mode == DeliveryMode.RELAY and cleaned.get("relay_id"):
            carrier = carrier_for_relay(cleaned.get("relay_carrier", ""))
            if carrier is None:
                self.add_error("relay_id", _("Choose a relay point in the list."))
            else:
                cleaned["relay_carrier"] = carrier.code
        return cleaned

    def relay_chosen(self):
        """The relay point chosen (to show it again when the form comes back with an error)."""
        data = self.data if self.is_bound else self.initial
        carrier = carrier_for_relay(data.get("relay_carrier", ""))
        if carrier is None or not data.get("relay_id"):
            return None
        return RelayPoint.objects.filter(carrier=carrier, external_id=data.get("relay_id")).first()

    def delivery(self) -> dict:
        c = self.cleaned_data
        mode = c["delivery_mode"]
        if mode == DeliveryMode.HOME:
            return {
                "mode": mode,
                "address": {
                    "name": c["ship_name"] or f"{c['first_name']} {c['last_name']}".strip(),
                    "company": c["company"],
                    "line1": c["line1"],
                    "line2": c["line2"],
                    "postcode": c["postcode"],
                    "city": c["city"],
                    "country": (c["country"] or "FR").upper(),
                    "phone": c["phone"],
                },
            }
        if mode == DeliveryMode.STORE:
            return {"mode": mode, "store": c["store"].code}
        return {
            "mode": mode,
            "relay_point": {
                "carrier": c["relay_carrier"],
                "id": c["relay_id"],
                "name": c["relay_name"],
                "line1": c["relay_line1"],
                "postcode": c["relay_postcode"],
                "city": c["relay_city"],
                "country": "FR",
            },
        }

    def order_input(self, *, lines: list[LineInput]) -> OrderInput:
        c = self.cleaned_data
        return OrderInput(
            external_id=c["external_id"],
            customer={
                "email": c["email"],
                "first_name": c["first_name"],
                "last_name": c["last_name"],
                "phone": c["phone"],
                "company": c["company"],
            },
            delivery=self.delivery(),
            lines=lines,
            allow_preorder=c["allow_preorder"],
            note=c["note"],
            shipping_fee=c.get("shipping_fee"),
        )


class OrderLineForm(forms.Form):
    code = forms.CharField(
        label=_("SKU or EAN"),
        max_length=64,
        required=False,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "off",
                "placeholder": _("SKU, EAN or name"),
                # Suggestions as the person types: the product search fills one shared datalist.
                "list": "product-options",
                "hx-get": reverse_lazy("orders:order_products"),
                "hx-trigger": "input changed delay:250ms",
                "hx-target": "#product-options",
                "hx-swap": "innerHTML",
                "hx-sync": "this:replace",
            }
        ),
    )
    quantity = forms.IntegerField(
        label=_("Quantity"),
        min_value=1,
        max_value=10_000,
        required=False,
        widget=forms.NumberInput(attrs={"placeholder": _("Qty")}),
    )
    unit_price = forms.DecimalField(
        label=_("Unit price incl. VAT"),
        max_digits=10,
        decimal_places=2,
        min_value=0,
        required=False,
        help_text=_("Empty: the catalogue price."),
        widget=forms.NumberInput(attrs={"placeholder": _("Catalogue price"), "step": "0.01"}),
    )

    def clean(self):
        cleaned = super().clean()
        code = (cleaned.get("code") or "").strip()
        cleaned["code"] = code
        if code and not cleaned.get("quantity") and "quantity" not in self.errors:
            self.add_error("quantity", _("How many?"))
        if not code and (cleaned.get("quantity") or cleaned.get("unit_price") is not None):
            self.add_error("code", _("Give the SKU or EAN of this line."))
        return cleaned


class BaseOrderLineFormSet(forms.BaseFormSet):
    def clean(self):
        if any(self.errors):
            return
        codes = [f.cleaned_data.get("code") for f in self.forms if f.cleaned_data.get("code")]
        if not codes:
            raise forms.ValidationError(_("An order needs at least one line."), code="no_lines")
        self.skus = products_for_codes(codes=codes)

    def lines(self) -> list[LineInput]:
        """The filled rows, EANs turned into SKUs (unknown codes go through as typed: intake refuses them
        with the list of unknown SKUs)."""
        return [
            LineInput(
                sku=self.skus.get(f.cleaned_data["code"], f.cleaned_data["code"]),
                quantity=f.cleaned_data["quantity"],
                unit_price=f.cleaned_data.get("unit_price"),
            )
            for f in self.forms
            if f.cleaned_data.get("code")
        ]


LINE_ROWS = 5
MAX_LINE_ROWS = 100

OrderLineFormSet = forms.formset_factory(
    OrderLineForm,
    formset=BaseOrderLineFormSet,
    extra=LINE_ROWS,
    max_num=MAX_LINE_ROWS,
    absolute_max=MAX_LINE_ROWS,
    validate_max=True,
)


# --- Channels and API keys ------------------------------------------------------------------------------


class ChannelForm(forms.ModelForm):
    class Meta:
        model = Channel
        fields = [
            "name",
            "kind",
            "safety_buffer",
            "sourcing_strategy",
            "free_shipping_above",
            "shipping_vat_rate",
            "active",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # A form posted without it (an older page, a script) keeps the channel's rate.
        self.fields["shipping_vat_rate"].required = False

    def clean_shipping_vat_rate(self):
        rate = self.cleaned_data.get("shipping_vat_rate")
        if rate is None:
            return (
                self.instance.shipping_vat_rate
                if self.instance.pk
                else Channel._meta.get_field("shipping_vat_rate").default
            )
        return rate


class ChannelLocationForm(forms.Form):
    location = forms.ModelChoiceField(
        label=_("Location"),
        queryset=Location.objects.none(),
        to_field_name="code",
        required=False,
        empty_label="—",
    )
    priority = forms.IntegerField(label=_("Priority"), min_value=0, max_value=999, required=False)

    def __init__(self, *args, locations=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["location"].queryset = locations if locations is not None else Location.objects.none()


class BaseChannelLocationFormSet(forms.BaseFormSet):
    def clean(self):
        if any(self.errors):
            return
        seen = set()
        for form in self.forms:
            location = form.cleaned_data.get("location")
            if location is None:
                continue
            if location.pk in seen:
                raise forms.ValidationError(
                    _("%(location)s is listed twice."), params={"location": location.name}, code="duplicate"
                )
            seen.add(location.pk)

    def locations(self) -> list[tuple[int, int]]:
        """(location id, priority) of the filled rows; rows without a priority keep their order."""
        rows = [f.cleaned_data for f in self.forms if f.cleaned_data.get("location")]
        return [
            (row["location"].pk, row["priority"] if row.get("priority") is not None else (index + 1) * 10)
            for index, row in enumerate(rows)
        ]


ChannelLocationFormSet = forms.formset_factory(
    ChannelLocationForm, formset=BaseChannelLocationFormSet, extra=2, max_num=50, absolute_max=50
)


class ApiKeyCreateForm(forms.Form):
    name = forms.CharField(
        label=_("Name"),
        max_length=100,
        required=False,
        help_text=_("To recognise the key, e.g. the shop's name."),
    )
    scopes = forms.MultipleChoiceField(
        label=_("Scopes"), choices=ApiKey.Scope.choices, widget=forms.CheckboxSelectMultiple
    )


class WhatIfForm(forms.Form):
    strategy = forms.ChoiceField(label=_("Strategy to try"), choices=Channel.Strategy.choices)
    days = forms.IntegerField(label=_("Days of orders"), min_value=1, max_value=365, initial=30)
    channel = forms.ModelChoiceField(
        label=_("Channel"),
        queryset=Channel.objects.order_by("name"),
        required=False,
        empty_label=_("All channels"),
    )
