"""Back-office pages of the orders app: list, detail, cancel, manual entry; channel settings and API keys."""

import datetime as dt
import uuid
from decimal import Decimal

from csp.constants import NONE, SELF, UNSAFE_INLINE
from csp.decorators import csp
from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.formats import date_format
from django.utils.functional import cached_property
from django.utils.translation import gettext as _
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.clickjacking import xframe_options_sameorigin

from common.exceptions import DomainError
from common.plans import custom_plans
from common.views import BackofficeMixin
from customers.exceptions import NotificationNotResendable, SmsNotAllowed
from customers.models import Notification
from customers.selectors import customer_get, notification_get, notification_list, notification_list_for_order
from customers.services import notification_resend
from inventory.models import Location
from shipping.selectors import shipments_for_order

from .exceptions import InvalidTransition
from .forms import (
    MAX_LINE_ROWS,
    ApiKeyCreateForm,
    ChannelForm,
    ChannelLocationFormSet,
    ManualOrderForm,
    OrderCancelForm,
    OrderFilterForm,
    OrderLineFormSet,
    WhatIfForm,
)
from .forms_changes import GoodwillForm
from .models import CANCELLABLE, RETURNABLE_STATUSES, ApiKey, Channel, HoldKind, Order
from .payments.services import amount_due, amount_to_capture
from .selectors import (
    api_key_list,
    channel_get,
    channel_list,
    late_risk_orders,
    order_filter_locations,
    order_get_for_user,
    order_list,
    order_scope_location_ids,
    order_table_estimate,
)
from .services.api_keys import api_key_create, api_key_revoke
from .services.channels import channel_save
from .services.edits import EDITABLE
from .services.goodwill import goodwill_room
from .services.holds import HOLDABLE
from .services.intake import order_create_priced
from .services.lifecycle import order_cancel
from .services.whatif import sourcing_whatif

# --- Order list ---------------------------------------------------------------------------------------


class CappedPaginator(Paginator):
    """Counts at most ``cap`` rows (``SELECT COUNT(*) FROM (... LIMIT cap + 1)``), so a page of a million
    orders never counts the whole table; past the cap, only the first ``cap`` rows can be paged through and
    the total shown is the planner's estimate when the list is unfiltered."""

    cap = 10_000

    @cached_property
    def count(self) -> int:
        return self.object_list.order_by().values("pk")[: self.cap + 1].count()

    @property
    def capped(self) -> bool:
        return self.count > self.cap

    @cached_property
    def num_pages(self) -> int:
        count = min(self.count, self.cap)
        if count == 0 and not self.allow_empty_first_page:
            return 0
        return max(1, -(-count // self.per_page))


def page_links(page) -> list[int | None]:
    """Page numbers around the current one, with None for a gap: 1 … 4 5 [6] 7 8 … 20."""
    last = page.paginator.num_pages
    wanted = {1, last, *range(page.number - 2, page.number + 3)}
    numbers = sorted(n for n in wanted if 1 <= n <= last)
    links: list[int | None] = []
    for n in numbers:
        if links and n - links[-1] > 1:
            links.append(None)
        links.append(n)
    return links


class OrderListView(BackofficeMixin, View):
    permission_required = "orders.view_order"
    template_name = "orders/order_list.html"
    partial_template_name = "orders/_order_results.html"

    def get(self, request):
        # Filters of very different selectivities: each statement planned for its own (common/plans.py).
        with custom_plans():
            return self._get(request)

    def _get(self, request):
        user = request.user
        form = OrderFilterForm(
            request.GET or None,
            channels=Channel.objects.order_by("name"),
            locations=order_filter_locations(user=user),
        )
        form.is_valid()
        filters = form.filters()
        paginator = CappedPaginator(order_list(user=user, filters=filters), form.page_size())
        page = paginator.get_page(request.GET.get("page"))
        estimate = None
        if paginator.capped and form.active_count == 0 and order_scope_location_ids(user=user) is None:
            estimate = order_table_estimate()
        query = request.GET.copy()
        query.pop("page", None)
        context = {
            "form": form,
            "page": page,
            "orders": page.object_list,
            "paginator": paginator,
            "page_links": page_links(page),
            "estimate": estimate,
            "query": query.urlencode(),
            "sort": filters.get("sort", "-created"),
            "sort_query": _without(request.GET, "sort", "page"),
        }
        if request.htmx and request.htmx.target == "order-results":
            return render(request, self.partial_template_name, {**context, "partial": True})
        return render(request, self.template_name, context)


def _without(querydict, *names) -> str:
    query = querydict.copy()
    for name in names:
        query.pop(name, None)
    return query.urlencode()


# --- Order detail and cancellation ------------------------------------------------------------------------


def _order_or_404(request, number):
    order = order_get_for_user(user=request.user, number=number)
    if order is None:
        raise Http404(_("No such order."))
    return order


def _iso_date(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def sourcing_table(record: dict) -> dict:
    """The candidates compared when the order was sourced, chosen first, for the detail page."""
    chosen = record["chosen"]
    rows = []
    seen = set()
    for plan in [chosen, *record.get("candidates", [])]:
        key = tuple((p["location"], p["cost"]) for p in plan["parcels"])
        if key in seen:
            continue
        seen.add(key)
        rows.append(
            {
                "chosen": plan is chosen,
                "locations": ", ".join(p["location"] for p in plan["parcels"]),
                "parcels": plan["parcels"],
                "storage": sum(Decimal(p["storage"]) for p in plan["parcels"]),
                "handling": sum(Decimal(p["handling"]) for p in plan["parcels"]),
                "shipping": sum(Decimal(p["shipping"]) for p in plan["parcels"]),
                "split_penalty": Decimal(plan["split_penalty"]),
                "lateness": Decimal(plan["lateness"]),
                "total": Decimal(plan["total"]),
                "delivery_date": _iso_date(plan.get("delivery_date")),
            }
        )
    return {"strategy": record.get("strategy"), "rows": rows}


class OrderDetailView(BackofficeMixin, View):
    """The whole order on one page: lines and reservations, parcels with their tracking, invoices (invoicing's
    fragment), returns, messages, the customer's tracking link, the timeline, and the actions that fit the
    order's status and the user's role."""

    permission_required = "orders.view_order"
    template_name = "orders/order_detail.html"

    def get(self, request, number):
        order = _order_or_404(request, number)
        user = request.user
        lines = list(order.lines.all())
        events = order.timeline
        sourcing = next((e for e in events if e.type == "order.sourced" and e.data.get("chosen")), None)
        shipments = shipments_for_order(order_id=order.pk)
        return render(
            request,
            self.template_name,
            {
                "order": order,
                "lines": lines,
                "events": events,
                "sourcing": sourcing_table(sourcing.data) if sourcing else None,
                "can_cancel": order.status in CANCELLABLE and user.has_perm("orders.cancel_order"),
                "can_edit": order.status in EDITABLE and user.has_perm("orders.change_order"),
                "can_cancel_units": order.status in (*CANCELLABLE, Order.Status.PARTIALLY_SHIPPED)
                and order.status != Order.Status.CANCELLED
                and user.has_perm("orders.cancel_order"),
                "can_change": user.has_perm("orders.change_order"),
                "can_hold": order.status in HOLDABLE,
                "hold_labels": [
                    (kind, HoldKind(kind).label) for kind in order.holds if kind in HoldKind.values
                ],
                "hold_choices": [(k, label) for k, label in HoldKind.choices if k not in order.holds],
                # an order with no payment recorded has no transaction: no query for it
                "payment_transactions": list(order.payment_transactions.all())
                if order.payment_provider or order.amount_paid or order.amount_authorised
                else [],
                "payment_due": max(order.total_incl_vat - order.amount_paid + order.amount_refunded, 0)
                if order.status != Order.Status.CANCELLED
                else 0,
                "amount_due": amount_due(order),
                **_goodwill_context(order, user, events),
                "amount_to_capture": amount_to_capture(order),
                "can_return": order.status in RETURNABLE_STATUSES and user.has_perm("returns.manage_returns"),
                "can_pickup": order.delivery_mode == "store"
                and order.status
                not in (Order.Status.CANCELLED, Order.Status.DELIVERED, Order.Status.RETURNED)
                and user.has_perm("fulfillment.store_pickup"),
                "shipments": shipments,
                "parcel_units": sum(line.quantity for s in shipments for line in s.lines.all()),
                "can_download_labels": user.has_perm("shipping.handover")
                or user.has_perm("fulfillment.pack"),
                "can_retry_labels": user.has_perm("shipping.handover"),
                # The tracking link is the customer's secret: shown to those who talk to customers.
                "show_tracking_link": user.has_perm("customers.view_customer"),
            },
        )


class OrderCancelView(BackofficeMixin, View):
    permission_required = "orders.cancel_order"
    template_name = "orders/order_cancel.html"

    def _render(self, request, order, form, status=200):
        reservations = sum(len(line.allocations.all()) for line in order.lines.all())
        return render(
            request,
            self.template_name,
            {
                "order": order,
                "form": form,
                "cancellable": order.status in CANCELLABLE,
                "reservations": reservations,
            },
            status=status,
        )

    def get(self, request, number):
        order = _order_or_404(request, number)
        return self._render(request, order, OrderCancelForm(order=order))

    def post(self, request, number):
        order = _order_or_404(request, number)
        form = OrderCancelForm(request.POST, order=order)
        if not form.is_valid():
            return self._render(request, order, form, status=400)
        try:
            with transaction.atomic(durable=True):
                order_cancel(
                    order=order,
                    reason=form.reason_text(),
                    reason_code=form.reason_code(),
                    actor=request.user,
                )
        except InvalidTransition:
            messages.error(
                request,
                _("Order %(number)s can no longer be cancelled: it is %(status)s.")
                % {"number": order.number, "status": order.get_status_display().lower()},
            )
            return redirect("orders:order_detail", number=order.number)
        messages.success(
            request,
            _("Order %(number)s is cancelled and its reservations are released.") % {"number": order.number},
        )
        return redirect("orders:order_detail", number=order.number)


# --- Manual order entry ------------------------------------------------------------------------------------


def _short_date(value) -> str:
    try:
        return date_format(dt.date.fromisoformat(value), "SHORT_DATE_FORMAT") if value else ""
    except (TypeError, ValueError):
        return str(value)


def _goodwill_context(order: Order, user, timeline) -> dict:
    """The commercial gesture's form, for staff who may change orders, while something can be given back (the
    ceiling from the timeline's events already read: no query; the service checks it again)."""
    if not user.has_perm("orders.change_order") or order.status == Order.Status.CANCELLED:
        return {}
    room = goodwill_room(order, events=[entry.event for entry in timeline])
    if room <= 0:
        return {}
    form = GoodwillForm(order=order, room=room, initial={"key": uuid.uuid4().hex})
    return {"goodwill_form": form, "goodwill_room": room}


def domain_error_messages(exc: DomainError) -> list[str]:
    """What the person at the phone reads when intake refuses an order: one sentence per problem."""
    details = exc.details or {}
    if exc.code == "out_of_stock" and details.get("lines"):
        result = []
        for line in details["lines"]:
            params = {
                "sku": line.get("sku", ""),
                "requested": line.get("requested", 0),
                "available": line.get("available", 0),
                "preorderable": line.get("preorderable", 0),
                "date": _short_date(line.get("next_restock_on")),
            }
            if params["preorderable"]:
                result.append(
                    _(
                        "Not enough stock for %(sku)s: %(requested)s requested, %(available)s available; "
                        "%(preorderable)s more can be pre-ordered (expected %(date)s): allow pre-order."
                    )
                    % params
                )
            else:
                result.append(
                    _("Not enough stock for %(sku)s: %(requested)s requested, %(available)s available.")
                    % params
                )
        return result
    if exc.code == "out_of_stock":
        return [_("Not enough stock for this order.")]
    if exc.code == "unknown_sku":
        return [
            _("Unknown or inactive SKU or EAN: %(codes)s.") % {"codes": ", ".join(details.get("skus", []))}
        ]
    if exc.code == "duplicate_order":
        return [_("This order was already taken as %(number)s.") % {"number": details.get("number") or "?"}]
    if exc.code == "unknown_location":
        return [_("This store cannot take pickups.")]
    return [exc.message]


class OrderCreateView(BackofficeMixin, View):
    """Manual entry of a phone order: the same intake as the API, so the same rules and reservations."""

    permission_required = "orders.add_order"
    template_name = "orders/order_form.html"

    def _render(self, request, form, formset, errors=(), status=200):
        return render(
            request, self.template_name, {"form": form, "formset": formset, "errors": errors}, status=status
        )

    def get(self, request):
        return self._render(
            request,
            ManualOrderForm(initial=self._customer_initial(request)),
            OrderLineFormSet(prefix="lines"),
        )

    @staticmethod
    def _customer_initial(request) -> dict:
        """``?customer=<id>`` (the customer page's "New phone order"): their details and default address."""
        try:
            customer = customer_get(pk=int(request.GET.get("customer", "")))
        except ValueError:
            return {}
        if customer is None or customer.email.endswith("@anonymised.invalid"):
            return {}
        initial = {
            "email": customer.email,
            "first_name": customer.first_name,
            "last_name": customer.last_name,
            "phone": customer.phone,
            "company": customer.company,
        }
        address = next((a for a in customer.addresses.all() if a.kind == "shipping"), None)
        if address is not None:
            initial.update(
                ship_name=address.name or customer.full_name,
                line1=address.line1,
                line2=address.line2,
                postcode=address.postcode,
                city=address.city,
                country=address.country,
            )
        return initial

    def _more_rows(self, request, data):
        """Five more line rows, keeping everything typed (not a submission: no error shown yet)."""
        try:
            total = min(int(data.get("lines-TOTAL_FORMS") or 0), MAX_LINE_ROWS)
        except ValueError:
            total = 0
        rows = [
            {name: data.get(f"lines-{index}-{name}", "") for name in ("code", "quantity", "unit_price")}
            for index in range(total)
        ]
        rows = [row for row in rows if any(row.values())]
        form = ManualOrderForm(initial={k: v for k, v in data.items() if k in ManualOrderForm.base_fields})
        return self._render(request, form, OrderLineFormSet(prefix="lines", initial=rows))

    def post(self, request):
        data = request.POST
        if "add_lines" in data:
            return self._more_rows(request, data)
        form = ManualOrderForm(data)
        formset = OrderLineFormSet(data, prefix="lines")
        if not (form.is_valid() & formset.is_valid()):
            return self._render(request, form, formset, status=400)
        try:
            order = order_create_priced(
                channel=form.cleaned_data["channel"],
                data=form.order_input(lines=formset.lines()),
                actor=request.user,
                source="manual",
            )
        except DomainError as exc:
            return self._render(request, form, formset, errors=domain_error_messages(exc), status=400)
        messages.success(
            request,
            _("Order %(number)s taken: %(status)s.")
            % {"number": order.number, "status": order.get_status_display().lower()},
        )
        return redirect("orders:order_detail", number=order.number)


# --- Channels and API keys ---------------------------------------------------------------------------------


class ChannelListView(BackofficeMixin, View):
    permission_required = "oms.manage_settings"
    template_name = "orders/channel_list.html"

    def get(self, request):
        return render(request, self.template_name, {"channels": channel_list()})


class ChannelDetailView(BackofficeMixin, View):
    permission_required = "oms.manage_settings"
    template_name = "orders/channel_detail.html"

    def _channel(self, code):
        channel = channel_get(code=code)
        if channel is None:
            raise Http404(_("No such channel."))
        return channel

    def _locations(self):
        return Location.objects.filter(active=True).order_by("kind", "name")

    def _render(self, request, channel, form, formset, key_form=None, status=200):
        return render(
            request,
            self.template_name,
            {
                "channel": channel,
                "form": form,
                "formset": formset,
                "keys": api_key_list(channel=channel),
                "key_form": key_form or ApiKeyCreateForm(prefix="key"),
            },
            status=status,
        )

    def get(self, request, code):
        channel = self._channel(code)
        initial = [
            {"location": cl.location, "priority": cl.priority} for cl in channel.channel_locations.all()
        ]
        formset = ChannelLocationFormSet(
            initial=initial, prefix="locations", form_kwargs={"locations": self._locations()}
        )
        return self._render(request, channel, ChannelForm(instance=channel), formset)

    def post(self, request, code):
        channel = self._channel(code)
        form = ChannelForm(request.POST, instance=channel)
        formset = ChannelLocationFormSet(
            request.POST, prefix="locations", form_kwargs={"locations": self._locations()}
        )
        if not (form.is_valid() & formset.is_valid()):
            return self._render(request, channel, form, formset, status=400)
        channel_save(channel=channel, data=form.cleaned_data, locations=formset.locations())
        messages.success(request, _("Channel %(name)s saved.") % {"name": channel.name})
        return redirect("orders:channel_detail", code=channel.code)


@method_decorator(never_cache, name="dispatch")
class ApiKeyCreateView(BackofficeMixin, View):
    """Create a key; the answer to the POST is the only page that ever shows the raw key."""

    permission_required = "oms.manage_settings"
    template_name = "orders/api_key_form.html"

    def get(self, request, code):
        channel = get_object_or_404(Channel, code=code)
        return render(
            request, self.template_name, {"channel": channel, "form": ApiKeyCreateForm(prefix="key")}
        )

    def post(self, request, code):
        channel = get_object_or_404(Channel, code=code)
        form = ApiKeyCreateForm(request.POST, prefix="key")
        if not form.is_valid():
            return render(request, self.template_name, {"channel": channel, "form": form}, status=400)
        key, raw = api_key_create(
            channel=channel, scopes=form.cleaned_data["scopes"], name=form.cleaned_data["name"]
        )
        return render(
            request, "orders/api_key_created.html", {"channel": channel, "key": key, "raw_key": raw}
        )


class ApiKeyRevokeView(BackofficeMixin, View):
    permission_required = "oms.manage_settings"
    template_name = "orders/api_key_revoke.html"

    def _key(self, code, pk):
        return get_object_or_404(ApiKey.objects.select_related("channel"), channel__code=code, pk=pk)

    def get(self, request, code, pk):
        key = self._key(code, pk)
        return render(request, self.template_name, {"channel": key.channel, "key": key})

    def post(self, request, code, pk):
        key = self._key(code, pk)
        api_key_revoke(key=key)
        messages.success(
            request,
            _("Key %(prefix)s… is revoked: requests with it are now refused.") % {"prefix": key.prefix},
        )
        return redirect(reverse("orders:channel_detail", kwargs={"code": code}) + "#api-keys")


class LateRiskView(BackofficeMixin, View):
    """Orders whose promise can no longer be met (past their planned ship date, or waiting for stock due
    after it), so staff act before the customer complains. Scoped to the user's locations."""

    permission_required = "orders.view_order"

    def get(self, request):
        rows = list(late_risk_orders(location_ids=order_scope_location_ids(user=request.user))[:500])
        return render(request, "orders/late_risk.html", {"orders": rows})


class SourcingWhatIfView(BackofficeMixin, View):
    """Replay a period's orders under another strategy (in memory) to choose one. Managers."""

    permission_required = "oms.manage_settings"

    def get(self, request):
        form = WhatIfForm(request.GET or None)
        report = None
        if form.is_bound and form.is_valid():
            report = sourcing_whatif(
                strategy=form.cleaned_data["strategy"],
                days=form.cleaned_data["days"],
                channel=form.cleaned_data.get("channel"),
                limit=2000,
            ).as_dict()
            report["strategy_label"] = Channel.Strategy(report["strategy"]).label
        status = 400 if form.is_bound and not form.is_valid() else 200
        return render(request, "orders/whatif.html", {"form": form, "report": report}, status=status)


# --- Customer notifications (the outbox of customers, shown per order) ------------------------------------

RESENDABLE = (Notification.Status.SENT, Notification.Status.FAILED)


def _notification_or_404(order, pk):
    notification = notification_get(pk=pk, order_id=order.pk)
    if notification is None:
        raise Http404(_("No such message."))
    return notification


class OrderNotificationsView(BackofficeMixin, View):
    """The order's messages to the customer: an htmx fragment of the order page, or a page of its own."""

    permission_required = "customers.view_notification"

    def get(self, request, number):
        order = _order_or_404(request, number)
        context = {
            "order": order,
            "notifications": notification_list_for_order(order_id=order.pk),
            "can_resend": request.user.has_perm("customers.resend_notification"),
        }
        if request.htmx:
            return render(request, "orders/_order_notifications.html", context)
        return render(request, "orders/order_notifications.html", context)


class NotificationDetailView(BackofficeMixin, View):
    """One message as the customer got it: subject, recipient, HTML and text parts, attempts and errors."""

    permission_required = "customers.view_notification"

    def get(self, request, number, pk):
        order = _order_or_404(request, number)
        notification = _notification_or_404(order, pk)
        return render(
            request,
            "orders/notification_detail.html",
            {
                "order": order,
                "notification": notification,
                "resends": list(notification.resends.order_by("created_at")),
                "can_resend": request.user.has_perm("customers.resend_notification")
                and notification.status in RESENDABLE,
            },
        )


# The email as sent: its own document, framed by the message page. Emails carry their styles inline (mail
# clients ignore stylesheets) and may show the merchant's logo from anywhere, so this response alone allows
# inline styles and remote images; it runs no script (no script-src, and `sandbox`), may be framed only by
# our own pages, and the <iframe> is sandboxed too.
EMAIL_PREVIEW_CSP = {
    "default-src": [NONE],
    "style-src": [UNSAFE_INLINE],
    "img-src": [SELF, "data:", "https:"],
    "font-src": [SELF],
    "base-uri": [NONE],
    "form-action": [NONE],
    "frame-ancestors": [SELF],
    "sandbox": [""],
}


@method_decorator([xframe_options_sameorigin, csp(EMAIL_PREVIEW_CSP)], name="dispatch")
class NotificationPreviewView(BackofficeMixin, View):
    """The HTML part of one message, alone, for the preview frame of the message page."""

    permission_required = "customers.view_notification"

    def get(self, request, number, pk):
        notification = _notification_or_404(_order_or_404(request, number), pk)
        if not notification.body_html:
            raise Http404(_("No such message."))
        response = HttpResponse(notification.body_html, content_type="text/html; charset=utf-8")
        response["Referrer-Policy"] = "no-referrer"
        response["Cache-Control"] = "private, no-store"
        return response


class NotificationResendView(BackofficeMixin, View):
    """Send a message again: a new message (a copy, to the customer's current address) is queued; the
    original stays as it was, with its own history."""

    permission_required = "customers.resend_notification"

    def get(self, request, number, pk):
        order = _order_or_404(request, number)
        notification = _notification_or_404(order, pk)
        return render(
            request,
            "orders/notification_resend.html",
            {"order": order, "notification": notification, "resendable": notification.status in RESENDABLE},
        )

    def post(self, request, number, pk):
        order = _order_or_404(request, number)
        notification = _notification_or_404(order, pk)
        try:
            resent = notification_resend(notification=notification, actor=request.user)
        except NotificationNotResendable:
            messages.error(request, _("This message is still being sent: wait for it, then send it again."))
        except SmsNotAllowed:
            messages.error(request, _("The customer does not accept text messages any more."))
        else:
            messages.success(
                request,
                _("The message “%(subject)s” will be sent again to %(recipient)s.")
                % {"subject": resent.subject or resent.get_kind_display(), "recipient": resent.recipient},
            )
        return redirect(reverse("orders:order_detail", kwargs={"number": order.number}) + "#notifications")


class NotificationListView(BackofficeMixin, View):
    """Every message to customers, newest first; customer service watches the failed ones."""

    permission_required = "customers.view_notification"
    per_page = 50

    def get(self, request):
        status = request.GET.get("status", "")
        if status not in Notification.Status.values:
            status = ""
        qs = notification_list(status=status)
        location_ids = order_scope_location_ids(user=request.user)
        if location_ids is not None:  # a user who does not see every order sees their orders' messages
            qs = qs.filter(order__order_locations__location_id__in=location_ids).distinct()
        page = Paginator(qs, self.per_page).get_page(request.GET.get("page"))
        return render(
            request,
            "orders/notification_list.html",
            {
                "page": page,
                "notifications": page.object_list,
                "page_links": page_links(page),
                "status": status,
                "statuses": Notification.Status.choices,
                "query": f"status={status}" if status else "",
            },
        )
