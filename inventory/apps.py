from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InventoryConfig(AppConfig):
    name = "inventory"
    verbose_name = _("Inventory")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import audit, jobs  # noqa: F401 - jobs: the kinds of queued jobs (common/jobs.py)

        audit.connect()  # staff location scopes into the audit log

        from django.db.models.signals import post_delete, post_save

        from common import authz

        from .models import StaffProfile

        # ``all_locations`` is kept per process with the user's roles (selectors.user_sees_all_locations)
        def profile_written(sender, **kwargs):
            authz.memo.changed()

        post_save.connect(
            profile_written, sender=StaffProfile, weak=False, dispatch_uid="inventory.profile_saved"
        )
        post_delete.connect(
            profile_written, sender=StaffProfile, weak=False, dispatch_uid="inventory.profile_deleted"
        )
