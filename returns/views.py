"""Returns pages: the customer's request on the portal (the tracking token is the secret), and the back
office (list, detail with the steps allowed now, receive & inspect, refund). Thin: parse, call a service,
render."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import FileResponse, Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views import View

from common.exceptions import DomainError
from common.views import BackofficeMixin
from customers.selectors import customer_get
from inventory.selectors import locations_for_user, user_sees_all_locations
from invoicing.selectors import documents_for_order
from orders.models import Channel, Order
from orders.selectors import order_get_for_user
from orders.timeline import order_timeline

from . import services
from .exchanges import exchange_options
from .models import Return, ReturnReason, ReturnStatus
from .selectors import customer_returns, order_returns

MAX_PHOTO_BYTES = 8 * 1024 * 1024


def _int(value, default=0):
    try:
        return int(str(value).strip() or default)
    except (TypeError, ValueError):
        return None


def _request_context(order: Order, post=None, error: str = "", line_errors=None) -> dict:
    state = services.returnable(order)
    rule = services.rule_for(order)
    photo_ids = services.photo_reason_ids(rule)
    reasons = list(ReturnReason.objects.filter(active=True))
    rows = []
    for line in order.lines.all():
        left = state.lines.get(line.pk, 0)
        if not left:
            continue
        rows.append(
            {
                "line": line,
                "left": left,
                "quantity": (post or {}).get(f"qty_{line.pk}", ""),
                "reason": (post or {}).get(f"reason_{line.pk}", ""),
                "exchange": (post or {}).get(f"exchange_{line.pk}", ""),
                "options": exchange_options(line),
                "error": (line_errors or {}).get(line.pk) or (line_errors or {}).get(str(line.pk), ""),
            }
        )
    return {
        "order": order,
        "state": state,
        "rule": rule,
        "rows": rows,
        "reasons": reasons,
        "photo_reasons": [r for r in reasons if r.pk in photo_ids],
        "stores": list(services.return_stores()),
        "label_in_parcel": services.label_in_parcel(order),
        "method": (post or {}).get("method", Return.Method.POST),
        "store_id": _int((post or {}).get("store", "")),
        "note": (post or {}).get("note", ""),
        "error": error,
    }


def _parse_request(order: Order, request) -> tuple[list, str, object, str]:
    """The lines, method and store of a request form. Raises DomainError on unreadable input."""
    reasons = {str(r.pk): r for r in ReturnReason.objects.filter(active=True)}
    lines = []
    for line in order.lines.all():
        quantity = _int(request.POST.get(f"qty_{line.pk}", ""))
        if quantity is None or quantity < 0:
            raise services.ReturnRefused(
                _("%(sku)s: give a whole number of items.") % {"sku": line.sku},
                details={"lines": {line.pk: _("Give a whole number of items.")}},
            )
        if not quantity:
            continue
        photo = request.FILES.get(f"photo_{line.pk}")
        if photo is not None:
            if photo.size > MAX_PHOTO_BYTES or not (photo.content_type or "").startswith("image/"):
                raise services.ReturnRefused(
                    _("%(sku)s: the photo must be an image of at most 8 MB.") % {"sku": line.sku},
                    details={"lines": {line.pk: _("The photo must be an image of at most 8 MB.")}},
                )
        lines.append(
            services.LineRequest(
                order_line=line,
                quantity=quantity,
                reason=reasons.get(request.POST.get(f"reason_{line.pk}", "")),
                photo=photo,
                exchange_sku=request.POST.get(f"exchange_{line.pk}", "").strip()[:64],
            )
        )
    method = request.POST.get("method", "")
    store = None
    if method == Return.Method.STORE:
        store_id = _int(request.POST.get("store", ""))
        store = services.return_stores().filter(pk=store_id).first() if store_id else None
    return lines, method, store, request.POST.get("note", "").strip()


# --- Portal -----------------------------------------------------------------------------------------------


def _portal_order(token: str) -> Order:
    order = Order.objects.filter(tracking_token=token).select_related("channel", "customer").first()
    if order is None:
        raise Http404(_("No order with this link."))
    return order


class PortalRequestView(View):
    """The customer's return request, phone-first: which items, why, a photo when needed, by post or at a
    store."""

    template_name = "returns/portal_request.html"

    def get(self, request, token):
        order = _portal_order(token)
        return render(request, self.template_name, _request_context(order))

    def post(self, request, token):
        order = _portal_order(token)
        try:
            lines, method, store, note = _parse_request(order, request)
            ret = services.return_request(
                order=order, lines=lines, method=method, store=store, note=note, source=Return.Source.PORTAL
            )
        except DomainError as exc:
            context = _request_context(order, request.POST, exc.message, exc.details.get("lines"))
            return render(request, self.template_name, context, status=422)
        return HttpResponseRedirect(reverse("returns:portal_detail", args=[token, ret.number]))


class PortalDetailView(View):
    def get(self, request, token, number):
        order = _portal_order(token)
        ret = get_object_or_404(Return.objects.select_related("location"), order=order, number=number)
        return render(request, "returns/portal_detail.html", {"order": order, "ret": ret})


class PortalLabelView(View):
    def get(self, request, token, number):
        order = _portal_order(token)
        ret = get_object_or_404(Return, order=order, number=number)
        if not ret.label_pdf or ret.status != ReturnStatus.LABEL_SENT:
            raise Http404(_("This return has no label."))
        return FileResponse(
            ret.label_pdf.open("rb"), content_type="application/pdf", filename=f"{ret.number}.pdf"
        )


# --- Back office ------------------------------------------------------------------------------------------


class ReturnsMixin(BackofficeMixin):
    """Customer service (manage) sees every return; staff who receive see those coming back to their
    locations."""

    def has_permission(self):
        user = self.request.user
        return user.has_perm("returns.manage_returns") or user.has_perm("returns.receive_return")

    def scoped(self):
        qs = Return.objects.select_related("order__channel", "order__customer", "location")
        user = self.request.user
        if user.has_perm("returns.manage_returns") or user_sees_all_locations(user=user):
            return qs
        return qs.filter(location__in=locations_for_user(user=user))

    def get_return(self, number) -> Return:
        ret = self.scoped().filter(number=number).first()
        if ret is None:
            raise Http404(_("No return with this number here."))
        return ret


class ReturnListView(ReturnsMixin, View):
    def get(self, request):
        qs = self.scoped()
        status = request.GET.get("status", "")
        channel = request.GET.get("channel", "")
        query = request.GET.get("q", "").strip()
        if status in ReturnStatus.values:
            qs = qs.filter(status=status)
        if channel:
            qs = qs.filter(order__channel__code=channel)
        if query:
            qs = qs.filter(Q(number__icontains=query) | Q(order__number__icontains=query))
        page = Paginator(qs, 50).get_page(request.GET.get("page"))
        return render(
            request,
            "returns/return_list.html",
            {
                "page": page,
                "returns": page.object_list,
                "statuses": ReturnStatus.choices,
                "channels": Channel.objects.all(),
                "status": status,
                "channel": channel,
                "q": query,
            },
        )


class ReturnDetailView(ReturnsMixin, View):
    def get(self, request, number):
        ret = self.get_return(number)
        user = request.user
        manage = user.has_perm("returns.manage_returns")
        lines = list(ret.lines.select_related("order_line", "reason", "location", "inspected_by"))
        numbers = [number for number in ret.credit_notes.split(", ") if number]
        documents = documents_for_order(order_id=ret.order_id) if numbers else []
        credit_notes = [doc for doc in documents if doc.number in numbers]
        return render(
            request,
            "returns/return_detail.html",
            {
                "ret": ret,
                "lines": lines,
                "credit_notes": credit_notes,
                "quote": services.refund_quote(ret) if ret.status == ReturnStatus.RECEIVED else None,
                "can_accept": manage and ret.status == ReturnStatus.REQUESTED,
                "can_reject": manage and ret.status in (ReturnStatus.REQUESTED, ReturnStatus.LABEL_SENT),
                "can_receive": user.has_perm("returns.receive_return")
                and ret.status == ReturnStatus.LABEL_SENT,
                "can_refund": manage and ret.status == ReturnStatus.RECEIVED,
                "can_retry_label": manage
                and ret.status == ReturnStatus.LABEL_SENT
                and ret.method == Return.Method.POST
                and not ret.label_pdf,
                "events": [
                    entry
                    for entry in order_timeline(order=ret.order)
                    if entry.type.startswith("return.") and entry.data.get("number") == ret.number
                ],
            },
        )


class ReturnActionView(ReturnsMixin, View):
    """POST only: accept, reject (with a reason), refund (with the payment reference), retry the label."""

    http_method_names = ["post"]

    def has_permission(self):
        return self.request.user.has_perm("returns.manage_returns")

    def post(self, request, number, action):
        ret = self.get_return(number)
        try:
            if action == "accept":
                services.return_accept(ret=ret, actor=request.user)
                messages.success(request, _("Return %(number)s accepted.") % {"number": ret.number})
            elif action == "reject":
                services.return_reject(ret=ret, reason=request.POST.get("reason", ""), actor=request.user)
                messages.success(request, _("Return %(number)s rejected.") % {"number": ret.number})
            elif action == "refund":
                services.return_refund(
                    ret=ret, reference=request.POST.get("reference", ""), actor=request.user
                )
                messages.success(request, _("Return %(number)s refunded.") % {"number": ret.number})
            elif action == "retry-label":
                services.return_label_retry(ret=ret)
                messages.success(request, _("The return label is asked again."))
            else:
                raise Http404
        except DomainError as exc:
            messages.error(request, exc.message)
        return HttpResponseRedirect(reverse("returns:detail", args=[ret.number]))


class ReturnReceiveView(ReturnsMixin, View):
    """Receive & inspect, scan-friendly: scan the return's number, then per line the units to restock and
    to write off, at one of the user's locations."""

    permission_required = "returns.receive_return"

    def has_permission(self):
        return self.request.user.has_perm("returns.receive_return")

    def _render(self, request, ret, post=None, error="", status=200):
        locations = list(locations_for_user(user=request.user).order_by("kind", "code"))
        lines = list(ret.lines.select_related("order_line", "reason"))
        rows = [
            {
                "line": line,
                "restock": (post or {}).get(f"restock_{line.pk}", line.quantity if post is None else ""),
                "write_off": (post or {}).get(f"write_off_{line.pk}", 0 if post is None else ""),
            }
            for line in lines
        ]
        default = _int((post or {}).get("location", "")) or ret.location_id
        return render(
            request,
            "returns/return_receive.html",
            {"ret": ret, "rows": rows, "locations": locations, "location_id": default, "error": error},
            status=status,
        )

    def get(self, request, number):
        return self._render(request, self.get_return(number))

    def post(self, request, number):
        ret = self.get_return(number)
        location = (
            locations_for_user(user=request.user).filter(pk=_int(request.POST.get("location", ""))).first()
        )
        if location is None:
            return self._render(request, ret, request.POST, _("Choose one of your locations."), status=422)
        results = {}
        for line in ret.lines.all():
            restock = _int(request.POST.get(f"restock_{line.pk}", ""))
            write_off = _int(request.POST.get(f"write_off_{line.pk}", ""))
            if restock is None or write_off is None:
                return self._render(
                    request, ret, request.POST, _("Give whole numbers, zero or more."), status=422
                )
            results[line.pk] = (restock, write_off)
        try:
            services.return_receive(ret=ret, location=location, results=results, actor=request.user)
        except DomainError as exc:
            return self._render(request, ret, request.POST, exc.message, status=422)
        messages.success(request, _("Return %(number)s received.") % {"number": ret.number})
        return HttpResponseRedirect(reverse("returns:detail", args=[ret.number]))


class ReturnLabelView(ReturnsMixin, View):
    def get(self, request, number):
        ret = self.get_return(number)
        if not ret.label_pdf:
            raise Http404(_("This return has no label."))
        return FileResponse(
            ret.label_pdf.open("rb"), content_type="application/pdf", filename=f"{ret.number}.pdf"
        )


class ReturnCreateView(BackofficeMixin, View):
    """Customer service opens a return for a customer (from the order's page)."""

    permission_required = "returns.manage_returns"
    template_name = "returns/return_create.html"

    def get(self, request, number):
        order = get_object_or_404(Order.objects.select_related("channel", "customer"), number=number)
        return render(request, self.template_name, _request_context(order))

    def post(self, request, number):
        order = get_object_or_404(Order.objects.select_related("channel", "customer"), number=number)
        try:
            lines, method, store, note = _parse_request(order, request)
            ret = services.return_request(
                order=order,
                lines=lines,
                method=method,
                store=store,
                note=note,
                actor=request.user,
                source=Return.Source.STAFF,
            )
        except DomainError as exc:
            context = _request_context(order, request.POST, exc.message, exc.details.get("lines"))
            return render(request, self.template_name, context, status=422)
        messages.success(request, _("Return %(number)s created.") % {"number": ret.number})
        return HttpResponseRedirect(reverse("returns:detail", args=[ret.number]))


class CustomerReturnsView(BackofficeMixin, View):
    """The htmx fragment of customer service's customer page listing the customer's returns (the page belongs
    to orders, a lower layer: it loads this fragment by URL, never imports returns)."""

    permission_required = "customers.view_customer"

    def get(self, request, pk):
        customer = customer_get(pk=pk)
        if customer is None:
            raise Http404(_("No such customer."))
        context = {"customer": customer, "returns": customer_returns(customer_id=customer.pk)}
        if request.htmx:
            return render(request, "returns/_customer_returns.html", context)
        # Opened directly (no JavaScript, a bookmark): the same list in a page of its own.
        return render(request, "returns/customer_returns.html", context)


class OrderReturnsView(BackofficeMixin, View):
    """The htmx fragment of the order page listing the order's returns (nothing when it has none); the page
    belongs to orders, a lower layer: it loads this fragment by URL, never reads the returns' table."""

    permission_required = "orders.view_order"

    def get(self, request, number):
        order = order_get_for_user(user=request.user, number=number)
        if order is None:
            raise Http404(_("No such order."))
        context = {"order": order, "returns": order_returns(order_id=order.pk)}
        if request.htmx:
            return render(request, "returns/_order_returns.html", context)
        return render(request, "returns/order_returns.html", context)
