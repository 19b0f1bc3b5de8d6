"""Back-office pages of an order's changes: edit it before picking (or read why not and what to do
instead), cancel some of its units, record a payment, put it on hold or clear a hold. Thin: a form, one
service, a message."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views import View
from django_htmx.http import HttpResponseClientRedirect

from common.exceptions import DomainError
from common.templatetags.oms_tags import money
from common.views import BackofficeMixin

from .forms_changes import GoodwillForm, HoldForm, LinesCancelForm, OrderEditForm, PaymentRecordForm
from .models import CANCELLABLE, OrderStatus
from .payments.services import payment_record
from .services.edits import cancellable_units, edit_refusal, order_edit, order_lines_cancel
from .services.goodwill import goodwill_room, order_goodwill_refund
from .services.holds import order_hold_place, order_hold_release
from .views import _order_or_404, domain_error_messages


class OrderEditView(BackofficeMixin, View):
    permission_required = "orders.change_order"
    template_name = "orders/order_edit.html"

    def _render(self, request, order, form, *, errors=None, status=200):
        return render(
            request,
            self.template_name,
            {
                "order": order,
                "form": form,
                "refusal": edit_refusal(order),
                "errors": errors or [],
                "can_cancel_units": order.status in CANCELLABLE
                or order.status == OrderStatus.PARTIALLY_SHIPPED,
            },
            status=status,
        )

    def get(self, request, number):
        order = _order_or_404(request, number)
        return self._render(request, order, OrderEditForm(order=order))

    def post(self, request, number):
        order = _order_or_404(request, number)
        if edit_refusal(order):
            return self._render(request, order, OrderEditForm(order=order), status=409)
        form = OrderEditForm(request.POST, order=order)
        edit = form.edit_input() if form.is_valid() else None
        if edit is None:
            return self._render(request, order, form, status=400)
        try:
            change = order_edit(order=order, edit=edit, actor=request.user)
        except DomainError as exc:
            return self._render(request, order, form, errors=domain_error_messages(exc), status=400)
        messages.success(
            request,
            _(
                "Order %(number)s changed: new total %(total)s (difference %(difference)s). "
                "The customer is told."
            )
            % {
                "number": order.number,
                "total": money(change.total_after),
                "difference": money(change.difference),
            },
        )
        return redirect("orders:order_detail", number=order.number)


class OrderLinesCancelView(BackofficeMixin, View):
    permission_required = "orders.cancel_order"
    template_name = "orders/order_lines_cancel.html"

    def _render(self, request, order, form, *, errors=None, status=200):
        return render(
            request, self.template_name, {"order": order, "form": form, "errors": errors or []}, status=status
        )

    def get(self, request, number):
        order = _order_or_404(request, number)
        return self._render(request, order, LinesCancelForm(order=order, left=cancellable_units(order=order)))

    def post(self, request, number):
        order = _order_or_404(request, number)
        form = LinesCancelForm(request.POST, order=order, left=cancellable_units(order=order))
        if not form.is_valid():
            return self._render(request, order, form, status=400)
        quantities = form.quantities()
        if not quantities:
            return self._render(
                request, order, form, errors=[_("Choose at least one unit to cancel.")], status=400
            )
        try:
            change = order_lines_cancel(
                order=order,
                quantities=quantities,
                reason=form.reason_text(),
                reason_code=form.reason_code(),
                actor=request.user,
            )
        except DomainError as exc:
            return self._render(request, order, form, errors=[exc.message], status=400)
        messages.success(
            request,
            _("Units cancelled on order %(number)s: %(amount)s to refund. The customer is told.")
            % {"number": order.number, "amount": money(-change.difference)},
        )
        return redirect("orders:order_detail", number=order.number)


class OrderPaymentView(BackofficeMixin, View):
    """POST only: a payment received (a bank transfer for an order on payment hold)."""

    permission_required = "orders.change_order"

    def post(self, request, number):
        order = _order_or_404(request, number)
        form = PaymentRecordForm(request.POST)
        if not form.is_valid():
            messages.error(request, _("Type the amount received."))
            return redirect("orders:order_detail", number=order.number)
        try:
            payment_record(
                order=order,
                amount=form.cleaned_data["amount"],
                reference=form.cleaned_data["reference"],
                actor=request.user,
            )
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Payment recorded on order %(number)s.") % {"number": order.number})
        return redirect("orders:order_detail", number=order.number)


class OrderHoldView(BackofficeMixin, View):
    """POST only: put the order on hold, or clear a hold."""

    permission_required = "orders.change_order"

    def post(self, request, number):
        order = _order_or_404(request, number)
        form = HoldForm(request.POST)
        if not form.is_valid():
            messages.error(request, _("Choose a hold."))
            return redirect("orders:order_detail", number=order.number)
        kind, reason = form.cleaned_data["kind"], form.cleaned_data["reason"]
        try:
            if form.cleaned_data["release"]:
                order_hold_release(order=order, kind=kind, actor=request.user, note=reason)
                messages.success(request, _("Hold cleared: the order goes on to picking."))
            else:
                order_hold_place(order=order, kind=kind, reason=reason, actor=request.user)
                messages.success(
                    request, _("The order is on hold: it will not be picked until it is cleared.")
                )
        except DomainError as exc:
            messages.error(request, exc.message)
        return redirect("orders:order_detail", number=order.number)


class OrderGoodwillView(BackofficeMixin, View):
    """POST only: give an amount back without units (a commercial gesture). With htmx, a refused form comes
    back in place with its errors (nothing typed is lost) and a done one reloads the order page."""

    permission_required = "orders.change_order"
    template_name = "orders/_goodwill_form.html"

    def post(self, request, number):
        order = _order_or_404(request, number)
        room = goodwill_room(order)
        form = GoodwillForm(request.POST, order=order, room=room)
        errors: list[str] = []
        if form.is_valid():
            c = form.cleaned_data
            try:
                refund, created = order_goodwill_refund(
                    order=order,
                    amount=c["amount"],
                    reason=c["reason"],
                    note=c["note"],
                    reason_code=c.get("reason_code") or "",
                    key=f"backoffice:{c['key']}",
                    actor=request.user,
                )
            except DomainError as exc:
                errors = [exc.message]
            else:
                if created:
                    messages.success(
                        request,
                        _("%(amount)s given back on order %(number)s. The customer is told.")
                        % {"amount": money(refund.amount), "number": order.number},
                    )
                url = reverse("orders:order_detail", args=[order.number])
                if request.htmx:
                    return HttpResponseClientRedirect(url)
                return redirect(url)
        if not request.htmx:
            for message in errors or [e for field in form.errors.values() for e in field]:
                messages.error(request, message)
            return redirect("orders:order_detail", number=order.number)
        return render(
            request,
            self.template_name,
            {"order": order, "goodwill_form": form, "goodwill_room": room, "goodwill_errors": errors},
        )  # 200: htmx swaps the form with its errors in place
