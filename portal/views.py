"""The tracking portal: the page of one order, opened by its secret token, and the lookup form (order number
and email) for customers who lost the link. No login: the token is the secret."""

from django.conf import settings
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from common.ratelimit import is_limited
from orders.models import OrderStatus

from .auth import merchant, merchant_colour, portal_page
from .forms import LookupForm
from .selectors import (
    can_request_return,
    delivered_on,
    order_for_token,
    order_headline,
    order_lookup,
    order_place,
    order_steps,
)


def render_portal(request, template: str, context: dict | None = None, status: int = 200):
    return render(request, template, {**merchant(request), **(context or {})}, status=status)


@require_http_methods(["GET", "HEAD"])
def theme(request):
    """The merchant's colour as a stylesheet of one rule, linked by portal_base.html after portal.css: the
    Content-Security-Policy allows styles from our own files only, not a <style> element in the page. The
    link carries the colour as its version (?v=), so a browser may keep it for a day."""
    response = HttpResponse(f":root {{ --brand: {merchant_colour()}; }}\n", content_type="text/css")
    response["Cache-Control"] = "public, max-age=86400"
    return response


def not_found(request):
    return _no_referrer(render_portal(request, "orders/portal/404.html", status=404))


def _no_referrer(response):
    """The tracking page's URL is its secret: no referrer, not even to this site (the page has no form)."""
    response["Referrer-Policy"] = "no-referrer"
    return response


@portal_page
@require_http_methods(["GET", "HEAD"])
def track(request, token: str):
    order = order_for_token(token=token)
    if order is None:
        return not_found(request)
    shipments = order.portal_shipments
    context = {
        "order": order,
        "cancelled": order.status == OrderStatus.CANCELLED,
        "steps": [] if order.status == OrderStatus.CANCELLED else order_steps(order),
        "place": order_place(order),
        "shipments": shipments,
        "lines": list(order.lines.all()),
        "can_return": can_request_return(order),
        "return_url": f"{order.tracking_path}returns/new/",
        "invoices_url": f"{order.tracking_path}invoices/",
        "partial": order.status == OrderStatus.PARTIALLY_SHIPPED,
        "headline": order_headline(order),
        "delivered_on": delivered_on(order) if order.status == OrderStatus.DELIVERED else None,
        "show_promise": order.status
        not in (OrderStatus.DELIVERED, OrderStatus.RETURNED, OrderStatus.CANCELLED)
        and order.promised_latest is not None,
    }
    return _no_referrer(render_portal(request, "orders/portal/track.html", context))


def _number_key(group, request):
    return (request.POST.get("number") or "").strip().upper()[:32] or "-"


@portal_page
@require_http_methods(["GET", "HEAD", "POST"])
def lookup(request):
    """Order number and email. The answer is the same whether the order exists or not (no enumeration);
    attempts are limited per IP address and per order number (counted in the database while the cache is
    down: common/ratelimit.py)."""
    if request.method != "POST":
        return render_portal(request, "orders/portal/lookup.html", {"form": LookupForm()})
    form = LookupForm(request.POST)
    limited = is_limited(request, group="portal-lookup-ip", key="ip", rate=settings.PORTAL_LOOKUP_RATE_PER_IP)
    limited = (
        is_limited(
            request, group="portal-lookup-order", key=_number_key, rate=settings.PORTAL_LOOKUP_RATE_PER_ORDER
        )
        or limited
    )
    if limited:
        return render_portal(request, "orders/portal/429.html", status=429)
    if form.is_valid():
        order = order_lookup(number=form.cleaned_data["number"], email=form.cleaned_data["email"])
        if order is not None:
            return HttpResponseRedirect(order.tracking_path)
        form.add_error(None, _("We could not find an order with this number and this email address."))
    return render_portal(request, "orders/portal/lookup.html", {"form": form}, status=200)
