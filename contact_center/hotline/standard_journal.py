"""The appeals journal in the standard's form (ch. 3 § 3, "регистрация жалобы в журнале в
соответствии с формой"): its eleven columns, in their order, with their Russian titles,
one row per appeal of the period (hotline calls and written appeals alike), as CSV for a
Russian Excel or XLSX (contact_center.spreadsheets).

How a call fills the form: column 3 and 4 from the customer base (the caller's account),
7 the operator who took it, 8 the day the operator gave the information (the answer on
the phone); a written appeal's from what was registered (`appeal add|assign|answer`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contact_center.customers.models import Customer
from contact_center.hotline.models import Appeal, AppealSource
from contact_center.operators.models import Operator
from contact_center.spreadsheets import (
    Column,
    ReportFile,
    Sheet,
    report_file,
    write_csv,
    write_xlsx,
)

SHEET = "Журнал жалоб и обращений"
# ch. 3 § 3, columns 1-11, titled as the standard's form titles them
STANDARD_COLUMNS: tuple[Column, ...] = (
    Column("№"),
    Column("Дата поступления жалобы", "date"),
    Column("Фамилия, имя, отчество заявителя (наименование предприятия)"),
    Column("Адрес"),
    Column("Краткое содержание жалобы"),
    Column("Классификация жалобы, обращения"),
    Column("Кому (куда) передано на исполнение"),
    Column("Дата предоставления ответа заявителю", "date"),
    Column("Дата отправки на исполнение жалобы, обращения", "date"),
    Column("Дата получения ответа заявителя", "date"),
    Column("Примечание"),
)
SOURCE_RU = {
    AppealSource.HOTLINE.value: "звонок на горячую линию",
    AppealSource.TRANSFER.value: "звонок автоинформатора, переведён оператору",
    AppealSource.OPERATOR_PHONE.value: "звонок оператора абоненту",
    AppealSource.CALLBACK.value: "обратный звонок оператора",
    AppealSource.EMAIL.value: "письменное, электронная почта",
    AppealSource.POST.value: "письменное, почта",
    AppealSource.VISIT.value: "письменное, личный приём",
}
MAX_DAYS = 366


def _day(value: datetime | None, tz: ZoneInfo) -> date | None:
    return value.astimezone(tz).date() if value else None


def standard_cells(
    a: Appeal,
    customer_name: str | None,
    customer_address: str | None,
    operator: str | None,
    tz: ZoneInfo,
) -> list[object]:
    """One appeal as the form's row (pure)."""
    written = a.kind == "written"
    if written:
        to = a.assigned_to
        replied = a.replied_at
    else:
        to = a.assigned_to or (f"оператор {operator}" if operator else "")
        replied = a.replied_at or a.info_done_at or a.operator_ended_at
    note = SOURCE_RU.get(a.source, a.source)
    if a.note:
        note = f"{note}; {a.note}"
    return [
        a.number,
        _day(a.arrived_at, tz),
        a.applicant_name or customer_name or "",
        a.applicant_address or customer_address or "",
        a.summary,
        a.classification or "",
        to,
        _day(replied, tz),
        _day(a.assigned_at, tz),
        _day(a.response_received_at, tz),
        note,
    ]


def render_standard_journal(rows: Sequence[Sequence[object]], fmt: str) -> bytes:
    if fmt == "csv":
        return write_csv(STANDARD_COLUMNS, rows)
    if fmt == "xlsx":
        return write_xlsx([Sheet(SHEET, STANDARD_COLUMNS, rows)])
    raise ValueError(f"формат журнала: csv или xlsx, а не {fmt!r}")


class StandardJournal:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], tz: ZoneInfo) -> None:
        self._sessions = sessions
        self._tz = tz

    async def rows(self, date_from: date, date_to: date) -> list[list[object]]:
        start = datetime.combine(date_from, time(0), tzinfo=self._tz)
        end = datetime.combine(date_to + timedelta(days=1), time(0), tzinfo=self._tz)
        async with self._sessions() as session:
            result = await session.execute(
                select(Appeal, Customer.name, Customer.address, Operator.name, Operator.code)
                .outerjoin(Customer, Customer.id == Appeal.customer_id)
                .outerjoin(Operator, Operator.id == Appeal.operator_id)
                .where(Appeal.arrived_at >= start, Appeal.arrived_at < end)
                .order_by(Appeal.arrived_at, Appeal.id)
            )
            return [
                standard_cells(a, name, address, op_name or op_code, self._tz)
                for a, name, address, op_name, op_code in result.all()
            ]

    async def file(self, date_from: date, date_to: date, fmt: str) -> ReportFile:
        """The period's journal as a file; a big workbook is written off the event loop."""
        if date_to < date_from:
            raise ValueError("дата «по» раньше даты «с»")
        if (date_to - date_from).days >= MAX_DAYS:
            raise ValueError(f"период не длиннее {MAX_DAYS} дней")
        rows = await self.rows(date_from, date_to)
        content = await asyncio.to_thread(render_standard_journal, rows, fmt)
        period = (
            date_from.isoformat()
            if date_from == date_to
            else f"{date_from.isoformat()}_{date_to.isoformat()}"
        )
        return report_file(f"журнал_обращений_{period}", fmt, content)
