"""Windows, the production calendar, outage rules, retries, caps, verdicts: literal tables."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from autoinformer.exceptions import CampaignRefused
from autoinformer.scheduling import (
    CallFacts,
    CallingWindows,
    Caps,
    ProductionCalendar,
    Retry,
    Window,
    cap_release,
    classify,
    next_attempt_time,
    next_call_time,
    outage_end,
    parse_caps,
    parse_days,
    parse_retry,
    status_at_end,
)

KRS = ZoneInfo("Asia/Krasnoyarsk")
MSK = ZoneInfo("Europe/Moscow")
CAL = ProductionCalendar()


def local(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, *, tz: ZoneInfo = KRS
) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=tz)


@pytest.mark.parametrize(
    ("now", "tz", "expected"),
    [
        # a working Tuesday: 08:00-22:00
        (local(2026, 12, 1, 7, 30), KRS, local(2026, 12, 1, 8, 0)),
        (local(2026, 12, 1, 12, 0), KRS, local(2026, 12, 1, 12, 0)),
        (local(2026, 12, 1, 21, 59), KRS, local(2026, 12, 1, 21, 59)),
        (local(2026, 12, 1, 22, 0), KRS, local(2026, 12, 2, 8, 0)),
        # Saturday: 09:00-20:00
        (local(2026, 12, 5, 8, 30), KRS, local(2026, 12, 5, 9, 0)),
        (local(2026, 12, 5, 20, 0), KRS, local(2026, 12, 6, 9, 0)),
        # 31 December 2026 is a day off (the 2026 decree); 1-8 January are holidays
        (local(2026, 12, 31, 8, 30), KRS, local(2026, 12, 31, 9, 0)),
        (local(2027, 1, 4, 8, 30), KRS, local(2027, 1, 4, 9, 0)),
        # Saturday 20 February 2027 is a working day (transferred)
        (local(2027, 2, 19, 23, 0), KRS, local(2027, 2, 20, 8, 0)),
        # the customer's own zone: 07:30 in Moscow is 11:30 in Krasnoyarsk, still too early
        (local(2026, 12, 1, 11, 30), MSK, local(2026, 12, 1, 8, 0, tz=MSK)),
    ],
)
def test_next_call_time_in_customer_local_time(
    now: datetime, tz: ZoneInfo, expected: datetime
) -> None:
    assert next_call_time(now, tz, CallingWindows(), CAL) == expected.astimezone(UTC)


def test_days_and_custom_windows() -> None:
    mon_fri, working = parse_days("mon-fri")
    assert (sorted(mon_fri), working) == ([0, 1, 2, 3, 4], False)
    assert parse_days("working") == (frozenset(range(7)), True)
    assert parse_days("mon,wed,sat")[0] == frozenset({0, 2, 5})
    windows = CallingWindows(Window.parse("09:00-20:00"), Window.parse("09:00-20:00"), mon_fri)
    # Friday 20:00 -> Monday 09:00
    assert next_call_time(local(2026, 12, 4, 20, 0), KRS, windows, CAL) == local(
        2026, 12, 7, 9, 0
    ).astimezone(UTC)
    only_working = CallingWindows(working_only=True)
    assert next_call_time(local(2026, 12, 31, 10, 0), KRS, only_working, CAL) == local(
        2027, 1, 11, 8, 0
    ).astimezone(UTC)
    overrides = ProductionCalendar({date(2026, 12, 31): True})
    assert overrides.is_working_day(date(2026, 12, 31))
    for bad in ("20:00-09:00", "9-17", "25:00-26:00", "12:00-12:00"):
        with pytest.raises(ValueError):
            Window.parse(bad)
    with pytest.raises(ValueError):
        parse_days("fri-mon")


DECISION = date(2026, 12, 1)


@pytest.mark.parametrize(
    ("start", "outage", "end", "result"),
    [
        # capped at outage start - 24 h
        (local(2026, 12, 1, 10), local(2026, 12, 5, 10), None, local(2026, 12, 4, 10)),
        (
            local(2026, 12, 1, 10),
            local(2026, 12, 5, 10),
            local(2026, 12, 3, 18),
            local(2026, 12, 3, 18),
        ),
        (
            local(2026, 12, 1, 10),
            local(2026, 12, 5, 10),
            local(2026, 12, 9, 0),
            local(2026, 12, 4, 10),
        ),
        # cannot finish 24 h before the outage
        (local(2026, 12, 1, 10), local(2026, 12, 2, 9), None, "24 часа"),
        # later than 3 days after the decision
        (local(2026, 12, 5, 10), local(2026, 12, 9, 10), None, "трёх суток"),
        # the last minute of the third day is still in time
        (local(2026, 12, 4, 21, 0), local(2026, 12, 9, 10), None, local(2026, 12, 8, 10)),
        # no minute of the calling window before the cut-off (22:00 -> next 08:00)
        (local(2026, 12, 1, 22, 30), local(2026, 12, 3, 7, 0), None, "ни минуты"),
    ],
)
def test_outage_rules(
    start: datetime, outage: datetime, end: datetime | None, result: object
) -> None:
    def run() -> datetime:
        return outage_end(
            start=start,
            end=end,
            outage_start=outage,
            decision_date=DECISION,
            tz=KRS,
            windows=CallingWindows(),
            calendar=CAL,
        )

    if isinstance(result, str):
        with pytest.raises(CampaignRefused, match=result):
            run()
    else:
        assert run() == result


NOW = datetime(2026, 12, 1, 5, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "outcome", "retry"),
    [
        ("busy=2/5s", "busy", Retry(2, timedelta(seconds=5))),
        ("no_answer=3/30m", "no_answer", Retry(3, timedelta(minutes=30))),
        ("no-answer=1", "no_answer", Retry(1, timedelta(minutes=30))),
        ("hung_up=4/2h", "hung_up", Retry(4, timedelta(hours=2))),
        ("failed=5/1d", "failed", Retry(5, timedelta(days=1))),
    ],
)
def test_parse_retry(text: str, outcome: str, retry: Retry) -> None:
    assert parse_retry(text) == (outcome, retry)


@pytest.mark.parametrize("text", ["busy", "busy=0/5s", "answered=2/5s", "busy=2/5x", "busy=21/5s"])
def test_parse_retry_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_retry(text)


@pytest.mark.parametrize(
    ("status", "made", "expected"),
    [
        ("busy", 1, NOW + timedelta(seconds=5)),
        ("busy", 2, None),  # two attempts in all
        ("notified", 1, None),
        ("opted_out", 1, None),
    ],
)
def test_next_attempt_time(status: str, made: int, expected: datetime | None) -> None:
    policy = {"busy": Retry(2, timedelta(seconds=5))}
    assert next_attempt_time(status, made, policy, NOW) == expected


H = timedelta(hours=1)
D = timedelta(days=1)


@pytest.mark.parametrize(
    ("answered", "caps", "expected"),
    [
        ([], Caps(1, 2, 8), None),
        ([NOW - 2 * H], Caps(1, 2, 8), (NOW + 22 * H, "day")),
        ([NOW - 25 * H], Caps(1, 2, 8), None),
        ([NOW - 3 * D, NOW - 25 * H], Caps(1, 2, 8), (NOW + 4 * D, "week")),
        # eight calls 3 days apart: the week cap frees a slot in 1 day, the month cap in 6
        ([NOW - d * 3 * D for d in range(1, 9)], Caps(1, 2, 8), (NOW + 6 * D, "month")),
        ([NOW - d * 3 * D for d in range(1, 9)], Caps(1, 2, None), (NOW + 1 * D, "week")),
        ([NOW - d * 3 * D for d in range(1, 8)], Caps(None, None, 8), None),
        ([NOW - 2 * H], Caps(), None),
        ([NOW + H], Caps(1, 2, 8), None),  # a future time (clock skew) does not count
    ],
)
def test_cap_release(answered: list[datetime], caps: Caps, expected: object) -> None:
    assert cap_release(answered, NOW, caps) == expected


def test_parse_caps() -> None:
    assert parse_caps("1/2/8") == Caps(1, 2, 8)
    assert parse_caps("none") == Caps()
    assert parse_caps("-/-/3") == Caps(None, None, 3)
    assert str(Caps(1, 2, 8)) == "1/2/8" and str(Caps()) == "none"
    for bad in ("1/2", "0/1/1", "a/b/c"):
        with pytest.raises(ValueError):
            parse_caps(bad)


@pytest.mark.parametrize(
    ("facts", "verdict"),
    [
        (CallFacts("answered", played_to_end=True), ("notified", True, True)),
        (CallFacts("answered", confirmed=True), ("notified", True, True)),
        (CallFacts("answered"), ("hung_up", False, False)),
        (CallFacts("answered", transferred=True), ("transferred", False, True)),
        (CallFacts("answered", played_to_end=True, transferred=True), ("transferred", True, True)),
        (CallFacts("answered", callback=True), ("callback", False, True)),
        (CallFacts("answered", played_to_end=True, opted_out=True), ("opted_out", True, True)),
        (CallFacts("answered", opted_out=True), ("opted_out", False, True)),
        (CallFacts("busy"), ("busy", False, False)),
        (CallFacts("no_answer"), ("no_answer", False, False)),
        (CallFacts("congestion"), ("failed", False, False)),
        (CallFacts("failed"), ("failed", False, False)),
    ],
)
def test_classify(facts: CallFacts, verdict: tuple[str, bool, bool]) -> None:
    got = classify(facts)
    assert (got.status, got.notified, got.final) == verdict


@pytest.mark.parametrize(
    ("kind", "last", "final"),
    [
        ("outage", None, "not_reached_in_time"),
        ("outage", "busy", "not_reached_in_time"),
        ("debt", None, "not_reached_in_time"),
        ("debt", "busy", "busy"),
        ("reminder", "hung_up", "hung_up"),
    ],
)
def test_status_at_end(kind: str, last: str | None, final: str) -> None:
    assert status_at_end(kind, last) == final
