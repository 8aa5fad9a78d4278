"""The appeals journal as a file a Russian office opens directly (CSV or XLSX through
contact_center.spreadsheets): one row per appeal, Russian headers, phones as text."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from contact_center.spreadsheets import (
    Column,
    ReportFile,
    Sheet,
    report_file,
    write_csv,
    write_xlsx,
)

SHEET = "Журнал обращений"
COLUMNS: tuple[tuple[str, Column], ...] = (
    ("number", Column("Рег. номер")),
    ("arrived_at", Column("Поступило", "datetime")),
    ("caller", Column("Телефон", "phone")),
    ("account", Column("Лицевой счёт")),
    ("name", Column("Потребитель")),
    ("address", Column("Адрес")),
    ("status_ru", Column("Итог")),
    ("operator", Column("Оператор")),
    ("classification", Column("Класс")),
    ("summary", Column("Содержание")),
    ("wait_s", Column("Ожидание, с", "decimal", 1)),
    ("talk_s", Column("Разговор, с", "decimal", 1)),
    ("lookup_s", Column("Поиск информации, с", "decimal", 1)),
    ("info_s", Column("Предоставление информации, с", "decimal", 1)),
    ("wrapup_s", Column("Постобработка, с", "decimal", 1)),
    ("ended_by_ru", Column("Кто завершил")),
    ("due_date", Column("Срок по сообщению", "date")),
)


def journal_cells(row: dict[str, Any]) -> list[object]:
    cells: list[object] = []
    for key, column in COLUMNS:
        value = row.get(key)
        if key == "caller" and isinstance(value, str):
            # spreadsheets.phone_text wants the digits of the E.164 number
            value = value.lstrip("+") if value.lstrip("+").isdigit() else value
        elif column.kind == "datetime" and isinstance(value, str):
            value = datetime.fromisoformat(value)
        elif column.kind == "date" and isinstance(value, str):
            value = date.fromisoformat(value)
        cells.append(value)
    return cells


def render_journal(rows: Sequence[dict[str, Any]], fmt: str) -> bytes:
    columns = [column for _, column in COLUMNS]
    cells = [journal_cells(row) for row in rows]
    if fmt == "csv":
        return write_csv(columns, cells)
    return write_xlsx([Sheet(SHEET, columns, cells)])


async def journal_file(
    rows: Sequence[dict[str, Any]], fmt: str, date_from: date, date_to: date
) -> ReportFile:
    """The file to download; a big workbook is written off the event loop."""
    content = await asyncio.to_thread(render_journal, rows, fmt)
    period = (
        date_from.isoformat()
        if date_from == date_to
        else f"{date_from.isoformat()}_{date_to.isoformat()}"
    )
    return report_file(f"обращения_{period}", fmt, content)
