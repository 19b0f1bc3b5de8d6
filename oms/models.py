from django.db import models
from django.utils.translation import gettext_lazy as _


class BackOffice(models.Model):
    """Holds the project-level permissions (no table)."""

    class Meta:
        managed = False
        default_permissions = ()
        verbose_name = _("back office")
        permissions = [
            ("access_backoffice", _("Can use the back office")),
            ("manage_settings", _("Can change settings, locations and staff")),
        ]

    def __str__(self) -> str:
        return "back office"
