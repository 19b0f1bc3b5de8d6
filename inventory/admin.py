from django.contrib import admin

from .models import Location, StaffProfile


@admin.register(Location)
class LocationAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "kind", "city", "postcode", "country", "active")
    list_filter = ("kind", "active", "country")
    search_fields = ("code", "name", "city", "postcode")


@admin.register(StaffProfile)
class StaffProfileAdmin(admin.ModelAdmin):
    list_display = ("user", "all_locations")
    list_filter = ("all_locations", "locations")
    search_fields = ("user__username", "user__email", "user__first_name", "user__last_name")
    filter_horizontal = ("locations",)
    autocomplete_fields = ("user",)
