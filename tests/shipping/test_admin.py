"""Django admin of the carrier network."""

from django.conf import settings
from django.urls import reverse

from shipping.models import CarrierService, ServiceRate
from tests.shipping.factories import CarrierServiceFactory, with_grids


def test_admin_pages_render(admin_client):
    service = with_grids(CarrierServiceFactory())
    for url in (
        reverse("admin:shipping_carrier_changelist"),
        reverse("admin:shipping_carrier_change", args=[service.carrier.pk]),
        reverse("admin:shipping_carrierservice_changelist") + "?delivery_mode__exact=home",
        reverse("admin:shipping_carrierservice_change", args=[service.pk]),
        reverse("admin:shipping_servicerate_changelist"),
        reverse("admin:shipping_servicetransit_changelist"),
    ):
        assert admin_client.get(url).status_code == 200, url


def test_admin_refuses_bad_weekdays_and_negative_prices(admin_client):
    admin_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    service = CarrierServiceFactory()
    response = admin_client.post(
        reverse("admin:shipping_servicerate_add"),
        {"service": service.pk, "max_weight_g": "500", "max_distance_km": "300", "price_excl_vat": "-1"},
    )
    assert response.status_code == 200
    assert "greater than or equal to 0" in response.content.decode()
    assert not ServiceRate.objects.exists()

    data = {
        "carrier": service.carrier.pk,
        "code": service.code,
        "name": service.name,
        "delivery_mode": "home",
        "max_weight_g": "30000",
        "cutoff_time": "16:00",
        "delivery_weekdays": "0123",
        "rates-TOTAL_FORMS": "0",
        "rates-INITIAL_FORMS": "0",
        "transits-TOTAL_FORMS": "0",
        "transits-INITIAL_FORMS": "0",
    }
    response = admin_client.post(reverse("admin:shipping_carrierservice_change", args=[service.pk]), data)
    assert response.status_code == 200
    assert "Delivery days are digits from 1 (Monday) to 7 (Sunday)" in response.content.decode()
    assert CarrierService.objects.get(pk=service.pk).delivery_weekdays == "123456"
