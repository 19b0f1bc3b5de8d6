from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FulfillmentConfig(AppConfig):
    name = "fulfillment"
    verbose_name = _("Fulfilment")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from . import jobs  # noqa: F401 - registers the print jobs with the sweep (common/jobs.py)
        from .models import Box
        from .selectors import boxes_changed

        # the active boxes are kept per process (selectors.active_boxes): every write of a box drops them
        post_save.connect(boxes_changed, sender=Box, dispatch_uid="fulfillment.boxes_saved")
        post_delete.connect(boxes_changed, sender=Box, dispatch_uid="fulfillment.boxes_deleted")
