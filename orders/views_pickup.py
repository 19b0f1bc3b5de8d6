"""Click & collect at the store: orders to prepare, to set aside, arriving from a warehouse, waiting for
their customer; the hand-over checks the pickup code (or an identity document)."""

from django.contrib import messages
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views import View

from common.exceptions import DomainError
from common.views import BackofficeMixin
from fulfillment import services as fulfillment_services
from fulfillment.models import Preparation, PreparationStatus
from inventory.selectors import location_list

from .models import DeliveryMode, Order, OrderStatus
from .services import fulfilment


class PickupMixin(BackofficeMixin):
    permission_required = "fulfillment.store_pickup"

    def stores(self):
        return list(location_list(user=self.request.user).filter(is_pickup_point=True)) or list(
            location_list(user=self.request.user, kind="store")
        )

    def order_at_store(self, number: str) -> tuple[Order, object]:
        stores = {s.pk: s for s in self.stores()}
        order = (
            Order.objects.filter(
                number=number, delivery_mode=DeliveryMode.STORE, pickup_location_id__in=stores
            )
            .select_related("customer", "pickup_location")
            .first()
        )
        if order is None:
            raise Http404(_("No click & collect order with this number at your stores."))
        return order, stores[order.pickup_location_id]


class PickupListView(PickupMixin, View):
    def get(self, request):
        stores = self.stores()
        query = (request.GET.get("q") or "").strip().upper()
        preps = Preparation.objects.filter(location__in=stores, kind=Preparation.Kind.PICKUP).select_related(
            "location", "wave"
        )
        orders = Order.objects.filter(
            delivery_mode=DeliveryMode.STORE, pickup_location__in=stores
        ).select_related("customer", "pickup_location")
        if query:
            preps = preps.filter(order_number__icontains=query)
            orders = orders.filter(number__icontains=query)
        to_prepare = preps.filter(status__in=Preparation.OPEN).order_by("created_at")
        to_set_aside = preps.filter(status=PreparationStatus.TO_PACK).order_by("picked_at")
        local = set(preps.values_list("order_id", flat=True))
        arriving = (
            orders.filter(status__in=[OrderStatus.ALLOCATED, OrderStatus.IN_PREPARATION, OrderStatus.SHIPPED])
            .exclude(pk__in=local)
            .order_by("created_at")
        )
        waiting = orders.filter(status=OrderStatus.READY_FOR_PICKUP).order_by("updated_at")
        flagged = set(
            preps.filter(status=PreparationStatus.READY, uncollected_flagged_at__isnull=False).values_list(
                "order_id", flat=True
            )
        )
        return render(
            request,
            "orders/pickup_list.html",
            {
                "stores": stores,
                "q": query,
                "to_prepare": to_prepare[:100],
                "to_set_aside": to_set_aside[:100],
                "arriving": arriving[:100],
                "waiting": waiting[:200],
                "flagged": flagged,
            },
        )


class PickupOrderView(PickupMixin, View):
    """One order at the counter: its lines and the hand-over form."""

    def get(self, request, number):
        order, store = self.order_at_store(number)
        return self.page(request, order, store)

    def page(self, request, order, store, *, error=None, status=200):
        prep = (
            Preparation.objects.filter(order_id=order.pk, location=store)
            .exclude(status=PreparationStatus.CANCELLED)
            .first()
        )
        return render(
            request,
            "orders/pickup_order.html",
            {"order": order, "store": store, "prep": prep, "lines": order.lines.all(), "error": error},
            status=status,
        )

    def post(self, request, number):
        order, store = self.order_at_store(number)
        try:
            fulfilment.order_hand_over(
                order=order,
                location=store,
                code=request.POST.get("code", ""),
                id_checked=request.POST.get("id_checked") == "on",
                actor=request.user,
            )
        except DomainError as exc:
            order.refresh_from_db()
            return self.page(request, order, store, error=exc.message, status=422 if request.htmx else 400)
        messages.success(request, _("Order %(order)s handed over to the customer.") % {"order": order.number})
        return HttpResponseRedirect(reverse("orders:pickup_list"))


class PickupActionView(PickupMixin, View):
    """Prepare (a wave of one), mark ready, parcels received from a warehouse, return to stock."""

    def post(self, request, number, action):
        order, store = self.order_at_store(number)
        prep = (
            Preparation.objects.filter(order_id=order.pk, location=store)
            .exclude(status=PreparationStatus.CANCELLED)
            .first()
        )
        try:
            if action == "prepare":
                if prep is None:
                    raise Http404(_("Nothing to prepare here for this order."))
                wave = fulfillment_services.wave_pick_single(preparation=prep, actor=request.user)
                return HttpResponseRedirect(reverse("fulfillment:wave_pick", args=[wave.pk]))
            if action == "ready":
                if prep is None:
                    raise Http404(_("Nothing to prepare here for this order."))
                fulfillment_services.pickup_mark_ready(preparation=prep, actor=request.user)
                text = _("Order %(order)s is ready for pickup: the customer is told.")
            elif action == "receive":
                fulfilment.order_receive_at_store(order=order, location=store, actor=request.user)
                text = _("Order %(order)s is ready for pickup: the customer is told.")
            elif action == "return":
                fulfilment.order_return_uncollected(order=order, location=store, actor=request.user)
                text = _("Order %(order)s returned to stock.")
            else:
                raise Http404(_("Unknown action."))
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, text % {"order": order.number})
        return HttpResponseRedirect(reverse("orders:pickup_list"))
