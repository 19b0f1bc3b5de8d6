"""The reports' pages: figures shown, period form, CSV / XLSX exports, the forecast run's progress."""

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from oms.roles import MANAGER
from reports.models import ForecastRun, SalesForecast
from tests.oms.factories import UserFactory

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
MARCH = {"start": "2026-03-01", "end": "2026-03-31"}


@pytest.fixture
def manager_client(client, db):
    client.force_login(UserFactory(username="boss", role=MANAGER))
    return client


def test_sales_page_shows_the_figures_and_charts(manager_client, report_sales):
    response = manager_client.get(reverse("reports:sales"), MARCH, **EN)
    assert response.status_code == 200
    html = response.content.decode()
    assert "€124.75" in html and "€110.00" in html  # totals incl. / excl. VAT
    assert html.count('<svg class="chart') == 5
    assert "March 1, 2026 – March 31, 2026 (31 days)" in html
    assert 'href="?start=2026-03-01&amp;end=2026-03-31&amp;export=csv&amp;table=by_channel"' in html


def test_sales_page_groups_by_week_when_asked(manager_client, report_sales):
    response = manager_client.get(reverse("reports:sales"), {**MARCH, "grain": "week"}, **EN)
    assert response.context["grain"] == "week"
    assert len(response.context["tables_by_name"]["by_period"].rows) == 6


def test_a_bad_period_is_refused_with_a_message(manager_client, db):
    response = manager_client.get(
        reverse("reports:sales"), {"start": "2026-03-31", "end": "2026-03-01"}, **EN
    )
    assert response.status_code == 400
    assert "The start date must be on or before the end date." in response.content.decode()
    response = manager_client.get(
        reverse("reports:sales"), {"start": "2020-01-01", "end": "2026-03-01"}, **EN
    )
    assert response.status_code == 400
    assert "at most 1098 days" in response.content.decode()


def test_a_preset_period(manager_client, db):
    response = manager_client.get(reverse("reports:delivery"), {"preset": "7"}, **EN)
    period = response.context["period"]
    assert (period.end, period.days) == (timezone.localdate(), 7)


def test_sales_csv_export(manager_client, report_sales):
    response = manager_client.get(
        reverse("reports:sales"), {**MARCH, "export": "csv", "table": "by_channel"}, **EN
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="sales-20260301-20260331-by_channel.csv"'
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows == [
        ["Channel", "Orders", "Units", "Revenue excl. VAT", "Revenue incl. VAT"],
        ["Web", "2", "7", "90.00", "100.75"],
        ["Shop", "1", "1", "20.00", "24.00"],
        ["Total", "3", "8", "110.00", "124.75"],
    ]


def test_sales_xlsx_export_has_a_sheet_per_table(manager_client, report_sales):
    response = manager_client.get(reverse("reports:sales"), {**MARCH, "export": "xlsx"}, **EN)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["Sales by period", "Sales by channel", "Sales by product", "Sales by location"]
    products = list(book["Sales by product"].iter_rows(values_only=True))
    assert products[0] == ("SKU", "Product", "Orders", "Units", "Revenue excl. VAT", "Revenue incl. VAT")
    assert products[1] == ("TEE", "Tee-shirt", 2, 3, 60.0, 72.0)
    assert products[2] == ("TEA", "Thé vert", 2, 5, 50.0, 52.75)
    days = list(book["Sales by period"].iter_rows(values_only=True))
    assert days[0][0] == "Day"
    assert days[2][0] == dt.datetime(2026, 3, 2) and days[2][1:] == (1, 3, 50.0, 58.55)
    assert book["Sales by period"]["E3"].number_format == "#,##0.00"


def test_unknown_export_format_or_table(manager_client, db):
    assert manager_client.get(reverse("reports:sales"), {"export": "pdf"}).status_code == 400
    assert manager_client.get(reverse("reports:sales"), {"export": "csv", "table": "nope"}).status_code == 404


def test_delivery_and_fulfilment_pages_render(manager_client, db):
    for name in ("reports:delivery", "reports:fulfilment"):
        response = manager_client.get(reverse(name), MARCH, **EN)
        assert response.status_code == 200


def test_delivery_percentages_in_csv(manager_client, report_deliveries):
    response = manager_client.get(
        reverse("reports:delivery"), {**MARCH, "export": "csv", "table": "by_service"}, **EN
    )
    rows = list(csv.reader(io.StringIO(response.content.decode().lstrip("\ufeff"))))
    assert rows[0] == [
        "Carrier service",
        "Parcels delivered",
        "On time (%)",
        "Average days from order to delivery",
        "Average days in transit",
    ]
    assert rows[1] == ["Chronopost Chrono 13", "1", "0.0", "4.0", "1.0"]
    assert rows[2] == ["Colissimo Domicile", "2", "100.0", "1.6", "0.98"]


def test_returns_page_says_returns_are_not_recorded_yet(manager_client, db):
    response = manager_client.get(reverse("reports:returns"), **EN)
    assert response.status_code == 200
    assert "No returns are recorded yet." in response.content.decode()


# --- Forecast pages -----------------------------------------------------------------------------------


@pytest.fixture
def forecast(db, warehouse):
    from tests.inventory.factories import ProductFactory

    return SalesForecast.objects.create(
        product=ProductFactory(sku="CAFE-1", name="Café", price=Decimal("14.90")),
        computed_at=timezone.now(),
        method="holt_winters",
        history_start=dt.date(2026, 1, 1),
        history_end=timezone.localdate() - dt.timedelta(days=1),
        units_sold=420,
        forecast_start=timezone.localdate(),
        daily=[5.0] * 28,
        mape=0.083,
        backtest_days=14,
        sigma=1.5,
        locations={str(warehouse.pk): {"share": 1.0, "sigma": 1.5}},
    )


def test_forecast_list_and_export(manager_client, forecast):
    html = manager_client.get(reverse("reports:forecast"), **EN).content.decode()
    assert "CAFE-1" in html and "8.3\u00a0%" in html and "35.0" in html and "140.0" in html
    response = manager_client.get(reverse("reports:forecast"), {"export": "csv"}, **EN)
    rows = list(csv.reader(io.StringIO(response.content.decode().lstrip("\ufeff"))))
    assert rows[0][:8] == [
        "SKU",
        "Product",
        "Method",
        "Days of history",
        "Units sold in the history",
        "Forecast, next 7 days",
        "Forecast, next 28 days",
        "Backtest error (MAPE) (%)",
    ]
    assert rows[1][:8] == [
        "CAFE-1",
        "Café",
        "Holt-Winters",
        str(forecast.history_days),
        "420",
        "35.0",
        "140.0",
        "8.3",
    ]


def test_forecast_detail_shows_history_and_forecast(manager_client, forecast):
    response = manager_client.get(reverse("reports:forecast_detail", args=["CAFE-1"]), **EN)
    assert response.status_code == 200
    html = response.content.decode()
    assert "chart__line--dashed" in html and "8.3\u00a0%" in html
    assert response.context["reorder"][0].location_code == "lyon"
    assert manager_client.get(reverse("reports:forecast_detail", args=["NOPE"])).status_code == 404


def test_purchase_list_export(manager_client, forecast):
    response = manager_client.get(
        reverse("reports:reorder"), {"export": "xlsx", "service_level": "0.95"}, **EN
    )
    assert response["Content-Disposition"].startswith('attachment; filename="purchase-list-')
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:4] == ("SKU", "Product", "EAN", "Location")
    assert rows[1][0] == "CAFE-1" and rows[1][3] == "Entrepôt Lyon"  # the location's name, not its code
    assert rows[1][11] > 0  # quantity to order: no stock at all
    html = manager_client.get(reverse("reports:reorder"), **EN).content.decode()
    assert "1 line to order" in html


def test_recompute_button_starts_a_run_and_the_panel_polls_while_it_runs(manager_client, db):
    response = manager_client.post(reverse("reports:forecast_run"), HTTP_HX_REQUEST="true", **EN)
    assert response.status_code == 200
    run = ForecastRun.objects.get()
    # Eager tasks only run on commit, which the test transaction never does: the run is still going.
    assert run.status == "running"
    html = response.content.decode()
    assert 'hx-trigger="every 1s"' in html and "<progress" in html
    ForecastRun.objects.filter(pk=run.pk).update(status="done", total=3, done=3, finished_at=timezone.now())
    response = manager_client.get(reverse("reports:forecast_run"), HTTP_HX_REQUEST="true", **EN)
    html = response.content.decode()
    assert "every 1s" not in html and "Up to date" in html and "Recompute now" in html
    assert response["HX-Refresh"] == "true"  # the page reloads to show the new figures
    assert "HX-Refresh" not in manager_client.get(reverse("reports:forecast_run"))


def test_recompute_without_htmx_redirects_with_a_message(manager_client, db):
    response = manager_client.post(reverse("reports:forecast_run"), **EN)
    assert response.status_code == 302 and response["Location"] == reverse("reports:forecast")
    response = manager_client.post(reverse("reports:forecast_run"), follow=True, **EN)
    assert "A computation is already running." in response.content.decode()
    assert ForecastRun.objects.count() == 1


def test_reports_are_for_managers_only(client, role_users):
    from oms.roles import CUSTOMER_SERVICE

    client.force_login(role_users[CUSTOMER_SERVICE])
    assert client.post(reverse("reports:forecast_run")).status_code == 403
    assert ForecastRun.objects.count() == 0


def test_forecast_and_reorder_pages_cost_a_fixed_number_of_queries(
    manager_client, forecast, warehouse, django_assert_max_num_queries
):
    from tests.inventory.factories import ProductFactory

    for n in range(30):
        SalesForecast.objects.create(
            product=ProductFactory(sku=f"MORE-{n}"),
            computed_at=timezone.now(),
            method="moving_average",
            history_start=dt.date(2026, 1, 1),
            history_end=dt.date(2026, 3, 1),
            units_sold=10,
            forecast_start=dt.date(2026, 3, 2),
            daily=[1.0] * 28,
            locations={str(warehouse.pk): {"share": 1.0, "sigma": 1.0}},
        )
    with django_assert_max_num_queries(12):
        assert manager_client.get(reverse("reports:forecast")).status_code == 200
    with django_assert_max_num_queries(14):
        assert manager_client.get(reverse("reports:reorder")).status_code == 200
