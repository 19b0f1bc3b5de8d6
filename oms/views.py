from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse_lazy
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views import View
from django.views.generic import TemplateView

from channels.health import connector_health
from common import eventlog
from common.audit import Action, ActorKind, audit_record
from common.models import ConsumerFailure
from common.ratelimit import is_limited
from common.views import BackofficeMixin
from fulfillment.selectors import dashboard_figures
from inventory.selectors import location_list
from orders.models import Order
from shipping.selectors import shipment_alerts


class DashboardView(BackofficeMixin, TemplateView):
    template_name = "oms/dashboard.html"
    permission_required = "oms.access_backoffice"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        locations = list(location_list(user=self.request.user))
        now = timezone.localtime()
        start = now.replace(hour=0, minute=0, second=0, microsecond=0)
        context["locations"] = locations
        context["alerts"] = list(shipment_alerts(location_ids=[loc.pk for loc in locations]))
        if self.request.user.has_perm("oms.manage_settings"):
            context["late_connectors"] = [h for h in connector_health() if h.late]
        context["figures"] = dashboard_figures(
            locations=locations, today=now.date(), day_start=start, day_end=start + timedelta(days=1)
        )
        return context


def _username_key(group, request):
    return (request.POST.get("username") or "").strip().lower()[:150] or "-"


class LoginView(auth_views.LoginView):
    """The back office's sign-in (the admin's too), limited per IP and per username like the customers'
    (``STAFF_SIGNIN_RATE``). Counted in the cache, or in PostgreSQL while the cache is down
    (common/ratelimit.py), so a Redis outage never opens staff accounts to password guessing."""

    redirect_authenticated_user = True

    def post(self, request, *args, **kwargs):
        rate = settings.STAFF_SIGNIN_RATE
        if is_limited(request, group="staff-signin-ip", key="ip", rate=rate) | is_limited(
            request, group="staff-signin-username", key=_username_key, rate=rate
        ):
            audit_record(
                action=Action.STAFF_SIGN_IN_FAILED,
                actor_kind=ActorKind.STAFF,
                actor_label=_username_key("", request),
                details={"reason": "rate_limited"},
                request=request,
            )
            form = self.get_form()
            form.errors.clear()
            form.add_error(
                None,
                _("Too many sign-in attempts. Please wait a quarter of an hour and try again."),
            )
            return self.render_to_response(self.get_context_data(form=form), status=429)
        return super().post(request, *args, **kwargs)


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "registration/password_change_form.html"
    success_url = reverse_lazy("dashboard")

    def form_valid(self, form):
        messages.success(self.request, _("Your password has been changed."))
        return super().form_valid(form)


class EventConsumersView(BackofficeMixin, TemplateView):
    """Managers: each consumer of the domain event log (how far it has read, what waits for it, its last
    error), and the events parked after their retries, to replay or discard."""

    template_name = "oms/event_consumers.html"
    permission_required = "common.manage_event_consumers"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["consumers"] = eventlog.consumers_state()
        failures = list(
            ConsumerFailure.objects.filter(
                status__in=[ConsumerFailure.Status.PARKED, ConsumerFailure.Status.HELD]
            )
            .select_related("event")
            .order_by("consumer", "event_id")[:200]
        )
        numbers = dict(
            Order.objects.filter(pk__in={f.order_id for f in failures if f.order_id}).values_list(
                "pk", "number"
            )
        )
        context["failures"] = [(f, numbers.get(f.order_id)) for f in failures]
        return context


class EventFailureActionView(BackofficeMixin, View):
    """POST: replay or discard a parked event."""

    permission_required = "common.manage_event_consumers"

    def post(self, request, pk: int, action: str):
        failure = get_object_or_404(ConsumerFailure, pk=pk)
        if action == "replay":
            try:
                count = eventlog.failure_replay(failure=failure, actor=request.user)
            except eventlog.ReplayFailed as exc:
                messages.error(request, _("The event failed again: %(error)s") % {"error": exc.message})
            else:
                messages.success(request, _("%(count)s event(s) handled.") % {"count": count})
        elif action == "discard":
            eventlog.failure_discard(failure=failure, actor=request.user)
            messages.success(request, _("The event was discarded; do by hand what it should have done."))
        else:
            raise Http404
        return redirect("event_consumers")
