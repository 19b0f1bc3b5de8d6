"""The outgoing dock: parcels waiting for each carrier's driver, labels (PDF, ZPL) and failures with the
carrier's message, the hand-over that writes the day's manifest; and the carriers' tracking webhooks."""

import json

from django.contrib import messages
from django.http import FileResponse, Http404, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from common.exceptions import DomainError
from common.views import BackofficeMixin
from inventory.selectors import location_list

from . import carriers, shipments, webhook_services
from .models import Carrier, CarrierWebhook, Manifest, Shipment, ShipmentStatus


def _user_shipment(request, pk) -> Shipment:
    location_ids = [loc.pk for loc in location_list(user=request.user)]
    return get_object_or_404(
        Shipment.objects.select_related("service__carrier", "location"), pk=pk, location_id__in=location_ids
    )


class HandoverView(BackofficeMixin, View):
    permission_required = "shipping.handover"

    def get(self, request):
        locations = list(location_list(user=request.user))
        ids = [loc.pk for loc in locations]
        ready = shipments.ready_to_hand_over(location_ids=ids)
        groups: dict[tuple, dict] = {}
        for s in ready:
            key = (s.location_id, s.service.carrier_id)
            groups.setdefault(key, {"location": s.location, "carrier": s.service.carrier, "shipments": []})
            groups[key]["shipments"].append(s)
        waiting = Shipment.objects.filter(
            location_id__in=ids,
            status__in=[ShipmentStatus.CREATED, ShipmentStatus.LABEL_FAILED],
            manifest__isnull=True,
        ).select_related("service__carrier", "location")
        problems = [s for s in waiting if s not in ready]
        manifests = Manifest.objects.filter(location_id__in=ids).select_related("carrier", "location")[:20]
        return render(
            request,
            "shipping/handover.html",
            {"groups": list(groups.values()), "problems": problems, "manifests": manifests},
        )

    def post(self, request):
        location = next(
            (loc for loc in location_list(user=request.user) if loc.code == request.POST.get("location")),
            None,
        )
        carrier = Carrier.objects.filter(pk=request.POST.get("carrier") or 0).first()
        if location is None or carrier is None:
            raise Http404(_("No such carrier or location."))
        try:
            manifest = shipments.manifest_create(location=location, carrier=carrier, actor=request.user)
        except DomainError as exc:
            messages.error(request, exc.message)
            return HttpResponseRedirect(reverse("dispatch:handover"))
        messages.success(
            request,
            _("%(count)s parcel(s) handed to %(carrier)s: manifest %(manifest)s.")
            % {"count": manifest.shipments.count(), "carrier": carrier.name, "manifest": manifest.code},
        )
        return HttpResponseRedirect(reverse("dispatch:manifest", args=[manifest.pk]))


class ManifestView(BackofficeMixin, View):
    permission_required = "shipping.handover"

    def get(self, request, pk):
        ids = [loc.pk for loc in location_list(user=request.user)]
        manifest = get_object_or_404(
            Manifest.objects.select_related("carrier", "location"), pk=pk, location_id__in=ids
        )
        context = {
            "manifest": manifest,
            "shipments": manifest.shipments.select_related("service").order_by("pk"),
        }
        if request.GET.get("format") == "pdf":
            from weasyprint import HTML

            html = render_to_string("shipping/pdf/manifest.html", context)
            response = HttpResponse(HTML(string=html).write_pdf(), content_type="application/pdf")
            response["Content-Disposition"] = f'inline; filename="manifest-{manifest.code}.pdf"'
            return response
        return render(request, "shipping/manifest.html", context)


class LabelView(BackofficeMixin, View):
    """A parcel's label: PDF for office printers, raw ZPL for thermal printers."""

    def has_permission(self):
        user = self.request.user
        return user.has_perm("shipping.handover") or user.has_perm("fulfillment.pack")

    def get(self, request, pk, fmt):
        shipment = _user_shipment(request, pk)
        field = shipment.label_pdf if fmt == "pdf" else shipment.label_zpl if fmt == "zpl" else None
        if not field:
            raise Http404(_("This parcel has no label in this format yet."))
        content_type = "application/pdf" if fmt == "pdf" else "application/octet-stream"
        return FileResponse(field.open("rb"), content_type=content_type, filename=f"{shipment.number}.{fmt}")


class LabelRetryView(BackofficeMixin, View):
    permission_required = "shipping.handover"
    http_method_names = ["post"]

    def post(self, request, pk):
        shipment = _user_shipment(request, pk)
        try:
            shipments.label_retry(shipment=shipment)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request, _("The label of %(parcel)s is asked again.") % {"parcel": shipment.number}
            )
        return HttpResponseRedirect(reverse("dispatch:handover"))


@method_decorator(csrf_exempt, name="dispatch")
class CarrierWebhookView(View):
    """``POST /webhooks/carriers/<carrier code>/``: a carrier's tracking push, checked by its adapter."""

    http_method_names = ["post"]

    def post(self, request, code):
        carrier = Carrier.objects.filter(code=code, active=True).first()
        if carrier is None:
            return _error(404, "not_found", "No such carrier.")
        try:
            call = webhook_services.webhook_receive(
                carrier=carrier, headers=dict(request.headers), body=request.body
            )
        except carriers.WebhookRejected as exc:
            if exc.status == 404:
                return _error(404, "not_found", str(exc))
            return _error(401, "invalid_signature", str(exc))
        if call.status == CarrierWebhook.Status.FAILED and call.error_code.startswith("malformed"):
            # Signed, so the carrier's, but unreadable: kept as failed for staff; 400, not 401.
            return _error(400, call.error_code, call.error, details={"webhook": call.pk})
        return JsonResponse({"updated": call.parcels_updated, "webhook": call.pk})


def _error(status: int, code: str, message: str, details: dict | None = None) -> HttpResponse:
    body = json.dumps({"error": {"code": code, "message": message, "details": details or {}}})
    return HttpResponse(body, status=status, content_type="application/json")
