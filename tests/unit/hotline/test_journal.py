"""The appeals journal: its filters (checked, with the field to fix) and the query behind
them on a real SQLite database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from contact_center.hotline.appeals import AppealService
from contact_center.hotline.journal import (
    AppealJournal,
    JournalFilter,
    JournalFilterError,
    appeal_status,
    parse_filter,
)
from contact_center.hotline.journal_file import render_journal
from contact_center.operators.models import Operator
from contact_center.storage import migrate
from contact_center.storage.database import create_engine, session_factory
from tests.conftest import NewDatabase

TZ = ZoneInfo("Asia/Krasnoyarsk")
TODAY = date(2026, 12, 2)


def test_defaults_are_today() -> None:
    flt = parse_filter({}, TODAY)
    assert (flt.date_from, flt.date_to, flt.limit, flt.offset) == (TODAY, TODAY, 100, 0)


def test_from_alone_runs_to_today_and_russian_dates_are_read() -> None:
    flt = parse_filter({"from": "25.11.2026"}, TODAY)
    assert (flt.date_from, flt.date_to) == (date(2026, 11, 25), TODAY)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"from": "2026-13-01"}, "from"),
        ({"to": "вчера"}, "to"),
        ({"from": "2026-12-02", "to": "2026-12-01"}, "to"),
        ({"from": "2025-01-01", "to": "2026-12-01"}, "to"),
        ({"class": "XX"}, "class"),
        ({"status": "lost"}, "status"),
        ({"limit": "0"}, "limit"),
        ({"limit": "abc"}, "limit"),
        ({"limit": "5000"}, "limit"),
        ({"offset": "-1"}, "offset"),
        ({"operator": "x" * 65}, "operator"),
    ],
)
def test_bad_filters_name_their_field(query: dict[str, str], field: str) -> None:
    with pytest.raises(JournalFilterError) as caught:
        parse_filter(query, TODAY)
    assert caught.value.field == field and str(caught.value)


def test_class_is_read_in_any_case() -> None:
    assert parse_filter({"class": "кэ"}, TODAY).classification == "КЭ"


def test_status_precedence() -> None:
    assert appeal_status(abandoned=True, answered=True, kind="call", ended=True) == "abandoned"
    assert appeal_status(abandoned=False, answered=True, kind="call", ended=False) == "answered"
    assert appeal_status(abandoned=False, answered=False, kind="message", ended=True) == "message"
    assert appeal_status(abandoned=False, answered=False, kind="call", ended=True) == "self_service"
    assert appeal_status(abandoned=False, answered=False, kind="call", ended=False) == "in_progress"


@pytest.fixture
async def journal(
    tmp_path: Path, new_database: NewDatabase
) -> AsyncIterator[tuple[AppealJournal, AppealService]]:
    url = new_database("j")
    await asyncio.to_thread(migrate.upgrade, url)
    engine = create_engine(url)
    sessions = session_factory(engine)
    appeals = AppealService(sessions, TZ)
    async with sessions.begin() as s:
        s.add(Operator(code="101", interface="PJSIP/op101", state="available"))
    start = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)  # 10:00 local
    # 1 answered by 101 (КЭ), 2 abandoned, 3 self-service, 4 message, 5 yesterday answered
    for i, (when, kind) in enumerate(
        [(start, "answered"), (start + timedelta(minutes=1), "abandoned"),
         (start + timedelta(minutes=2), "self"), (start + timedelta(minutes=3), "message"),
         (start - timedelta(days=1), "answered")],
        start=1,
    ):  # fmt: skip
        ref = await appeals.register(uniqueid=f"u{i}", channel="c", caller_number="+79135550101",
                                     customer_id=None, arrived_at=when)  # fmt: skip
        if kind == "answered":
            await appeals.set(ref.id, operator_answered_at=when, operator_id=1, wait_s=12.5,
                              classification="КЭ", ended_at=when)  # fmt: skip
        elif kind == "abandoned":
            await appeals.set(ref.id, abandoned=True, wait_s=50.0, ended_at=when)
        elif kind == "self":
            await appeals.set(ref.id, ended_at=when)
        else:
            await appeals.set(ref.id, kind="message", ended_at=when)
    try:
        yield AppealJournal(sessions, TZ), appeals
    finally:
        await engine.dispose()


async def numbers(j: AppealJournal, **kw: object) -> list[str]:
    flt = JournalFilter(**{"date_from": TODAY, "date_to": TODAY, **kw})  # type: ignore[arg-type]
    return [r["number"][-9:-3] for r in (await j.page(flt)).rows]


async def test_journal_filters(journal: tuple[AppealJournal, AppealService]) -> None:
    j, _ = journal
    assert await numbers(j) == ["000001", "000002", "000003", "000004"]
    assert await numbers(j, status="abandoned") == ["000002"]
    assert await numbers(j, status="message") == ["000004"]
    assert await numbers(j, status="self_service") == ["000003"]
    assert await numbers(j, classification="КЭ") == ["000001"]
    assert await numbers(j, operator="101") == ["000001"]
    assert await numbers(j, operator="999") == []
    assert await numbers(j, date_from=date(2026, 12, 1), date_to=date(2026, 12, 1)) == ["000005"]
    page = await j.page(JournalFilter(TODAY, TODAY, limit=2, offset=1))
    assert page.total == 4 and [r["number"][-9:-3] for r in page.rows] == ["000002", "000003"]
    row = (await j.page(JournalFilter(TODAY, TODAY, status="answered"))).rows[0]
    assert row["arrived_at"] == "2026-12-02T10:00:00+07:00"
    assert (row["status_ru"], row["operator"], row["wait_s"]) == ("ответил оператор", "101", 12.5)


async def test_journal_export_is_a_russian_office_csv(
    journal: tuple[AppealJournal, AppealService],
) -> None:
    j, _ = journal
    rows = (await j.page(JournalFilter(TODAY, TODAY))).rows
    data = render_journal(rows, "csv")
    assert data.startswith(b"\xef\xbb\xbf")
    lines = data.decode("utf-8-sig").split("\r\n")
    assert lines[0].startswith("Рег. номер;Поступило;Телефон;")
    first = lines[1].split(";")
    assert first[1] == "02.12.2026 10:00"
    assert first[2] == "7 (913) 555-01-01"  # text, never 7,91E+10
    assert "12,5" in first
    assert len([line for line in lines if line]) == 1 + 4  # rows only, no totals
