"""CSV / XLSX imports: the dry run reports every bad row with its line and reason and writes nothing; the
import is all or nothing; duplicates are skipped; the progress fragment polls while the job runs."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from channels.imports import import_run
from channels.models import ImportJob
from inventory.models import StockLevel
from oms.roles import MANAGER
from orders.models import Channel, Order
from tests.events import events_of
from tests.oms.factories import UserFactory
from tests.orders.factories import ChannelFactory, OrderFactory

pytestmark = pytest.mark.django_db

HEADER = "order_id;email;first_name;last_name;sku;qty;price;mode;address;postcode;city;store\n"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)


@pytest.fixture
def market(lyon, paris, products):
    channel = ChannelFactory(
        code="market", name="Marketplace", kind=Channel.Kind.MARKETPLACE, locations=[lyon, paris]
    )
    from channels.services import import_mapping_save

    import_mapping_save(
        channel=channel,
        mapping={
            "external_id": "order_id",
            "quantity": "qty",
            "unit_price": "price",
            "delivery_mode": "mode",
            "line1": "address",
        },
    )
    return channel


@pytest.fixture
def manager(client):
    user = UserFactory(role=MANAGER)
    client.force_login(user)
    return user


def upload(client, content: bytes, name="orders.csv", dry_run=True, captured=None):
    data = {"action": "upload", "upload-file": SimpleUploadedFile(name, content)}
    if dry_run:
        data["upload-dry_run"] = "on"
    return client.post("/settings/channels/market/import/", data, HTTP_ACCEPT_LANGUAGE="en")


def reserved_total() -> int:
    return sum(StockLevel.objects.values_list("reserved", flat=True))


BAD_FILE = (
    HEADER
    + "A1;ana@example.fr;Ana;Roux;TSHIRT-M;2;19,90;home;3 rue X;69003;Lyon;\n"  # line 2: fine
    + "A2;not-an-email;Bo;Bo;MUG;1;;home;3 rue X;69003;Lyon;\n"  # 3: email
    + "A3;c@example.fr;C;C;NOPE;1;;home;3 rue X;69003;Lyon;\n"  # 4: unknown SKU
    + "A4;d@example.fr;D;D;MUG;zero;;home;3 rue X;69003;Lyon;\n"  # 5: quantity
    + "A5;e@example.fr;E;E;MUG;1;abc;home;3 rue X;69003;Lyon;\n"  # 6: price
    + "A6;f@example.fr;F;F;MUG;1;;boat;3 rue X;69003;Lyon;\n"  # 7: mode
    + "A7;g@example.fr;G;G;MUG;1;;home;;69003;;\n"  # 8: address
    + ";h@example.fr;H;H;MUG;1;;home;3 rue X;69003;Lyon;\n"  # 9: no order id
    + "A8;i@example.fr;I;I;MUG;1;;store;;;;\n"  # 10: store without code
    + "A9;j@example.fr;J;J;MUG;50;;home;3 rue X;69003;Lyon;\n"  # 11: out of stock
    + "A9;other@example.fr;J;J;TSHIRT-M;1;;home;3 rue X;69003;Lyon;\n"  # 12: another email for A9
).encode()


def test_a_dry_run_reports_every_bad_row_and_writes_nothing(
    client, manager, market, django_capture_on_commit_callbacks
):
    before = reserved_total()
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(client, BAD_FILE)
    job = ImportJob.objects.get()
    assert (
        response.status_code == 302 and response["Location"] == f"/settings/channels/market/imports/{job.pk}/"
    )
    assert (job.status, job.dry_run, job.total_rows) == ("done", True, 11)
    assert [(e["line"], e["code"]) for e in job.errors] == [
        (3, "invalid_email"),
        (4, "unknown_sku"),
        (5, "invalid_quantity"),
        (6, "invalid_price"),
        (7, "invalid_mode"),
        (8, "incomplete_address"),
        (9, "required"),
        (10, "required"),
        (12, "inconsistent_order"),
    ]
    assert Order.objects.count() == 0 and reserved_total() == before
    page = client.get(response["Location"], HTTP_ACCEPT_LANGUAGE="en")
    assert b"not-an-email" in page.content and b"NOPE" in page.content


def test_a_dry_run_reports_stock_problems_of_valid_rows(
    client, manager, market, django_capture_on_commit_callbacks
):
    content = (
        HEADER
        + "B1;a@example.fr;A;A;MUG;50;;home;3 rue X;69003;Lyon;\n"
        + "B2;b@example.fr;B;B;MUG;1;;home;3 rue X;69003;Lyon;\n"
    ).encode()
    with django_capture_on_commit_callbacks(execute=True):
        upload(client, content)
    job = ImportJob.objects.get()
    assert [(e["line"], e["code"]) for e in job.errors] == [(2, "out_of_stock")]
    assert job.orders_created == 1  # would be created
    assert Order.objects.count() == 0


def test_the_import_is_all_or_nothing(client, manager, market, django_capture_on_commit_callbacks):
    content = (
        HEADER
        + "C1;a@example.fr;A;A;TSHIRT-M;1;;home;3 rue X;69003;Lyon;\n"
        + "C2;b@example.fr;B;B;MUG;50;;home;3 rue X;69003;Lyon;\n"
    ).encode()
    before = reserved_total()
    with django_capture_on_commit_callbacks(execute=True):
        upload(client, content, dry_run=False)
    job = ImportJob.objects.get()
    assert job.status == "failed"
    assert [(e["line"], e["code"]) for e in job.errors] == [(3, "out_of_stock")]
    assert Order.objects.count() == 0 and reserved_total() == before


def test_an_import_takes_grouped_lines_skips_known_orders(
    client, manager, market, lyon, products, django_capture_on_commit_callbacks
):
    OrderFactory(channel=market, external_id="D0")
    content = (
        HEADER
        + "D1;a@example.fr;Ana;Roux;TSHIRT-M;2;19,90;home;3 rue X;69003;Lyon;\n"
        + "D1;a@example.fr;Ana;Roux;MUG;1;8.50;home;3 rue X;69003;Lyon;\n"
        + "D2;b@example.fr;Bo;Li;MUG;1;;store;;;;paris\n"
        + "D0;z@example.fr;Z;Z;MUG;1;;home;3 rue X;69003;Lyon;\n"
    ).encode()
    with django_capture_on_commit_callbacks(execute=True):
        upload(client, content, dry_run=False)
    job = ImportJob.objects.get()
    assert (job.status, job.orders_created, job.orders_skipped, job.errors) == ("done", 2, 1, [])
    d1 = Order.objects.get(external_id="D1")
    assert sorted((line.sku, line.quantity, str(line.unit_price)) for line in d1.lines.all()) == [
        ("MUG", 1, "8.50"),
        ("TSHIRT-M", 2, "19.90"),
    ]
    assert events_of(d1, "order.created", source="import").exists()
    d2 = Order.objects.get(external_id="D2")
    assert (d2.delivery_mode, d2.pickup_location.code) == ("store", "paris")
    assert StockLevel.objects.get(product=products["MUG"], location=lyon).reserved == 2


def test_an_xlsx_file_is_read(client, manager, market, django_capture_on_commit_callbacks):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(HEADER.strip().split(";"))
    sheet.append(
        ["E1", "a@example.fr", "Ana", "Roux", "MUG", 2, 8.5, "home", "3 rue X", "69003", "Lyon", None]
    )
    sheet.append(
        ["E2", "b@example.fr", "Bo", "Li", "MUG", -1, None, "home", "3 rue X", "69003", "Lyon", None]
    )
    buffer = io.BytesIO()
    book.save(buffer)
    with django_capture_on_commit_callbacks(execute=True):
        upload(client, buffer.getvalue(), name="orders.xlsx")
    job = ImportJob.objects.get()
    assert [(e["line"], e["code"]) for e in job.errors] == [(3, "invalid_quantity")]


def test_a_file_without_the_mapped_columns_fails_with_a_message(
    client, manager, market, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        upload(client, b"id,mail\n1,a@example.fr\n")
    job = ImportJob.objects.get()
    assert job.status == "failed"
    assert "order_id" in job.message


def test_a_file_of_another_type_is_refused_on_the_form(client, manager, market):
    response = upload(client, b"%PDF-1.4", name="orders.pdf")
    assert response.status_code == 400
    assert ImportJob.objects.count() == 0


def test_the_progress_fragment_polls_while_running_and_stops_when_done(client, manager, market):
    job = ImportJob.objects.create(
        channel=market, filename="x.csv", file=SimpleUploadedFile("x.csv", HEADER.encode()), mapping={}
    )
    url = f"/settings/channels/market/imports/{job.pk}/progress/"
    running = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'hx-trigger="every 1s"' in running and "<progress" in running
    import_run(job_id=job.pk)
    done = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "hx-trigger" not in done


def test_the_column_mapping_is_saved_per_channel(client, manager, market):
    data = {
        "action": "mapping",
        **{f"map-{k}": k.upper() for k in ("external_id", "email", "sku", "quantity")},
    }
    response = client.post("/settings/channels/market/import/", data, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 302
    market.connection.refresh_from_db()
    assert market.connection.import_mapping["external_id"] == "EXTERNAL_ID"


def test_invalid_addresses_and_characters_are_refused_with_their_line_numbers(
    client, manager, market, django_capture_on_commit_callbacks
):
    content = (
        HEADER.replace(";store", ";store;country")
        + "B1;a@example.fr;A;A;MUG;1;;home;3 rue X;ABCDE;Lyon;;\n"  # line 2: postcode
        + "B2;b@example.fr;B;B;MUG;1;;home;3 rue X;69003;Lyon;;XX\n"  # 3: country
        + "B3;c@example.fr;C;C;MUG;1;;home;3 rue X\x00;69003;Lyon;;\n"  # 4: NUL
        + "B4;d@example.fr;D;D;MUG;1;;home;3 rue X; 69 003 ;Lyon;;fr\n"  # 5: fine, normalised
    ).encode()
    with django_capture_on_commit_callbacks(execute=True):
        upload(client, content)
    job = ImportJob.objects.get()
    assert [(e["line"], e["code"], e["message"]) for e in job.errors] == [
        (
            2,
            "invalid_postcode",
            "“ABCDE” is not a valid postcode for France (for example 75004).",
        ),
        (
            3,
            "invalid_country",
            "“XX” is not a country code: give the ISO 3166-1 alpha-2 code (FR, BE, DE, GB…).",
        ),
        (
            4,
            "invalid_characters",
            "Column line1 contains a character that cannot be stored (NUL or a lone surrogate).",
        ),
    ]
    assert Order.objects.count() == 0


def test_an_imported_address_is_stored_normalised(
    client, manager, market, django_capture_on_commit_callbacks
):
    content = (
        HEADER.replace(";store", ";store;country")
        + "B4;d@example.fr;D;D;MUG;1;;home;3 rue X; 69 003 ;Lyon;;fr\n"
    ).encode()
    with django_capture_on_commit_callbacks(execute=True):
        upload(client, content, dry_run=False)
    order = Order.objects.get()
    assert (order.ship_postcode, order.ship_country) == ("69003", "FR")
