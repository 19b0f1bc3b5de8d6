import re
from decimal import Decimal, InvalidOperation

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .models import Carrier, CarrierService, DocumentBranding, ShippingRule
from .rule_services import RuleInput, rule_errors
from .services import InvalidService, weekdays_normalise


class CarrierForm(forms.ModelForm):
    class Meta:
        model = Carrier
        fields = ["code", "name", "adapter", "sandbox", "active"]


class CarrierServiceForm(forms.ModelForm):
    class Meta:
        model = CarrierService
        fields = [
            "carrier",
            "code",
            "name",
            "delivery_mode",
            "max_weight_g",
            "cutoff_time",
            "delivery_weekdays",
            "is_express",
            "active",
        ]
        widgets = {
            "cutoff_time": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "delivery_weekdays": forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
            "max_weight_g": forms.NumberInput(attrs={"min": 1}),
        }
        error_messages = {
            "cutoff_time": {"invalid": _("Enter the cut-off as a time, e.g. 16:00.")},
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "carrier" in self.fields:  # not in the inline of Django admin's carrier page
            self.fields["carrier"].empty_label = None
        # Typed free-hand ("1 2 3 4 5"): the model's length limit applies to the normalised value.
        self.fields["delivery_weekdays"].max_length = 20
        self.fields["delivery_weekdays"].widget.attrs["maxlength"] = 20
        self.fields["delivery_weekdays"].validators = []

    def clean_delivery_weekdays(self):
        try:
            return weekdays_normalise(self.cleaned_data["delivery_weekdays"])
        except InvalidService as exc:
            raise forms.ValidationError(exc.message, code="invalid") from exc

    def clean_max_weight_g(self):
        value = self.cleaned_data["max_weight_g"]
        if value is not None and value <= 0:
            raise forms.ValidationError(_("The maximum weight is above zero."), code="min_value")
        return value


def _price_field(label) -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        min_value=Decimal("0"),
        max_digits=8,
        decimal_places=2,
        localize=True,
        widget=forms.TextInput(
            attrs={"inputmode": "decimal", "autocomplete": "off", "class": "input--price"}
        ),
    )


class RateRowForm(forms.Form):
    """A weight band of the price grid: its limit and one price per distance band of the grid."""

    max_weight_g = forms.IntegerField(label=_("Up to weight (g)"), min_value=1)
    replace = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, distances: list[int], **kwargs):
        super().__init__(*args, **kwargs)
        self.distances = distances
        for km in distances:
            label = gettext("Price up to %(km)s km (€ excl. VAT)") % {"km": km}
            self.fields[f"price_{km}"] = _price_field(label)

    def prices(self) -> dict[int, Decimal]:
        return {km: self.cleaned_data[f"price_{km}"] for km in self.distances}


class TransitRowForm(forms.Form):
    max_distance_km = forms.IntegerField(label=_("Up to distance (km)"), min_value=1)
    transit_days = forms.IntegerField(label=_("Transit (working days)"), min_value=0, max_value=60)
    replace = forms.IntegerField(required=False, widget=forms.HiddenInput)


class BandDeleteForm(forms.Form):
    """Which band to delete: ``band`` is ``weight``, ``distance`` (price grid) or ``transit``."""

    band = forms.ChoiceField(choices=[("weight", "weight"), ("distance", "distance"), ("transit", "transit")])
    value = forms.IntegerField(min_value=1)


# The whole price grid as text: what a spreadsheet copies (tab-separated) or a manager types (semicolons).

_NUMBER_NOISE = re.compile(r"[\s\u00a0\u202f€]|km$|g$", re.IGNORECASE)


def grid_to_text(distances: list[int], rows) -> str:
    lines = [";".join(["g/km", *(str(km) for km in distances)])]
    for row in rows:
        lines.append(
            ";".join([str(row.max_weight_g), *("" if p is None else f"{p:.2f}" for p in row.prices)])
        )
    return "\n".join(lines)


def _band(cell: str) -> int | None:
    text = _NUMBER_NOISE.sub("", cell.strip())
    return int(text) if text.isdigit() else None


def _price(cell: str, separator: str) -> Decimal | None:
    text = _NUMBER_NOISE.sub("", cell)
    if separator != ",":
        text = text.replace(",", ".")  # French decimals
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


class RateGridTextForm(forms.Form):
    text = forms.CharField(
        label=_("Price grid"),
        widget=forms.Textarea(attrs={"rows": 10, "spellcheck": "false", "class": "grid-text"}),
        help_text=_(
            "First line: a label, then the distance bands in km. Then one line per weight band: the weight "
            "in grams, then one price excl. VAT per distance band. Separate cells with semicolons or tabs "
            "(a block copied from a spreadsheet works). The grid replaces the current one as a whole."
        ),
    )

    def clean_text(self):
        """Parse into ``(distances, rows)``; the rules (no band twice, prices >= 0, every cell priced) are
        the service's."""
        lines = [line for line in self.cleaned_data["text"].splitlines() if line.strip()]
        raw = "\n".join(lines)
        separator = "\t" if "\t" in raw else ";" if ";" in raw else ","

        def cells_of(line: str) -> list[str]:
            cells = [cell.strip() for cell in line.split(separator)]
            while len(cells) > 1 and not cells[-1]:
                cells.pop()  # a spreadsheet's trailing separators
            return cells

        errors = []
        header = cells_of(lines[0])
        if len(lines) > 1 and _band(header[0]) is not None and len(header) == len(cells_of(lines[1])) - 1:
            header = ["", *header]  # no label before the distance bands
        distances = []
        for cell in header[1:]:
            km = _band(cell)
            if km is None:
                errors.append(
                    gettext("Line 1: “%(cell)s” is not a distance in km.")
                    % {"cell": cell or gettext("(empty)")}
                )
            distances.append(km)
        rows = []
        for number, line in enumerate(lines[1:], start=2):
            cells = cells_of(line)
            weight = _band(cells[0])
            if weight is None:
                errors.append(
                    gettext("Line %(line)d: “%(cell)s” is not a weight in grams.")
                    % {"line": number, "cell": cells[0] or gettext("(empty)")}
                )
            prices = []
            for cell in cells[1:]:
                price = _price(cell, separator)
                if price is None:
                    errors.append(
                        gettext("Line %(line)d: “%(cell)s” is not a price.")
                        % {"line": number, "cell": cell or gettext("(empty)")}
                    )
                prices.append(price)
            rows.append((weight, prices))
        if errors:
            raise forms.ValidationError(errors)
        return distances, rows


class ShippingRuleForm(forms.ModelForm):
    """A shipping rule's conditions and the service it chooses. The rules across fields (the service's mode
    is the rule's, ranges in order) are the service's (``rule_services.rule_save``) and come back on
    their fields."""

    class Meta:
        model = ShippingRule
        fields = [
            "name",
            "channel",
            "delivery_mode",
            "country",
            "min_weight_g",
            "max_weight_g",
            "min_order_value",
            "max_order_value",
            "service",
            "active",
        ]
        widgets = {
            "country": forms.TextInput(
                attrs={"maxlength": 2, "autocomplete": "off", "class": "input--short"}
            ),
            "min_weight_g": forms.NumberInput(attrs={"min": 0}),
            "max_weight_g": forms.NumberInput(attrs={"min": 0}),
            "min_order_value": forms.TextInput(attrs={"inputmode": "decimal", "class": "input--price"}),
            "max_order_value": forms.TextInput(attrs={"inputmode": "decimal", "class": "input--price"}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["channel"].empty_label = gettext("Every channel")
        self.fields["delivery_mode"].choices = [
            ("", gettext("Every delivery mode")),
            *CarrierService.Mode.choices,
        ]
        services = CarrierService.objects.select_related("carrier").filter(carrier__active=True)
        if self.instance.pk is None:
            services = services.filter(active=True)
        self.fields["service"].queryset = services.order_by("carrier__name", "name")
        self.fields["service"].label_from_instance = lambda s: f"{s} ({s.get_delivery_mode_display()})"
        self.fields["service"].empty_label = None
        for name in ("min_order_value", "max_order_value"):
            self.fields[name].localize = True
            self.fields[name].widget.is_localized = True

    def clean_country(self):
        return (self.cleaned_data.get("country") or "").strip().upper()

    def clean(self):
        """The rule's checks across fields are the service's (``rule_errors``); each message goes on its
        field, which also keeps Django's generic "constraint violated" message away."""
        cleaned = super().clean()
        if cleaned.get("service"):
            for field, message in rule_errors(self.rule_input()).items():
                if field not in self.errors:
                    self.add_error(field if field in self.fields else None, message)
        return cleaned

    def rule_input(self) -> RuleInput:
        c = self.cleaned_data
        return RuleInput(
            name=c.get("name") or "",
            service=c["service"],
            channel_id=c["channel"].pk if c.get("channel") else None,
            delivery_mode=c.get("delivery_mode") or "",
            country=c.get("country") or "",
            min_weight_g=c.get("min_weight_g"),
            max_weight_g=c.get("max_weight_g"),
            min_order_value=c.get("min_order_value"),
            max_order_value=c.get("max_order_value"),
            active=c.get("active", False),
        )


class CarrierAccountForm(forms.Form):
    """A carrier's credentials: the fields its adapter asks for. Secrets are write-only (never shown again;
    left empty, the stored one is kept)."""

    test_mode = forms.BooleanField(
        label=_("Use the carrier's test platform"),
        required=False,
        help_text=_("Labels made there are not real; switch off once the account works."),
    )

    def __init__(self, *args, adapter_cls, account=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.secret_names = []
        stored = (account.values or {}) if account else {}
        stored_secrets = set()
        if account is not None and account.secrets:
            import json

            try:
                stored_secrets = {k for k, v in json.loads(account.secrets).items() if v}
            except ValueError:
                stored_secrets = set()
        fields = {}
        for name, label, secret in adapter_cls.credentials:
            if secret:
                self.secret_names.append(name)
                fields[name] = forms.CharField(
                    label=label,
                    required=False,
                    strip=True,
                    widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
                    help_text=_("Stored: leave empty to keep it.")
                    if name in stored_secrets
                    else _("Not set."),
                )
            else:
                fields[name] = forms.CharField(label=label, required=False, initial=stored.get(name, ""))
        self.fields = {**fields, "test_mode": self.fields["test_mode"]}
        if account is not None:
            self.fields["test_mode"].initial = account.test_mode

    def values(self) -> dict:
        return {k: v for k, v in self.cleaned_data.items() if k not in self.secret_names and k != "test_mode"}

    def secrets(self) -> dict:
        return {k: self.cleaned_data.get(k, "") for k in self.secret_names}


class ChannelReturnForm(forms.Form):
    return_label_in_parcel = forms.BooleanField(
        label=_("Slip a return label in every parcel"), required=False
    )
    return_carrier = forms.ModelChoiceField(
        label=_("Return carrier"),
        queryset=Carrier.objects.filter(active=True).exclude(adapter="store"),
        required=False,
        empty_label=_("The carrier of the parcel"),
    )


class BrandingForm(forms.ModelForm):
    remove_logo = forms.BooleanField(label=_("Remove the logo"), required=False)

    class Meta:
        model = DocumentBranding
        fields = ["logo", "primary_color", "accent_color", "slip_message", "label_text"]
        widgets = {
            "primary_color": forms.TextInput(attrs={"type": "color"}),
            "accent_color": forms.TextInput(attrs={"type": "color"}),
            "slip_message": forms.Textarea(attrs={"rows": 3}),
        }

    def clean_logo(self):
        logo = self.cleaned_data.get("logo")
        if logo and hasattr(logo, "size") and logo.size > 1_000_000:
            raise forms.ValidationError(_("The logo must weigh less than 1 MB."))
        return logo
