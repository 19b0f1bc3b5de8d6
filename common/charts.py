"""Server-rendered SVG charts (UI.md: simple SVG drawn on the server, the figures in a table beneath,
hover titles for values). No JavaScript: each chart is an ``<svg role="img">`` with a ``<title>`` and a
``<desc>`` for screen readers, axes with "nice" ticks, and a ``<title>`` on every bar and on an invisible
column per x position of a line chart, which browsers show on hover.

Colours and strokes come from CSS classes (``chart__series--0`` …) in static/css/oms.css: no inline style.

    line_chart(chart_id="sales", title="Revenue per day", labels=["1 Mar", ...],
               series=[Series(name="Revenue", values=[120.0, ...])], value_format=money)
    bar_chart(chart_id="channels", title="Revenue per channel", labels=["Web", "Shopify"],
              values=[1200.0, 800.0], horizontal=True)
"""

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.utils.formats import number_format
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

SERIES_CLASSES = 6  # chart__series--0 … --5 in oms.css; more series reuse the colours


@dataclass
class Series:
    name: str
    values: Sequence[float | None]
    # "" (solid line) or "dashed" (e.g. a forecast after the history); None values leave a gap.
    style: str = ""


@dataclass
class _Frame:
    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int

    @property
    def plot_w(self) -> float:
        return self.width - self.left - self.right

    @property
    def plot_h(self) -> float:
        return self.height - self.top - self.bottom


def default_format(value: float) -> str:
    if value is None:
        return "—"
    if float(value).is_integer():
        return number_format(int(value), use_l10n=True, force_grouping=True)
    return number_format(round(value, 2), decimal_pos=2, use_l10n=True, force_grouping=True)


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values (1, 2, 2.5, 5 × 10ⁿ) covering [low, high], starting at or below ``low``."""
    if high <= low:
        high = low + 1
    raw = (high - low) / max(count, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    ticks = [round(math.floor(low / step) * step, 10)]
    while ticks[-1] < high - step * 1e-9 and len(ticks) < 50:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def _axis_range(values: Sequence[float | None]) -> list[float]:
    present = [float(v) for v in values if v is not None]
    low = min([0.0, *present])
    high = max([0.0, *present])
    if high == low:
        high = low + 1
    return nice_ticks(low, high)


def _tick_label(value: float) -> str:
    """Axis labels: short (12k, 1.5M) so they fit the margin; exact values are in titles and tables."""
    for threshold, suffix in ((1_000_000, "M"), (1_000, "k")):
        if abs(value) >= threshold:
            scaled = value / threshold
            text = number_format(scaled, decimal_pos=0 if scaled.is_integer() else 1, use_l10n=True)
            return f"{text}{suffix}"
    return number_format(value, decimal_pos=0 if float(value).is_integer() else 1, use_l10n=True)


def _label_step(count: int, room: float, per_label: float) -> int:
    """Show every n-th x label so they do not overlap."""
    if count <= 0:
        return 1
    fits = max(1, int(room // per_label))
    return max(1, math.ceil(count / fits))


def _open(chart_id: str, frame: _Frame, title: str, description: str, css: str) -> list[str]:
    cid = escape(chart_id)
    return [
        f'<svg class="chart {css}" viewBox="0 0 {frame.width} {frame.height}" role="img" '
        f'aria-labelledby="{cid}-title {cid}-desc" xmlns="http://www.w3.org/2000/svg" '
        f'preserveAspectRatio="xMidYMid meet">',
        f'<title id="{cid}-title">{escape(title)}</title>',
        f'<desc id="{cid}-desc">{escape(description)}</desc>',
    ]


def _legend(series: Sequence[Series], frame: _Frame) -> list[str]:
    if len(series) < 2:
        return []
    parts = ['<g class="chart__legend" aria-hidden="true">']
    x = frame.left
    for index, s in enumerate(series):
        cls = f"chart__series--{index % SERIES_CLASSES}"
        dash = " chart__line--dashed" if s.style == "dashed" else ""
        parts.append(
            f'<line class="chart__line {cls}{dash}" x1="{x}" y1="10" x2="{x + 18}" y2="10"></line>'
            f'<text class="chart__legend-text" x="{x + 23}" y="14">{escape(s.name)}</text>'
        )
        x += 23 + 7 * len(s.name) + 18
    parts.append("</g>")
    return parts


def _y_axis(frame: _Frame, ticks: list[float], y_of: Callable[[float], float], unit: str) -> list[str]:
    parts = ['<g class="chart__axis chart__axis--y" aria-hidden="true">']
    for tick in ticks:
        y = y_of(tick)
        parts.append(
            f'<line class="chart__grid" x1="{frame.left}" x2="{frame.width - frame.right}" '
            f'y1="{y:.1f}" y2="{y:.1f}"></line>'
            f'<text class="chart__tick" x="{frame.left - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{escape(_tick_label(tick))}</text>"
        )
    if unit:
        parts.append(
            f'<text class="chart__unit" x="{frame.left - 6}" y="{frame.top - 8}" text-anchor="end">'
            f"{escape(unit)}</text>"
        )
    parts.append("</g>")
    return parts


def line_chart(
    *,
    chart_id: str,
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    description: str = "",
    value_format: Callable[[float], str] = default_format,
    unit: str = "",
    width: int = 960,
    height: int = 280,
) -> SafeString:
    """A line chart of one or more series over the same x labels (days, weeks, hours…)."""
    frame = _Frame(
        width=width, height=height, left=56, right=16, top=34 if len(series) > 1 else 22, bottom=36
    )
    all_values = [v for s in series for v in s.values]
    ticks = _axis_range(all_values)
    low, high = ticks[0], ticks[-1]
    count = len(labels)

    def x_of(index: int) -> float:
        if count == 1:
            return frame.left + frame.plot_w / 2
        return frame.left + frame.plot_w * index / (count - 1)

    def y_of(value: float) -> float:
        return frame.top + frame.plot_h * (1 - (float(value) - low) / (high - low))

    parts = _open(chart_id, frame, title, description, "chart--line")
    parts += _legend(series, frame)
    parts += _y_axis(frame, ticks, y_of, unit)
    baseline = y_of(max(low, 0))
    parts.append(
        f'<line class="chart__baseline" x1="{frame.left}" x2="{width - frame.right}" '
        f'y1="{baseline:.1f}" y2="{baseline:.1f}" aria-hidden="true"></line>'
    )
    step = _label_step(count, frame.plot_w, 64)
    parts.append('<g class="chart__axis chart__axis--x" aria-hidden="true">')
    for index, label in enumerate(labels):
        if index % step == 0:
            parts.append(
                f'<text class="chart__tick" x="{x_of(index):.1f}" y="{height - frame.bottom + 18}" '
                f'text-anchor="middle">{escape(label)}</text>'
            )
    parts.append("</g>")
    for number, s in enumerate(series):
        cls = f"chart__series--{number % SERIES_CLASSES}"
        dash = " chart__line--dashed" if s.style == "dashed" else ""
        segments: list[list[str]] = [[]]
        for index, value in enumerate(s.values):
            if value is None:
                segments.append([])
                continue
            segments[-1].append(f"{x_of(index):.1f},{y_of(value):.1f}")
        for points in segments:
            if len(points) > 1:
                parts.append(
                    f'<polyline class="chart__line {cls}{dash}" points="{" ".join(points)}"></polyline>'
                )
            elif len(points) == 1:
                x, y = points[0].split(",")
                parts.append(f'<circle class="chart__dot {cls}" cx="{x}" cy="{y}" r="3"></circle>')
    # One invisible column per x position, carrying every series' value in its hover title.
    column = frame.plot_w / max(count - 1, 1)
    parts.append('<g class="chart__hits">')
    for index, label in enumerate(labels):
        values = [
            f"{s.name}: {value_format(s.values[index])}"
            for s in series
            if index < len(s.values) and s.values[index] is not None
        ]
        if not values:
            continue
        x = x_of(index) - column / 2
        parts.append(
            f'<rect class="chart__hit" x="{max(x, frame.left - column / 2):.1f}" y="{frame.top}" '
            f'width="{column:.1f}" height="{frame.plot_h:.1f}">'
            f"<title>{escape(label)} — {escape('; '.join(values))}</title></rect>"
        )
    parts.append("</g></svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text above is escaped


def bar_chart(
    *,
    chart_id: str,
    title: str,
    labels: Sequence[str],
    values: Sequence[float],
    description: str = "",
    value_format: Callable[[float], str] = default_format,
    unit: str = "",
    horizontal: bool = False,
    width: int = 960,
    height: int | None = None,
) -> SafeString:
    """Bars, one per label: vertical for a time axis, horizontal for named categories (channels,
    products, carriers) whose names need room."""
    count = len(labels)
    if horizontal:
        return _horizontal_bars(
            chart_id=chart_id,
            title=title,
            labels=labels,
            values=values,
            description=description,
            value_format=value_format,
            width=width,
            height=height or max(80, 30 + 26 * count),
        )
    frame = _Frame(width=width, height=height or 260, left=56, right=16, top=22, bottom=36)
    ticks = _axis_range(values)
    low, high = ticks[0], ticks[-1]

    def y_of(value: float) -> float:
        return frame.top + frame.plot_h * (1 - (float(value) - low) / (high - low))

    parts = _open(chart_id, frame, title, description, "chart--bar")
    parts += _y_axis(frame, ticks, y_of, unit)
    slot = frame.plot_w / max(count, 1)
    bar_w = max(1.0, slot * 0.7)
    zero = y_of(max(low, 0))
    step = _label_step(count, frame.plot_w, 64)
    parts.append('<g class="chart__bars">')
    for index, (label, value) in enumerate(zip(labels, values, strict=True)):
        x = frame.left + slot * index + (slot - bar_w) / 2
        y = y_of(value or 0)
        top, bottom = min(y, zero), max(y, zero)
        parts.append(
            f'<rect class="chart__bar chart__series--0" x="{x:.1f}" y="{top:.1f}" width="{bar_w:.1f}" '
            f'height="{max(bottom - top, 0.5):.1f}"><title>{escape(label)}: {escape(value_format(value))}'
            "</title></rect>"
        )
        if index % step == 0:
            parts.append(
                f'<text class="chart__tick" x="{x + bar_w / 2:.1f}" y="{frame.height - frame.bottom + 18}" '
                f'text-anchor="middle" aria-hidden="true">{escape(label)}</text>'
            )
    parts.append("</g>")
    parts.append(
        f'<line class="chart__baseline" x1="{frame.left}" x2="{width - frame.right}" y1="{zero:.1f}" '
        f'y2="{zero:.1f}" aria-hidden="true"></line></svg>'
    )
    return mark_safe("".join(parts))  # noqa: S308 - every text above is escaped


def _horizontal_bars(*, chart_id, title, labels, values, description, value_format, width, height):
    longest = max((len(label) for label in labels), default=4)
    frame = _Frame(width=width, height=height, left=min(260, 12 + 7 * longest), right=90, top=8, bottom=22)
    ticks = _axis_range(values)
    low, high = ticks[0], ticks[-1]

    def x_of(value: float) -> float:
        return frame.left + frame.plot_w * (float(value) - low) / (high - low)

    parts = _open(chart_id, frame, title, description, "chart--hbar")
    parts.append('<g class="chart__axis chart__axis--x" aria-hidden="true">')
    for tick in ticks:
        x = x_of(tick)
        parts.append(
            f'<line class="chart__grid" x1="{x:.1f}" x2="{x:.1f}" y1="{frame.top}" '
            f'y2="{height - frame.bottom}"></line>'
            f'<text class="chart__tick" x="{x:.1f}" y="{height - 6}" text-anchor="middle">'
            f"{escape(_tick_label(tick))}</text>"
        )
    parts.append("</g>")
    slot = frame.plot_h / max(len(labels), 1)
    bar_h = min(18.0, slot * 0.7)
    zero = x_of(max(low, 0))
    parts.append('<g class="chart__bars">')
    for index, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = frame.top + slot * index + (slot - bar_h) / 2
        x = x_of(value or 0)
        left, right = min(x, zero), max(x, zero)
        shown = label if len(label) <= 36 else label[:35] + "…"
        parts.append(
            f'<text class="chart__label" x="{frame.left - 8}" y="{y + bar_h / 2 + 4:.1f}" text-anchor="end" '
            f'aria-hidden="true">{escape(shown)}</text>'
            f'<rect class="chart__bar chart__series--0" x="{left:.1f}" y="{y:.1f}" '
            f'width="{max(right - left, 0.5):.1f}" height="{bar_h:.1f}">'
            f"<title>{escape(label)}: {escape(value_format(value))}</title></rect>"
            f'<text class="chart__value" x="{right + 6:.1f}" y="{y + bar_h / 2 + 4:.1f}" aria-hidden="true">'
            f"{escape(value_format(value))}</text>"
        )
    parts.append("</g></svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text above is escaped
