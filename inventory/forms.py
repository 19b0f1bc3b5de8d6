from datetime import timedelta

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from common.addresses import form_address_clean
from common.exceptions import DomainError

from .models import IncomingStock, Location, Product, StockMovement
from .selectors import locations_for_user, product_by_code

MAX_UNITS = 1_000_000


class LocationForm(forms.ModelForm):
    class Meta:
        model = Location
        fields = [
            "code",
            "name",
            "kind",
            "address_line1",
            "address_line2",
            "postcode",
            "city",
            "country",
            "latitude",
            "longitude",
            "is_pickup_point",
            "opening_hours",
            "aisle_order",
            "active",
        ]
        widgets = {"opening_hours": forms.Textarea(attrs={"rows": 3})}

    def clean(self):
        cleaned = super().clean()
        form_address_clean(self, cleaned)
        return cleaned


def domain_error_message(exc: DomainError) -> str:
    """The sentence a page shows for a refusal of an inventory service (services speak English to the API;
    pages translate by error code, with the figures of the error's details)."""
    details = exc.details
    if exc.code == "insufficient_stock" and "on_hand" in details and not details["reserved"]:
        return ngettext(
            "Only %(on_hand)s unit is on hand here: the stock cannot go below zero.",
            "Only %(on_hand)s units are on hand here: the stock cannot go below zero.",
            details["on_hand"],
        ) % {"on_hand": details["on_hand"]}
    if exc.code == "insufficient_stock" and "on_hand" in details:
        return gettext(
            "Not enough free units: %(on_hand)s on hand, %(reserved)s reserved for orders, so at most "
            "%(free)s can leave. Reserved units cannot be removed."
        ) % {
            "on_hand": details["on_hand"],
            "reserved": details["reserved"],
            "free": details["on_hand"] - details["reserved"],
        }
    if exc.code == "insufficient_stock" and "reserved" in details:
        return gettext("%(reserved)s unit(s) of this replenishment are promised to pre-orders.") % {
            "reserved": details["reserved"]
        }
    if exc.code == "invalid_quantity" and "expected" in details:
        return gettext("Only %(expected)s unit(s) are still expected.") % {"expected": details["expected"]}
    messages = {
        "invalid_quantity": _("Quantities must be whole numbers greater than zero."),
        "same_location": _("A transfer goes to another location."),
        "invalid_reason": _("Pick a reason from the list."),
        "incoming_closed": _("This replenishment is already received or cancelled."),
        "out_of_stock": _("Not enough free units at this location."),
    }
    if exc.code in messages:
        return str(messages[exc.code])
    return gettext("The operation was refused (%(code)s).") % {"code": exc.code}


class ProductCodeField(forms.CharField):
    """A product typed or scanned: SKU or EAN. Cleans to the ``Product``."""

    def __init__(self, *, allow_inactive: bool = True, **kwargs):
        self.allow_inactive = allow_inactive
        kwargs.setdefault("max_length", 64)
        kwargs.setdefault("label", _("Product (EAN or SKU)"))
        super().__init__(**kwargs)

    def widget_attrs(self, widget):
        attrs = super().widget_attrs(widget)
        attrs.update({"autocomplete": "off", "autocapitalize": "off", "spellcheck": "false"})
        return attrs

    def clean(self, value):
        code = super().clean(value)
        product = product_by_code(code=code)
        if product is None:
            raise ValidationError(
                _("No product has the code %(code)s. Check the label, or type the SKU."),
                code="unknown_product",
                params={"code": code},
            )
        if not product.active and not self.allow_inactive:
            raise ValidationError(
                _("%(sku)s is inactive: it cannot be received or ordered. Ask a manager to reactivate it."),
                code="inactive_product",
                params={"sku": product.sku},
            )
        return product


class UserLocationField(forms.ModelChoiceField):
    """One of the user's locations, by code. Another location is refused with a clear message."""

    def __init__(self, *, user, **kwargs):
        kwargs.setdefault("label", _("Location"))
        kwargs.setdefault("empty_label", None)
        super().__init__(
            queryset=locations_for_user(user=user).order_by("kind", "code"),
            to_field_name="code",
            error_messages={
                "invalid_choice": _("This location is not one of yours: pick one of your locations.")
            },
            **kwargs,
        )


def _quantity_field(**kwargs):
    kwargs.setdefault("label", _("Quantity"))
    return forms.IntegerField(min_value=1, max_value=MAX_UNITS, **kwargs)


class ReceiveForm(forms.Form):
    """The goods-receipt scan screen."""

    code = ProductCodeField(allow_inactive=False, label=_("Scan or type an EAN or SKU"))
    quantity = _quantity_field(initial=1)
    bin_code = forms.CharField(label=_("Bin (optional)"), max_length=32, required=False)
    reference = forms.CharField(
        label=_("Reference (optional)"),
        max_length=100,
        required=False,
        help_text=_("Delivery note or purchase order number."),
    )

    field_order = ["location", "code", "quantity", "bin_code", "reference"]

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["location"] = UserLocationField(user=user)
        self.order_fields(self.field_order)
        self.fields["code"].widget.attrs.update(
            {"autofocus": True, "class": "scan-input", "inputmode": "text"}
        )
        self.fields["quantity"].widget.attrs.update({"inputmode": "numeric", "data-reset-after-scan": "1"})
        self.fields["bin_code"].widget.attrs.update({"data-reset-after-scan": "", "autocomplete": "off"})


class AdjustForm(forms.Form):
    MODE_DELTA = "delta"
    MODE_COUNT = "count"

    code = ProductCodeField()
    mode = forms.ChoiceField(
        label=_("What happened?"),
        choices=[
            (MODE_DELTA, _("Units were added or removed")),
            (MODE_COUNT, _("I counted the units on the shelf")),
        ],
        initial=MODE_DELTA,
        widget=forms.RadioSelect,
    )
    delta = forms.IntegerField(
        label=_("Change (+/−)"),
        required=False,
        min_value=-MAX_UNITS,
        max_value=MAX_UNITS,
        help_text=_("Negative to remove units (e.g. -2), positive to add them."),
    )
    reason_code = forms.ChoiceField(
        label=_("Reason"),
        required=False,
        choices=[("", "---------"), *[c for c in StockMovement.AdjustmentCode.choices if c[0] != "count"]],
    )
    counted = forms.IntegerField(label=_("Units counted"), required=False, min_value=0, max_value=MAX_UNITS)
    note = forms.CharField(label=_("Note"), max_length=255, required=False)

    field_order = ["code", "location", "mode", "delta", "reason_code", "counted", "note"]

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["location"] = UserLocationField(user=user)
        self.order_fields(self.field_order)

    def clean(self):
        data = super().clean()
        if data.get("mode") == self.MODE_COUNT:
            if data.get("counted") is None and "counted" not in self.errors:
                self.add_error("counted", _("Type how many units you counted (0 or more)."))
        elif data.get("mode") == self.MODE_DELTA:
            if data.get("delta") in (None, 0) and "delta" not in self.errors:
                self.add_error("delta", _("Type a change other than zero, e.g. -2 or 5."))
            if not data.get("reason_code"):
                self.add_error("reason_code", _("Pick the reason of the change."))
        return data


def _default_expected_on():
    return timezone.localdate() + timedelta(days=2)


class _ExpectedOnMixin:
    def clean_expected_on(self):
        value = self.cleaned_data["expected_on"]
        if value < timezone.localdate():
            raise ValidationError(_("The expected date cannot be in the past."), code="past_date")
        return value


def _expected_on_field():
    return forms.DateField(
        label=_("Expected on"),
        initial=_default_expected_on,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )


class TransferForm(_ExpectedOnMixin, forms.Form):
    code = ProductCodeField()
    to_location = forms.ModelChoiceField(
        label=_("To"),
        queryset=Location.objects.filter(active=True).order_by("kind", "code"),
        to_field_name="code",
    )
    quantity = _quantity_field()
    expected_on = _expected_on_field()
    reference = forms.CharField(label=_("Reference (optional)"), max_length=100, required=False)

    field_order = ["code", "from_location", "to_location", "quantity", "expected_on", "reference"]

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["from_location"] = UserLocationField(user=user, label=_("From"))
        self.order_fields(self.field_order)

    def clean(self):
        data = super().clean()
        source, destination = data.get("from_location"), data.get("to_location")
        if source and destination and source.pk == destination.pk:
            self.add_error("to_location", _("A transfer goes to another location."))
        return data


class IncomingCreateForm(_ExpectedOnMixin, forms.Form):
    """A purchase order on its way (the replenishment pre-orders can be taken against)."""

    code = ProductCodeField(allow_inactive=False)
    quantity = _quantity_field()
    expected_on = _expected_on_field()
    reference = forms.CharField(
        label=_("Reference (optional)"), max_length=100, required=False, help_text=_("Purchase order number.")
    )

    field_order = ["code", "location", "quantity", "expected_on", "reference"]

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["location"] = UserLocationField(user=user, label=_("Arrives at"))
        self.order_fields(self.field_order)


class IncomingReceiveForm(forms.Form):
    quantity = _quantity_field(label=_("Units received"))

    def __init__(self, *args, incoming: IncomingStock, **kwargs):
        kwargs.setdefault("initial", {"quantity": incoming.quantity})
        super().__init__(*args, **kwargs)
        self.incoming = incoming
        self.fields["quantity"].max_value = max(incoming.quantity, 1)
        self.fields["quantity"].validators.append(self._not_more_than_expected)
        self.fields["quantity"].widget.attrs["max"] = max(incoming.quantity, 1)

    def _not_more_than_expected(self, value):
        if value > self.incoming.quantity:
            raise ValidationError(
                _("Only %(expected)s unit(s) are still expected."),
                code="too_many",
                params={"expected": self.incoming.quantity},
            )


# --- Catalogue ---------------------------------------------------------------------------------------------


class ProductForm(forms.ModelForm):
    """A product of the catalogue. The SKU is typed once, at creation: orders and the ledger keep it."""

    class Meta:
        model = Product
        fields = [
            "sku",
            "name",
            "ean",
            "price",
            "vat_rate",
            "weight_g",
            "length_mm",
            "width_mm",
            "height_mm",
            "image",
            "customs_code",
            "origin_country",
        ]
        widgets = {
            "ean": forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
            "price": forms.NumberInput(attrs={"step": "0.01", "min": "0"}),
            "weight_g": forms.NumberInput(attrs={"min": "0"}),
            "length_mm": forms.NumberInput(attrs={"min": "0"}),
            "width_mm": forms.NumberInput(attrs={"min": "0"}),
            "height_mm": forms.NumberInput(attrs={"min": "0"}),
            "image": forms.ClearableFileInput(attrs={"accept": "image/png,image/jpeg,image/webp"}),
        }

    MAX_IMAGE_BYTES = 5 * 1024 * 1024

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["sku"].disabled = True
            self.fields["sku"].help_text = _("The SKU cannot change: orders and the stock ledger use it.")
        self.fields["ean"].help_text = _("13 digits with the check digit; empty if the product has none.")

    def clean_sku(self):
        sku = (self.cleaned_data.get("sku") or "").strip()
        if any(c.isspace() for c in sku):
            raise ValidationError(_("A SKU has no spaces."), code="invalid_sku")
        return sku

    def clean_price(self):
        price = self.cleaned_data.get("price")
        if price is not None and price < 0:
            raise ValidationError(_("A price cannot be negative."), code="negative_price")
        return price

    def clean_ean(self):
        ean = (self.cleaned_data.get("ean") or "").strip()
        return ean.zfill(13) if ean.isdigit() and len(ean) == 12 else ean

    def clean_image(self):
        image = self.cleaned_data.get("image")
        if image and getattr(image, "size", 0) > self.MAX_IMAGE_BYTES:
            raise ValidationError(_("The image is larger than 5 MB."), code="image_too_large")
        return image


class CatalogueImportForm(forms.Form):
    MAX_BYTES = 10 * 1024 * 1024

    file = forms.FileField(
        label=_("File (CSV or XLSX)"),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.txt,.xlsx"}),
    )
    dry_run = forms.BooleanField(
        label=_("Dry run: check the file without changing the catalogue"), required=False, initial=True
    )

    def clean_file(self):
        file = self.cleaned_data["file"]
        if not file.name.lower().endswith((".csv", ".txt", ".xlsx")):
            raise ValidationError(_("Send a .csv or .xlsx file."), code="file_type")
        if file.size > self.MAX_BYTES:
            raise ValidationError(_("The file is larger than 10 MB."), code="file_size")
        return file


# --- Kits -------------------------------------------------------------------------------------------------


class KitComponentForm(forms.Form):
    """One component of a kit: the product (SKU or EAN, as typed or scanned) and its units per kit."""

    code = forms.CharField(
        label=_("Component (SKU or EAN)"),
        max_length=64,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "list": "kit-products"}),
    )
    quantity = forms.IntegerField(
        label=_("Units per kit"), min_value=1, max_value=999, required=False, initial=1
    )

    def clean(self):
        data = super().clean()
        code = (data.get("code") or "").strip()
        if not code:
            data["product"] = None
            return data
        from .selectors import product_by_code

        product = product_by_code(code=code)
        if product is None:
            self.add_error("code", _("No product has this SKU or EAN."))
        elif not data.get("quantity"):
            self.add_error("quantity", _("Give the units of this component in one kit."))
        data["product"] = product
        return data


KitComponentFormSet = forms.formset_factory(KitComponentForm, extra=3, max_num=50, absolute_max=60)
