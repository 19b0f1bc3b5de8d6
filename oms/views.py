from datetime import timedelta

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.urls import reverse_lazy
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.generic import TemplateView

from common.views import BackofficeMixin
from fulfillment.selectors import dashboard_figures
from inventory.selectors import location_list
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
        context["figures"] = dashboard_figures(
            locations=locations, today=now.date(), day_start=start, day_end=start + timedelta(days=1)
        )
        return context


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "registration/password_change_form.html"
    success_url = reverse_lazy("dashboard")

    def form_valid(self, form):
        messages.success(self.request, _("Your password has been changed."))
        return super().form_valid(form)
