"""The server-rendered SVG charts: axes with round ticks, accessible names, hover titles, escaping."""

import re

from django.utils import translation

from common.charts import Series, bar_chart, line_chart, nice_ticks


def test_nice_ticks():
    assert nice_ticks(0, 87) == [0, 20, 40, 60, 80, 100]
    assert nice_ticks(0, 1) == [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert nice_ticks(0, 12500) == [0, 2500, 5000, 7500, 10000, 12500]
    assert nice_ticks(-30, 70)[0] == -40 and nice_ticks(-30, 70)[-1] >= 70


def test_line_chart_is_accessible_and_has_hover_titles():
    with translation.override("en"):
        svg = line_chart(
            chart_id="t",
            title="Revenue per day",
            description="The figures are in the table.",
            labels=["1 Mar", "2 Mar", "3 Mar"],
            series=[Series("Revenue", [10, 25.5, 40]), Series("Units", [1, 2, 3])],
        )
    assert svg.startswith('<svg class="chart chart--line"')
    assert 'role="img"' in svg and 'aria-labelledby="t-title t-desc"' in svg
    assert '<title id="t-title">Revenue per day</title>' in svg
    assert '<desc id="t-desc">The figures are in the table.</desc>' in svg
    assert svg.count("<polyline") == 2
    # One hover column per x value, with every series' value.
    assert "<title>2 Mar — Revenue: 25.50; Units: 2</title>" in svg
    # Round ticks on the y axis (0 to 40) and a legend for two series.
    ticks = re.findall(r'class="chart__tick"[^>]*text-anchor="end">([^<]+)<', svg)
    assert ticks == ["0", "10", "20", "30", "40"]
    assert "chart__legend" in svg


def test_line_chart_leaves_gaps_and_draws_dashed_series():
    svg = line_chart(
        chart_id="g",
        title="t",
        labels=["a", "b", "c", "d", "e"],
        series=[
            Series("History", [1, 2, None, None, None]),
            Series("Forecast", [None, 2, 3, 4, 5], style="dashed"),
        ],
    )
    assert svg.count("<polyline") == 2
    assert "chart__line--dashed" in svg
    assert "<title>e — Forecast: 5</title>" in svg


def test_labels_are_escaped():
    svg = bar_chart(
        chart_id="x", title="<b>", labels=['<script>alert("x")</script>'], values=[3], horizontal=True
    )
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg
    assert "<title>&lt;b&gt;</title>" in svg.replace(' id="x-title"', "")


def test_bar_charts_have_one_bar_and_title_per_value():
    svg = bar_chart(chart_id="b", title="Units", labels=["Mon", "Tue", "Wed"], values=[4, 0, 7])
    assert svg.count('class="chart__bar ') == 3
    assert "<title>Wed: 7</title>" in svg
    horizontal = bar_chart(
        chart_id="h",
        title="Channels",
        labels=["Web", "Shop"],
        values=[1200.5, 800],
        horizontal=True,
        value_format=lambda v: f"€{v:.2f}",
    )
    assert horizontal.count('class="chart__bar ') == 2
    assert "<title>Web: €1200.50</title>" in horizontal
    assert 'class="chart__label"' in horizontal


def test_empty_and_flat_series_still_draw_an_axis():
    svg = line_chart(chart_id="e", title="t", labels=["a"], series=[Series("s", [0])])
    assert "<svg" in svg and "chart__grid" in svg
