"""The back-office navigation, filtered by the user's permissions (navigation by role)."""

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

# (label, url name, permission needed or a tuple of permissions any of which will do). Later issues add
# their pages here.
NAVIGATION = [
    (_("Dashboard"), "dashboard", "oms.access_backoffice"),
    (_("Orders"), "orders:order_list", "orders.view_order"),
    (_("Late risk"), "orders:late_risk", "orders.view_order"),
    (_("Notifications"), "orders:notification_list", "customers.view_notification"),
    (_("Returns"), "returns:list", ("orders.manage_returns", "orders.receive_return")),
    (_("Invoices"), "invoicing:document_list", "invoicing.view_invoice"),
    (_("E-invoicing"), "invoicing:einvoicing", "invoicing.view_invoice"),
    (_("Stock"), "inventory:product_list", "inventory.view_stock"),
    (_("Locations"), "inventory:location_list", "inventory.view_location"),
    (_("Picking"), "fulfillment:picking", "fulfillment.pick"),
    (_("Packing"), "fulfillment:pack_station", "fulfillment.pack"),
    (_("Dispatch"), "dispatch:handover", "shipping.handover"),
    (_("Click & collect"), "orders:pickup_list", "fulfillment.store_pickup"),
    (_("Planning"), "fulfillment:planning", "fulfillment.plan_shifts"),
    (_("Carriers"), "shipping:service_list", "oms.manage_settings"),
    (_("Channels"), "orders:channel_list", "oms.manage_settings"),
    (_("Invoicing"), "invoicing:settings", "oms.manage_settings"),
    (_("What-if"), "orders:sourcing_whatif", "oms.manage_settings"),
    (_("Event consumers"), "event_consumers", "common.manage_event_consumers"),
    (_("Audit log"), "audit_log", "common.view_auditentry"),
    (_("Reports"), "reports:sales", "orders.view_reports"),
]


def backoffice(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": []}
    items = []
    current = request.path
    for label, url_name, perm in NAVIGATION:
        perms = perm if isinstance(perm, tuple) else (perm,)
        if not any(user.has_perm(p) for p in perms):
            continue
        url = reverse(url_name)
        active = current == url if url == "/" else current.startswith(url)
        items.append({"label": label, "url": url, "active": active})
    return {"nav_items": items, "user_roles": [g.name for g in user.groups.all()]}
