"""When a contact may be called, and what an attempt's result means (pure; the clock is the
only thing here that reads the outside world, and tests set it through the settings).

- calling windows: 08:00–22:00 on working days, 09:00–20:00 on weekends and public holidays
  (the Russian production calendar from the `holidays` package, with transferred working
  days), in the customer's local time; the debt-collection law (230-ФЗ art. 7) that robots
  have fallen under since 2024 uses the same hours;
- the planned-outage rules (standard, ch. 3 § 1 p. 2.1): notify within 3 days of the
  decision and no later than 24 h before the outage;
- the retry policy per outcome and the per-customer frequency caps.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from autoinformer.exceptions import CampaignRefused

# the production calendar is the core's, with the override file the hotline reads too
# (settings.calendar_file): one place to enter next year's decree
from contact_center.calendar import ProductionCalendar as ProductionCalendar
from contact_center.calendar import WorkingDays

# --------------------------------------------------------------------------- calendar

# --------------------------------------------------------------------------- windows

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WINDOW_RE = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")


@dataclass(frozen=True, slots=True)
class Window:
    """Minutes since local midnight, [start, end); end may be 1440 (24:00)."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.end <= 1440:
            raise ValueError("окно звонков: начало должно быть раньше конца, в пределах суток")

    @classmethod
    def parse(cls, text: str) -> Window:
        match = _WINDOW_RE.match(text.strip())
        if not match:
            raise ValueError(f"окно звонков должно быть ЧЧ:ММ-ЧЧ:ММ, а не «{text}»")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or m1 > 59 or h2 > 24 or m2 > 59 or (h2 == 24 and m2):
            raise ValueError(f"нет такого времени в окне «{text}»")
        return cls(h1 * 60 + m1, h2 * 60 + m2)

    def __str__(self) -> str:
        return (
            f"{self.start // 60:02d}:{self.start % 60:02d}-{self.end // 60:02d}:{self.end % 60:02d}"
        )


WORKDAY_WINDOW = Window(8 * 60, 22 * 60)
WEEKEND_WINDOW = Window(9 * 60, 20 * 60)


@dataclass(frozen=True, slots=True)
class CallingWindows:
    """Which hours of which days calls go out. `days` are weekday numbers (0 = Monday);
    `working_only` keeps only production-calendar working days."""

    workday: Window = WORKDAY_WINDOW
    weekend: Window = WEEKEND_WINDOW
    days: frozenset[int] = frozenset(range(7))
    working_only: bool = False

    def window_for(self, day: date, calendar: WorkingDays) -> Window | None:
        if day.weekday() not in self.days:
            return None
        working = calendar.is_working_day(day)
        if self.working_only and not working:
            return None
        return self.workday if working else self.weekend

    def describe(self) -> str:
        days = "рабочие дни" if self.working_only else days_text(self.days)
        if self.workday == self.weekend:
            return f"{self.workday}, {days}"
        return f"{self.workday} в рабочие дни, {self.weekend} в выходные и праздники; {days}"

    def to_data(self) -> dict[str, Any]:
        return {
            "workday": str(self.workday),
            "weekend": str(self.weekend),
            "days": sorted(self.days),
            "working_only": self.working_only,
        }

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> CallingWindows:
        return cls(
            Window.parse(data["workday"]),
            Window.parse(data["weekend"]),
            frozenset(int(d) for d in data["days"]),
            bool(data.get("working_only", False)),
        )


def days_text(days: Iterable[int]) -> str:
    chosen = sorted(set(days))
    if chosen == list(range(7)):
        return "все дни"
    return ",".join(DAY_NAMES[d] for d in chosen)


def parse_days(text: str) -> tuple[frozenset[int], bool]:
    """'mon-fri', 'mon,wed,sat', 'all' or 'working' -> (weekdays, working_only)."""
    spec = text.strip().lower()
    if spec in ("all", "все"):
        return frozenset(range(7)), False
    if spec in ("working", "рабочие"):
        return frozenset(range(7)), True
    days: set[int] = set()
    for part in spec.split(","):
        first, dash, last = part.strip().partition("-")
        if first not in DAY_NAMES or (dash and last not in DAY_NAMES):
            raise ValueError(
                f"дни должны быть вида mon-fri, mon,wed,sat, all или working, а не «{text}»"
            )
        a = DAY_NAMES.index(first)
        b = DAY_NAMES.index(last) if dash else a
        if b < a:
            raise ValueError(f"диапазон дней идёт назад: «{part.strip()}»")
        days.update(range(a, b + 1))
    return frozenset(days), False


def next_call_time(
    now: datetime,
    tz: ZoneInfo,
    windows: CallingWindows,
    calendar: WorkingDays,
    *,
    horizon_days: int = 40,
) -> datetime | None:
    """The first instant at or after `now` (aware) inside a calling window, in UTC."""
    local = now.astimezone(tz)
    for offset in range(horizon_days):
        day = local.date() + timedelta(days=offset)
        window = windows.window_for(day, calendar)
        if window is None:
            continue
        midnight = datetime(day.year, day.month, day.day, tzinfo=tz)
        opens = midnight + timedelta(minutes=window.start)
        closes = midnight + timedelta(minutes=window.end)
        if local < closes:
            return max(local, opens).astimezone(UTC)
    return None


# --------------------------------------------------------------------------- retries

RETRYABLE = ("busy", "no_answer", "failed", "hung_up")
# results after which a customer's next number is dialled at once (a busy line or a hang-up
# was the customer, on the right number); the retry policy counts attempts across numbers
FALLBACK_STATUSES = frozenset({"no_answer", "failed"})
_INTERVAL_RE = re.compile(r"^(\d+(?:\.\d+)?)(s|m|h|d)?$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True, slots=True)
class Retry:
    """`attempts` in all (the first call included), `interval` apart."""

    attempts: int
    interval: timedelta

    def __str__(self) -> str:
        return f"{self.attempts}/{format_interval(self.interval)}"


# What a utility would choose: a busy line is usually free again within minutes; nobody
# answering is often someone away for a while; network failures clear in minutes; a
# customer who hung up mid-message gets one more chance later, not the same hour.
DEFAULT_RETRY: Mapping[str, Retry] = {
    "busy": Retry(3, timedelta(minutes=10)),
    "no_answer": Retry(3, timedelta(minutes=30)),
    "failed": Retry(3, timedelta(minutes=15)),
    "hung_up": Retry(2, timedelta(hours=2)),
}


def parse_interval(text: str) -> timedelta:
    match = _INTERVAL_RE.match(text.strip().lower())
    if not match:
        raise ValueError(f"интервал должен быть вида 30s, 10m, 2h, 1d, а не «{text}»")
    return timedelta(seconds=float(match[1]) * _UNIT_SECONDS[match[2] or "s"])


def format_interval(value: timedelta) -> str:
    seconds = value.total_seconds()
    for unit in ("d", "h", "m"):
        size = _UNIT_SECONDS[unit]
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def parse_retry(text: str) -> tuple[str, Retry]:
    """'busy=2/5s' -> ('busy', Retry(2, 5 s))."""
    outcome, eq, rest = text.strip().partition("=")
    attempts, slash, interval = rest.partition("/")
    outcome = outcome.strip().replace("-", "_")
    if not eq or outcome not in RETRYABLE:
        raise ValueError(
            f"повтор должен быть вида ИСХОД=ПОПЫТКИ/ИНТЕРВАЛ, исход один из: "
            f"{', '.join(RETRYABLE)} (получено «{text}»)"
        )
    if not attempts.strip().isdigit() or not 1 <= int(attempts) <= 20:
        raise ValueError(f"число попыток в «{text}»: целое от 1 до 20")
    gap = parse_interval(interval) if slash else DEFAULT_RETRY[outcome].interval
    return outcome, Retry(int(attempts), gap)


def retry_policy(overrides: Iterable[str] = ()) -> dict[str, Retry]:
    policy = dict(DEFAULT_RETRY)
    for item in overrides:
        outcome, retry = parse_retry(item)
        policy[outcome] = retry
    return policy


def policy_to_data(policy: Mapping[str, Retry]) -> dict[str, list[float]]:
    return {k: [v.attempts, v.interval.total_seconds()] for k, v in policy.items()}


def policy_from_data(data: Mapping[str, Sequence[float]]) -> dict[str, Retry]:
    return {k: Retry(int(v[0]), timedelta(seconds=float(v[1]))) for k, v in data.items()}


def next_attempt_time(
    status: str, attempts_made: int, policy: Mapping[str, Retry], now: datetime
) -> datetime | None:
    """When to call again after an attempt that ended `status`, or None (no more tries)."""
    retry = policy.get(status)
    if retry is None or attempts_made >= retry.attempts:
        return None
    return now + retry.interval


# --------------------------------------------------------------------------- caps

CAP_PERIODS: Mapping[str, timedelta] = {
    "day": timedelta(days=1),
    "week": timedelta(days=7),
    "month": timedelta(days=30),
}
CAP_RU = {"day": "сутки", "week": "неделю", "month": "месяц"}


@dataclass(frozen=True, slots=True)
class Caps:
    """Answered calls per customer and kind of notice over a rolling day, week, month."""

    day: int | None = None
    week: int | None = None
    month: int | None = None

    @property
    def none(self) -> bool:
        return self.day is None and self.week is None and self.month is None

    def limits(self) -> dict[str, int]:
        return {
            k: v
            for k, v in (("day", self.day), ("week", self.week), ("month", self.month))
            if v is not None
        }

    def __str__(self) -> str:
        if self.none:
            return "none"
        return "/".join("-" if v is None else str(v) for v in (self.day, self.week, self.month))


NO_CAPS = Caps()
# how far back answered calls are read for the caps (the longest period and a day)
CAP_LOOKBACK = timedelta(days=31)
# 230-ФЗ art. 7 for debt calls (robots included since 2024); other notices (an outage is
# a safety matter) are not capped unless the supervisor says so
DEFAULT_CAPS: Mapping[str, Caps] = {"debt": Caps(1, 2, 8)}


def parse_caps(text: str) -> Caps:
    """'1/2/8' (day/week/month, '-' for no limit) or 'none'."""
    spec = text.strip().lower()
    if spec in ("none", "нет"):
        return NO_CAPS
    parts = spec.split("/")
    if len(parts) != 3 or not all(p == "-" or p.isdigit() for p in parts):
        raise ValueError(f"лимиты должны быть вида СУТКИ/НЕДЕЛЯ/МЕСЯЦ (1/2/8) или none: «{text}»")
    day, week, month = (None if p == "-" else int(p) for p in parts)
    if any(v is not None and v < 1 for v in (day, week, month)):
        raise ValueError("лимит звонков не меньше 1")
    return Caps(day, week, month)


def cap_release(
    answered: Iterable[datetime], now: datetime, caps: Caps
) -> tuple[datetime, str] | None:
    """If the customer already had as many answered calls as a cap allows, when the
    next call is allowed and which cap holds it back; None if a call is allowed now."""
    times = sorted(t for t in answered if t <= now)
    blocked: tuple[datetime, str] | None = None
    for name, limit in caps.limits().items():
        period = CAP_PERIODS[name]
        recent = [t for t in times if t > now - period]
        if len(recent) >= limit:
            release = recent[len(recent) - limit] + period
            if blocked is None or release > blocked[0]:
                blocked = (release, name)
    return blocked


# --------------------------------------------------------------------------- outages

OUTAGE_LEAD = timedelta(hours=24)
DECISION_DAYS = 3


def outage_end(
    *,
    start: datetime,
    end: datetime | None,
    outage_start: datetime,
    decision_date: date,
    tz: ZoneInfo,
    windows: CallingWindows | None = None,
    calendar: WorkingDays | None = None,
) -> datetime:
    """The end of a planned-outage campaign (capped at outage start − 24 h), or
    CampaignRefused saying which rule it breaks."""
    cutoff = outage_start - OUTAGE_LEAD
    fmt = "%d.%m.%Y %H:%M"
    if start >= cutoff:
        raise CampaignRefused(
            "кампания не успевает закончиться за 24 часа до отключения: начало "
            f"{start.astimezone(tz):{fmt}}, а оповестить нужно до {cutoff.astimezone(tz):{fmt}}"
        )
    latest_start = datetime.combine(
        decision_date + timedelta(days=DECISION_DAYS), time(23, 59, 59), tzinfo=tz
    )
    if start > latest_start:
        raise CampaignRefused(
            f"начало {start.astimezone(tz):{fmt}} позже трёх суток после решения об "
            f"отключении ({decision_date:%d.%m.%Y}): оповещать нужно в течение трёх дней"
        )
    capped = cutoff if end is None else min(end, cutoff)
    if capped <= start:
        raise CampaignRefused("конец кампании не позже её начала")
    if windows is not None and calendar is not None:
        first = next_call_time(start, tz, windows, calendar)
        if first is None or first >= capped:
            raise CampaignRefused(
                "до срока оповещения "
                f"{capped.astimezone(tz):{fmt}} в окне звонков нет ни минуты: кампания не успеет"
            )
    return capped


# --------------------------------------------------------------------------- results

FINAL_STATUSES = (
    "notified",
    "transferred",
    "callback",
    "opted_out",
    "hung_up",
    "busy",
    "no_answer",
    "failed",
    "cancelled",
    "not_reached_in_time",
    "paid",
)
STATUS_RU = {
    "waiting": "ожидает",
    "calling": "идёт звонок",
    "notified": "оповещён",
    "transferred": "соединён с оператором",
    "callback": "ждёт звонка оператора",
    "opted_out": "отказался",
    "hung_up": "положил трубку",
    "busy": "занято",
    "no_answer": "не ответил",
    "failed": "ошибка вызова",
    "cancelled": "отменён",
    "not_reached_in_time": "не оповещён в срок",
    # the debt was paid before the call (read from the customer base at dial time)
    "paid": "оплачено",
}


@dataclass(frozen=True, slots=True)
class CallFacts:
    """What happened on one attempt (from the dialer)."""

    outcome: str  # answered | busy | no_answer | congestion | failed
    played_to_end: bool = False
    confirmed: bool = False
    transferred: bool = False
    callback: bool = False
    opted_out: bool = False
    digits: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Verdict:
    status: str
    notified: bool
    final: bool


def classify(facts: CallFacts) -> Verdict:
    """An attempt's status; `notified` only for a положительный звонок (the message was
    played to its end, or 1 confirmed it); `final` when no retry makes sense."""
    if facts.outcome != "answered":
        status = "failed" if facts.outcome in ("congestion", "failed") else facts.outcome
        return Verdict(status, False, False)
    received = facts.played_to_end or facts.confirmed
    if facts.opted_out:
        return Verdict("opted_out", received, True)
    if facts.transferred:
        return Verdict("transferred", received, True)
    if facts.callback:
        return Verdict("callback", received, True)
    if received:
        return Verdict("notified", True, True)
    return Verdict("hung_up", False, False)


def status_at_end(kind: str, last_status: str | None) -> str:
    """The final status of a contact still unfinished when its campaign ends: an outage
    notice that did not get through in time is `not_reached_in_time` (the utility warns
    those customers another way); other kinds keep their last result."""
    if kind == "outage" or last_status is None or last_status not in RETRYABLE:
        return "not_reached_in_time"
    return last_status


def expected_finish(
    now: datetime, started: datetime | None, done: int, remaining: int
) -> datetime | None:
    """A straight-line estimate from the pace so far."""
    if started is None or done <= 0 or remaining <= 0:
        return now if remaining <= 0 and started is not None else None
    elapsed = (now - started).total_seconds()
    if elapsed <= 0:
        return None
    return now + timedelta(seconds=math.ceil(elapsed / done * remaining))
