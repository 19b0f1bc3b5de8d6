"""Read queries of the inventory app."""

from django.db.models import QuerySet

from .models import Location

MANAGER_GROUP = "Manager"


def user_sees_all_locations(*, user) -> bool:
    if not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    if user.groups.filter(name=MANAGER_GROUP).exists():
        return True
    profile = getattr(user, "staff_profile", None)
    return bool(profile and profile.all_locations)


def locations_for_user(*, user) -> QuerySet[Location]:
    """The locations a staff user may see and act on (the role scope of DESIGN.md)."""
    if user_sees_all_locations(user=user):
        return Location.objects.filter(active=True)
    if not user.is_authenticated:
        return Location.objects.none()
    return Location.objects.filter(active=True, staff__user=user).distinct()


def location_list(*, user, kind: str | None = None) -> QuerySet[Location]:
    qs = locations_for_user(user=user)
    if kind:
        qs = qs.filter(kind=kind)
    return qs.order_by("kind", "code")
