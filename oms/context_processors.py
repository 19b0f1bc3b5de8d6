"""The back-office navigation, grouped by job (UI.md): at most seven top entries, each opening its group;
the settings under the user menu. Each link shows only to users with its permission (navigation by role),
and a group without a link it may open is not shown. On a handheld the floor group comes first."""

from django.urls import reverse
from django.utils.functional import SimpleLazyObject
from django.utils.translation import gettext_lazy as _

ANY_STAFF = "oms.access_backoffice"

# (group key, label, [(label, url name, permission or a tuple of permissions any of which will do)]).
NAVIGATION = [
    (
        "orders",
        _("Orders"),
        [
            (_("All orders"), "orders:order_list", "orders.view_order"),
            (_("New phone order"), "orders:order_create", "orders.add_order"),
            (_("Late risk"), "orders:late_risk", "orders.view_order"),
            (_("Returns"), "returns:list", ("returns.manage_returns", "returns.receive_return")),
            (_("Notifications"), "orders:notification_list", "customers.view_notification"),
        ],
    ),
    (
        "floor",
        _("Floor"),
        [
            (_("Picking"), "fulfillment:picking", "fulfillment.pick"),
            (_("Packing"), "fulfillment:pack_station", "fulfillment.pack"),
            (_("Click & collect"), "orders:pickup_list", "fulfillment.store_pickup"),
            (_("Receiving"), "inventory:receive", "inventory.receive_stock"),
        ],
    ),
    (
        "shipping",
        _("Shipping"),
        [
            (_("Dispatch"), "dispatch:handover", "shipping.handover"),
        ],
    ),
    (
        "catalogue",
        _("Catalogue & stock"),
        [
            (_("Products"), "inventory:catalogue", "inventory.view_product"),
            (_("Stock"), "inventory:product_list", "inventory.view_stock"),
            (_("Adjust"), "inventory:adjust", "inventory.adjust_stock"),
            (_("Transfers"), "inventory:transfer_list", "inventory.view_stock"),
            (_("Incoming"), "inventory:incoming_create", "inventory.transfer_stock"),
            (_("Locations"), "inventory:location_list", "inventory.view_location"),
        ],
    ),
    (
        "customers",
        _("Customers"),
        [
            (_("Customers"), "customers:list", "customers.view_customer"),
        ],
    ),
    (
        "finance",
        _("Finance"),
        [
            (_("Invoices and credit notes"), "invoicing:document_list", "invoicing.view_invoice"),
            (_("Accountant's export"), "invoicing:export_create", "oms.manage_settings"),
            (_("E-invoicing"), "invoicing:einvoicing", "invoicing.view_invoice"),
        ],
    ),
    (
        "reports",
        _("Reports"),
        [
            (_("Sales"), "reports:sales", "reports.view_reports"),
            (_("Delivery"), "reports:delivery", "reports.view_reports"),
            (_("Fulfilment"), "reports:fulfilment", "reports.view_reports"),
            (_("Returns"), "reports:returns", "reports.view_reports"),
            (_("Forecast"), "reports:forecast", "reports.view_reports"),
            (_("Reorder suggestions"), "reports:reorder", "reports.view_reports"),
        ],
    ),
]

# Under the user menu (managers).
SETTINGS = [
    (_("Channels"), "orders:channel_list", "oms.manage_settings"),
    (_("Carriers"), "shipping:service_list", "oms.manage_settings"),
    (_("Shipping rules"), "shipping:rule_list", "oms.manage_settings"),
    (_("Pickers' planning"), "fulfillment:planning", "fulfillment.plan_shifts"),
    (_("Waves"), "fulfillment:wave_settings", "oms.manage_settings"),
    (_("Returns"), "returns:return_settings", "oms.manage_settings"),
    (_("Reorder policies"), "reports:reorder_settings", "oms.manage_settings"),
    (_("Invoicing"), "invoicing:settings", "oms.manage_settings"),
    (_("Sourcing what-if"), "orders:sourcing_whatif", "oms.manage_settings"),
    (_("Webhooks and CRM"), "integrations:webhook_list", "oms.manage_settings"),
    (_("Event consumers"), "event_consumers", "common.manage_event_consumers"),
    (_("Audit log"), "audit_log", "common.view_auditentry"),
]

HANDHELD_FIRST = "floor"


def _allowed(user, perm) -> bool:
    perms = perm if isinstance(perm, tuple) else (perm,)
    return any(user.has_perm(p) for p in perms)


def _links(user, entries, current: str) -> list[dict]:
    links = []
    for label, url_name, perm in entries:
        if not _allowed(user, perm):
            continue
        url = reverse(url_name)
        links.append({"label": label, "url": url, "active": current == url or current.startswith(url)})
    # Only the most specific link is active (/stock/ and /stock/adjust/ both match /stock/adjust/).
    best = max((link for link in links if link["active"]), key=lambda link: len(link["url"]), default=None)
    for link in links:
        link["active"] = link is best
    return links


def backoffice(request):
    """The navigation, computed only when a template reads it: an htmx fragment (a scan's answer on the
    picking or packing screen) renders no menu, and building it costs ~40 ``reverse()`` and as many
    permission checks per request (bench/README.md, "Picking and packing scans")."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.has_perm(ANY_STAFF):
        return {"nav_groups": [], "nav_groups_handheld": [], "settings_links": []}
    nav = SimpleLazyObject(lambda: _navigation(user, request.path))
    return {
        "nav_groups": SimpleLazyObject(lambda: nav["groups"]),
        "nav_groups_handheld": SimpleLazyObject(lambda: nav["handheld"]),
        "settings_links": SimpleLazyObject(lambda: _links(user, SETTINGS, request.path)),
        "user_roles": SimpleLazyObject(lambda: [g.name for g in user.groups.all()]),
    }


def _navigation(user, current: str) -> dict:
    groups = []
    for key, label, entries in NAVIGATION:
        links = _links(user, entries, current)
        if links:
            groups.append(
                {"key": key, "label": label, "links": links, "active": any(link["active"] for link in links)}
            )
    return {"groups": groups, "handheld": sorted(groups, key=lambda g: g["key"] != HANDHELD_FIRST)}
