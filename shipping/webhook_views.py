"""The carriers' webhook calls, for managers (carrier settings): the failed and ignored ones with their
body and reason, and *Replay* once the cause is fixed."""

import json

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views import View

from common.exceptions import DomainError
from common.text import safe_text

from .models import CarrierWebhook
from .views import SettingsMixin
from .webhook_services import webhook_replay

Status = CarrierWebhook.Status


class WebhookListView(SettingsMixin, View):
    template_name = "shipping/webhook_list.html"

    def get(self, request):
        status = request.GET.get("status", "")
        if status not in Status.values:
            status = ""
        calls = CarrierWebhook.objects.select_related("carrier").defer("payload", "headers")
        if status:
            calls = calls.filter(status=status)
        page = Paginator(calls, 50).get_page(request.GET.get("page"))
        return render(
            request,
            self.template_name,
            {"page": page, "status": status, "statuses": Status.choices},
        )


class WebhookDetailView(SettingsMixin, View):
    template_name = "shipping/webhook_detail.html"

    def get(self, request, pk):
        call = get_object_or_404(CarrierWebhook.objects.select_related("carrier"), pk=pk)
        try:
            payload = safe_text(json.dumps(json.loads(call.payload), indent=2, ensure_ascii=False))
        except (ValueError, RecursionError):
            payload = call.payload
        return render(
            request,
            self.template_name,
            {
                "call": call,
                "payload": payload,
                "can_replay": call.status in (Status.FAILED, Status.IGNORED)
                and call.error_code != "malformed_body",
            },
        )

    def post(self, request, pk):
        """Replay the call."""
        call = get_object_or_404(CarrierWebhook, pk=pk)
        try:
            call = webhook_replay(call=call)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            if call.status == Status.PROCESSED:
                messages.success(
                    request, _("Replayed: %(count)s parcel(s) updated.") % {"count": call.parcels_updated}
                )
            else:
                messages.error(request, _("Replayed, still not applied: %(error)s") % {"error": call.error})
        return redirect("shipping:webhook_detail", pk=pk)
