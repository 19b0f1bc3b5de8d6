"""Carrier settings for managers: each carrier's credentials (write-only secrets), the return label slipped
in each channel's parcels, and the merchant's branding on documents with a preview."""

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views import View

from common.exceptions import DomainError

from . import branding as branding_module
from . import carriers
from .forms import BrandingForm, CarrierAccountForm, ChannelReturnForm
from .models import CarrierAccount, ChannelShippingSettings, DocumentBranding
from .services import branding_save, carrier_account_save, channel_shipping_settings_save
from .views import SettingsMixin


def _adapters():
    return [(code, cls) for code, cls in carriers.ADAPTERS.items() if cls.credentials]


class AccountListView(SettingsMixin, View):
    """Every carrier that needs credentials, with which ones are set (environment or this form)."""

    def get(self, request):
        accounts = {a.adapter: a for a in CarrierAccount.objects.all()}
        rows = []
        for code, cls in _adapters():
            config = carriers.adapter_config(code)
            rows.append(
                {
                    "code": code,
                    "name": cls.name,
                    "account": accounts.get(code),
                    "fields": [
                        (label, bool(config.get(name)), secret) for name, label, secret in cls.credentials
                    ],
                    "test_mode": bool(config.get("test_mode")),
                }
            )
        return render(request, "shipping/account_list.html", {"rows": rows})


class AccountEditView(SettingsMixin, View):
    template_name = "shipping/account_form.html"

    def _cls(self, adapter):
        cls = carriers.ADAPTERS.get(adapter)
        if cls is None or not cls.credentials:
            raise Http404(_("No such carrier."))
        return cls

    def get(self, request, adapter):
        cls = self._cls(adapter)
        account = CarrierAccount.objects.filter(adapter=adapter).first()
        form = CarrierAccountForm(adapter_cls=cls, account=account)
        return render(request, self.template_name, {"form": form, "cls": cls, "account": account})

    def post(self, request, adapter):
        cls = self._cls(adapter)
        account = CarrierAccount.objects.filter(adapter=adapter).first()
        form = CarrierAccountForm(request.POST, adapter_cls=cls, account=account)
        if not form.is_valid():
            return render(
                request, self.template_name, {"form": form, "cls": cls, "account": account}, status=400
            )
        carrier_account_save(
            adapter=adapter,
            values=form.values(),
            secrets=form.secrets(),
            test_mode=form.cleaned_data["test_mode"],
            actor=request.user,
        )
        messages.success(request, _("%(carrier)s credentials saved.") % {"carrier": cls.name})
        return redirect("shipping:account_list")


class ChannelReturnsView(SettingsMixin, View):
    """Per channel: a return label in every parcel, and with which carrier."""

    template_name = "shipping/channel_returns.html"

    def _channels(self):
        channel_model = ChannelShippingSettings._meta.get_field("channel").related_model
        settings_by_channel = {
            s.channel_id: s for s in ChannelShippingSettings.objects.select_related("return_carrier")
        }
        return [
            (channel, settings_by_channel.get(channel.pk))
            for channel in channel_model.objects.order_by("name")
        ]

    def _rows(self, data=None, errors=None):
        rows = []
        for channel, setting in self._channels():
            initial = {
                "return_label_in_parcel": bool(setting and setting.return_label_in_parcel),
                "return_carrier": setting.return_carrier_id if setting else None,
            }
            form = ChannelReturnForm(
                data if data and data.get("channel") == str(channel.pk) else None,
                initial=initial,
                prefix=f"c{channel.pk}",
            )
            rows.append(
                {
                    "channel": channel,
                    "setting": setting,
                    "form": form,
                    "error": (errors or {}).get(channel.pk, ""),
                }
            )
        return rows

    def get(self, request):
        return render(request, self.template_name, {"rows": self._rows()})

    def post(self, request):
        channel_model = ChannelShippingSettings._meta.get_field("channel").related_model
        channel = get_object_or_404(channel_model, pk=request.POST.get("channel") or 0)
        form = ChannelReturnForm(request.POST, prefix=f"c{channel.pk}")
        if form.is_valid():
            try:
                channel_shipping_settings_save(
                    channel_id=channel.pk,
                    return_label_in_parcel=form.cleaned_data["return_label_in_parcel"],
                    return_carrier=form.cleaned_data["return_carrier"],
                )
            except DomainError as exc:
                return render(
                    request,
                    self.template_name,
                    {"rows": self._rows(request.POST, {channel.pk: exc.message})},
                    status=422,
                )
            messages.success(request, _("Return labels of %(channel)s saved.") % {"channel": channel})
            return redirect("shipping:channel_returns")
        return render(request, self.template_name, {"rows": self._rows(request.POST)}, status=400)


class BrandingView(SettingsMixin, View):
    template_name = "shipping/branding.html"

    def _context(self, form):
        current = DocumentBranding.objects.filter(pk=1).first() or DocumentBranding(pk=1)
        return {"form": form, "brand": branding_module.document_branding(current)}

    def get(self, request):
        current = DocumentBranding.objects.filter(pk=1).first() or DocumentBranding(pk=1)
        return render(request, self.template_name, self._context(BrandingForm(instance=current)))

    def post(self, request):
        current = DocumentBranding.objects.filter(pk=1).first() or DocumentBranding(pk=1)
        form = BrandingForm(request.POST, request.FILES, instance=DocumentBranding(pk=1, logo=current.logo))
        if not form.is_valid():
            return render(request, self.template_name, self._context(form), status=400)
        upload = request.FILES.get("logo")
        try:
            branding_save(data=form.cleaned_data, logo=upload, remove_logo=form.cleaned_data["remove_logo"])
        except DomainError as exc:
            form.add_error(None, exc.message)
            return render(request, self.template_name, self._context(form), status=422)
        messages.success(request, _("Branding saved: the next documents carry it."))
        return redirect(reverse("shipping:branding"))


class BrandingLabelPreviewView(SettingsMixin, View):
    """A sample label with the merchant's text and logo in the free area (the sandbox renders it)."""

    def get(self, request):
        from django.conf import settings as django_settings

        from .shipments import label_size

        brand = branding_module.label_branding()
        adapter = carriers.get_adapter("sandbox", config={})
        sample = carriers.Address(
            name="Camille Martin", line1="12 rue de la République", postcode="69002", city="Lyon"
        )
        label = adapter.create_label(
            carriers.LabelRequest(
                reference="APERCU-0001",
                sender=carriers.Address(
                    name=django_settings.MERCHANT_NAME, line1="1 quai Perrache", postcode="69002", city="Lyon"
                ),
                recipient=sample,
                weight_g=850,
                service_code="domicile",
                formats=("pdf",),
                label_size=request.GET.get("size")
                if request.GET.get("size") in ("a6", "4x6")
                else label_size(),
                brand_text=brand.text,
                brand_logo=brand.logo_png,
            )
        )
        response = HttpResponse(label.pdf, content_type="application/pdf")
        response["Content-Disposition"] = 'inline; filename="label-preview.pdf"'
        return response
