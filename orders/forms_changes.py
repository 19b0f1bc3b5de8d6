"""Forms of the order's changes in the back office: the edit (lines, delivery, shipping charge), units to
cancel, a payment received, a hold."""

from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from common.templatetags.oms_tags import money
from inventory.models import Location

from .models import CancelReason, DeliveryMode, GoodwillReason, HoldKind
from .reasons import marketplace_reasons
from .services.edits import EditInput
from .services.intake import LineInput

ADD_ROWS = 2


class OrderEditForm(forms.Form):
    """One quantity and one "replace with" per line, rows to add products, the delivery and the shipping
    charge, all prefilled with the order as it is: what the person changes is the edit."""

    delivery_mode = forms.ChoiceField(label=_("Delivery mode"), choices=DeliveryMode.choices)
    ship_name = forms.CharField(label=_("Recipient"), max_length=200, required=False)
    line1 = forms.CharField(label=_("Address"), max_length=200, required=False)
    line2 = forms.CharField(label=_("Address (continued)"), max_length=200, required=False)
    postcode = forms.CharField(label=_("Postcode"), max_length=16, required=False)
    city = forms.CharField(label=_("City"), max_length=120, required=False)
    country = forms.CharField(label=_("Country"), max_length=2, required=False)
    store = forms.ModelChoiceField(
        label=_("Pickup store"),
        queryset=Location.objects.filter(kind=Location.Kind.STORE, active=True),
        to_field_name="code",
        required=False,
    )
    shipping_fee = forms.DecimalField(
        label=_("Shipping charge incl. VAT"), max_digits=10, decimal_places=2, min_value=0
    )
    reason = forms.CharField(label=_("Why (for the timeline)"), max_length=255, required=False)

    def __init__(self, *args, order, **kwargs):
        self.order = order
        self.lines = [line for line in order.lines.all() if line.quantity]
        initial = {
            "delivery_mode": order.delivery_mode,
            "ship_name": order.ship_name,
            "line1": order.ship_line1,
            "line2": order.ship_line2,
            "postcode": order.ship_postcode,
            "city": order.ship_city,
            "country": order.ship_country,
            "store": order.pickup_location.code if order.pickup_location_id else None,
            "shipping_fee": order.shipping_fee,
        }
        for line in self.lines:
            initial[f"qty_{line.line_no}"] = line.quantity
        super().__init__(*args, initial=initial, **kwargs)
        for line in self.lines:
            self.fields[f"qty_{line.line_no}"] = forms.IntegerField(
                label=_("Quantity of %(sku)s") % {"sku": line.sku}, min_value=0, max_value=10_000
            )
            self.fields[f"replace_{line.line_no}"] = forms.CharField(
                label=_("Replace %(sku)s with (SKU)") % {"sku": line.sku}, max_length=64, required=False
            )
        for index in range(ADD_ROWS):
            self.fields[f"add_sku_{index}"] = forms.CharField(
                label=_("Add a product (SKU)"), max_length=64, required=False
            )
            self.fields[f"add_qty_{index}"] = forms.IntegerField(
                label=_("Quantity"), min_value=1, max_value=10_000, required=False
            )

    def line_rows(self):
        return [
            {"line": line, "qty": self[f"qty_{line.line_no}"], "replace": self[f"replace_{line.line_no}"]}
            for line in self.lines
        ]

    def add_rows(self):
        return [{"sku": self[f"add_sku_{i}"], "qty": self[f"add_qty_{i}"]} for i in range(ADD_ROWS)]

    def clean(self):
        cleaned = super().clean()
        for index in range(ADD_ROWS):
            if cleaned.get(f"add_sku_{index}") and not cleaned.get(f"add_qty_{index}"):
                self.add_error(f"add_qty_{index}", _("How many?"))
        return cleaned

    def _delivery(self) -> dict | None:
        c, order = self.cleaned_data, self.order
        mode = c["delivery_mode"]
        if mode == DeliveryMode.STORE:
            store = c.get("store")
            if store is None:
                self.add_error("store", _("Choose a store."))
                return None
            if order.delivery_mode == mode and order.pickup_location_id == store.pk:
                return None
            return {"mode": mode, "store": store.code}
        address = {
            "name": c["ship_name"],
            "line1": c["line1"],
            "line2": c["line2"],
            "postcode": c["postcode"],
            "city": c["city"],
            "country": (c["country"] or "FR").upper(),
            "phone": order.ship_phone,
        }
        same = order.delivery_mode == mode and all(
            (address[k] or "") == (getattr(order, f) or "")
            for k, f in (
                ("name", "ship_name"),
                ("line1", "ship_line1"),
                ("line2", "ship_line2"),
                ("postcode", "ship_postcode"),
                ("city", "ship_city"),
                ("country", "ship_country"),
            )
        )
        if same:
            return None
        if mode == DeliveryMode.RELAY:
            if not order.relay_point:
                self.add_error(
                    "delivery_mode", _("Choose the relay point on a new order: this one has none.")
                )
                return None
            return {
                "mode": mode,
                "relay_point": {**order.relay_point, **{k: v for k, v in address.items() if v}},
            }
        return {"mode": mode, "address": address}

    def edit_input(self) -> EditInput | None:
        c = self.cleaned_data
        quantities = {
            line.line_no: c[f"qty_{line.line_no}"]
            for line in self.lines
            if c.get(f"qty_{line.line_no}") is not None and c[f"qty_{line.line_no}"] != line.quantity
        }
        replace = {
            line.line_no: c[f"replace_{line.line_no}"].strip()
            for line in self.lines
            if (c.get(f"replace_{line.line_no}") or "").strip()
        }
        add = [
            LineInput(sku=c[f"add_sku_{i}"].strip(), quantity=c[f"add_qty_{i}"])
            for i in range(ADD_ROWS)
            if (c.get(f"add_sku_{i}") or "").strip()
        ]
        delivery = self._delivery()
        if self.errors:
            return None
        fee = c["shipping_fee"]
        return EditInput(
            quantities=quantities,
            replace=replace,
            add=add,
            delivery=delivery,
            shipping_fee=fee if fee != self.order.shipping_fee else None,
            reason=c.get("reason") or "",
        )


class PaymentRecordForm(forms.Form):
    amount = forms.DecimalField(
        label=_("Amount received"), max_digits=12, decimal_places=2, min_value=Decimal("0.01")
    )
    reference = forms.CharField(label=_("Reference (transfer, cheque…)"), max_length=100, required=False)


class HoldForm(forms.Form):
    kind = forms.ChoiceField(label=_("Hold"), choices=HoldKind.choices)
    reason = forms.CharField(label=_("Why"), max_length=255, required=False)
    release = forms.BooleanField(required=False, widget=forms.HiddenInput)


def _marketplace_field(form: forms.Form, *, order, family: str, label) -> None:
    """A select of the marketplace's reason codes (RE02, cached by the connector) for its orders; the
    connector's default preselected. Nothing for another channel."""
    choices, default = marketplace_reasons(channel=order.channel, family=family)
    if not choices:
        return
    form.fields["reason_code"] = forms.ChoiceField(
        label=label,
        choices=[("", _("Default")), *choices],
        required=False,
        initial=default,
        help_text=_("Sent to the marketplace with the change (Default: the connector's default reason)."),
    )


class GoodwillForm(forms.Form):
    """An amount given back without units (a commercial gesture). ``key`` is drawn when the form is shown: a
    second submit of the same form refunds nothing more."""

    amount = forms.DecimalField(
        label=_("Amount to give back incl. VAT"), max_digits=12, decimal_places=2, min_value=Decimal("0.01")
    )
    reason = forms.ChoiceField(label=_("Reason"), choices=GoodwillReason.choices)
    note = forms.CharField(label=_("Note (for the timeline)"), max_length=500)
    key = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args, order, room: Decimal, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["amount"].max_value = room
        self.fields["amount"].validators.append(_max_validator(room))
        self.fields["amount"].widget.attrs.update({"max": str(room), "step": "0.01", "min": "0.01"})
        self.fields["amount"].help_text = _("At most %(room)s.") % {"room": money(room)}
        _marketplace_field(self, order=order, family="refund", label=_("Marketplace's refund reason"))


def _max_validator(room: Decimal):
    from django.core.validators import MaxValueValidator

    return MaxValueValidator(room, message=_("At most %(limit_value)s can still be given back."))


class CancelReasonMixin:
    """A reason chosen from our list (and, for a marketplace's order, the marketplace's reason code), added to
    a cancel form; ``reason_text()`` is what the timeline keeps."""

    def add_reason_fields(self, *, order) -> None:
        self.fields["reason_choice"] = forms.ChoiceField(
            label=_("Reason"), choices=[("", "—"), *CancelReason.choices], required=False
        )
        self.fields["reason"].label = _("Details (for the timeline)")
        _marketplace_field(
            self, order=order, family="cancellation", label=_("Marketplace's cancellation reason")
        )
        # the reason first, then the marketplace's code, then the free text
        order_first = ["reason_choice", "reason_code", "reason"]
        self.order_fields([name for name in order_first if name in self.fields] + list(self.fields))

    def reason_text(self) -> str:
        choice = self.cleaned_data.get("reason_choice") or ""
        label = str(CancelReason(choice).label) if choice in CancelReason.values else ""
        details = (self.cleaned_data.get("reason") or "").strip()
        return (f"{label}: {details}" if label and details else label or details)[:255]

    def reason_code(self) -> str:
        return self.cleaned_data.get("reason_code") or ""


class LinesCancelForm(CancelReasonMixin, forms.Form):
    """Units to cancel per line, at most what has not left, and why."""

    reason = forms.CharField(label=_("Why (for the timeline)"), max_length=255, required=False)

    def __init__(self, *args, order, left: dict[int, int], **kwargs):
        super().__init__(*args, **kwargs)
        self.add_reason_fields(order=order)
        self.lines = [line for line in order.lines.all() if left.get(line.pk)]
        self.left = left
        for line in self.lines:
            self.fields[f"cancel_{line.pk}"] = forms.IntegerField(
                label=_("Units of %(sku)s to cancel (at most %(left)s)")
                % {"sku": line.sku, "left": left[line.pk]},
                min_value=0,
                max_value=left[line.pk],
                initial=0,
                required=False,
            )

    def line_rows(self):
        return [
            {"line": line, "field": self[f"cancel_{line.pk}"], "left": self.left[line.pk]}
            for line in self.lines
        ]

    def quantities(self) -> dict[int, int]:
        return {
            line.pk: self.cleaned_data.get(f"cancel_{line.pk}") or 0
            for line in self.lines
            if self.cleaned_data.get(f"cancel_{line.pk}")
        }
