"""3PL partners' pages (managers): what was sent to the WMS, what came back (with the payloads of those that
failed, to replay), and the stock snapshots with every difference booked."""

import json

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views import View

from common import jobs
from common.exceptions import DomainError
from common.views import BackofficeMixin

from .models import FulfilmentRequest, PartnerShipment, StockSnapshot, WarehousePartner
from .services.outsourced import fulfilment_request_retry, partner_shipment_replay


class _PartnerView(BackofficeMixin, View):
    permission_required = "oms.manage_settings"


class PartnerListView(_PartnerView):
    def get(self, request):
        partners = WarehousePartner.objects.select_related("location").order_by("name")
        return render(request, "fulfillment/partners/list.html", {"partners": partners})


class PartnerDetailView(_PartnerView):
    def get(self, request, pk):
        partner = get_object_or_404(WarehousePartner.objects.select_related("location"), pk=pk)
        requests = list(
            FulfilmentRequest.objects.filter(partner=partner)
            .select_related("preparation")
            .order_by("-created_at", "-pk")[:50]
        )
        failed_shipments = [
            (s, json.dumps(s.payload, indent=2, ensure_ascii=False))
            for s in PartnerShipment.objects.filter(partner=partner, status=PartnerShipment.Status.FAILED)[
                :50
            ]
        ]
        shipments = PartnerShipment.objects.filter(partner=partner, status=PartnerShipment.Status.APPLIED)[
            :20
        ]
        snapshots = list(StockSnapshot.objects.filter(partner=partner)[:10])
        latest_lines = list(snapshots[0].lines.select_related("movement")) if snapshots else []
        return render(
            request,
            "fulfillment/partners/detail.html",
            {
                "partner": partner,
                "requests": requests,
                "failed_shipments": failed_shipments,
                "shipments": shipments,
                "snapshots": snapshots,
                "latest_lines": latest_lines,
            },
        )


class PartnerSyncView(_PartnerView):
    def post(self, request, pk):
        from .tasks import sync_partner

        partner = get_object_or_404(WarehousePartner, pk=pk)
        jobs.enqueue_on_commit(sync_partner, partner.pk)
        messages.success(
            request, _("Shipments and stock of %(name)s will be read in a moment.") % {"name": partner.name}
        )
        return redirect("fulfillment:partner_detail", pk=partner.pk)


class RequestRetryView(_PartnerView):
    def post(self, request, pk):
        fulfilment = get_object_or_404(FulfilmentRequest, pk=pk)
        try:
            fulfilment_request_retry(request=fulfilment)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("The request is sent again in a moment."))
        return redirect("fulfillment:partner_detail", pk=fulfilment.partner_id)


class ShipmentReplayView(_PartnerView):
    def post(self, request, pk):
        received = get_object_or_404(PartnerShipment.objects.select_related("partner__location"), pk=pk)
        try:
            partner_shipment_replay(received=received, actor=request.user)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("The shipment was applied: the order moved on."))
        return redirect("fulfillment:partner_detail", pk=received.partner_id)


class SnapshotDetailView(_PartnerView):
    def get(self, request, pk):
        snapshot = get_object_or_404(StockSnapshot.objects.select_related("partner"), pk=pk)
        return render(
            request,
            "fulfillment/partners/snapshot.html",
            {"snapshot": snapshot, "lines": snapshot.lines.select_related("movement")},
        )
