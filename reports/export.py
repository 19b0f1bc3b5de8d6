"""CSV and XLSX files of report tables (openpyxl). CSV: one table, comma-separated, dot decimals,
UTF-8 with a byte-order mark so spreadsheet programs read the accents; XLSX: one sheet per table, numbers
as numbers with their format, the header row bold and frozen."""

import csv
import datetime as dt
import io
from decimal import Decimal

from django.http import HttpResponse
from django.utils.text import slugify
from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from .tables import DATE, INT, MONEY, MONTH, NUMBER, PERCENT, Table, export_value

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
NUMBER_FORMATS = {
    MONEY: "#,##0.00",
    INT: "#,##0",
    NUMBER: "#,##0.00",
    PERCENT: "0.0",
    DATE: "yyyy-mm-dd",
    MONTH: "yyyy-mm",
}


def _header(table: Table) -> list[str]:
    return [f"{c.label} (%)" if c.kind == PERCENT else c.label for c in table.columns]


def _rows(table: Table):
    for row in table.rows:
        yield [export_value(row.get(c.key), c.kind) for c in table.columns]
    if table.footer:
        yield [export_value(table.footer.get(c.key), c.kind) for c in table.columns]


def csv_bytes(table: Table) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(_header(table))
    for row in _rows(table):
        writer.writerow(["" if v is None else (v.isoformat() if isinstance(v, dt.date) else v) for v in row])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def xlsx_bytes(tables: list[Table]) -> bytes:
    workbook = Workbook()
    workbook.remove(workbook.active)
    used = set()
    for table in tables:
        title = (table.title or table.name)[:31]
        for ch in "[]:*?/\\":
            title = title.replace(ch, " ")
        while title in used:
            title = title[:28] + f" {len(used)}"
        used.add(title)
        sheet = workbook.create_sheet(title=title)
        sheet.append(_header(table))
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        sheet.freeze_panes = "A2"
        for values in _rows(table):
            sheet.append([float(v) if isinstance(v, Decimal) else v for v in values])
        for index, column in enumerate(table.columns, start=1):
            letter = get_column_letter(index)
            fmt = NUMBER_FORMATS.get(column.kind)
            if fmt:
                for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
                    cell.number_format = fmt
            width = max(
                [len(_header(table)[index - 1])]
                + [
                    len(str(c.value or ""))
                    for (c,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index, max_row=200)
                ]
            )
            sheet.column_dimensions[letter].width = min(max(width + 2, 8), 60)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def response(*, content: bytes, filename: str, content_type: str) -> HttpResponse:
    answer = HttpResponse(content, content_type=content_type)
    answer["Content-Disposition"] = f'attachment; filename="{filename}"'
    return answer


def csv_response(table: Table, *, basename: str) -> HttpResponse:
    return response(
        content=csv_bytes(table),
        filename=f"{slugify(basename)}-{table.name}.csv",
        content_type="text/csv; charset=utf-8",
    )


def xlsx_response(tables: list[Table], *, basename: str) -> HttpResponse:
    return response(content=xlsx_bytes(tables), filename=f"{slugify(basename)}.xlsx", content_type=XLSX_TYPE)
