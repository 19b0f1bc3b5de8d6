"""A report's table: columns with a kind (how a value is shown and exported) and rows of raw values.
The same table is rendered under its chart (templates/reports/_table.html) and exported to CSV / XLSX
(export.py), so the page and the files always carry the same figures."""

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils.formats import date_format, number_format

from common.templatetags.oms_tags import money

TEXT, INT, MONEY, NUMBER, PERCENT, DATE, MONTH = "text", "int", "money", "number", "percent", "date", "month"


@dataclass
class Column:
    key: str
    label: str
    kind: str = TEXT

    @property
    def numeric(self) -> bool:
        return self.kind in (INT, MONEY, NUMBER, PERCENT)


@dataclass
class Table:
    name: str  # slug: the ``table`` parameter of the export links, the XLSX sheet
    title: str
    columns: list[Column]
    rows: list[dict]
    footer: dict | None = None  # totals, same keys as the rows
    empty_text: str = ""
    extra: dict = field(default_factory=dict)

    def cells(self, row: dict) -> list[tuple[Column, str]]:
        return [(column, display(row.get(column.key), column.kind)) for column in self.columns]

    def display_rows(self):
        return [self.cells(row) for row in self.rows]

    def display_footer(self):
        return self.cells(self.footer) if self.footer else None


def display(value, kind: str) -> str:
    """A value as the page shows it (localised)."""
    if value is None or value == "":
        return "—"
    if kind == MONEY:
        return money(value)
    if kind == INT:
        return number_format(int(value), use_l10n=True, force_grouping=True)
    if kind == NUMBER:
        return number_format(round(float(value), 1), decimal_pos=1, use_l10n=True, force_grouping=True)
    if kind == PERCENT:
        return f"{number_format(round(float(value) * 100, 1), decimal_pos=1, use_l10n=True)}\u00a0%"
    if kind == DATE and isinstance(value, dt.date):
        return date_format(value, "SHORT_DATE_FORMAT")
    if kind == MONTH and isinstance(value, dt.date):
        return date_format(value, "YEAR_MONTH_FORMAT")
    return str(value)


def export_value(value, kind: str):
    """A value as files carry it: numbers as numbers (percent as a percentage, 87.5), dates ISO."""
    if value is None or value == "":
        return None
    if kind == MONEY:
        return Decimal(value).quantize(Decimal("0.01"))
    if kind == INT:
        return int(value)
    if kind == NUMBER:
        return round(float(value), 2)
    if kind == PERCENT:
        return round(float(value) * 100, 1)
    if kind in (DATE, MONTH) and isinstance(value, dt.date):
        return value
    return str(value)
