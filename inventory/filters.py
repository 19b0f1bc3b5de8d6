"""Filter bars of the stock pages (django-filter, GET forms: every filter is bookmarkable)."""

import django_filters
from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .models import Product, StockMovement
from .selectors import locations_for_user


def _user_locations(request):
    return locations_for_user(user=request.user).order_by("kind", "code")


class StableOrderingFilter(django_filters.OrderingFilter):
    """Sorting by a figure leaves ties; the SKU breaks them so pages never repeat or skip a product."""

    def filter(self, qs, value):
        qs = super().filter(qs, value)
        if value:
            qs = qs.order_by(*qs.query.order_by, "sku")
        return qs


class ProductFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(
        method="search",
        label=_("Search"),
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": _("SKU, name or EAN"), "autocomplete": "off"}
        ),
    )
    location = django_filters.ModelChoiceFilter(
        label=_("Location"),
        queryset=_user_locations,
        to_field_name="code",
        empty_label=_("All my locations"),
        method="filter_location",
    )
    active = django_filters.ChoiceFilter(
        label=_("Status"),
        choices=[("yes", _("Active")), ("no", _("Inactive"))],
        empty_label=_("Active and inactive"),
        method="filter_active",
    )
    stock = django_filters.ChoiceFilter(
        label=_("Stock"),
        choices=[
            ("available", _("Available")),
            ("out", _("Out of stock")),
            ("incoming", _("Incoming")),
        ],
        empty_label=_("Any stock"),
        method="filter_stock",
    )
    ordering = StableOrderingFilter(
        label=_("Sort by"),
        fields=[
            ("sku", "sku"),
            ("name", "name"),
            ("total_on_hand", "on_hand"),
            ("total_available", "available"),
            ("total_incoming", "incoming"),
        ],
    )

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        match = Q(sku__icontains=value) | Q(name__icontains=value)
        if value.isdigit():
            match |= Q(ean__startswith=value)
        return queryset.filter(match)

    def filter_location(self, queryset, name, value):
        return queryset  # the location narrows the totals: the view passes it to the selector

    def filter_active(self, queryset, name, value):
        return queryset.filter(active=value == "yes")

    def filter_stock(self, queryset, name, value):
        if value == "available":
            return queryset.filter(total_available__gt=0)
        if value == "out":
            return queryset.filter(total_available__lte=0)
        return queryset.filter(total_incoming__gt=0)


class MovementFilter(django_filters.FilterSet):
    location = django_filters.ModelChoiceFilter(
        label=_("Location"), queryset=_user_locations, to_field_name="code", empty_label=_("All locations")
    )
    reason = django_filters.ChoiceFilter(
        label=_("Reason"), choices=StockMovement.Reason.choices, empty_label=_("All reasons")
    )
    date_from = django_filters.DateFilter(
        label=_("From"),
        field_name="created_at",
        lookup_expr="date__gte",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    date_to = django_filters.DateFilter(
        label=_("To"),
        field_name="created_at",
        lookup_expr="date__lte",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )

    class Meta:
        model = StockMovement
        fields = ["location", "reason", "date_from", "date_to"]


class CatalogueFilter(django_filters.FilterSet):
    """The catalogue's filter bar: search, status (active products by default), VAT rate, image."""

    q = django_filters.CharFilter(
        method="search",
        label=_("Search"),
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": _("SKU, name or EAN"), "autocomplete": "off"}
        ),
    )
    status = django_filters.ChoiceFilter(
        label=_("Status"),
        choices=[("active", _("Active")), ("archived", _("Archived")), ("all", _("Active and archived"))],
        empty_label=None,
        method="filter_status",
    )
    vat_rate = django_filters.ChoiceFilter(
        label=_("VAT rate"),
        choices=Product.VatRate.choices,
        empty_label=_("Any rate"),
        method="filter_vat_rate",
    )
    image = django_filters.ChoiceFilter(
        label=_("Image"),
        choices=[("yes", _("With an image")), ("no", _("Without an image"))],
        empty_label=_("With or without"),
        method="filter_image",
    )
    ordering = StableOrderingFilter(
        label=_("Sort by"),
        fields=[("sku", "sku"), ("name", "name"), ("price", "price"), ("created_at", "created")],
    )

    class Meta:
        model = Product
        fields = ["q", "status", "vat_rate", "image"]

    def __init__(self, data=None, *args, **kwargs):
        data = data.copy() if data is not None else None
        if data is not None and not data.get("status"):
            data["status"] = "active"
        super().__init__(data, *args, **kwargs)

    search = ProductFilter.search

    def filter_status(self, queryset, name, value):
        if value == "all":
            return queryset
        return queryset.filter(active=value != "archived")

    def filter_vat_rate(self, queryset, name, value):
        return queryset.filter(vat_rate=value)

    def filter_image(self, queryset, name, value):
        return queryset.exclude(image="") if value == "yes" else queryset.filter(image="")
