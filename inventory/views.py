from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import ListView

from common.views import BackofficeMixin

from .forms import LocationForm
from .models import Location
from .selectors import location_list
from .services import location_save


class LocationListView(BackofficeMixin, ListView):
    permission_required = "inventory.view_location"
    template_name = "inventory/location_list.html"
    context_object_name = "locations"

    def get_queryset(self):
        return location_list(user=self.request.user, kind=self.request.GET.get("kind") or None)


class LocationEditView(BackofficeMixin, View):
    """Create (no code in the URL) or edit a location. Managers only."""

    permission_required = "oms.manage_settings"
    template_name = "inventory/location_form.html"

    def get_object(self, code):
        return get_object_or_404(Location, code=code) if code else Location()

    def get(self, request, code=None):
        location = self.get_object(code)
        return render(
            request, self.template_name, {"form": LocationForm(instance=location), "location": location}
        )

    def post(self, request, code=None):
        location = self.get_object(code)
        form = LocationForm(request.POST, instance=location)
        if not form.is_valid():
            return render(request, self.template_name, {"form": form, "location": location}, status=400)
        location_save(location=location, data=form.cleaned_data)
        messages.success(request, _("Location %(name)s saved.") % {"name": location.name})
        return redirect("inventory:location_list")
