"""The floor's pages over HTTP: htmx scans answer the panel (422 with the refusal), PDFs are PDFs, print
jobs run and can be downloaded, and nobody acts outside their locations."""

import pytest
from django.urls import reverse

from common import authz
from fulfillment import services
from fulfillment.models import DocumentJob, Preparation, Wave
from inventory.models import Allocation, StockLevel, StockMovement
from orders.models import Order

HTMX = {"HTTP_HX_REQUEST": "true", "HTTP_ACCEPT_LANGUAGE": "en"}


@pytest.fixture
def picker_client(client, floor):
    client.force_login(floor.picker)
    return client


def test_release_then_pick_by_scanning(picker_client, floor):
    order = floor.order([("MUG", 1)])
    response = picker_client.post(reverse("fulfillment:wave_release"), {"location": "lyon", "size": "5"})
    wave = Wave.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "fulfillment:wave_pick", args=[wave.pk]
    )
    url = reverse("fulfillment:wave_pick", args=[wave.pk])
    assert "B-01-1" in picker_client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    refused = picker_client.post(url, {"code": floor.mug.ean, "quantity": "1"}, **HTMX)
    assert refused.status_code == 422 and "Scan bin B-01-1 first" in refused.content.decode()
    ok = picker_client.post(url, {"code": "B-01-1"}, **HTMX)
    assert ok.status_code == 200 and 'name="bin_ok" value="B-01-1"' in ok.content.decode()
    done = picker_client.post(url, {"code": floor.mug.ean, "bin_ok": "B-01-1", "quantity": "1"}, **HTMX)
    assert done.status_code == 200 and "pick-done" in done.content.decode()
    order.refresh_from_db()
    assert order.status == Order.Status.IN_PREPARATION
    bad_quantity = picker_client.post(url, {"code": "x", "quantity": "two"}, **HTMX)
    assert bad_quantity.status_code == 422


def test_release_refuses_a_wrong_size_and_other_locations(picker_client, floor):
    floor.order([("MUG", 1)])
    url = reverse("fulfillment:wave_release")
    response = picker_client.post(url, {"location": "lyon", "size": "0"}, HTTP_ACCEPT_LANGUAGE="en")
    assert Wave.objects.count() == 0
    html = picker_client.get(response["Location"], HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "between 1 and 500" in html
    picker_client.post(url, {"location": "paris"})
    assert Wave.objects.count() == 0


def test_pick_list_and_slip_are_pdfs(picker_client, floor):
    floor.order([("MUG", 1)])
    wave = services.wave_release(location=floor.lyon)
    pdf = picker_client.get(reverse("fulfillment:wave_pdf", args=[wave.pk]))
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    services.pick_scan(wave=wave, code=floor.mug.ean, bin_confirmed="B-01-1", actor=floor.picker)
    prep = Preparation.objects.get()
    services.pack_scan(preparation=prep, code=floor.mug.ean, actor=floor.picker)
    shipment = services.parcel_close(preparation=prep, box=None, weight_g=420, actor=floor.picker)
    slip = picker_client.get(reverse("fulfillment:slip_pdf", args=[shipment.parcel.pk]))
    assert slip.content.startswith(b"%PDF")
    import io

    from pypdf import PdfReader

    text = PdfReader(io.BytesIO(slip.content)).pages[0].extract_text()
    assert prep.order_number in text and "MUG" in text and "Lyon" in text


def test_bulk_print_job_runs_and_downloads(picker_client, floor, django_capture_on_commit_callbacks):
    floor.order([("MUG", 1)])
    floor.order([("SHIRT", 1)])
    first = services.wave_release(location=floor.lyon, max_orders=1)
    second = services.wave_release(location=floor.lyon, max_orders=1)
    with django_capture_on_commit_callbacks(execute=True):
        response = picker_client.post(
            reverse("fulfillment:print_start"), {"kind": "pick_lists", "waves": [first.pk, second.pk]}, **HTMX
        )
    assert response.status_code == 200
    job = DocumentJob.objects.get()  # tasks run eagerly in tests
    assert (job.status, job.done, job.total) == ("done", 2, 2)
    assert 'hx-trigger="every 1s"' in response.content.decode()  # the page polls the job
    assert "download" in picker_client.get(reverse("fulfillment:job", args=[job.pk]), **HTMX).content.decode()
    download = picker_client.get(reverse("fulfillment:job_download", args=[job.pk]))
    import io

    from pypdf import PdfReader

    assert len(PdfReader(io.BytesIO(b"".join(download.streaming_content))).pages) == 2
    with django_capture_on_commit_callbacks(execute=True):
        nothing = picker_client.post(
            reverse("fulfillment:print_start"), {"kind": "slips", "waves": [first.pk]}, **HTMX
        )
    assert nothing.status_code == 200
    failed = DocumentJob.objects.latest("pk")
    assert failed.status == "failed" and "no closed parcel" in failed.error
    empty = picker_client.post(reverse("fulfillment:print_start"), {"kind": "slips"}, **HTMX)
    assert empty.status_code == 422


def test_pack_station_lookup(picker_client, floor):
    response = picker_client.post(reverse("fulfillment:pack_station"), {"code": "CMD-NOPE"}, **HTMX)
    assert response.status_code == 422 and "No order to pack" in response.content.decode()
    order = floor.order([("MUG", 1)])
    wave = services.wave_release(location=floor.lyon)
    services.pick_scan(wave=wave, code=floor.mug.ean, bin_confirmed="B-01-1", actor=floor.picker)
    prep = Preparation.objects.get()
    response = picker_client.post(reverse("fulfillment:pack_station"), {"code": order.number}, **HTMX)
    assert response.status_code == 204 and response["HX-Redirect"] == reverse(
        "fulfillment:pack", args=[prep.pk]
    )
    scan = picker_client.post(reverse("fulfillment:pack", args=[prep.pk]), {"code": floor.cap.ean}, **HTMX)
    assert scan.status_code == 422 and "is not in order" in scan.content.decode()
    picker_client.post(reverse("fulfillment:pack", args=[prep.pk]), {"code": floor.mug.ean}, **HTMX)
    close = picker_client.post(
        reverse("fulfillment:parcel_close", args=[prep.pk]), {"weight_g": "heavy"}, **HTMX
    )
    assert close.status_code == 422
    close = picker_client.post(
        reverse("fulfillment:parcel_close", args=[prep.pk]), {"weight_g": "450"}, **HTMX
    )
    assert close.status_code == 200 and "slip.pdf" in close.content.decode()


def test_store_staff_cannot_open_a_warehouse_preparation(client, floor):
    floor.order([("MUG", 1)])
    prep = Preparation.objects.get()
    client.force_login(floor.seller)
    assert client.get(reverse("fulfillment:pack", args=[prep.pk])).status_code == 403
    wave = services.wave_release(location=floor.lyon)
    assert client.get(reverse("fulfillment:wave_pick", args=[wave.pk])).status_code == 404


def test_dashboard_shows_the_floor_figures(picker_client, floor):
    floor.order([("MUG", 1)])
    floor.order([("SHIRT", 1)])
    html = picker_client.get(reverse("dashboard"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "To pick</dt><dd>2</dd>" in html


# Statements of one htmx scan, pinned (bench/README.md, "Picking and packing scans" and "The floor's web
# requests (2026-12-05, branch floor21u)"): the scanner's answer is the panel fragment, built from what the
# service read under its locks. The session and the user are kept (common/sessions.py, common/authz.py:
# bench/README.md "Sessions and the user per request, kept a minute", floor21v); the picker's permissions,
# roles and "all locations" flag are kept per process (common/authz.py), and the wave or preparation is
# locked with the user's scope in one statement, not read by the view first. The first unit picked also
# runs, in a test, the consumers of the order's move to "in preparation".
# The put-backs listed by the answer are read only at a location that has some (kept per process: lead, stop
# 32, one statement fewer per scan)
# A scan sent before its bin is confirmed writes nothing: read without a transaction or a lock; a product scan
# matched against the SKU and EAN copied on the wave's lines, the catalogue not read (lead, stop 33)
PICK_BIN_SCAN_STATEMENTS = 3  # 5 before, 6 before that, 8 before that (16 before that): the session and
# the user kept
PICK_UNIT_SCAN_MAX_STATEMENTS = 47  # 59 before (78 before that): session, user, lines not locked again, no
# UPDATE of an unchanged preparation (here and in the consumers' sync)
PICK_LAST_SCAN_STATEMENTS = 11  # 12 before, 13 before that, 16 before that (26, 29 before that): session,
# user, lines not locked again
PACK_LOOKUP_STATEMENTS = 1  # 3 before (8 before that): the preparations with "at the user's locations" only
PACK_SCAN_STATEMENTS = 9  # 10 before (the scan matched against the lines' copies, lead, stop 33), 12 before
# (22, 28 before that): the session and the user kept
PACK_CLOSE_PER_MORE_LINE = 0  # the parcel's lines leave the stock in one set (6 statements a line before)
# The close also runs its consumers in a test: their parcel values are one UPDATE, the shipment's
# preparation takes no savepoint, the availability change writes the kits in its INSERT (consumers21u, -4);
# the parcel lines' values from their order lines' prices in that UPDATE, the lines not read (workers21v, -1).
PACK_CLOSE_STATEMENTS = 34  # 35 before: the parcel's lines leave the stock in one set (lead, stop 32); 36
# before that: one availability event for the parcel, written with parcel.closed
# (lead, one per line before); 44 before that: session, user, no look for an open parcel after closing the
# only one, no savepoint around the shipment nor each line's allocations (62 before that): the preparation
# and its lines handed to the answer, items read once;
# a line consumed in its allocations' savepoint only, not a second one for the stock (-2)


def test_a_scan_sends_a_fixed_number_of_statements(
    picker_client, floor, settings, django_assert_num_queries, django_assert_max_num_queries
):
    settings.SESSIONS_CACHED = True  # as with Redis (common/sessions.py): the first request keeps the session
    order = floor.order([("MUG", 2)])
    wave = services.wave_release(location=floor.lyon)
    url = reverse("fulfillment:wave_pick", args=[wave.pk])
    authz.forget()  # the picker's roles as committed (inside the test's transaction they are not kept)
    picker_client.get(url)  # the session's first use; the picker's permissions read and kept
    with django_assert_num_queries(PICK_BIN_SCAN_STATEMENTS):
        response = picker_client.post(url, {"code": "B-01-1"}, **HTMX)
    assert response.status_code == 200 and 'name="bin_ok" value="B-01-1"' in response.content.decode()
    with django_assert_max_num_queries(PICK_UNIT_SCAN_MAX_STATEMENTS):
        response = picker_client.post(url, {"code": floor.mug.ean, "bin_ok": "B-01-1"}, **HTMX)
    assert response.status_code == 200 and "1 of 2 units picked" in response.content.decode()
    with django_assert_num_queries(PICK_LAST_SCAN_STATEMENTS):
        response = picker_client.post(url, {"code": floor.mug.ean, "bin_ok": "B-01-1"}, **HTMX)
    assert response.status_code == 200 and "pick-done" in response.content.decode()
    wave.refresh_from_db()
    assert wave.status == Wave.Status.DONE

    prep = Preparation.objects.get()
    with django_assert_num_queries(PACK_LOOKUP_STATEMENTS):
        response = picker_client.post(reverse("fulfillment:pack_station"), {"code": order.number}, **HTMX)
    assert response.status_code == 204
    pack = reverse("fulfillment:pack", args=[prep.pk])
    picker_client.post(pack, {"code": floor.mug.ean}, **HTMX)  # opens the parcel
    with django_assert_num_queries(PACK_SCAN_STATEMENTS):
        response = picker_client.post(pack, {"code": floor.mug.ean}, **HTMX)
    assert response.status_code == 200
    prep.refresh_from_db()
    assert sum(line.packed for line in prep.lines.all()) == 2
    with django_assert_num_queries(PACK_CLOSE_STATEMENTS):
        response = picker_client.post(
            reverse("fulfillment:parcel_close", args=[prep.pk]), {"weight_g": ""}, **HTMX
        )
    assert response.status_code == 200 and "slip.pdf" in response.content.decode()


def test_a_parcel_of_three_lines_closes_in_the_statements_of_one(
    picker_client, floor, settings, django_assert_num_queries
):
    """The units of every line leave the stock in one set (``allocations_consume_many``): the allocations
    locked in one statement, the stock levels in one, written in one, the ledger in one."""
    settings.SESSIONS_CACHED = True  # as with Redis (common/sessions.py)
    order = floor.order([("MUG", 1), ("CAP", 2), ("SHIRT", 1)])
    wave = services.wave_release(location=floor.lyon)
    while (step := services.current_step(wave=wave)) is not None:
        services.pick_scan(
            wave=wave, code=step.ean, quantity=step.left, bin_confirmed=step.bin_code, actor=floor.picker
        )
    prep = Preparation.objects.get()
    pack = reverse("fulfillment:pack", args=[prep.pk])
    for product, units in ((floor.mug, 1), (floor.cap, 2), (floor.shirt, 1)):
        for _unit in range(units):
            assert picker_client.post(pack, {"code": product.ean}, **HTMX).status_code == 200
    authz.forget()
    picker_client.get(pack)
    levels = {
        lv.product_id: (lv.on_hand, lv.reserved) for lv in StockLevel.objects.filter(location=floor.lyon)
    }
    # when
    with django_assert_num_queries(PACK_CLOSE_STATEMENTS + PACK_CLOSE_PER_MORE_LINE * 2):
        response = picker_client.post(
            reverse("fulfillment:parcel_close", args=[prep.pk]), {"weight_g": ""}, **HTMX
        )
    # then: each line's units left on hand and their reservation, one shipment movement per line
    assert response.status_code == 200 and "slip.pdf" in response.content.decode()
    for product, units in ((floor.mug, 1), (floor.cap, 2), (floor.shirt, 1)):
        level = StockLevel.objects.get(product=product, location=floor.lyon)
        on_hand, reserved = levels[product.pk]
        assert (level.on_hand, level.reserved) == (on_hand - units, reserved - units)
        movement = StockMovement.objects.filter(product=product, reason="shipment").get()
        assert (movement.delta, movement.on_hand_after, movement.reference) == (
            -units,
            on_hand - units,
            order.number,
        )
    assert not Allocation.objects.filter(order=order, consumed_at__isnull=True).exists()


# the picker's permissions and roles kept (4 before), the orders the release chose not counted again (1),
# their lines read in one statement (one per order before)
WAVE_RELEASE_STATEMENTS = 9  # 12 before: the session, the user, the scope checked in the preparations' lock


def test_a_release_sends_a_fixed_number_of_statements(
    picker_client, floor, settings, django_assert_num_queries
):
    settings.SESSIONS_CACHED = True  # as with Redis (common/sessions.py)
    floor.order([("MUG", 1)])
    floor.order([("CAP", 1)])
    authz.forget()  # the picker's roles as committed
    picker_client.get(reverse("fulfillment:picking"))
    with django_assert_num_queries(WAVE_RELEASE_STATEMENTS):
        response = picker_client.post(
            reverse("fulfillment:wave_release"), {"location": "lyon", "size": "5"}, HTTP_ACCEPT_LANGUAGE="en"
        )
    page = picker_client.get(response["Location"], HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "released: 2 order(s)" in page


@pytest.mark.parametrize(
    ("language", "one", "two"),
    [
        ("en", "0 of 1 unit picked", "0 of 2 units picked"),
        ("fr", "Prélevé : 0 sur 1 article", "Prélevés : 0 sur 2 articles"),
    ],
)
def test_the_wave_progress_agrees_with_its_number_of_units(picker_client, floor, language, one, two):
    picker_client.cookies["django_language"] = language
    floor.order([("MUG", 1)])
    single = services.wave_release(location=floor.lyon)
    page = picker_client.get(
        reverse("fulfillment:wave_pick", args=[single.pk]), HTTP_ACCEPT_LANGUAGE=language
    )
    assert one in page.content.decode()
    floor.order([("MUG", 2)])
    double = services.wave_release(location=floor.lyon)
    page = picker_client.get(
        reverse("fulfillment:wave_pick", args=[double.pk]), HTTP_ACCEPT_LANGUAGE=language
    )
    assert two in page.content.decode()


def test_a_bin_confirmed_without_htmx_survives_the_redirect(picker_client, floor):
    """A scan sent as a plain form (the page still loading on a slow handheld, no JavaScript) answers with a
    redirect: the bin it confirmed comes back with it, so the product scan that follows is taken."""
    floor.order([("MUG", 2)])
    wave = services.wave_release(location=floor.lyon)
    url = reverse("fulfillment:wave_pick", args=[wave.pk])
    response = picker_client.post(url, {"code": "B-01-1"})
    assert response.status_code == 302 and response["Location"] == f"{url}?bin_ok=B-01-1"
    page = picker_client.get(response["Location"]).content.decode()
    assert 'name="bin_ok" value="B-01-1"' in page
    response = picker_client.post(url, {"code": floor.mug.ean, "bin_ok": "B-01-1", "quantity": 2})
    assert response.status_code == 302
    assert "pick-done" in picker_client.get(response["Location"]).content.decode()
    # a bin that is not the current step's is not kept
    assert 'name="bin_ok" value="Z-99-9"' not in picker_client.get(f"{url}?bin_ok=Z-99-9").content.decode()
