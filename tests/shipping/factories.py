from datetime import time
from decimal import Decimal

import factory

from shipping.models import Carrier, CarrierService, ServiceRate, ServiceTransit


class CarrierFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Carrier
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"carrier-{n}")
    name = factory.LazyAttribute(lambda o: o.code.replace("-", " ").title())
    adapter = Carrier.Adapter.SANDBOX


class CarrierServiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CarrierService

    carrier = factory.SubFactory(CarrierFactory)
    code = factory.Sequence(lambda n: f"service-{n}")
    name = factory.Sequence(lambda n: f"Service {n}")
    delivery_mode = CarrierService.Mode.HOME
    max_weight_g = 30000
    cutoff_time = time(16, 0)
    delivery_weekdays = "123456"


def with_grids(service, *, weights=(500, 2000), distances=(300, 700), transits=((300, 1), (700, 2))):
    """Fill a service's grids: price = 4.00 + 1.00 per weight band + 0.50 per distance band."""
    for w_index, weight in enumerate(weights):
        for d_index, km in enumerate(distances):
            ServiceRate.objects.create(
                service=service,
                max_weight_g=weight,
                max_distance_km=km,
                price_excl_vat=Decimal("4.00") + w_index + Decimal("0.50") * d_index,
            )
    for km, days in transits:
        ServiceTransit.objects.create(service=service, max_distance_km=km, transit_days=days)
    return service
