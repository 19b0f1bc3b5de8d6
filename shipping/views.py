"""Carrier network settings for managers: carriers, their services, and each service's grids."""

from django.contrib import messages
from django.http import HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views import View
from django.views.generic import ListView

from common.views import BackofficeMixin

from .forms import (
    BandDeleteForm,
    CarrierForm,
    CarrierServiceForm,
    RateGridTextForm,
    RateRowForm,
    TransitRowForm,
    grid_to_text,
)
from .models import Carrier, CarrierService, CarrierWebhook
from .selectors import carrier_list, service_grids
from .services import (
    InvalidGrid,
    carrier_save,
    rate_band_delete,
    rate_band_save,
    rate_grid_replace,
    service_save,
    transit_band_delete,
    transit_band_save,
)


class SettingsMixin(BackofficeMixin):
    permission_required = "oms.manage_settings"


class ServiceListView(SettingsMixin, ListView):
    template_name = "shipping/service_list.html"
    context_object_name = "carriers"

    def get_queryset(self):
        return carrier_list()

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        failed = CarrierWebhook.objects.filter(status=CarrierWebhook.Status.FAILED)
        context["failed_webhooks"] = failed.count()
        return context


class CarrierEditView(SettingsMixin, View):
    """Create (no id in the URL) or edit a carrier."""

    template_name = "shipping/carrier_form.html"

    def get_object(self, pk):
        return get_object_or_404(Carrier, pk=pk) if pk else Carrier()

    def get(self, request, pk=None):
        carrier = self.get_object(pk)
        return render(
            request, self.template_name, {"form": CarrierForm(instance=carrier), "carrier": carrier}
        )

    def post(self, request, pk=None):
        carrier = self.get_object(pk)
        form = CarrierForm(request.POST, instance=carrier)
        if not form.is_valid():
            return render(request, self.template_name, {"form": form, "carrier": carrier}, status=400)
        carrier_save(carrier=carrier, data=form.cleaned_data)
        messages.success(request, _("Carrier %(name)s saved.") % {"name": carrier.name})
        return redirect(f"{reverse('shipping:service_list')}#carrier-{carrier.pk}")


class ServiceEditView(SettingsMixin, View):
    """Create (no id in the URL; ``?carrier=<id>`` pre-selects the carrier) or edit a carrier service."""

    template_name = "shipping/service_form.html"

    def get_object(self, pk):
        if pk:
            return get_object_or_404(CarrierService.objects.select_related("carrier"), pk=pk)
        return CarrierService()

    def get(self, request, pk=None):
        service = self.get_object(pk)
        initial = {}
        if not service.pk:
            initial = {"carrier": request.GET.get("carrier"), "delivery_weekdays": "12345"}
        form = CarrierServiceForm(instance=service, initial=initial)
        return render(request, self.template_name, {"form": form, "service": service})

    def post(self, request, pk=None):
        service = self.get_object(pk)
        form = CarrierServiceForm(request.POST, instance=service)
        if not form.is_valid():
            return render(request, self.template_name, {"form": form, "service": service}, status=400)
        created = service.pk is None
        service_save(service=service, data=form.cleaned_data)
        messages.success(request, _("Service %(name)s saved.") % {"name": str(service)})
        if created:  # a new service has no grid yet: that is the next thing to fill in
            return redirect("shipping:service_grids", pk=service.pk)
        return redirect(f"{reverse('shipping:service_list')}#service-{service.pk}")


def _int_param(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class ServiceGridsView(SettingsMixin, View):
    """A service's price grid (weight bands × distance bands) and transit grid, and their editors.

    GET ``?weight=<g>`` / ``?transit=<km>`` opens a row in its editor; ``?delete=weight|distance|transit``
    with ``&value=`` asks to confirm a deletion. POST carries ``action``: ``rate_row``, ``rate_text``,
    ``transit_row`` or ``delete``; success redirects here with a message, a refusal re-renders the page
    with the errors (400) and nothing written."""

    template_name = "shipping/service_grids.html"

    def get_service(self, pk):
        return get_object_or_404(CarrierService.objects.select_related("carrier"), pk=pk)

    def get(self, request, pk):
        service = self.get_service(pk)
        grids = service_grids(service=service)
        context = {}
        weight = _int_param(request.GET.get("weight"))
        row = grids.price_row(weight) if weight is not None else None
        if row is not None:
            initial = {"max_weight_g": row.max_weight_g, "replace": row.max_weight_g}
            initial.update({f"price_{km}": p for km, p in zip(grids.distances, row.prices, strict=True)})
            context["rate_form"] = RateRowForm(initial=initial, distances=grids.distances)
        transit = _int_param(request.GET.get("transit"))
        days = dict(grids.transits).get(transit) if transit is not None else None
        if days is not None:
            context["transit_form"] = TransitRowForm(
                initial={"max_distance_km": transit, "transit_days": days, "replace": transit}
            )
        band, value = request.GET.get("delete"), _int_param(request.GET.get("value"))
        cells = {
            "weight": len(grids.distances) if value in grids.weights else 0,
            "distance": len(grids.weights) if value in grids.distances else 0,
            "transit": 1 if value in dict(grids.transits) else 0,
        }.get(band)
        if cells:
            context["confirm_delete"] = {"band": band, "value": value, "cells": cells}
        return self._render(request, service, grids, context)

    def post(self, request, pk):
        service = self.get_service(pk)
        action = request.POST.get("action")
        handler = {
            "rate_row": self._rate_row,
            "rate_text": self._rate_text,
            "transit_row": self._transit_row,
            "delete": self._delete,
        }.get(action)
        if handler is None:
            return HttpResponseBadRequest(_("Unknown action."))
        grids = service_grids(service=service)
        context = handler(request, service, grids)
        if context is None:
            return redirect("shipping:service_grids", pk=service.pk)
        return self._render(request, service, service_grids(service=service), context, status=400)

    # Each handler returns None on success (a message is queued), else the context with its bound form.

    def _refused(self, form, exc: InvalidGrid):
        for error in exc.errors:
            form.add_error(None, error)

    def _rate_row(self, request, service, grids):
        form = RateRowForm(request.POST, distances=grids.distances)
        if form.is_valid():
            data = form.cleaned_data
            try:
                rate_band_save(
                    service=service,
                    max_weight_g=data["max_weight_g"],
                    prices=form.prices(),
                    replace=data["replace"],
                )
            except InvalidGrid as exc:
                self._refused(form, exc)
            else:
                messages.success(
                    request, _("Band up to %(weight)s g saved.") % {"weight": data["max_weight_g"]}
                )
                return None
        return {"rate_form": form}

    def _rate_text(self, request, service, grids):
        form = RateGridTextForm(request.POST)
        if form.is_valid():
            distances, rows = form.cleaned_data["text"]
            try:
                count = rate_grid_replace(service=service, distances=distances, rows=rows)
            except InvalidGrid as exc:
                self._refused(form, exc)
            else:
                messages.success(
                    request,
                    ngettext(
                        "Price grid saved: %(count)d price.", "Price grid saved: %(count)d prices.", count
                    )
                    % {"count": count},
                )
                return None
        return {"text_form": form}

    def _transit_row(self, request, service, grids):
        form = TransitRowForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                transit_band_save(
                    service=service,
                    max_distance_km=data["max_distance_km"],
                    transit_days=data["transit_days"],
                    replace=data["replace"],
                )
            except InvalidGrid as exc:
                self._refused(form, exc)
            else:
                messages.success(
                    request, _("Transit up to %(km)s km saved.") % {"km": data["max_distance_km"]}
                )
                return None
        return {"transit_form": form}

    def _delete(self, request, service, grids):
        form = BandDeleteForm(request.POST)
        if form.is_valid():
            band, value = form.cleaned_data["band"], form.cleaned_data["value"]
            try:
                if band == "weight":
                    rate_band_delete(service=service, max_weight_g=value)
                    text = _("Band up to %(value)s g deleted.")
                elif band == "distance":
                    rate_band_delete(service=service, max_distance_km=value)
                    text = _("Band up to %(value)s km deleted from the price grid.")
                else:
                    transit_band_delete(service=service, max_distance_km=value)
                    text = _("Band up to %(value)s km deleted from the transit grid.")
            except InvalidGrid as exc:
                self._refused(form, exc)
            else:
                messages.success(request, text % {"value": value})
                return None
        return {"delete_error_form": form}

    def _render(self, request, service, grids, context, status=200):
        context.setdefault("rate_form", RateRowForm(distances=grids.distances))
        context.setdefault(
            "text_form",
            RateGridTextForm(
                initial={"text": grid_to_text(grids.distances, grids.rates)} if grids.rates else None
            ),
        )
        context.setdefault("transit_form", TransitRowForm())
        # The band an editor is changing (None: it adds one), from the link that opened it or the posted form.
        for name, key in (("rate_editing", "rate_form"), ("transit_editing", "transit_form")):
            form = context[key]
            context[name] = (
                _int_param(form.data.get("replace")) if form.is_bound else form.initial.get("replace")
            )
        return render(
            request,
            self.template_name,
            {"service": service, "grids": grids, **context},
            status=status,
        )
