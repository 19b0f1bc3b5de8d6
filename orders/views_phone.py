"""The helpers of the phone-order form (htmx fragments): product suggestions as the person types, the
customer look-up that fills the form, and the delivery options with their prices and promised dates (the
promise service, as a checkout shows them) before the order is placed."""

import json

from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views import View

from common.exceptions import DomainError
from common.views import BackofficeMixin
from customers.selectors import customer_lookup
from inventory.models import Location
from inventory.selectors import availability, product_search

from .models import Channel, DeliveryMode
from .selectors import products_for_codes
from .services.promise import promise_quote

MAX_BASKET_LINES = 100


def _typed(request) -> str:
    """What is typed in the field that asked: ``q``, or the line's ``lines-N-code`` (htmx sends the input's
    own name and value)."""
    if request.GET.get("q"):
        return request.GET["q"]
    for key, value in request.GET.items():
        if key.startswith("lines-") and key.endswith("-code"):
            return value
    return ""


class OrderProductsView(BackofficeMixin, View):
    """``<option>`` elements of the shared datalist: SKU, name, price and units available now."""

    permission_required = "orders.add_order"

    def get(self, request):
        products = product_search(query=_typed(request), limit=10)
        locations = Location.objects.filter(active=True).values_list("pk", flat=True)
        free = availability(skus=[p.sku for p in products], location_ids=locations) if products else {}
        rows = [(p, free[p.sku].available if p.sku in free else 0) for p in products]
        return render(request, "orders/_product_options.html", {"rows": rows})


class OrderCustomerLookupView(BackofficeMixin, View):
    """Customers matching an email, a name or a phone number, each with its addresses: choosing one fills
    the form's customer and delivery fields (static/js/backoffice.js, ``data-fill``)."""

    permission_required = "orders.add_order"

    def get(self, request):
        query = request.GET.get("customer_q", "")
        results = []
        for customer in customer_lookup(query=query):
            person = {
                "id_email": customer.email,
                "id_first_name": customer.first_name,
                "id_last_name": customer.last_name,
                "id_phone": customer.phone,
                "id_company": customer.company,
            }
            choices = []
            for address in customer.addresses.all():
                if address.kind != "shipping":
                    continue
                fill = {
                    **person,
                    "id_ship_name": address.name or customer.full_name,
                    "id_line1": address.line1,
                    "id_line2": address.line2,
                    "id_postcode": address.postcode,
                    "id_city": address.city,
                    "id_country": address.country,
                    "id_delivery_mode_0": "home",
                }
                choices.append({"address": address, "fill": json.dumps(fill)})
            results.append({"customer": customer, "choices": choices, "fill": json.dumps(person)})
        return render(
            request,
            "orders/_customer_lookup.html",
            {"results": results, "query": query, "searched": len(query.strip()) >= 2},
        )


class OrderDeliveryOptionsView(BackofficeMixin, View):
    """Every delivery option of the basket typed so far (home, relay, each store), its price and promised
    window, from the promise service. Nothing is written."""

    permission_required = "orders.add_order"

    def get(self, request):
        data = request.GET
        channel = Channel.objects.filter(code=data.get("channel") or "web", active=True).first()
        items: dict[str, int] = {}
        codes = {}
        for index in range(MAX_BASKET_LINES):
            code = (data.get(f"lines-{index}-code") or "").strip()
            if not code:
                continue
            try:
                quantity = int(data.get(f"lines-{index}-quantity") or 1)
            except ValueError:
                quantity = 1
            codes[code] = max(1, min(quantity, 10_000))
        skus = products_for_codes(codes=list(codes))
        unknown = sorted(code for code in codes if code not in skus)
        for code, quantity in codes.items():
            if code in skus:
                items[skus[code]] = items.get(skus[code], 0) + quantity
        context = {"unknown": unknown, "options": [], "unavailable": [], "error": ""}
        if channel is None:
            context["error"] = _("Choose a channel.")
        elif not items:
            context["error"] = _("Type at least one product to see the delivery options.")
        else:
            postcode = (data.get("postcode") or "").strip()
            modes = [DeliveryMode.STORE]
            if postcode:
                modes = [DeliveryMode.HOME, DeliveryMode.RELAY, DeliveryMode.STORE]
            try:
                options, unavailable = promise_quote(
                    channel=channel,
                    items=list(items.items()),
                    modes=modes,
                    postcode=postcode,
                    country=(data.get("country") or "FR").upper()[:2],
                    allow_preorder=bool(data.get("allow_preorder")),
                )
            except DomainError as exc:
                context["error"] = exc.message
            else:
                context.update(
                    options=options,
                    unavailable=unavailable,
                    no_postcode=not postcode,
                    labels=dict(DeliveryMode.choices),
                    stores={loc.code: loc.name for loc in Location.objects.filter(kind="store")},
                )
        return render(request, "orders/_delivery_options.html", context)
