"""Reading spreadsheets that people upload (CSV or XLSX) and reporting on a long import: shared by the order
files of the channels (channels/imports.py) and the catalogue import (inventory/imports.py).

``read_table`` gives the headers and every non-empty row with its line number in the file, so each problem
can be reported as "line 12: ..."; ``Problem`` is one such report; ``progress_set`` / ``progress_get`` keep
a running job's progress in the cache, where the page's progress bar polls it."""

import csv
import io
from dataclasses import dataclass
from decimal import Decimal

from django.utils.translation import gettext_lazy as _

from .cache import cache_delete, cache_get, cache_set

MAX_ROWS = 20_000


class ImportFileError(Exception):
    """The file cannot be read at all (format, encoding, missing columns)."""


@dataclass
class Problem:
    line: int
    code: str
    message: str

    def as_dict(self) -> dict:
        return {"line": self.line, "code": self.code, "message": self.message}


def cell_text(value) -> str:
    """A cell as text: numbers from a spreadsheet without a trailing ``.0``, surrounding spaces removed."""
    if value is None:
        return ""
    if isinstance(value, float):
        value = Decimal(str(value)).normalize()
        return format(value, "f")
    return str(value).strip()


def read_table(
    *, content: bytes, filename: str, max_rows: int = MAX_ROWS
) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Headers and (line number, cells) of a CSV (UTF-8 or Windows-1252, comma, semicolon or tab) or an
    XLSX file (first sheet)."""
    if filename.lower().endswith(".xlsx"):
        from openpyxl import load_workbook

        try:
            workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many kinds for a file that is not a workbook
            raise ImportFileError(str(_("This is not a readable XLSX file."))) from exc
        sheet = workbook.worksheets[0]
        rows = [
            (n, [cell_text(v) for v in r]) for n, r in enumerate(sheet.iter_rows(values_only=True), start=1)
        ]
        workbook.close()
    elif filename.lower().endswith((".csv", ".txt")):
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = content.decode("cp1252", errors="replace")
        sample = text[:4096]
        try:
            dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
        except csv.Error:
            dialect = csv.excel
        reader = csv.reader(io.StringIO(text), dialect)
        rows = []
        try:
            for cells in reader:
                rows.append((reader.line_num, [c.strip() for c in cells]))
        except csv.Error as exc:
            raise ImportFileError(
                str(_("Line %(line)s cannot be read: %(error)s")) % {"line": reader.line_num, "error": exc}
            ) from exc
    else:
        raise ImportFileError(str(_("Send a .csv or .xlsx file.")))
    rows = [(n, cells) for n, cells in rows if any(cells)]
    if not rows:
        raise ImportFileError(str(_("The file is empty.")))
    headers = [h.strip() for h in rows[0][1]]
    if len(rows) - 1 > max_rows:
        raise ImportFileError(str(_("At most %(max)s rows per file.")) % {"max": max_rows})
    return headers, rows[1:]


def progress_set(key: str, *, processed: int, total: int) -> None:
    """The progress bar's figures; lost without harm when the cache is down (the bar shows no count)."""
    cache_set(key, {"processed": processed, "total": total}, timeout=3600)


def progress_get(key: str) -> tuple[int, int] | None:
    value = cache_get(key)
    return (value["processed"], value["total"]) if value else None


def progress_clear(key: str) -> None:
    cache_delete(key)
