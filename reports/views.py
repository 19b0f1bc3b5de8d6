"""The reports' pages (managers: ``reports.view_reports``). Every report is a GET page with a period form
(bookmarkable), charts drawn on the server, the tables beneath, and ``?export=csv&table=<name>`` /
``?export=xlsx`` for files of the same figures."""

import datetime as dt
from dataclasses import dataclass
from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from common.charts import Series, bar_chart, line_chart
from common.templatetags.oms_tags import money
from common.views import BackofficeMixin
from inventory.models import Product

from . import selectors
from .export import csv_response, xlsx_response
from .forms import ForecastFilterForm, PeriodForm, ReorderForm, SalesForm
from .models import ForecastRun, SalesForecast
from .reorder import reorder_suggestions
from .services import daily_units, forecast_run_start
from .tables import DATE, INT, MONEY, MONTH, NUMBER, PERCENT, Column, Table, display

PERMISSION = "reports.view_reports"


@dataclass
class Figure:
    """A chart and its visible caption (the SVG carries the same title for screen readers)."""

    title: str
    svg: SafeString

    def __str__(self) -> str:
        return self.svg


def figure(builder, **kwargs) -> Figure:
    return Figure(title=kwargs["title"], svg=builder(**kwargs))


TABS = [
    ("sales", gettext_lazy("Sales"), "reports:sales"),
    ("delivery", gettext_lazy("Delivery"), "reports:delivery"),
    ("fulfilment", gettext_lazy("Fulfilment"), "reports:fulfilment"),
    ("returns", gettext_lazy("Returns"), "reports:returns"),
    ("forecast", gettext_lazy("Forecast"), "reports:forecast"),
    ("reorder", gettext_lazy("Reorder"), "reports:reorder"),
]


def _query_without(request, *names: str) -> str:
    return urlencode([(k, v) for k, v in request.GET.items() if k not in names and v != ""])


def export_answer(request, tables: list[Table], *, basename: str):
    """The file asked for by ``?export=``, or None when the page itself is asked for."""
    kind = request.GET.get("export")
    if not kind:
        return None
    if kind == "xlsx":
        return xlsx_response(tables, basename=basename)
    if kind == "csv":
        name = request.GET.get("table") or tables[0].name
        table = next((t for t in tables if t.name == name), None)
        if table is None:
            raise Http404("No such table in this report.")
        return csv_response(table, basename=basename)
    return HttpResponseBadRequest(_("Unknown export format: use csv or xlsx."))


def _money_float(value) -> float:
    return float(value or 0)


def _percent_format(value) -> str:
    return display(value / 100 if value is not None else None, PERCENT)


def _number_format(value) -> str:
    return display(value, NUMBER)


class ReportView(BackofficeMixin, View):
    permission_required = PERMISSION
    form_class = PeriodForm
    template_name = ""
    report = ""
    title = ""

    def build(self, *, form, period) -> dict:  # pragma: no cover - each report implements it
        raise NotImplementedError

    def get(self, request):
        form = self.form_class(request.GET or None)
        invalid = form.is_bound and not form.is_valid()
        period = form.period()
        context = self.build(form=form, period=period)
        if not invalid:
            answer = export_answer(request, context["tables"], basename=f"{self.report}-{period.slug()}")
            if answer is not None:
                return answer
        context.update(
            form=form,
            period=period,
            tab=self.report,
            tabs=TABS,
            title=self.title,
            query=_query_without(request, "export", "table"),
        )
        return render(request, self.template_name, context, status=400 if invalid else 200)


def _bucket_label(start: dt.date, grain: str) -> str:
    if grain == "month":
        return date_format(start, "M Y")
    return short_day(start)


def short_day(day: dt.date) -> str:
    """An x-axis label: "2 Sep" / "2 sept." (the table beneath has the full date)."""
    return date_format(day, "j M")


def _sales_columns(first: Column) -> list[Column]:
    return [
        first,
        Column("orders", _("Orders"), INT),
        Column("units", _("Units"), INT),
        Column("revenue_excl", _("Revenue excl. VAT"), MONEY),
        Column("revenue_incl", _("Revenue incl. VAT"), MONEY),
    ]


class SalesReportView(ReportView):
    form_class = SalesForm
    template_name = "reports/sales.html"
    report = "sales"
    title = gettext_lazy("Sales")

    def build(self, *, form, period):
        grain = form.grain_for(period)
        totals = selectors.sales_totals(period=period)
        by_period = selectors.sales_by_period(period=period, grain=grain)
        by_channel = selectors.sales_by_channel(period=period)
        by_product = selectors.sales_by_product(period=period)
        by_location = selectors.sales_by_location(period=period)
        first = {
            "day": Column("period", _("Day"), DATE),
            "week": Column("period", _("Week starting"), DATE),
            "month": Column("period", _("Month"), MONTH),
        }[grain]
        tables = [
            Table("by_period", _("Sales by period"), _sales_columns(first), by_period, footer=totals),
            Table(
                "by_channel",
                _("Sales by channel"),
                _sales_columns(Column("channel", _("Channel"))),
                by_channel,
                footer={**totals, "channel": _("Total")},
            ),
            Table(
                "by_product",
                _("Sales by product"),
                [
                    Column("sku", _("SKU")),
                    Column("product_name", _("Product")),
                    *_sales_columns(Column("sku", ""))[1:],
                ],
                by_product,
                footer={**totals, "sku": _("Total")},
            ),
            Table(
                "by_location",
                _("Sales by location"),
                _sales_columns(Column("location_name", _("Location"))),
                by_location,
                footer=None,
            ),
        ]
        basket = totals["revenue_incl"] / totals["orders"] if totals["orders"] else None
        kpis = [
            (_("Orders"), display(totals["orders"], INT)),
            (_("Units"), display(totals["units"], INT)),
            (_("Revenue excl. VAT"), display(totals["revenue_excl"], MONEY)),
            (_("Revenue incl. VAT"), display(totals["revenue_incl"], MONEY)),
            (_("Average basket incl. VAT"), display(basket, MONEY)),
        ]
        labels = [_bucket_label(row["period"], grain) for row in by_period]
        charts = {
            "by_period": figure(
                line_chart,
                chart_id="sales-period",
                title=_("Revenue per period"),
                description=_(
                    "Revenue excluding and including VAT per period; the figures are in the table."
                ),
                labels=labels,
                series=[
                    Series(_("Revenue incl. VAT"), [_money_float(r["revenue_incl"]) for r in by_period]),
                    Series(_("Revenue excl. VAT"), [_money_float(r["revenue_excl"]) for r in by_period]),
                ],
                value_format=money,
                unit="€",
            ),
            "units": figure(
                bar_chart,
                chart_id="sales-units",
                title=_("Units sold per period"),
                labels=labels,
                values=[r["units"] for r in by_period],
                height=180,
            ),
            "by_channel": figure(
                bar_chart,
                chart_id="sales-channel",
                title=_("Revenue incl. VAT per channel"),
                labels=[r["channel"] for r in by_channel],
                values=[_money_float(r["revenue_incl"]) for r in by_channel],
                value_format=money,
                horizontal=True,
            ),
            "by_product": figure(
                bar_chart,
                chart_id="sales-product",
                title=_("Top products by revenue incl. VAT"),
                labels=[f"{r['sku']} · {r['product_name']}" for r in by_product[:15]],
                values=[_money_float(r["revenue_incl"]) for r in by_product[:15]],
                value_format=money,
                horizontal=True,
            ),
            "by_location": figure(
                bar_chart,
                chart_id="sales-location",
                title=_("Revenue incl. VAT per location"),
                labels=[r["location_name"] for r in by_location],
                values=[_money_float(r["revenue_incl"]) for r in by_location],
                value_format=money,
                horizontal=True,
            ),
        }
        return {
            "tables": tables,
            "tables_by_name": {t.name: t for t in tables},
            "charts": charts,
            "totals": totals,
            "kpis": kpis,
            "grain": grain,
            "product_limit": 25,
        }


class DeliveryReportView(ReportView):
    template_name = "reports/delivery.html"
    report = "delivery"
    title = gettext_lazy("Delivery performance")

    def build(self, *, form, period):
        summary = selectors.delivery_summary(period=period)
        services = selectors.delivery_by_service(period=period)
        for row in services:
            row["name"] = f"{row['carrier']} {row['service']}".strip() or _("No carrier service")
        tables = [
            Table(
                "weekly",
                _("Deliveries by week"),
                [
                    Column("period", _("Week starting"), DATE),
                    Column("delivered", _("Orders delivered"), INT),
                    Column("with_promise", _("With a promised date"), INT),
                    Column("on_time", _("Delivered by the promised date"), INT),
                    Column("on_time_share", _("On time"), PERCENT),
                    Column("avg_days", _("Average days from order to delivery"), NUMBER),
                ],
                summary["weekly"],
                footer={**summary, "period": None},
            ),
            Table(
                "by_service",
                _("By carrier and service"),
                [
                    Column("name", _("Carrier service")),
                    Column("parcels", _("Parcels delivered"), INT),
                    Column("on_time_share", _("On time"), PERCENT),
                    Column("avg_days", _("Average days from order to delivery"), NUMBER),
                    Column("avg_transit_days", _("Average days in transit"), NUMBER),
                ],
                services,
            ),
        ]
        weekly = summary["weekly"]
        charts = {
            "weekly": figure(
                line_chart,
                chart_id="delivery-weekly",
                title=_("Share delivered by the promised date, per week"),
                labels=[_bucket_label(w["period"], "week") for w in weekly],
                series=[
                    Series(
                        _("On time"),
                        [
                            None if w["on_time_share"] is None else round(w["on_time_share"] * 100, 1)
                            for w in weekly
                        ],
                    )
                ],
                value_format=_percent_format,
                unit="%",
            ),
            "by_service": figure(
                bar_chart,
                chart_id="delivery-service",
                title=_("Average days from order to delivery per carrier service"),
                labels=[row["name"] for row in services],
                values=[round(row["avg_days"] or 0, 1) for row in services],
                value_format=_number_format,
                horizontal=True,
            ),
        }
        kpis = [
            (_("Orders delivered"), display(summary["delivered"], INT)),
            (_("Delivered by the promised date"), display(summary["on_time_share"], PERCENT)),
            (_("Average days from order to delivery"), display(summary["avg_days"], NUMBER)),
            (_("Parcels delivered"), display(sum(row["parcels"] for row in services), INT)),
        ]
        return {"tables": tables, "charts": charts, "summary": summary, "services": services, "kpis": kpis}


class FulfilmentReportView(ReportView):
    template_name = "reports/fulfilment.html"
    report = "fulfilment"
    title = gettext_lazy("Fulfilment")

    def build(self, *, form, period):
        work = selectors.fulfilment_by_location(period=period)
        shorts = selectors.short_picks(period=period)
        tables = [
            Table(
                "by_location",
                _("Picking and packing by location"),
                [
                    Column("location_name", _("Location")),
                    Column("picked", _("Orders picked"), INT),
                    Column("pick_hours", _("Hours with picking"), INT),
                    Column("picked_per_hour", _("Orders picked per hour"), NUMBER),
                    Column("parcels", _("Parcels packed"), INT),
                    Column("pack_hours", _("Hours with packing"), INT),
                    Column("parcels_per_hour", _("Parcels packed per hour"), NUMBER),
                    Column("short_picks", _("Short picks"), INT),
                ],
                [w.as_row() for w in work],
            ),
            Table(
                "short_picks",
                _("Short picks"),
                [
                    Column("name", _("Product")),
                    Column("sku", _("SKU")),
                    Column("location_name", _("Location")),
                    Column("reason_label", _("Reason")),
                    Column("count", _("Short picks"), INT),
                    Column("units", _("Units missing"), INT),
                ],
                shorts,
            ),
        ]
        picking = [w for w in work if w.picked]
        charts = {
            "by_hour": figure(
                line_chart,
                chart_id="fulfilment-hours",
                title=_("Orders picked per hour of the day"),
                description=_("Orders whose picking finished in each hour of the day, per location."),
                labels=[f"{h:02d}h" for h in range(24)],
                series=[Series(w.name, w.by_hour) for w in picking],
            )
            if picking
            else None,
            "per_hour": figure(
                bar_chart,
                chart_id="fulfilment-rate",
                title=_("Orders picked per hour with picking"),
                labels=[w.name for w in picking],
                values=[round(w.picked_per_hour or 0, 1) for w in picking],
                value_format=_number_format,
                horizontal=True,
            )
            if picking
            else None,
        }
        totals = {
            "picked": sum(w.picked for w in work),
            "parcels": sum(w.parcels for w in work),
            "short_picks": sum(w.short_picks for w in work),
        }
        kpis = [
            (_("Orders picked"), display(totals["picked"], INT)),
            (_("Parcels packed"), display(totals["parcels"], INT)),
            (_("Short picks"), display(totals["short_picks"], INT)),
        ]
        return {"tables": tables, "charts": charts, "totals": totals, "kpis": kpis}


class ReturnsReportView(ReportView):
    template_name = "reports/returns.html"
    report = "returns"
    title = gettext_lazy("Returns")

    def build(self, *, form, period):
        report = selectors.returns_report(period=period)
        tables = [
            Table(
                "reasons",
                _("Returns by reason"),
                [
                    Column("reason", _("Reason")),
                    Column("returns", _("Returns"), INT),
                    Column("units", _("Units"), INT),
                ],
                report.reasons,
            )
        ]
        kpis = (
            [
                (_("Orders"), display(report.orders, INT)),
                (_("Orders returned"), display(report.returned_orders, INT)),
                (_("Return rate"), display(report.rate, PERCENT)),
            ]
            if report.recorded
            else []
        )
        return {"tables": tables, "returns": report, "kpis": kpis}


# --- Forecast -----------------------------------------------------------------------------------------


def _forecast_row(forecast: SalesForecast) -> dict:
    return {
        "sku": forecast.product.sku,
        "product_name": forecast.product.name,
        "method": forecast.get_method_display(),
        "history_days": forecast.history_days,
        "units_sold": forecast.units_sold,
        "next_7": forecast.total(7),
        "next_28": forecast.total(28),
        "mape": forecast.mape,
        "computed_at": timezone.localtime(forecast.computed_at).strftime("%Y-%m-%d %H:%M"),
    }


def forecast_table(forecasts, *, with_time: bool = True) -> Table:
    table = Table(
        "forecast",
        _("Sales forecast"),
        [
            Column("sku", _("SKU")),
            Column("product_name", _("Product")),
            Column("method", _("Method")),
            Column("history_days", _("Days of history"), INT),
            Column("units_sold", _("Units sold in the history"), INT),
            Column("next_7", _("Forecast, next 7 days"), NUMBER),
            Column("next_28", _("Forecast, next 28 days"), NUMBER),
            Column("mape", _("Backtest error (MAPE)"), PERCENT),
            Column("computed_at", _("Computed at")),
        ],
        [_forecast_row(f) for f in forecasts],
    )
    if not with_time:  # the page says when the run computed them, once
        table.columns = [c for c in table.columns if c.key != "computed_at"]
    return table


def latest_run():
    return ForecastRun.objects.order_by("-created_at", "-id").first()


class ForecastListView(BackofficeMixin, View):
    permission_required = PERMISSION

    def get(self, request):
        form = ForecastFilterForm(request.GET or None)
        # Best sellers first: the forecasts that matter most.
        forecasts = SalesForecast.objects.select_related("product").order_by("-units_sold", "product__sku")
        if form.is_valid():
            if q := form.cleaned_data.get("q", "").strip():
                forecasts = forecasts.filter(Q(product__sku__icontains=q) | Q(product__name__icontains=q))
            if method := form.cleaned_data.get("method"):
                forecasts = forecasts.filter(method=method)
        if request.GET.get("export"):
            answer = export_answer(request, [forecast_table(forecasts)], basename="forecast")
            if answer is not None:
                return answer
        page = Paginator(forecasts, 50).get_page(request.GET.get("page"))
        table = forecast_table(page.object_list, with_time=False)
        return render(
            request,
            "reports/forecast_list.html",
            {
                "form": form,
                "page": page,
                "table": table,
                "rows": list(zip(page.object_list, table.display_rows(), strict=True)),
                "run": latest_run(),
                "tab": "forecast",
                "tabs": TABS,
                "query": _query_without(request, "export", "table", "page"),
                "horizon": len(page.object_list[0].daily) if page.object_list else 28,
            },
        )


class ForecastRunView(BackofficeMixin, View):
    """GET: the latest run's progress (an htmx fragment polled every second while it runs).
    POST: start a run (or show the one already running)."""

    permission_required = PERMISSION

    def get(self, request):
        run = latest_run()
        response = render(request, "reports/_forecast_run.html", {"run": run})
        if request.htmx and run is not None and run.status != ForecastRun.Status.RUNNING:
            # The poll saw the run end: reload the page so its tables show the new figures.
            response["HX-Refresh"] = "true"
        return response

    def post(self, request):
        run, created = forecast_run_start(actor=request.user)
        if not request.htmx:
            if created:
                messages.success(request, _("The forecast is being recomputed."))
            else:
                messages.info(request, _("A computation is already running."))
            return redirect("reports:forecast")
        run.refresh_from_db()
        response = render(request, "reports/_forecast_run.html", {"run": run})
        if run.status != ForecastRun.Status.RUNNING:  # computed in the request (no broker): show it
            response["HX-Refresh"] = "true"
        return response


HISTORY_SHOWN_DAYS = 84


class ForecastDetailView(BackofficeMixin, View):
    permission_required = PERMISSION

    def get(self, request, sku):
        product = get_object_or_404(Product, sku=sku)
        forecast = SalesForecast.objects.filter(product=product).first()
        last = forecast.history_end if forecast else timezone.localdate() - dt.timedelta(days=1)
        first = last - dt.timedelta(days=HISTORY_SHOWN_DAYS - 1)
        by_day = daily_units(first=first, last=last, product_ids=[product.pk]).get(product.pk, {})
        days = [first + dt.timedelta(days=i) for i in range(HISTORY_SHOWN_DAYS)]
        history = [float(by_day.get(day, 0)) for day in days]
        future = forecast.daily if forecast else []
        future_days = [last + dt.timedelta(days=i + 1) for i in range(len(future))]
        labels = [short_day(d) for d in days + future_days]
        chart = figure(
            line_chart,
            chart_id="forecast",
            title=_("Units sold per day and forecast"),
            description=_("The last 12 weeks of daily sales, then the forecast (dashed)."),
            labels=labels,
            series=[
                Series(_("Units sold"), history + [None] * len(future)),
                Series(
                    _("Forecast"),
                    [None] * (len(history) - 1) + [history[-1]] + [round(v, 1) for v in future],
                    style="dashed",
                ),
            ],
            value_format=_number_format,
        )
        weeks = []
        for start in range(0, len(days), 7):
            weeks.append({"period": days[start], "kind": _("Sold"), "units": sum(history[start : start + 7])})
        for start in range(0, len(future), 7):
            weeks.append(
                {"period": future_days[start], "kind": _("Forecast"), "units": sum(future[start : start + 7])}
            )
        table = Table(
            "weekly",
            _("Units per week"),
            [
                Column("period", _("Week starting"), DATE),
                Column("kind", _("Figures")),
                Column("units", _("Units"), NUMBER),
            ],
            weeks,
        )
        answer = export_answer(request, [table], basename=f"forecast-{product.sku}")
        if answer is not None:
            return answer
        reorder = reorder_suggestions(only_reorder=False, product_ids=[product.pk]) if forecast else []
        kpis = []
        if forecast:
            kpis = [
                (_("Method"), forecast.get_method_display()),
                (
                    _("History"),
                    _("%(days)s days from %(start)s")
                    % {
                        "days": forecast.history_days,
                        "start": date_format(forecast.history_start, "SHORT_DATE_FORMAT"),
                    },
                ),
                (_("Units sold in the history"), display(forecast.units_sold, INT)),
                (_("Forecast, next 7 days"), display(forecast.total(7), NUMBER)),
                (_("Forecast, next 28 days"), display(forecast.total(28), NUMBER)),
                (_("Backtest error (MAPE)"), display(forecast.mape, PERCENT)),
            ]
        return render(
            request,
            "reports/forecast_detail.html",
            {
                "product": product,
                "forecast": forecast,
                "chart": chart,
                "table": table,
                "reorder": reorder,
                "kpis": kpis,
                "tab": "forecast",
                "tabs": TABS,
                "query": "",
            },
        )


def reorder_table(lines) -> Table:
    return Table(
        "purchase_list",
        _("Purchase list"),
        [
            Column("sku", _("SKU")),
            Column("name", _("Product")),
            Column("ean", _("EAN")),
            Column("location_name", _("Location")),
            Column("available", _("Available"), INT),
            Column("incoming", _("Incoming"), INT),
            Column("weekly_demand", _("Forecast units per week"), NUMBER),
            Column("days_of_cover", _("Days of cover"), NUMBER),
            Column("lead_time_days", _("Lead time (days)"), INT),
            Column("safety_stock", _("Safety stock"), NUMBER),
            Column("reorder_point", _("Reorder point"), INT),
            Column("suggested", _("Quantity to order"), INT),
            Column("mape", _("Backtest error (MAPE)"), PERCENT),
        ],
        [
            {
                "sku": line.sku,
                "name": line.name,
                "ean": line.ean,
                "location_code": line.location_code,
                "location_name": line.location_name,
                "available": line.available,
                "incoming": line.incoming,
                "weekly_demand": line.daily_demand * 7,
                "days_of_cover": line.days_of_cover,
                "lead_time_days": line.lead_time_days,
                "safety_stock": line.safety_stock,
                "reorder_point": line.reorder_point,
                "suggested": line.suggested,
                "mape": line.mape,
            }
            for line in lines
        ],
    )


class ReorderView(BackofficeMixin, View):
    permission_required = PERMISSION

    def get(self, request):
        form = ReorderForm(request.GET or None)
        invalid = form.is_bound and not form.is_valid()
        options = form.values()
        lines = reorder_suggestions(**options)
        table = reorder_table(lines)
        if not invalid:
            answer = export_answer(request, [table], basename=f"purchase-list-{timezone.localdate():%Y%m%d}")
            if answer is not None:
                return answer
        return render(
            request,
            "reports/reorder.html",
            {
                "form": form,
                "table": table,
                "lines": lines,
                "rows": [
                    (line, {column.key: value for column, value in cells})
                    for line, cells in zip(lines, table.display_rows(), strict=True)
                ],
                "options": options,
                "to_order": sum(1 for line in lines if line.suggested),
                "units": sum(line.suggested for line in lines),
                "run": latest_run(),
                "has_forecasts": SalesForecast.objects.exists(),
                "tab": "reorder",
                "tabs": TABS,
                "query": _query_without(request, "export", "table"),
            },
            status=400 if invalid else 200,
        )
