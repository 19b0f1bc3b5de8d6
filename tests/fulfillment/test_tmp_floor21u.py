from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from common import authz
from fulfillment import services
from fulfillment.models import Preparation
from tests.fulfillment.test_views_floor import HTMX, picker_client  # noqa: F401


def _run(client, url, data, label):
    with CaptureQueriesContext(connection) as ctx:
        r = client.post(url, data, **HTMX)
    print(f"\n### {label}: {len(ctx)} statements, status {r.status_code}")
    for q in ctx.captured_queries:
        print("   ", q["sql"][:160])
    return r


def test_counts(picker_client, floor):  # noqa: F811
    floor.order([("MUG", 2)])
    wave = services.wave_release(location=floor.lyon)
    url = reverse("fulfillment:wave_pick", args=[wave.pk])
    picker_client.get(url)
    authz.forget()
    _run(picker_client, url, {"code": "B-01-1"}, "bin scan")
    _run(picker_client, url, {"code": floor.mug.ean, "bin_ok": "B-01-1"}, "unit scan 1")
    _run(picker_client, url, {"code": floor.mug.ean, "bin_ok": "B-01-1"}, "last scan")
    prep = Preparation.objects.get()
    _run(picker_client, reverse("fulfillment:pack_station"), {"code": prep.order_number}, "lookup")
    pack = reverse("fulfillment:pack", args=[prep.pk])
    _run(picker_client, pack, {"code": floor.mug.ean}, "pack scan 1")
    _run(picker_client, pack, {"code": floor.mug.ean}, "pack scan 2")
    _run(picker_client, reverse("fulfillment:parcel_close", args=[prep.pk]), {"weight_g": ""}, "close")
