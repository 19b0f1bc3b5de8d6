"""Managers' pages: webhook endpoints (register, change, test, enable / disable, delete) with their delivery
log and replays, and the HubSpot connection with its resync. Thin: a form, one service, a message."""

import json

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views import View

from common.exceptions import DomainError
from common.fields import CLEAR
from common.views import BackofficeMixin

from . import selectors
from .forms import DeliveryFilterForm, EndpointEditForm, EndpointForm, HubspotForm, ResyncForm
from .hubspot import sync as hubspot
from .models import WebhookDelivery, WebhookEndpoint
from .webhooks import catalogue, services
from .webhooks.signing import DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER

PERMISSION = "oms.manage_settings"


class WebhookListView(BackofficeMixin, View):
    permission_required = PERMISSION

    def get(self, request):
        return render(
            request,
            "integrations/webhook_list.html",
            {"endpoints": list(selectors.endpoint_list()), "hubspot": hubspot.connection_get()},
        )


class WebhookCreateView(BackofficeMixin, View):
    permission_required = PERMISSION
    template_name = "integrations/webhook_form.html"

    def get(self, request):
        return render(
            request, self.template_name, {"form": EndpointForm(initial={"events": ["order.created"]})}
        )

    def post(self, request):
        form = EndpointForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            secret = data["secret"] or services.secret_generate()
            try:
                endpoint = services.endpoint_create(
                    url=data["url"],
                    events=data["events"],
                    secret=secret,
                    description=data["description"],
                    owner=request.user,
                    contact_email=data["contact_email"],
                )
            except DomainError as exc:
                form.add_error("url" if exc.code == "invalid_webhook_url" else "events", exc.message)
            else:
                messages.success(request, _("Endpoint registered."))
                return render(
                    request,
                    "integrations/webhook_created.html",
                    {"endpoint": endpoint, "secret": secret, "generated": not data["secret"]},
                )
        return render(request, self.template_name, {"form": form}, status=400)


class WebhookEditView(BackofficeMixin, View):
    permission_required = PERMISSION
    template_name = "integrations/webhook_form.html"

    def get(self, request, pk: int):
        endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
        form = EndpointEditForm(
            initial={
                "url": endpoint.url,
                "description": endpoint.description,
                "events": endpoint.events,
                "contact_email": endpoint.contact_email,
            }
        )
        return render(request, self.template_name, {"form": form, "endpoint": endpoint})

    def post(self, request, pk: int):
        endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
        form = EndpointEditForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.endpoint_update(
                    endpoint=endpoint,
                    url=data["url"],
                    events=data["events"],
                    description=data["description"],
                    secret=data["secret"],
                    contact_email=data["contact_email"],
                )
            except DomainError as exc:
                form.add_error("url" if exc.code == "invalid_webhook_url" else "events", exc.message)
            else:
                messages.success(request, _("Endpoint saved."))
                return redirect("integrations:webhook_detail", pk=endpoint.pk)
        return render(request, self.template_name, {"form": form, "endpoint": endpoint}, status=400)


class WebhookDetailView(BackofficeMixin, View):
    permission_required = PERMISSION

    def get(self, request, pk: int):
        endpoint = get_object_or_404(WebhookEndpoint.objects.select_related("owner", "channel"), pk=pk)
        filters = DeliveryFilterForm(request.GET or None)
        status = filters.cleaned_data.get("status", "") if filters.is_valid() else ""
        before = request.GET.get("before", "")
        deliveries = selectors.delivery_log(
            endpoint=endpoint, status=status, before=int(before) if before.isdigit() else None
        )
        return render(
            request,
            "integrations/webhook_detail.html",
            {
                "endpoint": endpoint,
                "deliveries": deliveries,
                "filters": filters,
                "status": status,
                "next_before": deliveries[-1].pk if len(deliveries) == selectors.LOG_PAGE else None,
                "labels": dict(catalogue.choices()),
                "headers": {
                    "signature": SIGNATURE_HEADER,
                    "delivery": DELIVERY_HEADER,
                    "event": EVENT_HEADER,
                },
            },
        )


class WebhookActionView(BackofficeMixin, View):
    """POST: send a test event, disable, enable, replay (selected or every failed one), delete."""

    permission_required = PERMISSION

    def post(self, request, pk: int, action: str):
        endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
        try:
            if action == "test":
                services.endpoint_send_test(endpoint=endpoint, actor=request.user)
                messages.success(request, _("Test event sent: its result is at the top of the delivery log."))
            elif action == "disable":
                services.endpoint_disable(
                    endpoint=endpoint,
                    reason=_("Disabled by %(user)s.") % {"user": request.user.get_username()},
                )
                messages.success(
                    request, _("Endpoint disabled: nothing is sent to it until it is enabled again.")
                )
            elif action == "enable":
                count = services.endpoint_enable(endpoint=endpoint)
                messages.success(
                    request,
                    _("Endpoint enabled: %(count)s waiting delivery(ies) sent now.") % {"count": count},
                )
            elif action == "replay":
                ids = [int(i) for i in request.POST.getlist("delivery") if i.isdigit()]
                if request.POST.get("all_failed"):
                    count = services.deliveries_replay(endpoint=endpoint, ids=None)
                elif ids:
                    count = services.deliveries_replay(endpoint=endpoint, ids=ids)
                else:
                    count = 0
                messages.success(request, _("%(count)s delivery(ies) sent again.") % {"count": count})
            elif action == "delete":
                services.endpoint_delete(endpoint=endpoint)
                messages.success(request, _("Endpoint deleted."))
                return redirect("integrations:webhook_list")
            else:
                raise Http404
        except DomainError as exc:
            messages.error(request, exc.message)
        return redirect("integrations:webhook_detail", pk=endpoint.pk)


class DeliveryDetailView(BackofficeMixin, View):
    permission_required = PERMISSION

    def get(self, request, pk: int):
        delivery = get_object_or_404(WebhookDelivery.objects.select_related("endpoint"), pk=pk)
        return render(
            request,
            "integrations/delivery_detail.html",
            {
                "delivery": delivery,
                "endpoint": delivery.endpoint,
                "attempts": selectors.delivery_attempts(delivery=delivery),
                "payload": json.dumps(delivery.payload, indent=2, ensure_ascii=False),
            },
        )


class HubspotView(BackofficeMixin, View):
    permission_required = PERMISSION
    template_name = "integrations/hubspot.html"

    def _context(self, connection, form, resync=None):
        return {
            "connection": connection,
            "form": form,
            "resync": resync or ResyncForm(),
            "backlog": hubspot.hubspot_backlog() if connection else None,
        }

    def _form(self, connection, data=None):
        initial = {
            "active": connection.active if connection else True,
            "sandbox": connection.sandbox if connection else False,
            "token": connection.token if connection else "",
            "pipeline": connection.pipeline if connection else "default",
            "burst_limit": connection.burst_limit if connection else 100,
        }
        return HubspotForm(data, initial=initial, stages=connection.stages if connection else None)

    def get(self, request):
        connection = hubspot.connection_get()
        return render(request, self.template_name, self._context(connection, self._form(connection)))

    def post(self, request):
        connection = hubspot.connection_get()
        if request.POST.get("action") == "resync":
            resync = ResyncForm(request.POST)
            if resync.is_valid():
                try:
                    if resync.cleaned_data.get("email"):
                        from customers.models import Customer

                        customer = Customer.objects.filter(email__iexact=resync.cleaned_data["email"]).first()
                        if customer is None:
                            resync.add_error("email", _("No customer has this email."))
                            raise ValueError
                        counts = hubspot.hubspot_resync(customer=customer)
                    else:
                        from datetime import datetime, time

                        from django.utils import timezone

                        since = timezone.make_aware(datetime.combine(resync.cleaned_data["since"], time.min))
                        counts = hubspot.hubspot_resync(since=since)
                except DomainError as exc:
                    messages.error(request, exc.message)
                except ValueError:
                    pass
                else:
                    messages.success(
                        request,
                        _("%(contacts)s contact(s) and %(deals)s deal(s) will be sent to HubSpot again.")
                        % counts,
                    )
                    return redirect("integrations:hubspot")
            return render(
                request,
                self.template_name,
                self._context(connection, self._form(connection), resync),
                status=400,
            )
        form = self._form(connection, request.POST)
        if not form.is_valid():
            return render(request, self.template_name, self._context(connection, form), status=400)
        data = form.cleaned_data
        token = data["token"]
        hubspot.connection_save(
            connection=connection,
            data={
                "active": data["active"],
                "sandbox": data["sandbox"],
                "pipeline": data["pipeline"],
                "burst_limit": data["burst_limit"],
                "token": "" if token is CLEAR else token,
                "token_clear": token is CLEAR,
                "stages": form.stages(),
            },
        )
        messages.success(request, _("HubSpot connection saved."))
        return redirect("integrations:hubspot")
