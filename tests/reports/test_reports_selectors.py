"""The reports' figures on a small data set whose every figure is worked out by hand."""

import datetime as dt
from decimal import Decimal

import pytest

from inventory.models import Allocation
from orders.models import OrderLine
from reports import selectors
from reports.forms import Period
from tests.orders.factories import OrderFactory
from tests.reports.conftest import at, placed

MARCH = Period(start=dt.date(2026, 3, 1), end=dt.date(2026, 3, 31))


def test_sales_totals(report_sales):
    assert selectors.sales_totals(period=MARCH) == {
        "orders": 3,
        "units": 8,
        "revenue_incl": Decimal("124.75"),
        "revenue_excl": Decimal("110.00"),
    }


def test_sales_by_day_in_paris_time_with_empty_days(report_sales):
    rows = selectors.sales_by_period(period=MARCH, grain="day")
    assert len(rows) == 31
    by_day = {row["period"]: row for row in rows if row["orders"]}
    assert by_day == {
        dt.date(2026, 3, 2): {
            "period": dt.date(2026, 3, 2),
            "orders": 1,
            "units": 3,
            "revenue_incl": Decimal("58.55"),
            "revenue_excl": Decimal("50.00"),
        },
        dt.date(2026, 3, 4): {
            "period": dt.date(2026, 3, 4),
            "orders": 1,
            "units": 1,
            "revenue_incl": Decimal("24.00"),
            "revenue_excl": Decimal("20.00"),
        },
        dt.date(2026, 3, 10): {
            "period": dt.date(2026, 3, 10),
            "orders": 1,
            "units": 4,
            "revenue_incl": Decimal("42.20"),
            "revenue_excl": Decimal("40.00"),
        },
    }
    assert rows[0] == {
        "period": dt.date(2026, 3, 1),
        "orders": 0,
        "units": 0,
        "revenue_incl": Decimal("0.00"),
        "revenue_excl": Decimal("0.00"),
    }


def test_sales_by_week_and_month(report_sales):
    weeks = selectors.sales_by_period(period=MARCH, grain="week")
    # ISO weeks meeting March 2026: from Monday 23 February to Monday 30 March.
    assert [w["period"] for w in weeks] == [
        dt.date(2026, 2, 23),
        dt.date(2026, 3, 2),
        dt.date(2026, 3, 9),
        dt.date(2026, 3, 16),
        dt.date(2026, 3, 23),
        dt.date(2026, 3, 30),
    ]
    assert [(w["orders"], w["units"], w["revenue_incl"], w["revenue_excl"]) for w in weeks[1:3]] == [
        (2, 4, Decimal("82.55"), Decimal("70.00")),
        (1, 4, Decimal("42.20"), Decimal("40.00")),
    ]
    months = selectors.sales_by_period(
        period=Period(start=dt.date(2026, 2, 15), end=dt.date(2026, 4, 30)), grain="month"
    )
    assert [(m["period"], m["orders"], m["units"], m["revenue_incl"]) for m in months] == [
        (dt.date(2026, 2, 1), 0, 0, Decimal("0.00")),
        (dt.date(2026, 3, 1), 3, 8, Decimal("124.75")),
        (dt.date(2026, 4, 1), 1, 7, Decimal("168.00")),
    ]


def test_sales_by_channel(report_sales):
    rows = selectors.sales_by_channel(period=MARCH)
    assert [(r["channel"], r["orders"], r["units"], r["revenue_excl"], r["revenue_incl"]) for r in rows] == [
        ("Web", 2, 7, Decimal("90.00"), Decimal("100.75")),
        ("Shop", 1, 1, Decimal("20.00"), Decimal("24.00")),
    ]


def test_sales_by_product(report_sales):
    rows = selectors.sales_by_product(period=MARCH)
    assert [
        (r["sku"], r["product_name"], r["orders"], r["units"], r["revenue_excl"], r["revenue_incl"])
        for r in rows
    ] == [
        ("TEE", "Tee-shirt", 2, 3, Decimal("60.00"), Decimal("72.00")),
        ("TEA", "Thé vert", 2, 5, Decimal("50.00"), Decimal("52.75")),
    ]


def test_sales_by_location(report_sales, warehouse, store):
    rows = selectors.sales_by_location(period=MARCH)
    assert [
        (r["location_code"], r["orders"], r["units"], r["revenue_excl"], r["revenue_incl"]) for r in rows
    ] == [
        ("lyon", 2, 7, Decimal("90.00"), Decimal("100.75")),
        ("paris", 1, 1, Decimal("20.00"), Decimal("24.00")),
    ]


def test_a_line_split_between_locations_counts_at_each(report_products, warehouse, other_warehouse):
    order = placed(OrderFactory(lines=[(report_products["tee"], 3, warehouse)]), at("2026-03-20"))
    line = OrderLine.objects.get(order=order)
    Allocation.objects.filter(line=line).update(quantity=2)
    Allocation.objects.create(line=line, location=other_warehouse, quantity=1)
    rows = selectors.sales_by_location(period=MARCH)
    assert [(r["location_code"], r["orders"], r["units"], r["revenue_incl"]) for r in rows] == [
        ("lyon", 1, 2, Decimal("48.00")),
        ("lille", 1, 1, Decimal("24.00")),
    ]


# --- Delivery performance -----------------------------------------------------------------------------


def test_delivery_summary(report_deliveries):
    summary = selectors.delivery_summary(period=MARCH)
    assert summary["delivered"] == 3
    assert summary["with_promise"] == 2
    assert summary["on_time"] == 1
    assert summary["on_time_share"] == 0.5
    assert summary["avg_days"] == pytest.approx((53 / 24 + 4 + 1) / 3)
    weeks = {w["period"]: w for w in summary["weekly"]}
    assert (weeks[dt.date(2026, 3, 2)]["delivered"], weeks[dt.date(2026, 3, 2)]["on_time_share"]) == (2, 0.5)
    assert (weeks[dt.date(2026, 3, 9)]["delivered"], weeks[dt.date(2026, 3, 9)]["on_time_share"]) == (1, None)
    assert weeks[dt.date(2026, 3, 16)]["delivered"] == 0


def test_delivery_by_carrier_service(report_deliveries):
    rows = selectors.delivery_by_service(period=MARCH)
    assert [(r["carrier"], r["service"], r["parcels"], r["on_time_share"]) for r in rows] == [
        ("Chronopost", "Chrono 13", 1, 0.0),
        ("Colissimo", "Domicile", 2, 1.0),
    ]
    chrono, colissimo = rows
    assert chrono["avg_days"] == pytest.approx(4.0)
    assert chrono["avg_transit_days"] == pytest.approx(1.0)
    assert colissimo["avg_days"] == pytest.approx((53 / 24 + 1) / 2)
    assert colissimo["avg_transit_days"] == pytest.approx((31 / 24 + 16 / 24) / 2)


# --- Fulfilment ---------------------------------------------------------------------------------------


def test_fulfilment_by_location(report_work):
    rows = {w.code: w for w in selectors.fulfilment_by_location(period=MARCH)}
    assert rows["lyon"].as_row() == {
        "location_code": "lyon",
        "location_name": "Entrepôt Lyon",
        "picked": 3,
        "pick_hours": 2,
        "picked_per_hour": 1.5,
        "parcels": 2,
        "pack_hours": 1,
        "parcels_per_hour": 2.0,
        "short_picks": 3,
    }
    assert rows["lyon"].by_hour[9] == 2 and rows["lyon"].by_hour[10] == 1 and sum(rows["lyon"].by_hour) == 3
    assert (rows["paris"].picked, rows["paris"].pick_hours, rows["paris"].parcels) == (1, 1, 0)
    assert rows["paris"].parcels_per_hour is None


def test_short_picks_by_sku_location_reason(report_work):
    from django.utils import translation

    with translation.override("en"):
        rows = selectors.short_picks(period=MARCH)
    assert rows == [
        {
            "sku": "TEE",
            "name": "Tee-shirt",
            "location_code": "lyon",
            "location_name": "Entrepôt Lyon",
            "reason": "not_found",
            "reason_label": "Missing",
            "count": 2,
            "units": 4,
        },
        {
            "sku": "TEA",
            "name": "Thé vert",
            "location_code": "lyon",
            "location_name": "Entrepôt Lyon",
            "reason": "damaged",
            "reason_label": "Damaged",
            "count": 1,
            "units": 1,
        },
    ]


def test_returns_are_not_recorded_yet(db):
    report = selectors.returns_report(period=MARCH)
    assert report.recorded is False
    assert report.rate is None
    assert report.reasons == []


def test_a_kit_counts_once_at_its_price_where_its_components_were_held(
    report_sales, report_products, warehouse
):
    # given a kit of 1 tee + 2 teas (30.00 incl. 20 % VAT) whose components are held at lyon
    from inventory.models import KitComponent, Product

    tee, tea = report_products["tee"], report_products["tea"]
    kit = Product.objects.create(sku="DUO", name="Duo", price=Decimal("30.00"), vat_rate=Decimal("20.0"))
    KitComponent.objects.create(kit=kit, component=tee, quantity=1)
    KitComponent.objects.create(kit=kit, component=tea, quantity=2)
    order = placed(OrderFactory(lines=[(kit, 1, warehouse)]), at("2026-03-21"))
    line = OrderLine.objects.get(order=order)
    Allocation.objects.filter(line=line).delete()
    components = [
        {"product_id": tee.pk, "sku": "TEE", "name": "Tee-shirt", "quantity": 1},
        {"product_id": tea.pk, "sku": "TEA", "name": "Thé vert", "quantity": 2},
    ]
    OrderLine.objects.filter(pk=line.pk).update(unit_price=Decimal("30.00"), components=components)
    Allocation.objects.create(order=order, line=line, product=tee, location=warehouse, quantity=1)
    Allocation.objects.create(order=order, line=line, product=tea, location=warehouse, quantity=2)

    rows = selectors.sales_by_location(period=MARCH)

    # lyon had 2 orders, 7 units, 100.75 incl.: now 3 orders, 8 units (one kit, not 3), 130.75 incl.
    assert [
        (r["location_code"], r["orders"], r["units"], r["revenue_excl"], r["revenue_incl"]) for r in rows
    ] == [
        ("lyon", 3, 8, Decimal("115.00"), Decimal("130.75")),
        ("paris", 1, 1, Decimal("20.00"), Decimal("24.00")),
    ]
