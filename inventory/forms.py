from django import forms

from .models import Location


class LocationForm(forms.ModelForm):
    class Meta:
        model = Location
        fields = [
            "code",
            "name",
            "kind",
            "address_line1",
            "address_line2",
            "postcode",
            "city",
            "country",
            "latitude",
            "longitude",
            "active",
        ]
