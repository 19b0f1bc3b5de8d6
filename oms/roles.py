"""The roles of DESIGN.md as Django groups, and the permissions each one has.

``sync_roles`` is called by data migrations (with the historical app registry) and by ``seed_demo``;
it creates the groups and sets their permissions to exactly what is listed here. A later issue that adds
permissions adds them here and ships a migration that calls ``sync_roles`` again. Permissions that do not
exist yet are skipped, so an old migration still runs against this list.
"""

WAREHOUSE_STAFF = "Warehouse staff"
STORE_STAFF = "Store staff"
CUSTOMER_SERVICE = "Customer service"
MANAGER = "Manager"

ROLE_NAMES = (WAREHOUSE_STAFF, STORE_STAFF, CUSTOMER_SERVICE, MANAGER)

# Our apps: a manager has every permission of these (``common``: reading the audit log).
PROJECT_APPS = (
    "oms",
    "common",
    "inventory",
    "customers",
    "shipping",
    "fulfillment",
    "orders",
    "channels",
    "invoicing",
    "returns",
    "reports",
)

ROLE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    WAREHOUSE_STAFF: (
        "oms.access_backoffice",
        "inventory.view_location",
        "inventory.view_stock",
        "inventory.receive_stock",
        "inventory.adjust_stock",
        "inventory.transfer_stock",
        "inventory.view_product",
        "orders.view_order",
        "returns.receive_return",
        "fulfillment.pick",
        "fulfillment.pack",
        "shipping.view_shipment",
        "shipping.handover",
    ),
    STORE_STAFF: (
        "oms.access_backoffice",
        "inventory.view_location",
        "inventory.view_stock",
        "inventory.receive_stock",
        "inventory.view_product",
        "orders.view_order",
        "returns.receive_return",
        "fulfillment.store_pickup",
    ),
    CUSTOMER_SERVICE: (
        "oms.access_backoffice",
        "inventory.view_location",
        "inventory.view_stock",
        "inventory.view_product",
        "customers.view_customer",
        "customers.change_customer",
        "customers.view_notification",
        "customers.resend_notification",
        "orders.view_order",
        "orders.add_order",
        "orders.change_order",
        "orders.cancel_order",
        "returns.manage_returns",
        "shipping.view_shipment",
        "invoicing.view_invoice",
        "invoicing.view_creditnote",
        "invoicing.issue_credit_note",
        "invoicing.send_invoice",
        "invoicing.record_payment",
    ),
    MANAGER: ("*",),
}


def sync_roles(apps=None) -> None:
    """Create the four groups and give each exactly its permissions."""
    if apps is None:
        from django.apps import apps as global_apps

        apps = global_apps
    from django.contrib.auth.management import create_permissions
    from django.db.models import Q

    # Permissions are normally created after migrations (post_migrate); create them now so a data
    # migration can hand them out.
    for app_config in apps.get_app_configs():
        original = getattr(app_config, "models_module", None)
        app_config.models_module = original or True  # historical app configs have none
        try:
            create_permissions(app_config, apps=apps, verbosity=0)
        finally:
            app_config.models_module = original

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role in ROLE_NAMES:
        group, _ = Group.objects.get_or_create(name=role)
        wanted = ROLE_PERMISSIONS[role]
        if wanted == ("*",):
            perms = Permission.objects.filter(content_type__app_label__in=PROJECT_APPS)
        else:
            wanted_q = Q(pk__in=[])
            for dotted in wanted:
                app_label, codename = dotted.split(".", 1)
                wanted_q |= Q(content_type__app_label=app_label, codename=codename)
            perms = Permission.objects.filter(wanted_q)
        group.permissions.set(perms)
