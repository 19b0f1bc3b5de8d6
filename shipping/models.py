from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Carrier(models.Model):
    class Adapter(models.TextChoices):
        SANDBOX = "sandbox", _("Sandbox (demo and tests)")
        COLISSIMO = "colissimo", _("Colissimo")
        CHRONOPOST = "chronopost", _("Chronopost")
        MONDIAL_RELAY = "mondial_relay", _("Mondial Relay")
        DHL = "dhl", _("DHL")
        STORE = "store", _("Own stores (click & collect)")

    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)
    adapter = models.CharField(_("adapter"), max_length=20, choices=Adapter.choices, default=Adapter.SANDBOX)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("carrier")
        verbose_name_plural = _("carriers")

    def __str__(self) -> str:
        return self.name


class CarrierService(models.Model):
    """A carrier's product: delivery mode, weight limit, cut-off at the location, days it delivers."""

    class Mode(models.TextChoices):
        HOME = "home", _("Home delivery")
        RELAY = "relay", _("Relay point")
        STORE = "store", _("Store pickup")

    carrier = models.ForeignKey(Carrier, on_delete=models.PROTECT, related_name="services")
    code = models.SlugField(_("code"), max_length=32)
    name = models.CharField(_("name"), max_length=100)
    delivery_mode = models.CharField(_("delivery mode"), max_length=8, choices=Mode.choices)
    max_weight_g = models.PositiveIntegerField(_("max weight (g)"), default=30000)
    cutoff_time = models.TimeField(
        _("cut-off time"), help_text=_("Parcels packed after this time leave the next day.")
    )
    delivery_weekdays = models.CharField(
        _("delivery days"),
        max_length=7,
        default="12345",
        help_text=_("ISO weekdays the carrier delivers: 1 = Monday … 7 = Sunday (e.g. 123456)."),
    )
    is_express = models.BooleanField(_("express"), default=False)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["carrier__name", "name"]
        verbose_name = _("carrier service")
        verbose_name_plural = _("carrier services")
        constraints = [
            models.UniqueConstraint(fields=["carrier", "code"], name="carrierservice_carrier_code_unique"),
            models.CheckConstraint(
                condition=Q(delivery_weekdays__regex=r"^[1-7]{1,7}$"), name="carrierservice_weekdays_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.carrier.name} {self.name}"

    @property
    def weekdays(self) -> set[int]:
        return {int(d) for d in self.delivery_weekdays}


class ServiceRate(models.Model):
    """Price grid: up to ``max_weight_g`` and ``max_distance_km`` → price excl. VAT. The cheapest matching
    cell wins: the smallest weight band then the smallest distance band that contain the parcel."""

    service = models.ForeignKey(CarrierService, on_delete=models.CASCADE, related_name="rates")
    max_weight_g = models.PositiveIntegerField(_("up to weight (g)"))
    max_distance_km = models.PositiveIntegerField(_("up to distance (km)"))
    price_excl_vat = models.DecimalField(_("price excl. VAT (EUR)"), max_digits=8, decimal_places=2)

    class Meta:
        ordering = ["service", "max_weight_g", "max_distance_km"]
        verbose_name = _("price grid cell")
        verbose_name_plural = _("price grid")
        constraints = [
            models.UniqueConstraint(
                fields=["service", "max_weight_g", "max_distance_km"], name="servicerate_band_unique"
            ),
            models.CheckConstraint(condition=Q(price_excl_vat__gte=0), name="servicerate_price_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.service_id} ≤{self.max_weight_g} g ≤{self.max_distance_km} km: {self.price_excl_vat}"


class ServiceTransit(models.Model):
    """Transit grid: up to ``max_distance_km`` → working days in transit."""

    service = models.ForeignKey(CarrierService, on_delete=models.CASCADE, related_name="transits")
    max_distance_km = models.PositiveIntegerField(_("up to distance (km)"))
    transit_days = models.PositiveSmallIntegerField(_("transit (working days)"))

    class Meta:
        ordering = ["service", "max_distance_km"]
        verbose_name = _("transit time")
        verbose_name_plural = _("transit grid")
        constraints = [
            models.UniqueConstraint(fields=["service", "max_distance_km"], name="servicetransit_band_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.service_id} ≤{self.max_distance_km} km: {self.transit_days} d"
