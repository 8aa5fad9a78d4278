"""Report files a Russian office opens directly: CSV for Excel in a Russian locale and XLSX.

Every report a user downloads or the CLI writes goes through here, so they all follow the same
rules (DESIGN.md, "Russian office spreadsheets"):

- CSV: UTF-8 with a BOM (without it Excel reads cp1251), `;` between cells (the Russian list
  separator: with `,` everything lands in one column), a decimal comma, CRLF line ends
  (RFC 4180), Russian headers, rows only. Totals are never appended under the rows: a
  spreadsheet would sort, filter and sum them as rows; they go in the XLSX sheet «Итоги» and
  the JSON instead.
- XLSX: typed cells (phones and accounts as text, amounts as numbers with a number format,
  dates as dates), a bold frozen header row, sane column widths, Russian sheet names.
- In both, text that would start a formula is shown as text, never run.

Pure: bytes in memory, no I/O. Writing a big XLSX takes CPU: call it off the event loop.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import TYPE_CHECKING, Literal

import phonenumbers

if TYPE_CHECKING:
    # openpyxl is imported when a workbook is written: `serve` (restarted while customers
    # wait on the line) and most commands never write one
    from openpyxl.cell import Cell
    from openpyxl.worksheet._write_only import WriteOnlyWorksheet

# text: a string as it is; phone: E.164 digits (text, never a number); int; decimal: a
# number shown with `decimals` places (amounts, seconds); share: a fraction shown as a
# percentage; bool: да/нет; date; datetime (local wall time); auto: by the value's type
Kind = Literal["text", "phone", "int", "decimal", "share", "bool", "date", "datetime", "auto"]

FORMATS = ("csv", "json", "xlsx", "text")
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "json": "application/json; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "text": "text/plain; charset=utf-8",
}
EXTENSIONS = {"csv": "csv", "json": "json", "xlsx": "xlsx", "text": "txt"}

# a text cell starting with one of these is run as a formula by Excel and LibreOffice
# (DESIGN.md, "Russian office spreadsheets"): =HYPERLINK(...) in an account or a server reply
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

XLSX_FORMATS = {
    "int": "0",
    "share": "0.00%",
    "date": "DD.MM.YYYY",
    "datetime": "DD.MM.YYYY HH:MM",
}
_MIN_WIDTH, _MAX_WIDTH = 6, 60
_SHEET_TITLE_BAD = re.compile(r"[\[\]:*?/\\]")
# openpyxl's ILLEGAL_CHARACTERS_RE (openpyxl.cell.cell), here so it is not imported for it
_ILLEGAL_CHARACTERS = re.compile(r"[\000-\010]|[\013-\014]|[\016-\037]")


@dataclass(frozen=True, slots=True)
class Share:
    """A fraction (0.4) shown as a percentage (40 %) in an `auto` column."""

    fraction: float


@dataclass(frozen=True, slots=True)
class Column:
    title: str
    kind: Kind = "text"
    # decimal places shown for `decimal` (2 for money, 1 for seconds)
    decimals: int = 2


@dataclass(frozen=True, slots=True)
class Sheet:
    title: str
    columns: Sequence[Column]
    rows: Sequence[Sequence[object]]


@dataclass(frozen=True, slots=True)
class ReportFile:
    """A report ready to download or write: what the web sends and the CLI saves."""

    content: bytes
    content_type: str
    filename: str


def report_file(stem: str, fmt: str, content: bytes) -> ReportFile:
    return ReportFile(content, CONTENT_TYPES[fmt], f"{stem}.{EXTENSIONS[fmt]}")


def render_report(
    stem: str,
    fmt: str,
    *,
    csv: Callable[[], bytes],
    xlsx: Callable[[], bytes],
    json: Callable[[], str],
    text: Callable[[], str],
) -> ReportFile:
    """One report in the format asked for (checked by the caller): only that one is built."""
    if fmt == "csv":
        content = csv()
    elif fmt == "xlsx":
        content = xlsx()
    else:
        content = ((json() if fmt == "json" else text()) + "\n").encode("utf-8")
    return report_file(stem, fmt, content)


def spreadsheet_cell(value: object) -> object:
    """`value` safe for a CSV: text that would start a formula gets a leading "'" (the
    convention Excel and LibreOffice know; OWASP "CSV injection"). Numbers stay numbers, a
    negative one too: a spreadsheet reads "-3" as minus three and runs nothing."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def phone_text(digits: str) -> str:
    """A phone as text no spreadsheet turns into a number or runs: `7 (913) 123-45-67`.

    Bare digits become `7,99E+10` in Excel; `="7913..."` is a formula (and formula-looking
    cells are escaped here); a leading `+` starts a formula too, and the `'` that escapes it
    stays visible when Excel opens a CSV; a leading apostrophe alone shows the same way. The
    Russian grouping with the area code in brackets is what an office writes by hand, is
    neither a number nor a date to Excel or LibreOffice, and starts with a digit, so it needs
    no escaping. Other countries' numbers: the same shape, `375 (29) 123-45-67`."""
    if not digits.isdigit():
        return str(spreadsheet_cell(digits))
    if len(digits) == 11 and digits[0] == "7":
        return f"7 ({digits[1:4]}) {digits[4:7]}-{digits[7:9]}-{digits[9:]}"
    try:
        parsed = phonenumbers.parse("+" + digits)
    except phonenumbers.NumberParseException:
        parsed = None
    if parsed is not None:
        groups = (
            phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
            .lstrip("+")
            .split(" ")
        )
        if len(groups) > 1:
            return " ".join([groups[0], f"({groups[1]})", *groups[2:]])
    # no country's number (not expected: lists keep valid numbers only); "(...)" alone would
    # be a negative number and "1-2020" a date: a sign in front keeps it text
    return f"№ {digits}"


# ------------------------------------------------------------------------------------- CSV


def write_csv(columns: Sequence[Column], rows: Sequence[Sequence[object]]) -> bytes:
    """Rows under a header for Excel in a Russian locale (module docstring); no totals."""
    out = io.StringIO()
    # CRLF also makes the writer quote a cell holding a bare CR: unquoted, a spreadsheet
    # would start a new row there, with the rest of the cell, formula and all, as its first
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow([spreadsheet_cell(c.title) for c in columns])
    for row in rows:
        writer.writerow(
            [_csv_cell(value, column) for value, column in zip(row, columns, strict=True)]
        )
    return out.getvalue().encode("utf-8-sig")


def _csv_cell(value: object, column: Column) -> str:
    if value is None or value == "":
        return ""
    kind = _kind_of(value) if column.kind == "auto" else column.kind
    if isinstance(value, Share):
        value = value.fraction
    if kind == "phone":
        return phone_text(str(value))
    if kind == "bool":
        return "да" if value else "нет"
    if kind == "int" and isinstance(value, int):
        return str(value)
    if kind == "decimal" and isinstance(value, int | float | Decimal):
        return _comma(_decimal(value).quantize(Decimal(1).scaleb(-column.decimals)))
    if kind == "share" and isinstance(value, int | float | Decimal):
        return _comma((_decimal(value) * 100).normalize()) + "%"
    if kind == "datetime" and isinstance(value, datetime):
        return f"{value:%d.%m.%Y %H:%M}"
    if kind == "date" and isinstance(value, date):
        return f"{value:%d.%m.%Y}"
    return str(spreadsheet_cell(str(value)))


def _decimal(value: int | float | Decimal) -> Decimal:
    # repr: the shortest text that is this float (0.1, not 0.1000000000000000055...)
    return value if isinstance(value, Decimal) else Decimal(repr(value))


def _comma(value: Decimal) -> str:
    # "f": never an exponent (1E+2 or 1E-7 would be text to a spreadsheet)
    return format(value, "f").replace(".", ",")


def _kind_of(value: object) -> Kind:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float | Decimal):
        return "decimal"
    if isinstance(value, Share):
        return "share"
    if isinstance(value, datetime):
        return "datetime"
    if isinstance(value, date):
        return "date"
    return "text"


# ------------------------------------------------------------------------------------ XLSX


def write_xlsx(sheets: Sequence[Sheet]) -> bytes:
    """A workbook with one sheet per `Sheet`, in order (module docstring)."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    titles: set[str] = set()
    for sheet in sheets:
        title = _sheet_title(sheet.title, titles)
        titles.add(title.casefold())
        _write_sheet(workbook.create_sheet(title), sheet)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _write_sheet(ws: WriteOnlyWorksheet, sheet: Sheet) -> None:
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    # write-only: a 100,000-row campaign is streamed, not held as a million cell objects;
    # widths and the frozen header must be set before the first row
    for index, width in enumerate(_widths(sheet), start=1):
        # (the stubs leave column_dimensions out of write-only sheets; openpyxl has it)
        ws.column_dimensions[get_column_letter(index)].width = width  # type: ignore[attr-defined]
    ws.freeze_panes = "A2"
    bold = Font(bold=True)
    header = []
    for column in sheet.columns:
        cell = WriteOnlyCell(ws, value=_clean(column.title))
        cell.font = bold
        header.append(cell)
    ws.append(header)
    for row in sheet.rows:
        ws.append(
            [
                _xlsx_cell(ws, value, column, WriteOnlyCell)
                for value, column in zip(row, sheet.columns, strict=True)
            ]
        )


def _xlsx_cell(
    ws: WriteOnlyWorksheet, value: object, column: Column, WriteOnlyCell: Callable[..., Cell]
) -> Cell:
    kind = _kind_of(value) if column.kind == "auto" else column.kind
    if isinstance(value, Share):
        value = value.fraction
    if value is None or value == "":
        return WriteOnlyCell(ws, value=None)
    if kind == "bool":
        return WriteOnlyCell(ws, value="да" if value else "нет")
    if kind in ("int", "decimal", "share") and isinstance(value, int | float | Decimal):
        # a Decimal is a double in the workbook anyway
        cell = WriteOnlyCell(ws, value=float(value) if isinstance(value, Decimal) else value)
        cell.number_format = (
            XLSX_FORMATS[kind] if kind != "decimal" else _decimal_format(column.decimals)
        )
        return cell
    if kind in ("date", "datetime") and isinstance(value, date):
        # Excel has no time zones: callers pass local wall time, which is what is shown
        # (a date is a datetime at midnight to Excel)
        when = (
            value.replace(tzinfo=None)
            if isinstance(value, datetime)
            else datetime.combine(value, time())
        )
        cell = WriteOnlyCell(ws, value=when)
        cell.number_format = XLSX_FORMATS["datetime" if isinstance(value, datetime) else "date"]
        return cell
    # text (phones and accounts too: a string cell, never a number, digits as they are)
    text = _clean(str(value))
    cell = WriteOnlyCell(ws, value=text)
    # openpyxl would store "=..." as a formula: a string cell is never run; quotePrefix is
    # what Excel itself sets for a typed "'=...", so editing the cell keeps it text
    cell.data_type = "s"
    if text.startswith(FORMULA_START):
        cell.quotePrefix = True
    return cell


def _decimal_format(decimals: int) -> str:
    return "#,##0" + ("." + "0" * decimals if decimals > 0 else "")


def _clean(text: str) -> str:
    # control characters XML cannot hold (tab, LF and CR it can): a mail server's reply
    # with one must not make the whole workbook fail
    return _ILLEGAL_CHARACTERS.sub("\ufffd", text)


def _widths(sheet: Sheet) -> list[float]:
    widths = []
    for index, column in enumerate(sheet.columns):
        longest = max(
            [len(column.title)] + [len(_csv_cell(row[index], column)) for row in sheet.rows[:1000]]
        )
        widths.append(float(min(max(longest + 2, _MIN_WIDTH), _MAX_WIDTH)))
    return widths


def _sheet_title(title: str, taken: set[str]) -> str:
    # Excel: at most 31 characters, none of []:*?/\, unique regardless of case
    base = _SHEET_TITLE_BAD.sub(" ", title).strip()[:31] or "Лист"
    name, n = base, 1
    while name.casefold() in taken:
        n += 1
        suffix = f" ({n})"
        name = base[: 31 - len(suffix)] + suffix
    return name
