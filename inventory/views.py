from datetime import timedelta

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import ListView

from common.exceptions import DomainError
from common.views import BackofficeMixin

from . import services
from .filters import MovementFilter, ProductFilter
from .forms import (
    AdjustForm,
    IncomingCreateForm,
    IncomingReceiveForm,
    LocationForm,
    ReceiveForm,
    TransferForm,
    domain_error_message,
)
from .models import IncomingStock, Location, Product
from .selectors import (
    incoming_list,
    incoming_received_recently,
    ledger_list,
    location_list,
    product_list,
    product_stock_by_location,
    receipts_today,
    user_may_act_at,
)
from .services import location_save

PAGE_SIZE = 50
RECENTLY_RECEIVED_DAYS = 14
LAST_RECEIPT_LOCATION = "inventory.receive.location"


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


# --- Stock pages ----------------------------------------------------------------------------------


def _page(request, queryset, per_page=PAGE_SIZE):
    return Paginator(queryset, per_page).get_page(request.GET.get("page"))


def _partial_for(request, target: str) -> bool:
    """An htmx request that swaps only ``target`` (a history restore needs the whole page)."""
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.history_restore_request and htmx.target == target


def _next_url(request, default: str) -> str:
    url = request.POST.get("next") or request.GET.get("next") or ""
    if url and url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()}):
        return url
    return default


def _check_location(request, location_id: int) -> None:
    if not user_may_act_at(user=request.user, location_id=location_id):
        raise PermissionDenied(_("This location is not one of yours."))


SORTABLE = ("sku", "name", "on_hand", "available", "incoming")


def _sort_links(request):
    """Column headers: each one sorts ascending, then descending when clicked again."""
    current = request.GET.get("ordering", "")
    links = {}
    for key in SORTABLE:
        state = "ascending" if current == key else "descending" if current == f"-{key}" else ""
        links[key] = {"next": f"-{key}" if current == key else key, "state": state}
    return links


class ProductListView(BackofficeMixin, View):
    permission_required = "inventory.view_stock"
    template_name = "inventory/product_list.html"

    def get(self, request):
        filterset = ProductFilter(request.GET or None, queryset=Product.objects.none(), request=request)
        location = None
        if filterset.is_bound and filterset.form.is_valid():
            location = filterset.form.cleaned_data.get("location")
        filterset.queryset = product_list(user=request.user, location=location)
        page = _page(request, filterset.qs)
        context = {"filter": filterset, "page": page, "location": location, "sort": _sort_links(request)}
        if _partial_for(request, "product-results"):
            return render(request, "inventory/_product_results.html", context)
        return render(request, self.template_name, context)


class ProductStockView(BackofficeMixin, View):
    """A product's facts, its stock at each of the user's locations, what is on its way, and its ledger."""

    permission_required = "inventory.view_stock"
    template_name = "inventory/product_stock.html"

    def get(self, request, sku):
        product = get_object_or_404(Product, sku=sku)
        ledger_filter = MovementFilter(
            request.GET or None, queryset=ledger_list(user=request.user, product=product), request=request
        )
        ledger = _page(request, ledger_filter.qs)
        context = {"product": product, "ledger_filter": ledger_filter, "ledger": ledger}
        if _partial_for(request, "ledger"):
            return render(request, "inventory/_ledger.html", context)
        rows = product_stock_by_location(user=request.user, product=product)
        my_location_ids = {row.location.pk for row in rows}
        incoming = list(incoming_list(user=request.user, product=product))
        for item in incoming:
            item.receivable_here = item.location_id in my_location_ids
        context.update(
            {
                "rows": rows,
                "totals": {
                    "on_hand": sum(r.on_hand for r in rows),
                    "reserved": sum(r.reserved for r in rows),
                    "available": sum(r.available for r in rows),
                },
                "incoming": incoming,
                "today": timezone.localdate(),
            }
        )
        return render(request, self.template_name, context)


class ReceiveView(BackofficeMixin, View):
    """The goods-receipt scan screen: a scanner types the EAN and Enter; htmx swaps the feedback card."""

    permission_required = "inventory.receive_stock"
    template_name = "inventory/receive.html"

    def _context(self, form, **extra):
        today = timezone.localdate()
        recent, units_today = receipts_today(user=self.request.user, actor=self.request.user, today=today)
        return {"form": form, "recent": recent, "units_today": units_today, **extra}

    def get(self, request):
        initial = {
            "quantity": 1,
            "location": request.GET.get("location") or request.session.get(LAST_RECEIPT_LOCATION),
            "reference": request.GET.get("reference", ""),
            "code": request.GET.get("code", ""),
        }
        return render(
            request, self.template_name, self._context(ReceiveForm(initial=initial, user=request.user))
        )

    def post(self, request):
        form = ReceiveForm(request.POST, user=request.user)
        movement = None
        if form.is_valid():
            data = form.cleaned_data
            try:
                movement = services.stock_receive(
                    product=data["code"],
                    location=data["location"],
                    quantity=data["quantity"],
                    actor=request.user,
                    reference=data["reference"],
                    bin_code=data["bin_code"],
                )
            except DomainError as exc:
                form.add_error(None, domain_error_message(exc))
        if movement is None:
            if request.htmx:
                # 422, not 400: django-htmx's debug script replaces the whole page on a 400 in DEBUG.
                context = {"form": form, "scanned": request.POST.get("code", "")}
                return render(request, "inventory/_receive_feedback.html", context, status=422)
            return render(request, self.template_name, self._context(form, show_errors=True), status=400)

        location = form.cleaned_data["location"]
        request.session[LAST_RECEIPT_LOCATION] = location.code
        text = _("%(quantity)s × %(sku)s received at %(location)s, now %(on_hand)s on hand.") % {
            "quantity": movement.delta,
            "sku": movement.product.sku,
            "location": location.name,
            "on_hand": movement.on_hand_after,
        }
        if request.htmx:
            context = self._context(None, movement=movement, success_text=text)
            return render(request, "inventory/_receive_feedback.html", context)
        messages.success(request, text)
        query = urlencode({"location": location.code, "reference": form.cleaned_data["reference"]})
        return HttpResponseRedirect(f"{reverse('inventory:receive')}?{query}")


class AdjustView(BackofficeMixin, View):
    permission_required = "inventory.adjust_stock"
    template_name = "inventory/adjust.html"

    def get(self, request):
        initial = {"code": request.GET.get("product", ""), "location": request.GET.get("location")}
        return render(request, self.template_name, {"form": AdjustForm(initial=initial, user=request.user)})

    def post(self, request):
        form = AdjustForm(request.POST, user=request.user)
        if form.is_valid():
            data = form.cleaned_data
            product, location = data["code"], data["location"]
            try:
                if data["mode"] == AdjustForm.MODE_COUNT:
                    movement = services.stock_count(
                        product=product,
                        location=location,
                        counted=data["counted"],
                        actor=request.user,
                        note=data["note"],
                    )
                else:
                    movement = services.stock_adjust(
                        product=product,
                        location=location,
                        delta=data["delta"],
                        reason_code=data["reason_code"],
                        actor=request.user,
                        note=data["note"],
                    )
            except DomainError as exc:
                form.add_error(None, domain_error_message(exc))
            else:
                messages.success(request, self._success_text(product, location, movement))
                return redirect("inventory:product_stock", sku=product.sku)
        return render(request, self.template_name, {"form": form}, status=400)

    @staticmethod
    def _success_text(product, location, movement) -> str:
        if movement is None:
            return _("The count of %(sku)s at %(location)s matches the stock: nothing changed.") % {
                "sku": product.sku,
                "location": location.name,
            }
        return _("%(sku)s at %(location)s: %(delta)s (%(reason)s), now %(on_hand)s on hand.") % {
            "sku": product.sku,
            "location": location.name,
            "delta": f"{movement.delta:+d}",
            "reason": movement.get_reason_code_display(),
            "on_hand": movement.on_hand_after,
        }


class TransferListView(BackofficeMixin, View):
    permission_required = "inventory.view_stock"
    template_name = "inventory/transfer_list.html"

    def get(self, request):
        user = request.user
        in_transit = _page(request, incoming_list(user=user, kind=IncomingStock.Kind.TRANSFER))
        since = timezone.localdate() - timedelta(days=RECENTLY_RECEIVED_DAYS)
        received = incoming_received_recently(user=user, kind=IncomingStock.Kind.TRANSFER, since=since)[:20]
        my_location_ids = set(location_list(user=user).values_list("pk", flat=True))
        for item in in_transit:
            item.receivable_here = item.location_id in my_location_ids
        context = {
            "in_transit": in_transit,
            "received": received,
            "recent_days": RECENTLY_RECEIVED_DAYS,
            "today": timezone.localdate(),
        }
        return render(request, self.template_name, context)


class TransferCreateView(BackofficeMixin, View):
    permission_required = "inventory.transfer_stock"
    template_name = "inventory/transfer_form.html"

    def get(self, request):
        initial = {"code": request.GET.get("product", ""), "from_location": request.GET.get("from")}
        return render(request, self.template_name, {"form": TransferForm(initial=initial, user=request.user)})

    def post(self, request):
        form = TransferForm(request.POST, user=request.user)
        if form.is_valid():
            data = form.cleaned_data
            try:
                incoming = services.stock_transfer(
                    product=data["code"],
                    from_location=data["from_location"],
                    to_location=data["to_location"],
                    quantity=data["quantity"],
                    expected_on=data["expected_on"],
                    actor=request.user,
                    reference=data["reference"],
                )
            except DomainError as exc:
                form.add_error(None, domain_error_message(exc))
            else:
                messages.success(
                    request,
                    _("%(quantity)s × %(sku)s sent from %(source)s to %(destination)s.")
                    % {
                        "quantity": incoming.quantity,
                        "sku": data["code"].sku,
                        "source": data["from_location"].name,
                        "destination": data["to_location"].name,
                    },
                )
                return redirect("inventory:transfer_list")
        return render(request, self.template_name, {"form": form}, status=400)


class IncomingCreateView(BackofficeMixin, View):
    """A purchase order on its way: pre-orders can be taken against it at once."""

    permission_required = "inventory.transfer_stock"
    template_name = "inventory/incoming_form.html"

    def get(self, request):
        initial = {"code": request.GET.get("product", ""), "location": request.GET.get("location")}
        return render(
            request, self.template_name, {"form": IncomingCreateForm(initial=initial, user=request.user)}
        )

    def post(self, request):
        form = IncomingCreateForm(request.POST, user=request.user)
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.incoming_create(
                    product=data["code"],
                    location=data["location"],
                    quantity=data["quantity"],
                    expected_on=data["expected_on"],
                    reference=data["reference"],
                )
            except DomainError as exc:
                form.add_error(None, domain_error_message(exc))
            else:
                messages.success(
                    request,
                    _("%(quantity)s × %(sku)s expected at %(location)s.")
                    % {
                        "quantity": data["quantity"],
                        "sku": data["code"].sku,
                        "location": data["location"].name,
                    },
                )
                return redirect("inventory:product_stock", sku=data["code"].sku)
        return render(request, self.template_name, {"form": form}, status=400)


class _IncomingActionView(BackofficeMixin, View):
    """An action on one replenishment arriving at one of the user's locations (403 for another one)."""

    def get_incoming(self, request, pk) -> IncomingStock:
        incoming = get_object_or_404(
            IncomingStock.objects.select_related("product", "location", "from_location"), pk=pk
        )
        _check_location(request, incoming.location_id)
        return incoming

    def default_next(self, incoming) -> str:
        if incoming.kind == IncomingStock.Kind.TRANSFER:
            return reverse("inventory:transfer_list")
        return reverse("inventory:product_stock", kwargs={"sku": incoming.product.sku})


class IncomingReceiveView(_IncomingActionView):
    """Receive a replenishment (purchase order or transfer) at its destination, in full or in part."""

    permission_required = "inventory.receive_stock"
    template_name = "inventory/incoming_receive.html"

    def _render(self, request, incoming, form, status=200):
        context = {
            "incoming": incoming,
            "form": form,
            "next": _next_url(request, self.default_next(incoming)),
        }
        return render(request, self.template_name, context, status=status)

    def get(self, request, pk):
        incoming = self.get_incoming(request, pk)
        return self._render(request, incoming, IncomingReceiveForm(incoming=incoming))

    def post(self, request, pk):
        incoming = self.get_incoming(request, pk)
        form = IncomingReceiveForm(request.POST, incoming=incoming)
        if incoming.status != IncomingStock.Status.OPEN:
            form.add_error(None, _("This replenishment is already received or cancelled."))
        elif form.is_valid():
            try:
                movement = services.incoming_receive(
                    incoming=incoming, quantity=form.cleaned_data["quantity"], actor=request.user
                )
            except DomainError as exc:
                form.add_error(None, domain_error_message(exc))
            else:
                messages.success(
                    request,
                    _("%(quantity)s × %(sku)s received at %(location)s, now %(on_hand)s on hand.")
                    % {
                        "quantity": movement.delta,
                        "sku": incoming.product.sku,
                        "location": incoming.location.name,
                        "on_hand": movement.on_hand_after,
                    },
                )
                return HttpResponseRedirect(_next_url(request, self.default_next(incoming)))
        return self._render(request, incoming, form, status=400)


class IncomingCancelView(_IncomingActionView):
    """Cancel a purchase order that will not come (a confirmation page says what it means)."""

    permission_required = "inventory.transfer_stock"
    template_name = "inventory/incoming_cancel.html"

    def _render(self, request, incoming, error="", status=200):
        context = {
            "incoming": incoming,
            "error": error,
            "next": _next_url(request, self.default_next(incoming)),
        }
        return render(request, self.template_name, context, status=status)

    def get(self, request, pk):
        return self._render(request, self.get_incoming(request, pk))

    def post(self, request, pk):
        incoming = self.get_incoming(request, pk)
        if incoming.kind != IncomingStock.Kind.PURCHASE:
            error = _(
                "A transfer in transit cannot be cancelled: its units have left the source. Receive it."
            )
            return self._render(request, incoming, error, status=400)
        try:
            services.incoming_cancel(incoming=incoming)
        except DomainError as exc:
            return self._render(request, incoming, domain_error_message(exc), status=400)
        messages.success(
            request,
            _("The purchase order of %(quantity)s × %(sku)s for %(location)s is cancelled.")
            % {
                "quantity": incoming.quantity,
                "sku": incoming.product.sku,
                "location": incoming.location.name,
            },
        )
        return HttpResponseRedirect(_next_url(request, self.default_next(incoming)))
