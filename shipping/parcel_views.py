"""Rate shopping and labels of a parcel: the services that could take it (price, promised date), the one
chosen and why, a change by hand before the label is printed; the outbound and return labels printed
together at the pack station. Served as htmx fragments the order page and the dispatch page include."""

from django.contrib import messages
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views import View

from common.exceptions import DomainError
from common.views import BackofficeMixin
from inventory.selectors import location_list

from . import customs, shipments
from .models import CarrierService, ParcelReturnLabel, Shipment
from .selectors import order_parcel_rates, shipment_rate_options


def _may_see(user) -> bool:
    return (
        user.has_perm("shipping.handover")
        or user.has_perm("fulfillment.pack")
        or user.has_perm("orders.view_order")
    )


class OrderParcelRatesView(BackofficeMixin, View):
    """``GET /shipping/orders/<order number>/parcels/``: the order's parcels with their rate shopping (an
    htmx fragment: the order page loads it with one ``hx-get``)."""

    def has_permission(self):
        return _may_see(self.request.user)

    def get(self, request, number):
        parcels = order_parcel_rates(order_number=number)
        return render(
            request,
            "shipping/_order_parcels.html",
            {
                "parcels": parcels,
                "may_override": request.user.has_perm("shipping.handover"),
                # Back to the page that included the fragment after a change of service.
                "next": (request.htmx.current_url_abs_path if request.htmx else "") or "",
            },
        )


def _user_shipment(request, pk) -> Shipment:
    location_ids = [loc.pk for loc in location_list(user=request.user)]
    return get_object_or_404(
        Shipment.objects.select_related("service__carrier", "location", "service_rule", "service_chosen_by"),
        pk=pk,
        location_id__in=location_ids,
    )


class ParcelRatesView(BackofficeMixin, View):
    """One parcel's rate shopping: a fragment for htmx (the dispatch page), a page otherwise."""

    def has_permission(self):
        user = self.request.user
        return user.has_perm("shipping.handover") or user.has_perm("fulfillment.pack")

    def get(self, request, pk):
        shipment = _user_shipment(request, pk)
        context = {
            "p": shipment_rate_options(shipment=shipment),
            "may_override": request.user.has_perm("shipping.handover"),
            "next": request.GET.get("next", ""),
        }
        template = "shipping/_parcel_rates.html" if request.htmx else "shipping/parcel_rates.html"
        return render(request, template, context)


class ServiceOverrideView(BackofficeMixin, View):
    permission_required = "shipping.handover"
    http_method_names = ["post"]

    def post(self, request, pk):
        shipment = _user_shipment(request, pk)
        service = (
            CarrierService.objects.select_related("carrier")
            .filter(pk=request.POST.get("service") or 0)
            .first()
        )
        try:
            shipments.shipment_service_override(
                shipment=shipment, service=service, actor=request.user, note=request.POST.get("note", "")
            )
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request,
                _("Parcel %(parcel)s now ships with %(service)s: its label is asked again.")
                % {"parcel": shipment.number, "service": service},
            )
        back = request.POST.get("next", "")
        if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
            back = reverse("dispatch:parcel_rates", args=[shipment.pk])
        return HttpResponseRedirect(back)


class LabelsView(BackofficeMixin, View):
    """``/shipping/parcels/<pk>/labels.pdf`` (or ``.zpl``): the outbound label, its customs papers and the
    return label slipped in the parcel, in one print; printing fixes the parcel's service."""

    def has_permission(self):
        user = self.request.user
        return user.has_perm("shipping.handover") or user.has_perm("fulfillment.pack")

    def get(self, request, pk, fmt):
        shipment = _user_shipment(request, pk)
        back = ParcelReturnLabel.objects.filter(
            shipment=shipment, status=ParcelReturnLabel.Status.READY
        ).first()
        if fmt == "pdf":
            if not shipment.label_pdf:
                raise Http404(_("This parcel has no label yet."))
            body = shipment.label_pdf.open("rb").read()
            if back is not None and back.label_pdf:
                body = customs.pdf_join(body, back.label_pdf.open("rb").read())
            content_type = "application/pdf"
        elif fmt == "zpl":
            if not shipment.label_zpl:
                raise Http404(_("This parcel has no label in this format yet."))
            parts = [shipment.label_zpl.open("rb").read()]
            if back is not None and back.label_zpl:
                parts.append(back.label_zpl.open("rb").read())
            body, content_type = b"".join(parts), "application/octet-stream"
        else:
            raise Http404(_("Unknown label format."))
        shipments.label_printed(shipment=shipment)
        response = HttpResponse(body, content_type=content_type)
        response["Content-Disposition"] = f'inline; filename="labels-{shipment.number}.{fmt}"'
        return response
