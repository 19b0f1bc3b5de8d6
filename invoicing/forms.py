"""Forms of the invoicing pages."""

import datetime as dt
from decimal import Decimal

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from common.addresses import form_address_clean

from .models import (
    ChartOfAccounts,
    DocumentKind,
    DocumentStatus,
    InvoiceExport,
    IssuePolicy,
    LegalEntity,
    PaymentMethod,
)

DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class DocumentFilterForm(forms.Form):
    q = forms.CharField(
        label=_("Search"),
        required=False,
        max_length=100,
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": _("Number, order, customer name or email")}
        ),
    )
    kind = forms.ChoiceField(
        label=_("Type"), required=False, choices=[("", _("All types")), *DocumentKind.choices]
    )
    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=[("", _("All statuses")), *DocumentStatus.choices]
    )
    channel = forms.ModelChoiceField(
        label=_("Channel"), required=False, queryset=None, empty_label=_("All channels")
    )
    date_from = forms.DateField(label=_("From"), required=False, widget=DATE_INPUT)
    date_to = forms.DateField(label=_("To"), required=False, widget=DATE_INPUT)

    def __init__(self, *args, channels, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["channel"].queryset = channels

    def clean(self):
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            self.add_error("date_to", _("The end of the period is before its start."))
        return data

    def filters(self) -> dict:
        if not self.is_bound:
            return {}
        data = getattr(self, "cleaned_data", {})
        filters = {name: data.get(name) for name in ("q", "kind", "status", "date_from", "date_to")}
        if data.get("channel"):
            filters["channel"] = data["channel"].pk
        if "date_to" in self.errors:
            filters.pop("date_to")
        return {k: v for k, v in filters.items() if v}

    @property
    def active_count(self) -> int:
        return len(self.filters())


class LegalEntityForm(forms.ModelForm):
    class Meta:
        model = LegalEntity
        fields = [
            "name",
            "legal_form",
            "share_capital",
            "address_line1",
            "address_line2",
            "postcode",
            "city",
            "country",
            "siren",
            "siret",
            "rcs_city",
            "vat_number",
            "email",
            "phone",
            "website",
            "logo",
            "payment_terms_days",
            "payment_terms",
            "late_penalty_rate",
            "bank_name",
            "iban",
            "bic",
            "invoice_prefix",
            "credit_note_prefix",
            "footer",
            "vat_on_debits",
            "vat_regime",
            "einvoice_format",
            "platform",
            "email_documents",
            "is_default",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Absent from a form posted by an older page: the model's defaults apply.
        for name in ("vat_regime", "einvoice_format"):
            self.fields[name].required = False

    def clean_vat_regime(self):
        return self.cleaned_data["vat_regime"] or LegalEntity._meta.get_field("vat_regime").default

    def clean_einvoice_format(self):
        return self.cleaned_data["einvoice_format"] or LegalEntity._meta.get_field("einvoice_format").default

    def clean_iban(self):
        iban = self.cleaned_data["iban"].replace(" ", "").upper()
        if iban:
            from stdnum import iban as iban_check

            if not iban_check.is_valid(iban):
                raise forms.ValidationError(_("This IBAN is not valid."))
        return iban

    def clean_vat_number(self):
        return self.cleaned_data["vat_number"].replace(" ", "").upper()

    def clean(self):
        data = super().clean()
        form_address_clean(self, data)  # the seller's country goes into the Factur-X XML: ISO 3166 only
        siren, siret = data.get("siren"), data.get("siret")
        if siren and siret and not siret.startswith(siren):
            self.add_error("siret", _("The SIRET starts with the SIREN."))
        if data.get("invoice_prefix") and data.get("invoice_prefix") == data.get("credit_note_prefix"):
            self.add_error("credit_note_prefix", _("Invoices and credit notes need different prefixes."))
        late = data.get("late_penalty_rate")
        if late is not None and late <= 0:
            self.add_error("late_penalty_rate", _("The rate must be positive."))
        return data


class ChannelBillingForm(forms.Form):
    """One row per channel: the entity that invoices it and when."""

    def __init__(self, *args, channels, billing: dict, **kwargs):
        super().__init__(*args, **kwargs)
        self.channels = list(channels)
        entities = LegalEntity.objects.order_by("name")
        for channel in self.channels:
            current = billing.get(channel.pk)
            self.fields[f"entity_{channel.pk}"] = forms.ModelChoiceField(
                label=_("Legal entity of %(channel)s") % {"channel": channel.name},
                queryset=entities,
                required=False,
                empty_label=_("Default entity"),
                initial=current.legal_entity_id if current else None,
            )
            self.fields[f"policy_{channel.pk}"] = forms.ChoiceField(
                label=_("When %(channel)s invoices") % {"channel": channel.name},
                choices=IssuePolicy.choices,
                initial=current.issue_policy if current else IssuePolicy.SHIPPED,
            )

    def rows(self):
        return [
            (channel, self[f"entity_{channel.pk}"], self[f"policy_{channel.pk}"]) for channel in self.channels
        ]


class CreditNoteForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        max_length=255,
        help_text=_("Printed on the credit note, e.g. “Return of 1 item” or “Commercial gesture”."),
    )

    def __init__(self, *args, lines, credited: dict, **kwargs):
        super().__init__(*args, **kwargs)
        self.lines = []
        for line in lines:
            left = line.quantity - credited.get(line.pk, 0)
            name = f"line_{line.pk}"
            self.fields[name] = forms.IntegerField(
                label=_("Units of line %(position)s to credit") % {"position": line.position},
                min_value=0,
                max_value=left,
                initial=0,
                required=False,
                disabled=left == 0,
            )
            self.lines.append((line, left, name))

    def quantities(self) -> dict[int, int]:
        return {line.pk: self.cleaned_data.get(name) or 0 for line, _left, name in self.lines if _left}

    def clean(self):
        data = super().clean()
        if not self.errors and not any(self.quantities().values()):
            raise forms.ValidationError(_("Choose at least one unit to credit."))
        return data

    def rows(self):
        return [(line, left, self[name]) for line, left, name in self.lines]


class SendForm(forms.Form):
    email = forms.EmailField(label=_("Send to"))


class ExportForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("Export"), choices=InvoiceExport.Kind.choices, initial="documents", required=False
    )
    date_from = forms.DateField(label=_("From"), widget=DATE_INPUT)
    date_to = forms.DateField(label=_("To"), widget=DATE_INPUT)
    channel = forms.ModelChoiceField(
        label=_("Channel"), required=False, queryset=None, empty_label=_("All channels")
    )
    legal_entity = forms.ModelChoiceField(
        label=_("Seller"), required=False, queryset=LegalEntity.objects.none(), empty_label=_("All sellers")
    )

    def __init__(self, *args, channels, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["channel"].queryset = channels
        self.fields["legal_entity"].queryset = LegalEntity.objects.order_by("name")
        if not self.is_bound:
            today = timezone.localdate()
            first = today.replace(day=1)
            previous_end = first - dt.timedelta(days=1)
            self.initial.setdefault("date_from", previous_end.replace(day=1))
            self.initial.setdefault("date_to", previous_end)

    def clean(self):
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end:
            if start > end:
                self.add_error("date_to", _("The end of the period is before its start."))
            elif (end - start).days > 366:
                self.add_error("date_to", _("Export at most one year at a time."))
        data["kind"] = data.get("kind") or InvoiceExport.Kind.DOCUMENTS
        if data.get("kind") == InvoiceExport.Kind.FEC and not data.get("legal_entity"):
            if not LegalEntity.objects.filter(is_default=True).exists():
                self.add_error("legal_entity", _("Choose the seller whose FEC to export."))
        return data


class PaymentForm(forms.Form):
    paid_on = forms.DateField(label=_("Paid on"), widget=DATE_INPUT)
    amount = forms.DecimalField(
        label=_("Amount (EUR)"), max_digits=12, decimal_places=2, min_value=Decimal("0.01")
    )
    method = forms.ChoiceField(label=_("Method"), choices=PaymentMethod.choices)
    reference = forms.CharField(label=_("Reference"), max_length=100, required=False)


class SirenForm(forms.Form):
    siren = forms.RegexField(
        label=_("SIREN of the customer"),
        regex=r"^[0-9]{9}$",
        error_messages={"invalid": _("A SIREN is 9 digits.")},
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )


class ChartOfAccountsForm(forms.ModelForm):
    class Meta:
        model = ChartOfAccounts
        fields = [
            "sales_journal",
            "bank_journal",
            "customers",
            "goods",
            "services",
            "shipping",
            "vat_20",
            "vat_10",
            "vat_5_5",
            "vat_2_1",
            "bank",
        ]


class SandboxDecisionForm(forms.Form):
    code = forms.ChoiceField(
        label=_("Buyer's decision"),
        choices=[
            ("205", _("Approve")),
            ("207", _("Dispute")),
            ("210", _("Refuse")),
            ("211", _("Payment sent")),
        ],
    )
    reason = forms.CharField(label=_("Reason"), max_length=255, required=False)
