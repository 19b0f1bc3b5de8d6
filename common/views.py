"""Base classes of the back-office views: login required, then a permission (403 without it)."""

from django.contrib.auth.mixins import LoginRequiredMixin, PermissionRequiredMixin


class BackofficeMixin(LoginRequiredMixin, PermissionRequiredMixin):
    """Every back-office page: anonymous users go to the login page, logged-in users without the
    permission get a 403 page. Subclasses set ``permission_required``."""

    permission_required = "oms.access_backoffice"
