"""The relay-point picker (any staff): an htmx search of the local directory that fills hidden inputs.

Include ``shipping/_relay_picker.html`` in a form with ``prefix`` (default ``relay``): on choosing a point,
the inputs ``<prefix>_carrier``, ``<prefix>_id``, ``<prefix>_name``, ``<prefix>_line1``,
``<prefix>_postcode``, ``<prefix>_city`` and ``<prefix>_country`` are filled."""

import re

from django.shortcuts import get_object_or_404, render
from django.views import View

from common.views import BackofficeMixin

from . import geo
from .models import RelayPoint
from .selectors import relay_point_search

PREFIX = re.compile(r"^[a-z][a-z0-9_]{0,30}$")


def _prefix(request) -> str:
    prefix = request.GET.get("prefix", "relay")
    return prefix if PREFIX.match(prefix) else "relay"


class RelayPointSearchView(BackofficeMixin, View):
    """GET ``?postcode=&country=&carrier=&prefix=``: the nearest points as a list of choices (fragment);
    ``?choose=<id>&prefix=``: the chosen point's hidden inputs and summary (fragment)."""

    def get(self, request):
        prefix = _prefix(request)
        if request.GET.get("choose"):
            point = get_object_or_404(
                RelayPoint.objects.select_related("carrier"),
                pk=request.GET["choose"] if request.GET["choose"].isdigit() else 0,
            )
            return render(request, "shipping/_relay_chosen.html", {"prefix": prefix, "chosen": point})
        postcode = (request.GET.get("postcode") or request.GET.get(f"{prefix}_search") or "").strip()
        country = (request.GET.get("country") or "FR").strip().upper()[:2]
        carrier = (request.GET.get("carrier") or "").strip()[:32]
        context = {"prefix": prefix, "postcode": postcode, "points": [], "invalid": False}
        if postcode:
            if country == "FR" and geo.departement_of(postcode) is None:
                context["invalid"] = True
            else:
                context["points"] = relay_point_search(
                    postcode=postcode, country=country, carrier=carrier, limit=8
                )
        return render(request, "shipping/_relay_results.html", context)
