"""Customer pages of the back office (customer service and managers)."""

import json

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views import View

from common.exceptions import DomainError
from common.views import BackofficeMixin
from customers import accounts
from customers.selectors import customer_get, customer_list
from customers.services import customer_note_add

from ..customer_data import account_erase, customer_export
from .forms import CustomerEraseForm, CustomerFilterForm, CustomerNoteForm
from .selectors import customer_order_figures, customer_orders_page, customers_with_figures

PAGE_SIZE = 50


def _customer_or_404(pk: int):
    customer = customer_get(pk=pk)
    if customer is None:
        raise Http404(_("No such customer."))
    return customer


class CustomerListView(BackofficeMixin, View):
    permission_required = "customers.view_customer"

    def get(self, request):
        form = CustomerFilterForm(request.GET or None)
        form.is_valid()
        data = form.cleaned_data if form.is_bound else {}
        qs = customers_with_figures(customer_list(query=data.get("q", ""), kind=data.get("kind", "")))
        page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
        context = {"form": form, "page": page, "filtered": bool(data.get("q") or data.get("kind"))}
        htmx = request.htmx
        if htmx and not htmx.history_restore_request and htmx.target == "customer-results":
            return render(request, "orders/customers/_customer_results.html", context)
        return render(request, "orders/customers/customer_list.html", context)


class CustomerDetailView(BackofficeMixin, View):
    permission_required = "customers.view_customer"

    def _context(self, request, customer, note_form=None):
        account = getattr(customer, "account", None)
        return {
            "customer": customer,
            "account": account,
            "anonymised": accounts.is_anonymised(customer),
            "figures": customer_order_figures(customer=customer),
            "orders": customer_orders_page(customer=customer),
            "addresses": list(customer.addresses.all()),
            "notes": list(customer.notes.all()),
            "note_form": note_form or CustomerNoteForm(),
            "can_change": request.user.has_perm("customers.change_customer"),
        }

    def get(self, request, pk):
        customer = _customer_or_404(pk)
        return render(request, "orders/customers/customer_detail.html", self._context(request, customer))

    def post(self, request, pk):
        """A new note (customer service and managers)."""
        if not request.user.has_perm("customers.change_customer"):
            return self.handle_no_permission()
        customer = _customer_or_404(pk)
        form = CustomerNoteForm(request.POST)
        if not form.is_valid():
            return render(
                request,
                "orders/customers/customer_detail.html",
                self._context(request, customer, note_form=form),
                status=400,
            )
        customer_note_add(customer=customer, text=form.cleaned_data["text"], author=request.user)
        messages.success(request, _("Note added."))
        return redirect(reverse("customers:detail", args=[customer.pk]) + "#notes")


class CustomerAccountLinkView(BackofficeMixin, View):
    """Email the customer a one-time sign-in link to their account space (created at first use). Staff
    never see the link: it goes to the customer's address only."""

    permission_required = "customers.change_customer"
    http_method_names = ["post"]

    def post(self, request, pk):
        customer = _customer_or_404(pk)
        link_page = settings.SITE_URL + reverse("portal:account_link", args=["TOKEN"])
        sent = accounts.account_link_send(
            email=customer.email, link_url=link_page.replace("TOKEN", "{token}")
        )
        if sent:
            messages.success(
                request,
                _("A sign-in link was sent to %(email)s. It works once, within 15 minutes.")
                % {"email": customer.email},
            )
        else:
            messages.error(request, _("This customer's data was erased: there is nobody to send a link to."))
        return redirect("customers:detail", pk=customer.pk)


class CustomerExportView(BackofficeMixin, View):
    """Everything we hold about the customer, as JSON (the right of access, RGPD art. 15)."""

    permission_required = "customers.view_customer"

    def get(self, request, pk):
        customer = _customer_or_404(pk)
        payload = {"exported_at": timezone.now().isoformat(), **customer_export(customer=customer)}
        response = HttpResponse(
            json.dumps(payload, ensure_ascii=False, indent=2), content_type="application/json; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="customer-{customer.pk}.json"'
        response["Cache-Control"] = "private, no-store"
        return response


class CustomerEraseView(BackofficeMixin, View):
    """Erase the customer's personal data (RGPD art. 17) with the portal's rule: not while an order is on
    its way. The page spells out what is erased and what the law makes us keep."""

    permission_required = "customers.change_customer"
    template_name = "orders/customers/customer_erase.html"

    def _render(self, request, customer, form, status=200):
        figures = customer_order_figures(customer=customer)
        return render(
            request,
            self.template_name,
            {
                "customer": customer,
                "form": form,
                "figures": figures,
                "anonymised": accounts.is_anonymised(customer),
            },
            status=status,
        )

    def get(self, request, pk):
        return self._render(request, _customer_or_404(pk), CustomerEraseForm())

    def post(self, request, pk):
        customer = _customer_or_404(pk)
        form = CustomerEraseForm(request.POST)
        if not form.is_valid():
            return self._render(request, customer, form, status=400)
        try:
            account_erase(customer=customer)
        except DomainError as exc:
            form.add_error(
                None,
                _("The data cannot be erased while orders are on their way (%(numbers)s).")
                % {"numbers": ", ".join(exc.details.get("orders", []))},
            )
            return self._render(request, customer, form, status=409)
        messages.success(
            request,
            _("The customer's personal data is erased. Orders and invoices keep what the law requires."),
        )
        return redirect("customers:detail", pk=customer.pk)
