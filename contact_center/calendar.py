"""The Russian production calendar and opening hours on it (the hotline, the autoinformer).

`ProductionCalendar` says which days are working days; `WorkCalendar` adds opening hours
(the hotline: five days a week at set hours); `ReloadingCalendar` is the one the running
service shares (the hotline, the autoinformer): the `WorkCalendar` of the settings' hours and
the override file, re-read when the file changes.

Everything but `ReloadingCalendar` is pure: no clock, no files. The calendar is the
`holidays` package's Russia (public holidays and the government's transferred days off and
working Saturdays) corrected by an override table parsed from TOML text (a decree the
installed package does not know yet)::

    [days]
    "2027-01-09" = "off"          # a day off the package does not know
    "2027-02-20" = "working"      # a working Saturday
    [hours]
    "2026-12-30" = "08:00-16:00"  # different hours on one day

The working day right before a public holiday (not a transferred day off) is an hour shorter
(Labour Code art. 95); an `[hours]` entry overrides that too.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from contact_center.settings import Settings

log = logging.getLogger(__name__)


class CalendarError(ValueError):
    """Opening hours or the calendar override file cannot be used; the message names the key."""

    error_id = "calendar"


Interval = tuple[time, time]
_HOURS_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*[-–]\s*(\d{1,2}):(\d{2})\s*$")
# look at most this far ahead for the next opening (the longest Russian holidays are ~10 days)
_SEARCH_DAYS = 60


def parse_hours(text: str) -> tuple[Interval, ...]:
    """ "08:00-17:00" or "08:00-12:00,13:00-17:00" -> ordered, non-overlapping intervals."""
    intervals: list[Interval] = []
    for part in str(text).split(","):
        match = _HOURS_RE.match(part)
        if match is None:
            raise CalendarError(f"часы работы «{part.strip()}»: ожидается ЧЧ:ММ-ЧЧ:ММ")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2):
            raise CalendarError(f"часы работы «{part.strip()}»: нет такого времени")
        start = time(h1, m1)
        end = time.max if h2 == 24 else time(h2, m2)
        if end <= start:
            raise CalendarError(f"часы работы «{part.strip()}»: конец раньше начала")
        intervals.append((start, end))
    intervals.sort()
    for (_, end), (start, _) in itertools.pairwise(intervals):
        if start < end:
            raise CalendarError(f"часы работы «{text}»: интервалы пересекаются")
    return tuple(intervals)


@dataclass(frozen=True, slots=True)
class CalendarOverrides:
    """What the override file says: date -> working (True) / off (False); date -> hours."""

    days: Mapping[date, bool] = field(default_factory=dict)
    hours: Mapping[date, tuple[Interval, ...]] = field(default_factory=dict)


def parse_overrides(text: str, source: str = "calendar") -> CalendarOverrides:
    """Parse the override TOML; errors name the source, the key and the problem."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CalendarError(f"{source}: не TOML: {exc}") from None
    unknown = sorted(set(data) - {"days", "hours"})
    if unknown:
        raise CalendarError(f"{source}: {unknown[0]}: неизвестный раздел (есть: days, hours)")
    days: dict[date, bool] = {}
    for key, value in _table(data, "days", source).items():
        day = _date_key(key, "days", source)
        if value not in ("working", "off"):
            raise CalendarError(f'{source}: days."{key}": ожидается "working" или "off"')
        days[day] = value == "working"
    hours: dict[date, tuple[Interval, ...]] = {}
    for key, value in _table(data, "hours", source).items():
        day = _date_key(key, "hours", source)
        try:
            hours[day] = parse_hours(str(value))
        except CalendarError as exc:
            raise CalendarError(f'{source}: hours."{key}": {exc}') from None
    return CalendarOverrides(days, hours)


def _table(data: Mapping[str, Any], name: str, source: str) -> Mapping[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, Mapping):
        raise CalendarError(f"{source}: {name}: ожидается таблица [{name}]")
    return value


def _date_key(key: Any, section: str, source: str) -> date:
    if isinstance(key, date):
        return key
    try:
        return date.fromisoformat(str(key))
    except ValueError:
        raise CalendarError(f'{source}: {section}."{key}": не дата ГГГГ-ММ-ДД') from None


@lru_cache(maxsize=64)
def _russian_year(year: int) -> tuple[frozenset[date], frozenset[date], frozenset[date]]:
    """(days off on weekdays, working weekend days, public holidays proper) of one year."""
    import holidays  # imported here: settings validation imports this module

    ru = holidays.country_holidays("RU", years=year, language="en_US")
    proper = holidays.country_holidays("RU", years=year, observed=False, language="en_US")
    off = frozenset(d for d in ru if d.weekday() < 5)
    working = frozenset(
        d
        for d in (date(year, 1, 1) + timedelta(n) for n in range(366))
        if d.year == year and d.weekday() >= 5 and ru.is_working_day(d)
    )
    public = frozenset(d for d, name in proper.items() if "substituted" not in name.lower())
    return off, working, public


class WorkingDays(Protocol):
    """What the autoinformer's scheduling asks of a calendar (`ProductionCalendar`,
    `WorkCalendar` and `ReloadingCalendar` all answer it)."""

    def is_working_day(self, day: date) -> bool: ...

    def is_public_holiday(self, day: date) -> bool: ...


class ProductionCalendar:
    """Working days: the `holidays` package's Russia corrected by the override file's [days]."""

    def __init__(self, overrides: Mapping[date, bool] | None = None) -> None:
        self._overrides = dict(overrides or {})

    @classmethod
    def from_file(cls, path: Path) -> ProductionCalendar:
        """The override file's [days]; a missing file means no corrections."""
        if not path.is_file():
            return cls()
        return cls(parse_overrides(path.read_text(encoding="utf-8"), path.name).days)

    def is_working_day(self, day: date) -> bool:
        if day in self._overrides:
            return self._overrides[day]
        off, working, _ = _russian_year(day.year)
        if day.weekday() >= 5:
            return day in working
        return day not in off

    def is_public_holiday(self, day: date) -> bool:
        return day in _russian_year(day.year)[2]


@dataclass(frozen=True, slots=True)
class WorkCalendar:
    """Opening hours on the production calendar. Datetimes are naive local or aware."""

    hours: tuple[Interval, ...]
    overrides: CalendarOverrides = field(default_factory=CalendarOverrides)
    shorten_pre_holiday: bool = True

    @classmethod
    def from_text(cls, hours: str, overrides: str = "", source: str = "calendar") -> WorkCalendar:
        return cls(parse_hours(hours), parse_overrides(overrides, source))

    def is_working_day(self, day: date) -> bool:
        return ProductionCalendar(self.overrides.days).is_working_day(day)

    def is_public_holiday(self, day: date) -> bool:
        return day in _russian_year(day.year)[2]

    def hours_on(self, day: date) -> tuple[Interval, ...]:
        """Opening intervals of `day` (empty on days off)."""
        if day in self.overrides.hours:
            return self.overrides.hours[day]
        if not self.is_working_day(day):
            return ()
        nxt = day + timedelta(days=1)
        if self.shorten_pre_holiday and self.is_public_holiday(nxt) and self.hours:
            return _shorten(self.hours, timedelta(hours=1))
        return self.hours

    def is_open(self, moment: datetime) -> bool:
        local = moment.time().replace(tzinfo=None)
        return any(start <= local < end for start, end in self.hours_on(moment.date()))

    def next_opening(self, moment: datetime) -> datetime:
        """The next moment the hotline opens strictly after `moment` (same tzinfo)."""
        local = moment.time().replace(tzinfo=None)
        for offset in range(_SEARCH_DAYS + 1):
            day = moment.date() + timedelta(days=offset)
            for start, _end in self.hours_on(day):
                if offset or start > local:
                    return datetime.combine(day, start, tzinfo=moment.tzinfo)
        raise CalendarError(f"нет рабочего времени в ближайшие {_SEARCH_DAYS} дней")

    def next_working_day(self, day: date) -> date:
        """The first day after `day` on which the hotline has opening hours."""
        for offset in range(1, _SEARCH_DAYS + 1):
            candidate = day + timedelta(days=offset)
            if self.hours_on(candidate):
                return candidate
        raise CalendarError(f"нет рабочих дней в ближайшие {_SEARCH_DAYS} дней")


def _shorten(hours: tuple[Interval, ...], by: timedelta) -> tuple[Interval, ...]:
    *first, (start, end) = hours
    if end == time.max:
        return hours
    new_end = (datetime.combine(date.min, end) - by).time()
    if new_end <= start:
        return tuple(first)
    return (*first, (start, new_end))


_FileStamp = tuple[int, int]


class ReloadingCalendar:
    """The calendar in force: hours from the settings, corrections from the override file.

    The file is read once when built, so the calendar is right before any event loop runs,
    and again by `reload()` when it changed. A broken file never replaces the last good
    version: `error` says what is wrong with it until it is fixed. Stands in wherever a
    `ProductionCalendar` is used (`is_working_day`, `is_public_holiday`).
    """

    def __init__(self, hours: str, path: Path) -> None:
        self.path = Path(path)
        self._current = WorkCalendar.from_text(hours)
        self.error: str | None = None
        self._stamp: _FileStamp | None = None
        # the hotline's file watch and the autoinformer may reload at the same time
        self._lock = asyncio.Lock()
        self._apply(*self._read(self.path))

    @classmethod
    def from_settings(cls, settings: Settings) -> ReloadingCalendar:
        return cls(settings.hotline_hours, settings.calendar_file)

    @property
    def current(self) -> WorkCalendar:
        return self._current

    def is_working_day(self, day: date) -> bool:
        return self._current.is_working_day(day)

    def is_public_holiday(self, day: date) -> bool:
        return self._current.is_public_holiday(day)

    async def warm(self, today: date) -> None:
        """Work out this year's and next year's holidays in a worker thread: the first
        look-up of a year costs about 130 ms (the `holidays` package's import and its
        tables), which would otherwise stall the event loop at a campaign's first pass
        or the hotline's first call."""
        await asyncio.to_thread(_russian_year, today.year)
        await asyncio.to_thread(_russian_year, today.year + 1)

    async def reload(self) -> str | None:
        """Re-read the override file if it changed; returns the file's error, if any."""
        async with self._lock:
            stamp, text = await asyncio.to_thread(self._read, self.path)
            return self._apply(stamp, text)

    @staticmethod
    def _read(path: Path) -> tuple[_FileStamp | None, str | CalendarError]:
        try:
            st = path.stat()
            return (st.st_mtime_ns, st.st_size), path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None, ""
        except (OSError, UnicodeDecodeError) as exc:
            return None, CalendarError(f"{path}: файл не читается: {exc}")

    def _apply(self, stamp: _FileStamp | None, text: str | CalendarError) -> str | None:
        if stamp == self._stamp and self._stamp is not None:
            return self.error
        self._stamp = stamp
        if isinstance(text, CalendarError):
            return self._refuse(text)
        try:
            overrides = parse_overrides(text, str(self.path)) if text else CalendarOverrides()
        except CalendarError as exc:
            return self._refuse(exc)
        self.error = None
        self._current = WorkCalendar(self._current.hours, overrides)
        return None

    def _refuse(self, exc: CalendarError) -> str:
        # an unreadable file has no stamp and is retried on every reload: log it once
        if str(exc) != self.error:
            log.error("calendar override file refused: %s", exc)
        self.error = str(exc)
        return self.error
