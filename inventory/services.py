"""Write operations of the inventory app."""

from django.db import transaction

from .models import Location


@transaction.atomic
def location_save(*, location: Location, data: dict) -> Location:
    """Create or update a location from validated form data."""
    for field, value in data.items():
        setattr(location, field, value)
    location.full_clean()
    location.save()
    return location
