"""The new-campaign form (the fields of `campaign create`) read into a `CampaignSpec`
(pure): every refusal names its field, so the page can point at it.

The list is the file `list`, or `list=customers` (the customer base, narrowed by `where`
lines as `--where` is), or `outage=ID` (the customers at a registered outage's addresses)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from autoinformer.campaigns.service import CHANNELS, CampaignSpec
from autoinformer.scenarios import DEFAULT_SCENARIO, KINDS
from autoinformer.scheduling import (
    CallingWindows,
    Window,
    parse_caps,
    parse_days,
    retry_policy,
)
from contact_center.customers.filters import CustomerFilter, FilterError, parse_filters

T = TypeVar("T")
# every field the form reads (the list comes as the file `list`, or `list=customers`)
FIELDS = (
    "name",
    "kind",
    "scenario",
    "channel",
    "start",
    "end",
    "window",
    "days",
    "concurrency",
    "ring_timeout",
    "retry",
    "caps",
    "priority",
    "outage_start",
    "outage_end",
    "outage",
    "where",
    "decision_date",
    "timezone",
)


class FieldError(ValueError):
    """A form field that cannot be read: `field` names it, the message says why (Russian)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Defaults:
    timezone: str
    ring_timeout: float


def _blank(value: str | None) -> str | None:
    return value.strip() if value is not None and value.strip() else None


def parse_when(raw: str | None, tz: ZoneInfo, field: str) -> datetime | None:
    """`2026-12-01T09:00`, `2026-12-01 09:00` (a browser's datetime-local) or
    `01.12.2026 09:00`; without an offset it is the campaign's local time."""
    text = _blank(raw)
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.replace(" ", "T", 1))
    except ValueError:
        try:
            value = datetime.strptime(text, "%d.%m.%Y %H:%M")
        except ValueError:
            raise FieldError(field, f"дата и время вида 2026-12-01T09:00, а не «{text}»") from None
    return value if value.tzinfo else value.replace(tzinfo=tz)


def parse_day(raw: str | None, field: str) -> date | None:
    text = _blank(raw)
    if text is None:
        return None
    for fmt in ("%Y-%m-%d", "%d.%m.%Y"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise FieldError(field, f"дата вида 2026-12-01 или 01.12.2026, а не «{text}»")


def _number(raw: str | None, field: str, kind: Callable[[str], T], what: str) -> T | None:
    text = _blank(raw)
    if text is None:
        return None
    try:
        return kind(text.replace(",", "."))
    except ValueError:
        raise FieldError(field, f"{what}, а не «{text}»") from None


def _checked(field: str, build: Callable[[], T]) -> T:
    try:
        return build()
    except ValueError as exc:
        raise FieldError(field, str(exc)) from None


def retry_items(values: Sequence[str]) -> list[str]:
    """`busy=2/5m` items from repeated fields, or one field with several separated by
    commas, semicolons or line breaks (a textarea)."""
    items: list[str] = []
    for value in values:
        for part in value.replace(";", "\n").replace(",", "\n").splitlines():
            if part.strip():
                items.append(part.strip())
    return items


def where_lines(values: Sequence[str]) -> list[str]:
    """`where` filters from repeated fields, or one textarea with one filter a line (a filter
    may itself hold commas and semicolons: `address=ул. Ленина, д. 5, 7; ул. Чкалова`)."""
    return [line.strip() for value in values for line in value.splitlines() if line.strip()]


def _filters(values: Sequence[str]) -> tuple[CustomerFilter, ...]:
    try:
        return parse_filters(where_lines(values))
    except FilterError as exc:
        raise FieldError("where", str(exc)) from None


def campaign_spec(form: Mapping[str, Sequence[str]], defaults: Defaults) -> CampaignSpec:
    """The form as `campaign create` reads its options; raises FieldError."""

    def one(name: str) -> str | None:
        values = form.get(name) or []
        return _blank(values[0]) if values else None

    name = one("name")
    if name is None:
        raise FieldError("name", "укажите название кампании")
    if len(name) > 200:
        raise FieldError("name", "название не длиннее 200 знаков")
    kind = one("kind")
    if kind not in KINDS:
        raise FieldError("kind", f"вид кампании должен быть одним из: {', '.join(KINDS)}")
    channel = one("channel") or "phone"
    if channel not in CHANNELS:
        raise FieldError("channel", f"канал должен быть одним из: {', '.join(CHANNELS)}")
    timezone = one("timezone")
    try:
        tz = ZoneInfo(timezone or defaults.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise FieldError("timezone", f"неизвестный часовой пояс «{timezone}»") from None
    weekdays, working_only = _checked("days", lambda: parse_days(one("days") or "all"))
    windows = CallingWindows(days=weekdays, working_only=working_only)
    window = one("window")
    if window is not None:
        single = _checked("window", lambda: Window.parse(window))
        windows = CallingWindows(single, single, weekdays, working_only)
    concurrency = _number(one("concurrency"), "concurrency", int, "целое число")
    if concurrency is not None and not 1 <= concurrency <= 1000:
        raise FieldError("concurrency", "одновременных звонков: от 1 до 1000")
    ring_timeout = _number(one("ring_timeout"), "ring_timeout", float, "число секунд")
    if ring_timeout is not None and not 3 <= ring_timeout <= 120:
        raise FieldError("ring_timeout", "время дозвона: от 3 до 120 секунд")
    priority = _number(one("priority"), "priority", int, "целое число")
    retry = _checked("retry", lambda: retry_policy(retry_items(form.get("retry") or [])))
    caps_text = one("caps")
    caps = _checked("caps", lambda: parse_caps(caps_text)) if caps_text else None
    outage_id = _number(one("outage"), "outage", int, "номер отключения из реестра")
    return CampaignSpec(
        name=name,
        kind=kind,
        scenario=one("scenario") or DEFAULT_SCENARIO[kind],
        channel=channel,
        start=parse_when(one("start"), tz, "start"),
        end=parse_when(one("end"), tz, "end"),
        windows=windows,
        concurrency=concurrency if concurrency is not None else 10,
        ring_timeout=ring_timeout if ring_timeout is not None else defaults.ring_timeout,
        retry=retry,
        caps=caps,
        priority=priority or 0,
        outage_start=parse_when(one("outage_start"), tz, "outage_start"),
        outage_end=parse_when(one("outage_end"), tz, "outage_end"),
        decision_date=parse_day(one("decision_date"), "decision_date"),
        timezone=timezone,
        where=_filters(form.get("where") or []),
        outage_id=outage_id,
    )
