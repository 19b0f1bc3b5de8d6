"""The catalogue pages: the product list with its filters, a product's form (create, edit), archiving, and
the catalogue import (CSV / XLSX, dry run, all or nothing, progress bar). Everyone in the back office reads
the catalogue; managers change it."""

import csv
import io

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views import View

from common.views import BackofficeMixin

from .exceptions import KitRefused
from .filters import CatalogueFilter
from .forms import CatalogueImportForm, KitComponentFormSet, ProductForm
from .imports import import_progress, template_rows
from .models import Product, ProductImport
from .selectors import catalogue_import_list, catalogue_list, kit_component_choices, kit_stock_by_location
from .services import catalogue_import_start, kit_set_components, product_save, product_set_active

PAGE_SIZE = 50


def _htmx_target(request, target: str) -> bool:
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.history_restore_request and htmx.target == target


class CatalogueListView(BackofficeMixin, View):
    permission_required = "inventory.view_product"
    template_name = "inventory/catalogue_list.html"

    def get(self, request):
        filterset = CatalogueFilter(request.GET, queryset=catalogue_list())
        page = Paginator(filterset.qs, PAGE_SIZE).get_page(request.GET.get("page"))
        current = request.GET.get("ordering", "")
        sort = {
            key: {
                "next": f"-{key}" if current == key else key,
                "state": "ascending" if current == key else "descending" if current == f"-{key}" else "",
            }
            for key in ("sku", "name", "price")
        }
        filtered = (
            any(request.GET.get(k) for k in ("q", "vat_rate", "image"))
            or request.GET.get("status", "active") != "active"
        )
        context = {"filter": filterset, "page": page, "sort": sort, "filtered": filtered}
        if _htmx_target(request, "catalogue-results"):
            return render(request, "inventory/_catalogue_results.html", context)
        return render(request, self.template_name, context)


class ProductEditView(BackofficeMixin, View):
    """Create (no pk) or change a product. Managers (add / change product permissions)."""

    template_name = "inventory/catalogue_form.html"

    def has_permission(self):
        perm = "inventory.change_product" if self.kwargs.get("pk") else "inventory.add_product"
        return self.request.user.has_perm(perm)

    def _product(self, pk):
        return get_object_or_404(Product, pk=pk) if pk else Product()

    def get(self, request, pk=None):
        product = self._product(pk)
        return render(
            request, self.template_name, {"form": ProductForm(instance=product), "product": product}
        )

    def post(self, request, pk=None):
        product = self._product(pk)
        form = ProductForm(request.POST, request.FILES, instance=product)
        if not form.is_valid():
            return render(request, self.template_name, {"form": form, "product": product}, status=400)
        data = dict(form.cleaned_data)
        if data.get("image") is False:  # "clear" ticked
            data["image"] = ""
        elif data.get("image") is None:
            data.pop("image", None)
        created = product.pk is None
        product_save(product=product, data=data)
        if created:
            messages.success(request, _("Product %(sku)s created.") % {"sku": product.sku})
        else:
            messages.success(request, _("Product %(sku)s saved.") % {"sku": product.sku})
        return redirect("inventory:catalogue")


class ProductArchiveView(BackofficeMixin, View):
    """Archive a product, or bring it back: a confirmation page that says what archiving does."""

    permission_required = "inventory.change_product"
    template_name = "inventory/catalogue_archive.html"

    def get(self, request, pk):
        product = get_object_or_404(Product, pk=pk)
        return render(request, self.template_name, {"product": product})

    def post(self, request, pk):
        product = get_object_or_404(Product, pk=pk)
        active = not product.active
        product_set_active(product=product, active=active)
        if active:
            messages.success(request, _("Product %(sku)s is active again.") % {"sku": product.sku})
        else:
            messages.success(
                request,
                _("Product %(sku)s is archived: it can no longer be ordered.") % {"sku": product.sku},
            )
        return redirect("inventory:catalogue")


class CatalogueImportView(BackofficeMixin, View):
    """Upload a file of products: a dry run first (every problem with its line), then the import."""

    permission_required = "inventory.add_product"
    template_name = "inventory/catalogue_import.html"

    def _render(self, request, form, status=200):
        return render(
            request,
            self.template_name,
            {"form": form, "imports": catalogue_import_list(limit=10), "template": template_rows()},
            status=status,
        )

    def get(self, request):
        if request.GET.get("template") == "csv":
            buffer = io.StringIO()
            csv.writer(buffer).writerows(template_rows())
            response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = 'attachment; filename="catalogue.csv"'
            return response
        return self._render(request, CatalogueImportForm())

    def post(self, request):
        form = CatalogueImportForm(request.POST, request.FILES)
        if not form.is_valid():
            return self._render(request, form, status=400)
        job = catalogue_import_start(
            file=form.cleaned_data["file"], dry_run=form.cleaned_data["dry_run"], user=request.user
        )
        return redirect("inventory:catalogue_import_detail", pk=job.pk)


class CatalogueImportDetailView(BackofficeMixin, View):
    permission_required = "inventory.add_product"
    template_name = "inventory/catalogue_import_detail.html"
    partial_template = "inventory/_catalogue_import_progress.html"
    partial = False

    def get(self, request, pk):
        job = get_object_or_404(ProductImport, pk=pk)
        processed, total = import_progress(job=job)
        context = {
            "job": job,
            "processed": processed,
            "total": total,
            "percent": int(processed * 100 / total) if total else 0,
        }
        return render(request, self.partial_template if self.partial else self.template_name, context)


class CatalogueImportProgressView(CatalogueImportDetailView):
    """The fragment the import page polls every second while the job runs."""

    partial = True


class ProductKitView(BackofficeMixin, View):
    """A product's kit page: what one kit is made of and what its components allow at each location.
    Everyone who reads the catalogue sees it; managers change the composition (or make a product a kit)."""

    permission_required = "inventory.view_product"
    template_name = "inventory/catalogue_kit.html"

    def _context(self, product, formset):
        parts = list(product.components.select_related("component").order_by("pk"))
        rows = kit_stock_by_location(kit=product, location_ids=None) if product.is_kit else []
        return {
            "product": product,
            "parts": parts,
            "rows": rows,
            "total": sum(row["available"] for row in rows),
            "formset": formset,
            "can_edit": self.request.user.has_perm("inventory.change_product"),
            "choices": kit_component_choices(exclude=product.pk),
        }

    def get(self, request, pk):
        product = get_object_or_404(Product, pk=pk)
        initial = [
            {"code": part.component.sku, "quantity": part.quantity}
            for part in product.components.select_related("component").order_by("pk")
        ]
        formset = KitComponentFormSet(initial=initial, prefix="components")
        return render(request, self.template_name, self._context(product, formset))

    def post(self, request, pk):
        if not request.user.has_perm("inventory.change_product"):
            raise PermissionDenied
        product = get_object_or_404(Product, pk=pk)
        formset = KitComponentFormSet(request.POST, prefix="components")
        if formset.is_valid():
            components = [
                (form.cleaned_data["product"], form.cleaned_data["quantity"])
                for form in formset.forms
                if form.cleaned_data.get("product") is not None
            ]
            try:
                kit_set_components(kit=product, components=components)
            except KitRefused as exc:
                formset._non_form_errors = formset.error_class([str(exc)])
            else:
                if components:
                    messages.success(
                        request,
                        _("Kit %(sku)s saved: %(count)s component(s).")
                        % {"sku": product.sku, "count": len(components)},
                    )
                else:
                    messages.success(request, _("%(sku)s is no longer a kit.") % {"sku": product.sku})
                return redirect("inventory:product_kit", pk=product.pk)
        return render(request, self.template_name, self._context(product, formset), status=400)
