"""Report files for a Russian office: literal CSV bytes, XLSX read back with openpyxl."""

from __future__ import annotations

import io
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from openpyxl.worksheet.worksheet import Worksheet

from contact_center.spreadsheets import (
    Column,
    Share,
    Sheet,
    phone_text,
    report_file,
    write_csv,
    write_xlsx,
)

COLUMNS = (
    Column("Телефон", "phone"),
    Column("Лицевой счёт"),
    Column("Долг, ₽", "decimal"),
    Column("Ожидание, с", "decimal", 1),
    Column("Попыток", "int"),
    Column("В нормативе", "share"),
    Column("Оповещён", "bool"),
    Column("День", "date"),
    Column("Звонок", "datetime"),
    Column("Значение", "auto"),
)
ROWS = [
    [
        "79131234567",
        "240001",
        1500.5,
        12.25,
        3,
        0.6667,
        True,
        date(2026, 12, 1),
        datetime(2026, 12, 1, 9, 5),
        Share(0.4),
    ],
    ["", '=HYPERLINK("x")', Decimal("-7"), None, 0, 1.0, False, None, None, "a;b"],
]


def test_the_csv_is_what_excel_in_a_russian_locale_opens_into_columns() -> None:
    assert write_csv(COLUMNS, ROWS) == (
        b"\xef\xbb\xbf"  # UTF-8 BOM: without it Excel reads cp1251
        + "Телефон;Лицевой счёт;Долг, ₽;Ожидание, с;Попыток;В нормативе;Оповещён;День;"
        "Звонок;Значение\r\n"
        "7 (913) 123-45-67;240001;1500,50;12,2;3;66,67%;да;01.12.2026;01.12.2026 09:05;40%\r\n"
        ';"\'=HYPERLINK(""x"")";-7,00;;0;100%;нет;;;"a;b"\r\n'.encode()
    )


def test_csv_numbers_never_take_an_exponent() -> None:
    columns = (Column("a", "decimal", 7), Column("b", "decimal", 0), Column("c", "auto"))
    data = write_csv(columns, [[1e-7, 1e16, 2.5]]).decode("utf-8-sig")
    assert data.split("\r\n")[1] == "0,0000001;10000000000000000;2,50"


@pytest.mark.parametrize(
    ("digits", "shown"),
    [
        ("79131234567", "7 (913) 123-45-67"),
        ("375291234567", "375 (29) 123-45-67"),
        ("4930123456", "49 (30) 123456"),
        ("99999", "№ 99999"),
        ("+79131234567", "'+79131234567"),
        ("=1+1", "'=1+1"),
    ],
)
def test_a_phone_is_text_no_spreadsheet_turns_into_a_number_or_runs(
    digits: str, shown: str
) -> None:
    assert phone_text(digits) == shown


def _sheet(data: bytes, title: str) -> Worksheet:
    ws = openpyxl.load_workbook(io.BytesIO(data))[title]
    assert isinstance(ws, Worksheet)
    return ws


def test_xlsx_cells_are_typed_and_the_header_is_bold_and_frozen() -> None:
    data = write_xlsx([Sheet("Абоненты", COLUMNS, ROWS)])
    ws = _sheet(data, "Абоненты")
    assert [c.value for c in ws[1]] == [c.title for c in COLUMNS]
    assert all(c.font.b for c in ws[1])
    assert ws.freeze_panes == "A2"
    assert [c.value for c in ws[2]] == [
        "79131234567",  # the digits as dialled, in a string cell
        "240001",
        1500.5,
        12.25,
        3,
        0.6667,
        "да",
        datetime(2026, 12, 1),
        datetime(2026, 12, 1, 9, 5),
        0.4,
    ]
    assert [c.data_type for c in ws[2]][:2] == ["s", "s"]
    formats = [c.number_format for c in ws[2]]
    assert formats[2:6] == ["#,##0.00", "#,##0.0", "0", "0.00%"]
    assert formats[7:] == ["DD.MM.YYYY", "DD.MM.YYYY HH:MM", "0.00%"]
    # a formula-looking text is a string cell (never run), marked as Excel marks a typed "'="
    link = ws["B3"]
    assert (link.value, link.data_type, link.quotePrefix) == ('=HYPERLINK("x")', "s", True)
    assert [c.value for c in ws[3]][2:] == [-7, None, 0, 1, "нет", None, None, "a;b"]
    assert ws.column_dimensions["A"].width == len("7 (913) 123-45-67") + 2
    assert ws.column_dimensions["C"].width == len("Долг, ₽") + 2


def test_xlsx_sheet_names_are_what_excel_accepts_and_bad_characters_do_not_break_it() -> None:
    one = (Column("Ответ сервера"),)
    data = write_xlsx(
        [
            Sheet("Итоги: за 01/12 [все]", one, [["451\x00 later\x1b"]]),
            Sheet("итоги  за 01 12  все ", one, [["я" * 500]]),
            Sheet("Очень длинное название листа больше 31 символа", one, []),
        ]
    )
    book = openpyxl.load_workbook(io.BytesIO(data))
    assert book.sheetnames == [
        "Итоги  за 01 12  все",
        "итоги  за 01 12  все (2)",
        "Очень длинное название листа бо",
    ]
    assert book["Итоги  за 01 12  все"]["A2"].value == "451\ufffd later\ufffd"
    assert book["итоги  за 01 12  все (2)"].column_dimensions["A"].width == 60


def test_an_aware_datetime_is_written_as_the_wall_time_it_carries() -> None:
    krs = datetime(2026, 12, 1, 9, 0, tzinfo=ZoneInfo("Asia/Krasnoyarsk"))
    data = write_xlsx([Sheet("Л", (Column("Когда", "datetime"),), [[krs]])])
    assert _sheet(data, "Л")["A2"].value == datetime(2026, 12, 1, 9, 0)


def test_a_report_file_is_named_and_typed_for_a_download() -> None:
    file = report_file("campaign-7-report", "xlsx", b"PK")
    assert file.filename == "campaign-7-report.xlsx"
    assert file.content_type.startswith("application/vnd.openxmlformats")
    assert report_file("x", "text", b"").filename == "x.txt"
