"""Forms of the connector pages."""

import re

from django import forms
from django.utils.translation import gettext_lazy as _

from inventory.models import Location
from orders.models import Channel, DeliveryMode

from .imports import FIELDS
from .mapping import parse_mode
from .models import ChannelConnection, WebhookDelivery

MAX_IMPORT_BYTES = 10 * 1024 * 1024
SHOPIFY_DOMAIN = re.compile(r"^[a-z0-9][a-z0-9-]*\.myshopify\.com$")

# Which settings each kind of channel uses.
KIND_FIELDS = {
    Channel.Kind.SHOPIFY: (
        "base_url",
        "api_version",
        "access_token",
        "webhook_secret",
        "remote_location_id",
        "push_stock",
        "delivery_modes",
    ),
    Channel.Kind.WOOCOMMERCE: (
        "base_url",
        "api_key",
        "api_secret",
        "webhook_secret",
        "push_stock",
        "delivery_modes",
    ),
    Channel.Kind.PRESTASHOP: (
        "base_url",
        "access_token",
        "poll_orders",
        "push_stock",
        "delivery_modes",
        "cancelled_states",
    ),
    # base_url: the SP-API endpoint (Europe by default); api_key / api_secret: the LWA client id and secret.
    Channel.Kind.AMAZON: (
        "base_url",
        "api_key",
        "api_secret",
        "refresh_token",
        "marketplace_id",
        "seller_id",
        "poll_orders",
        "push_stock",
        "delivery_modes",
        "sandbox",
    ),
    Channel.Kind.MIRAKL: (
        "base_url",
        "api_key",
        "seller_id",
        "poll_orders",
        "push_stock",
        "delivery_modes",
        "sandbox",
    ),
}


class SecretInput(forms.PasswordInput):
    """Never renders the stored value back; the page says whether one is set."""

    def __init__(self, attrs=None):
        super().__init__(attrs={"autocomplete": "new-password", **(attrs or {})}, render_value=False)


class ConnectionForm(forms.Form):
    base_url = forms.CharField(label=_("Shop address"), max_length=255, required=False)
    api_version = forms.RegexField(
        label=_("API version"),
        regex=r"^\d{4}-\d{2}$",
        max_length=16,
        required=False,
        help_text=_("Shopify Admin API version, e.g. 2026-01."),
    )
    api_key = forms.CharField(label=_("Consumer key"), max_length=255, required=False, widget=SecretInput)
    access_token = forms.CharField(
        label=_("Access token"), max_length=255, required=False, widget=SecretInput
    )
    api_secret = forms.CharField(
        label=_("Consumer secret"), max_length=255, required=False, widget=SecretInput
    )
    webhook_secret = forms.CharField(
        label=_("Webhook secret"), max_length=255, required=False, widget=SecretInput
    )
    refresh_token = forms.CharField(
        label=_("LWA refresh token"), max_length=1000, required=False, widget=SecretInput
    )
    marketplace_id = forms.RegexField(
        label=_("Marketplace id"),
        regex=r"^[A-Z0-9]{10,20}$",
        max_length=32,
        required=False,
        help_text=_("A13V1IB3VIYZZH for amazon.fr."),
    )
    seller_id = forms.CharField(
        label=_("Seller id"),
        max_length=64,
        required=False,
        help_text=_("Amazon: your merchant token. Mirakl: the shop id, if your key serves several shops."),
    )
    remote_location_id = forms.RegexField(
        label=_("Shopify location"),
        regex=r"^gid://shopify/Location/\d+$",
        max_length=100,
        required=False,
        help_text=_("gid://shopify/Location/… whose available quantities the OMS sets."),
    )
    sandbox = forms.BooleanField(
        label=_("Sandbox (offline demo: nothing leaves the server)"),
        required=False,
        help_text=_("A simulated marketplace makes orders and accepts every call: no account needed."),
    )
    push_stock = forms.BooleanField(label=_("Push stock to the channel"), required=False)
    poll_orders = forms.BooleanField(label=_("Fetch new and changed orders every 2 minutes"), required=False)
    delivery_modes = forms.CharField(
        label=_("Delivery mode of each shipping method"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_(
            "One per line: <code>shipping method = mode</code>, the mode being <code>home</code>, "
            "<code>relay:&lt;carrier&gt;</code> or <code>store:&lt;store code&gt;</code>; "
            "<code>* = …</code> for every other method (home by default)."
        ),
    )
    cancelled_states = forms.RegexField(
        label=_("Cancelled order states"),
        regex=r"^[\d, ]*$",
        max_length=100,
        required=False,
        help_text=_("PrestaShop order state ids that mean cancelled, comma-separated (6 by default)."),
    )

    def __init__(self, *args, channel: Channel, connection: ChannelConnection, **kwargs):
        super().__init__(*args, **kwargs)
        self.channel = channel
        self.connection = connection
        keep = KIND_FIELDS.get(channel.kind, ())
        for name in list(self.fields):
            if name not in keep:
                del self.fields[name]
        if channel.kind == Channel.Kind.PRESTASHOP and "access_token" in self.fields:
            self.fields["access_token"].label = _("Webservice key")
        if channel.kind == Channel.Kind.AMAZON:
            self.fields["api_key"].label = _("LWA client id")
            self.fields["api_secret"].label = _("LWA client secret")
            self.fields["base_url"].label = _("SP-API endpoint")
        if channel.kind == Channel.Kind.MIRAKL:
            self.fields["api_key"].label = _("Shop API key")
            self.fields["base_url"].label = _("Mirakl instance address")
        if channel.kind == Channel.Kind.SHOPIFY and "base_url" in self.fields:
            self.fields["base_url"].help_text = _("The shop's domain: my-shop.myshopify.com.")
            self.fields["webhook_secret"].help_text = _(
                "The app's client secret, which signs Shopify webhooks."
            )
        elif channel.kind == Channel.Kind.AMAZON:
            self.fields["base_url"].help_text = _(
                "Leave blank for Europe (https://sellingpartnerapi-eu.amazon.com)."
            )
        elif channel.kind == Channel.Kind.MIRAKL:
            self.fields["base_url"].help_text = _(
                "The address the marketplace gave you, like https://marketplace.mirakl.net."
            )
        elif "base_url" in self.fields:
            self.fields["base_url"].help_text = _("https://shop.example.fr")
        for name in ChannelConnection.SECRET_FIELDS:
            if name in self.fields:
                is_set = connection.secret_is_set(name)
                self.fields[name].help_text = (
                    _("Set: leave blank to keep it, or type a new one.") if is_set else _("Not set.")
                )
                if is_set:
                    self.fields[f"clear_{name}"] = forms.BooleanField(
                        label=_("Erase the stored %(name)s") % {"name": self.fields[name].label},
                        required=False,
                    )
        order = []
        for name in self.fields:
            if not name.startswith("clear_"):
                order.append(name)
                if f"clear_{name}" in self.fields:
                    order.append(f"clear_{name}")
        self.order_fields(order)
        if not self.is_bound:
            for name in self.fields:
                if name in ChannelConnection.SECRET_FIELDS or name.startswith("clear_"):
                    continue
                value = getattr(connection, name)
                if name == "delivery_modes":
                    value = "\n".join(f"{k} = {v}" for k, v in (value or {}).items())
                self.initial[name] = value

    def clean_base_url(self):
        value = self.cleaned_data["base_url"].strip().rstrip("/")
        if not value:
            return value
        if self.channel.kind == Channel.Kind.SHOPIFY:
            domain = value.lower().removeprefix("https://")
            if not SHOPIFY_DOMAIN.match(domain):
                raise forms.ValidationError(_("Give the shop's domain, like my-shop.myshopify.com."))
            return domain
        if not value.startswith("https://") and not value.startswith("http://localhost"):
            raise forms.ValidationError(_("Give an https:// address (credentials travel with each call)."))
        forms.URLField(assume_scheme="https").clean(value)
        return value

    def clean_delivery_modes(self):
        mapping = {}
        stores = set(
            Location.objects.filter(kind=Location.Kind.STORE, active=True).values_list("code", flat=True)
        )
        for number, line in enumerate(self.cleaned_data["delivery_modes"].splitlines(), start=1):
            if not line.strip():
                continue
            title, sep, value = line.rpartition("=")
            if not sep or not title.strip():
                raise forms.ValidationError(_("Line %(n)s: write “shipping method = mode”.") % {"n": number})
            try:
                mode, argument = parse_mode(value)
            except ValueError:
                raise forms.ValidationError(
                    _("Line %(n)s: %(value)s is not home, relay:<carrier> or store:<store code>.")
                    % {"n": number, "value": value.strip()}
                ) from None
            if mode == DeliveryMode.STORE and argument not in stores:
                raise forms.ValidationError(
                    _("Line %(n)s: no store with code %(code)s.") % {"n": number, "code": argument}
                )
            mapping[title.strip()] = value.strip()
        return mapping

    def clean(self):
        data = super().clean()
        if (
            data.get("push_stock")
            and self.channel.kind == Channel.Kind.SHOPIFY
            and not (data.get("remote_location_id") or self.connection.remote_location_id)
        ):
            self.add_error("remote_location_id", _("Needed to push stock to Shopify."))
        return data


class ImportMappingForm(forms.Form):
    """Which column of the file holds each of our fields (header names, case-insensitive)."""

    def __init__(self, *args, mapping: dict, **kwargs):
        super().__init__(*args, **kwargs)
        for key, (label, required) in FIELDS.items():
            self.fields[key] = forms.CharField(
                label=label, max_length=100, required=required, initial=mapping.get(key, key)
            )


class ImportUploadForm(forms.Form):
    file = forms.FileField(label=_("File (.csv or .xlsx)"))
    dry_run = forms.BooleanField(
        label=_("Dry run: check every row and import nothing"), required=False, initial=True
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if not upload.name.lower().endswith((".csv", ".xlsx", ".txt")):
            raise forms.ValidationError(_("Send a .csv or .xlsx file."))
        if upload.size > MAX_IMPORT_BYTES:
            raise forms.ValidationError(_("At most 10 MB per file."))
        return upload


class DeliveryFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=[("", _("All")), *WebhookDelivery.Status.choices]
    )


class MarketplaceReasonsForm(forms.Form):
    """Mirakl: the reason sent with our own cancellations (OR30 / OR29) and refunds (OR28), among the
    marketplace's reason codes (RE02, cached on the connector)."""

    cancellation = forms.ChoiceField(label=_("Reason for our cancellations"), required=False)
    refund = forms.ChoiceField(label=_("Reason for our refunds"), required=False)

    def __init__(self, *args, connection: ChannelConnection, **kwargs):
        super().__init__(*args, **kwargs)
        cached = connection.marketplace_reasons or {}
        for name, reason_type in (("cancellation", "ORDER_CANCEL"), ("refund", "REFUND")):
            choices = [(r["code"], f"{r['code']} — {r['label']}") for r in cached.get(reason_type) or []]
            # a short blank label (it reads whole in a 360 px select); the help says what it means
            self.fields[name].choices = [("", _("Its first reason (default)")), *choices]
            self.fields[name].help_text = _("By default, the first reason the marketplace lists.")
            self.fields[name].initial = (connection.default_reasons or {}).get(name, "")
