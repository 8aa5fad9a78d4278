"""Opening hours on the Russian production calendar, with the override file."""

from __future__ import annotations

import os
from datetime import date, datetime, time
from pathlib import Path

import pytest

from contact_center import calendar as calendar_module
from contact_center.calendar import (
    ProductionCalendar,
    ReloadingCalendar,
    WorkCalendar,
    WorkingDays,
    parse_hours,
    parse_overrides,
)
from contact_center.hotline.exceptions import CalendarError

CAL = WorkCalendar.from_text("08:00-17:00")


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2026, 11, 25), True),  # Wednesday
        (date(2026, 11, 28), False),  # Saturday
        (date(2026, 11, 4), False),  # Unity Day
        (date(2026, 1, 9), False),  # a transferred day off (from 3 January)
        (date(2026, 12, 31), False),  # transferred day off
        (date(2027, 2, 20), True),  # a working Saturday (transfer)
        (date(2027, 2, 22), False),  # the day off it was transferred to
        (date(2027, 11, 5), False),
        (date(2026, 3, 9), False),  # 8 March fell on a Sunday
        (date(2026, 5, 12), True),
    ],
)
def test_production_calendar(day: date, working: bool) -> None:
    assert CAL.is_working_day(day) is working


@pytest.mark.parametrize(
    ("moment", "is_open", "opens"),
    [
        (datetime(2026, 11, 25, 7, 59), False, datetime(2026, 11, 25, 8, 0)),
        (datetime(2026, 11, 25, 8, 0), True, datetime(2026, 11, 26, 8, 0)),
        (datetime(2026, 11, 25, 16, 59), True, datetime(2026, 11, 26, 8, 0)),
        (datetime(2026, 11, 25, 17, 0), False, datetime(2026, 11, 26, 8, 0)),
        (datetime(2026, 11, 27, 18, 0), False, datetime(2026, 11, 30, 8, 0)),  # Fri -> Mon
        (datetime(2026, 11, 28, 12, 0), False, datetime(2026, 11, 30, 8, 0)),  # Sat -> Mon
        (datetime(2026, 12, 30, 17, 30), False, datetime(2027, 1, 11, 8, 0)),  # New Year
        (datetime(2026, 11, 3, 16, 30), False, datetime(2026, 11, 5, 8, 0)),  # pre-holiday
        (datetime(2026, 11, 3, 15, 59), True, datetime(2026, 11, 5, 8, 0)),
    ],
)
def test_open_and_next_opening(moment: datetime, is_open: bool, opens: datetime) -> None:
    assert CAL.is_open(moment) is is_open
    assert CAL.next_opening(moment) == opens


@pytest.mark.parametrize(
    ("day", "hours"),
    [
        (date(2026, 11, 3), ((time(8), time(16)),)),  # before Unity Day: an hour shorter
        (date(2026, 4, 30), ((time(8), time(16)),)),  # before 1 May
        (date(2026, 12, 30), ((time(8), time(17)),)),  # 31 Dec is a transferred day off
        (date(2026, 11, 2), ((time(8), time(17)),)),
        (date(2026, 11, 4), ()),
    ],
)
def test_hours_on_a_day(day: date, hours: tuple[tuple[time, time], ...]) -> None:
    assert CAL.hours_on(day) == hours


def test_override_file_adds_days_off_working_days_and_hours() -> None:
    cal = WorkCalendar.from_text(
        "08:00-12:00,13:00-17:00",
        """
        [days]
        "2026-11-25" = "off"
        "2026-11-28" = "working"
        [hours]
        "2026-11-27" = "09:00-15:00"
        """,
    )
    assert not cal.is_working_day(date(2026, 11, 25))
    assert cal.is_working_day(date(2026, 11, 28))
    assert cal.hours_on(date(2026, 11, 27)) == ((time(9), time(15)),)
    assert cal.next_opening(datetime(2026, 11, 24, 17, 0)) == datetime(2026, 11, 26, 8, 0)
    # the lunch break is closed
    assert not cal.is_open(datetime(2026, 11, 26, 12, 30))
    assert cal.next_opening(datetime(2026, 11, 26, 12, 30)) == datetime(2026, 11, 26, 13, 0)
    assert cal.next_working_day(date(2026, 11, 24)) == date(2026, 11, 26)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("08:00", "ЧЧ:ММ-ЧЧ:ММ"),
        ("17:00-08:00", "конец раньше начала"),
        ("25:00-26:00", "нет такого времени"),
        ("08:00-13:00,12:00-17:00", "пересекаются"),
    ],
)
def test_bad_hours_are_refused(text: str, fragment: str) -> None:
    with pytest.raises(CalendarError, match=fragment):
        parse_hours(text)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('[days]\n"2026-13-01" = "off"\n', 'cal.toml: days."2026-13-01": не дата'),
        ('[days]\n"2026-11-25" = "holiday"\n', 'days."2026-11-25": ожидается "working"'),
        ('[hours]\n"2026-11-25" = "9-17"\n', 'hours."2026-11-25": часы работы'),
        ("[weeks]\n", "weeks: неизвестный раздел"),
        ("days = [", "не TOML"),
    ],
)
def test_bad_override_file_names_key_and_problem(text: str, fragment: str) -> None:
    with pytest.raises(CalendarError, match=fragment.replace(".", r"\.").replace("(", r"\(")):
        parse_overrides(text, "cal.toml")


def test_shipped_override_file_is_valid() -> None:
    from contact_center.settings import Settings

    path = Settings().calendar_file
    assert parse_overrides(path.read_text(encoding="utf-8"), str(path)).days == {}


OFF_25_NOV = '[days]\n"2026-11-25" = "off"\n'
WORKING_28_NOV = '[days]\n"2026-11-28" = "working"\n'


def test_reloading_calendar_without_a_file_is_the_plain_calendar(tmp_path: Path) -> None:
    cal = ReloadingCalendar("08:00-17:00", tmp_path / "missing.toml")
    assert cal.error is None
    assert cal.current == CAL
    assert cal.is_working_day(date(2026, 11, 25))
    assert not cal.is_working_day(date(2026, 11, 28))
    assert cal.is_public_holiday(date(2026, 11, 4))
    assert not cal.is_public_holiday(date(2026, 11, 25))


def test_reloading_calendar_reads_the_file_when_built(tmp_path: Path) -> None:
    path = tmp_path / "cal.toml"
    path.write_text(OFF_25_NOV, encoding="utf-8")
    cal = ReloadingCalendar("08:00-17:00", path)
    assert cal.error is None
    assert not cal.is_working_day(date(2026, 11, 25))
    assert cal.current.hours == ((time(8), time(17)),)
    assert not cal.current.is_open(datetime(2026, 11, 25, 10, 0))


async def test_reload_takes_a_changed_file_and_keeps_the_last_good_one(tmp_path: Path) -> None:
    path = tmp_path / "cal.toml"
    path.write_text(OFF_25_NOV, encoding="utf-8")
    cal = ReloadingCalendar("08:00-17:00", path)

    path.write_text(WORKING_28_NOV, encoding="utf-8")
    assert await cal.reload() is None
    assert cal.is_working_day(date(2026, 11, 25))
    assert cal.is_working_day(date(2026, 11, 28))

    path.write_text('[days]\n"2026-11-25" = "holiday"\n', encoding="utf-8")
    error = await cal.reload()
    assert error is not None and 'days."2026-11-25": ожидается "working"' in error
    assert cal.error == error
    assert cal.is_working_day(date(2026, 11, 28))  # still the last good file

    path.write_text(OFF_25_NOV, encoding="utf-8")
    assert await cal.reload() is None
    assert cal.error is None
    assert not cal.is_working_day(date(2026, 11, 25))

    path.unlink()  # no file: no corrections
    assert await cal.reload() is None
    assert cal.current == CAL


async def test_reload_reads_only_a_changed_file(tmp_path: Path) -> None:
    path = tmp_path / "cal.toml"
    path.write_text(OFF_25_NOV, encoding="utf-8")
    cal = ReloadingCalendar("08:00-17:00", path)
    before = path.stat()
    # same size and modification time: taken for the same file, not parsed again
    path.write_text(OFF_25_NOV.replace('"off"', '"xyz"'), encoding="utf-8")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert await cal.reload() is None
    assert not cal.is_working_day(date(2026, 11, 25))


async def test_unreadable_file_is_an_error_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "cal.toml"
    path.mkdir()
    cal = ReloadingCalendar("08:00-17:00", path)
    assert cal.error is not None and "файл не читается" in cal.error
    assert cal.current == CAL
    assert await cal.reload() == cal.error


def test_broken_file_at_start_leaves_the_plain_calendar(tmp_path: Path) -> None:
    path = tmp_path / "cal.toml"
    path.write_text("days = [", encoding="utf-8")
    cal = ReloadingCalendar("08:00-17:00", path)
    assert cal.error is not None and "не TOML" in cal.error
    assert cal.current == CAL


def test_every_calendar_answers_the_working_days_questions() -> None:
    calendars: list[WorkingDays] = [
        ProductionCalendar(),
        CAL,
        ReloadingCalendar("08:00-17:00", Path("/nonexistent/cal.toml")),
    ]
    for cal in calendars:
        assert cal.is_working_day(date(2027, 2, 20))
        assert cal.is_public_holiday(date(2027, 1, 7))


async def test_warming_works_out_this_year_and_the_next_off_the_loop(tmp_path: Path) -> None:
    """The first look-up of a year is slow (about 130 ms): done in a thread at the start,
    the look-ups on the event loop find it ready."""
    cal = ReloadingCalendar("08:00-17:00", tmp_path / "missing.toml")
    await cal.warm(date(2041, 6, 1))
    before = calendar_module._russian_year.cache_info()
    assert not cal.is_working_day(date(2041, 6, 12))  # Russia Day
    assert not cal.is_working_day(date(2042, 1, 2))
    after = calendar_module._russian_year.cache_info()
    assert (after.hits - before.hits, after.misses - before.misses) == (2, 0)
