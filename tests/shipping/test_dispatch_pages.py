"""Dispatch over HTTP and the label print jobs: the hand-over page, labels in PDF and ZPL, bulk labels
(A6, four to an A4 page, raw ZPL), alerts on the dashboard."""

import io
from datetime import time

import pytest
from django.urls import reverse
from pypdf import PdfReader

from fulfillment import services as fulfillment
from fulfillment.models import DocumentJob, Preparation
from fulfillment.services.jobs import document_job_run
from orders.models import Order
from shipping.models import Carrier, CarrierService, Shipment, ShippingRule
from tests.fulfillment.conftest import Floor

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


@pytest.fixture
def floor(db):
    floor = Floor()
    floor.carrier = Carrier.objects.create(code="sbx", name="Sandbox Express", adapter="sandbox")
    service = CarrierService.objects.create(
        carrier=floor.carrier, code="home", name="Domicile", delivery_mode="home", cutoff_time=time(16)
    )
    ShippingRule.objects.create(position=1, name="All home", delivery_mode="home", service=service)
    return floor


def _packed_wave(floor, capture, orders=3):
    for _ in range(orders):
        floor.order([("MUG", 1)])
    wave = fulfillment.wave_release(location=floor.lyon)
    while (step := fulfillment.current_step(wave=wave)) is not None:
        fulfillment.pick_scan(wave=wave, code=step.bin_code, actor=floor.picker)
        fulfillment.pick_scan(
            wave=wave, code=step.ean, quantity=step.left, bin_confirmed=step.bin_code, actor=floor.picker
        )
    for prep in Preparation.objects.filter(wave=wave):
        with capture(execute=True):
            fulfillment.pack_scan(preparation=prep, code=floor.mug.ean, actor=floor.picker)
            fulfillment.parcel_close(preparation=prep, box=None, weight_g=450, actor=floor.picker)
    return wave


@pytest.mark.parametrize(("kind", "pages"), [("labels", 3), ("labels_a4", 1)])
def test_bulk_labels_as_pdf(floor, django_capture_on_commit_callbacks, kind, pages):
    wave = _packed_wave(floor, django_capture_on_commit_callbacks)
    job = DocumentJob.objects.create(kind=kind, params={"waves": [wave.pk]}, created_by=floor.picker)
    job = document_job_run(job_id=job.pk)
    assert (job.status, job.done, job.total) == ("done", 3, 3)
    reader = PdfReader(io.BytesIO(job.file.read()))
    assert len(reader.pages) == pages
    if kind == "labels_a4":
        assert round(float(reader.pages[0].mediabox.width)) == 595


def test_bulk_labels_as_zpl(floor, django_capture_on_commit_callbacks):
    wave = _packed_wave(floor, django_capture_on_commit_callbacks, orders=2)
    job = DocumentJob.objects.create(kind="labels_zpl", params={"waves": [wave.pk]}, created_by=floor.picker)
    job = document_job_run(job_id=job.pk)
    assert job.file.name.endswith(".zpl")
    assert job.file.read().count(b"^XA") == 2


def test_handover_page_and_labels(client, floor, django_capture_on_commit_callbacks):
    wave = _packed_wave(floor, django_capture_on_commit_callbacks, orders=2)
    client.force_login(floor.picker)
    page = client.get(reverse("dispatch:handover"), **EN).content.decode()
    assert "Sandbox Express" in page and "Hand 2 parcels over" in page
    shipment = Shipment.objects.filter(parcel__preparation__wave=wave).first()
    pdf = client.get(reverse("dispatch:label", args=[shipment.pk, "pdf"]))
    assert b"".join(pdf.streaming_content).startswith(b"%PDF")
    zpl = client.get(reverse("dispatch:label", args=[shipment.pk, "zpl"]))
    assert b"^XA" in b"".join(zpl.streaming_content)
    response = client.post(reverse("dispatch:handover"), {"location": "lyon", "carrier": floor.carrier.pk})
    assert response.status_code == 302
    assert Order.objects.filter(status=Order.Status.SHIPPED).count() == 2
    manifest = client.get(response["Location"] + "?format=pdf")
    assert manifest.content.startswith(b"%PDF")
    # store staff of another location see nothing of it
    client.force_login(floor.seller)
    assert client.get(reverse("dispatch:label", args=[shipment.pk, "pdf"])).status_code == 403


def test_dashboard_lists_parcels_in_trouble(client, floor, django_capture_on_commit_callbacks):
    _packed_wave(floor, django_capture_on_commit_callbacks, orders=1)
    shipment = Shipment.objects.get()
    Shipment.objects.filter(pk=shipment.pk).update(
        alert="label_failed", status="label_failed", label_error="Adresse inconnue"
    )
    client.force_login(floor.picker)
    html = client.get(reverse("dashboard"), **EN).content.decode()
    assert shipment.number in html and "Adresse inconnue" in html
