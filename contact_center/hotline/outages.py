"""Outage information (standard: «оперативная информация об отключениях»): pure helpers.

Which outages affect an address, and how an outage is read to a caller. An outage lists the
affected streets or houses separated by ";": "ул. Чкалова; ул. Ленина, д. 5, 7, 10-20".
A customer's address ("г. Дивногорск, ул. Чкалова, д. 5, кв. 12") matches an entry when the
street is the same and the entry names no houses or names the customer's house.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from contact_center.customers.csv_import import decode
from contact_center.hotline.exceptions import OutageError

KINDS = ("planned", "emergency")
KIND_RU = {"planned": "плановое", "emergency": "аварийное"}

# street kinds people write in several ways -> one canonical marker
_STREET_MARKERS = {
    "ул": "ул", "улица": "ул",
    "пр": "пр", "пр-т": "пр", "просп": "пр", "проспект": "пр",
    "пер": "пер", "переулок": "пер",
    "мкр": "мкр", "мкрн": "мкр", "микрорайон": "мкр",
    "наб": "наб", "набережная": "наб",
    "б-р": "б-р", "бульвар": "б-р",
    "ш": "ш", "шоссе": "ш",
    "пл": "пл", "площадь": "пл",
    "проезд": "проезд", "тупик": "тупик",
}  # fmt: skip
_SETTLEMENT_MARKERS = frozenset({"г", "город", "пос", "п", "поселок", "с", "село", "пгт", "д"})
_HOUSE_MARKERS = frozenset({"д", "дом"})
_FLAT_MARKERS = frozenset({"кв", "квартира", "оф", "офис", "корп", "к", "стр", "строение"})
_WORD = re.compile(r"[0-9a-zа-я]+(?:-[0-9a-zа-я]+)*")
_HOUSE = re.compile(r"^(\d+)([а-я]?)$")
_RANGE = re.compile(r"^(\d+)-(\d+)$")

# spoken forms of the abbreviations addresses are written with
_SPOKEN = {
    "г.": "город", "ул.": "улица", "д.": "дом", "кв.": "квартира", "пр.": "проспект",
    "пр-т": "проспект", "пер.": "переулок", "мкр.": "микрорайон", "наб.": "набережная",
    "б-р": "бульвар", "пос.": "посёлок", "корп.": "корпус", "стр.": "строение", "ш.": "шоссе",
    "пл.": "площадь",
}  # fmt: skip
_SPOKEN_RE = re.compile(
    r"(?<![0-9A-Za-zА-Яа-яЁё])(" + "|".join(re.escape(k) for k in _SPOKEN) + r")",
    re.IGNORECASE,
)


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower().replace("ё", "е"))


@dataclass(frozen=True, slots=True)
class StreetAddress:
    street: str
    house: str | None = None


@dataclass(frozen=True, slots=True)
class AffectedEntry:
    street: str
    houses: tuple[tuple[int, int], ...] = ()  # inclusive numeric ranges
    exact: frozenset[str] = frozenset()  # houses with a letter ("5а")

    def covers(self, address: StreetAddress) -> bool:
        if address.street != self.street:
            return False
        if not self.houses and not self.exact:
            return True
        if address.house is None:
            return False
        if address.house in self.exact:
            return True
        match = _HOUSE.match(address.house)
        if match is None:
            return False
        number = int(match.group(1))
        return any(lo <= number <= hi for lo, hi in self.houses) and not match.group(2)


def _street(words: list[str]) -> str:
    """The canonical street of one comma part: marker + name words ("ул чкалова")."""
    marker = next((_STREET_MARKERS[w] for w in words if w in _STREET_MARKERS), "ул")
    name = [w for w in words if w not in _STREET_MARKERS and w not in _HOUSE_MARKERS]
    # "Чкалова 5": a trailing house number is not part of the name
    while len(name) > 1 and _HOUSE.match(name[-1]):
        name.pop()
    return " ".join([marker, *name])


def _trailing_house(words: list[str]) -> str | None:
    name = [w for w in words if w not in _STREET_MARKERS and w not in _HOUSE_MARKERS]
    return name[-1] if len(name) > 1 and _HOUSE.match(name[-1]) else None


def parse_address(address: str) -> StreetAddress | None:
    """A customer's street and house from a free-form address; None if no street is found."""
    parts = [_words(p) for p in address.split(",")]
    street: str | None = None
    house: str | None = None
    for words in parts:
        if not words:
            continue
        if street is None:
            if any(w in _STREET_MARKERS for w in words):
                street = _street(words)
                house = _trailing_house(words)
            continue
        if words[0] in _FLAT_MARKERS:
            break
        if house is None:
            rest = words[1:] if words[0] in _HOUSE_MARKERS else words
            if rest and _HOUSE.match("".join(rest[:2]) if len(rest) > 1 else rest[0]):
                house = "".join(rest[:2]) if len(rest) > 1 and rest[1].isalpha() else rest[0]
    if street is None:
        # no marker: "Чкалова 5" -> the first part without a settlement marker is the street
        for words in parts:
            if words and words[0] not in _SETTLEMENT_MARKERS and not words[0].isdigit():
                street = _street(words)
                house = _trailing_house(words)
                break
    return StreetAddress(street, house) if street else None


def parse_affected(text: str) -> tuple[AffectedEntry, ...]:
    """ "ул. Чкалова; ул. Ленина, д. 5, 7, 10-20" -> entries; raises OutageError."""
    entries: list[AffectedEntry] = []
    for raw in text.split(";"):
        if not raw.strip():
            continue
        parts = raw.split(",")
        words = _words(parts[0])
        if not words or all(w in _STREET_MARKERS for w in words):
            raise OutageError(f"адрес «{raw.strip()}»: нет названия улицы")
        ranges: list[tuple[int, int]] = []
        exact: set[str] = set()
        for part in parts[1:]:
            tokens = [w for w in _words(part) if w not in _HOUSE_MARKERS]
            token = "".join(tokens)
            if not token:
                continue
            if (m := _RANGE.match(token)) is not None:
                lo, hi = int(m.group(1)), int(m.group(2))
                if lo > hi:
                    raise OutageError(f"адрес «{raw.strip()}»: диапазон домов {token} наоборот")
                ranges.append((lo, hi))
            elif (m := _HOUSE.match(token)) is not None:
                if m.group(2):
                    exact.add(token)
                else:
                    ranges.append((int(m.group(1)), int(m.group(1))))
            else:
                raise OutageError(f"адрес «{raw.strip()}»: не номер дома: «{part.strip()}»")
        entries.append(AffectedEntry(_street(words), tuple(ranges), frozenset(exact)))
    if not entries:
        raise OutageError("не указан ни один адрес")
    return tuple(entries)


def affects(affected: str, address: str) -> bool:
    """Whether an outage's affected-addresses text covers a customer's address."""
    parsed = parse_address(address)
    if parsed is None:
        return False
    try:
        entries = parse_affected(affected)
    except OutageError:
        return False
    return any(e.covers(parsed) for e in entries)


def spoken_address(text: str) -> str:
    """Abbreviations read out in full ("ул. Чкалова, д. 5" -> "улица Чкалова, дом 5")."""
    spoken = _SPOKEN_RE.sub(lambda m: _SPOKEN[m.group(1).lower()] + " ", text)
    return " ".join(spoken.replace("{", "").replace("}", "").split())


@dataclass(frozen=True, slots=True)
class OutageView:
    """What the IVR reads about one outage (local times)."""

    kind: str
    addresses: str
    starts_at: datetime
    ends_at: datetime
    reason: str = ""

    def is_current(self, now: datetime) -> bool:
        return self.starts_at <= now < self.ends_at


def outage_message(outage: OutageView) -> tuple[str, dict[str, object]]:
    """A speech template and its fields: "Плановое отключение ... с девяти часов ...".

    Address and reason are literal text in the template (braces removed)."""
    fields: dict[str, object] = {
        "start_date": outage.starts_at.date(),
        "start_time": outage.starts_at.time(),
        "end_date": outage.ends_at.date(),
        "end_time": outage.ends_at.time(),
    }
    head = "{prompt:outage_%s_item}" % ("emergency" if outage.kind == "emergency" else "planned")
    parts = [head, f"{spoken_address(outage.addresses)}."]
    if outage.starts_at.date() == outage.ends_at.date():
        parts.append(
            "{date:start_date form=genitive year=no} {time:start_time form=from} "
            "{time:end_time form=until}."
        )
    else:
        parts.append(
            "{time:start_time form=from} {date:start_date form=genitive year=no} "
            "{time:end_time form=until} {date:end_date form=genitive year=no}."
        )
    reason = spoken_address(outage.reason)
    if reason:
        parts.append("{prompt:outage_reason} " + reason + ".")
    return " ".join(parts), fields


def select_for_caller(
    outages: Iterable[OutageView], address: str | None, now: datetime
) -> list[OutageView]:
    """Known caller: current and planned outages at their address; unknown: all current ones."""
    alive = [o for o in outages if o.ends_at > now]
    if address:
        chosen = [o for o in alive if affects(o.addresses, address)]
    else:
        chosen = [o for o in alive if o.is_current(now)]
    return sorted(chosen, key=lambda o: o.starts_at)


# --------------------------------------------------------------------------- records and CSV
KIND_WORDS = {
    "planned": "planned", "плановое": "planned", "плановый": "planned", "п": "planned",
    "emergency": "emergency", "аварийное": "emergency", "аварийный": "emergency",
    "а": "emergency",
}  # fmt: skip
CSV_COLUMNS = ("kind", "addresses", "start", "end")
_DT_FORMATS = ("%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%d.%m.%Y %H:%M", "%Y-%m-%d %H:%M:%S")


@dataclass(frozen=True, slots=True)
class OutageRecord:
    """A validated outage (aware datetimes)."""

    kind: str
    addresses: str
    starts_at: datetime
    ends_at: datetime
    reason: str = ""


def parse_kind(raw: str) -> str:
    kind = KIND_WORDS.get(raw.strip().lower())
    if kind is None:
        raise OutageError(f"вид отключения «{raw}»: planned (плановое) или emergency (аварийное)")
    return kind


def parse_local_datetime(raw: str, tz: ZoneInfo) -> datetime:
    """ "2026-11-26 09:00" or "26.11.2026 09:00" in the utility's zone -> aware datetime."""
    text = " ".join(raw.split())
    for fmt in _DT_FORMATS:
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=tz)
        except ValueError:
            continue
    raise OutageError(f"время «{raw}»: ожидается ГГГГ-ММ-ДД ЧЧ:ММ или ДД.ММ.ГГГГ ЧЧ:ММ")


def make_record(
    kind: str, addresses: str, start: str, end: str, reason: str, tz: ZoneInfo
) -> OutageRecord:
    parsed_kind = parse_kind(kind)
    parse_affected(addresses)
    starts_at = parse_local_datetime(start, tz)
    ends_at = parse_local_datetime(end, tz)
    if ends_at <= starts_at:
        raise OutageError("окончание отключения должно быть позже начала")
    text = " ".join(addresses.split())
    return OutageRecord(parsed_kind, text, starts_at, ends_at, reason.strip())


@dataclass(slots=True)
class ParsedOutages:
    records: list[OutageRecord] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def parse_outages_csv(data: bytes, tz: ZoneInfo) -> ParsedOutages:
    """Columns kind,addresses,start,end[,reason]; UTF-8 or cp1251, ',' or ';'. All or nothing:
    every bad line is listed with its number."""
    text, _ = decode(data)
    first = text.splitlines()[0] if text.strip() else ""
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    out = ParsedOutages()
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in CSV_COLUMNS if c not in header]
    if missing:
        out.errors.append(f"нет столбцов: {', '.join(missing)} (нужны kind,addresses,start,end)")
        return out
    for number, raw in enumerate(reader, start=2):
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in raw.items()}
        if not any(row.values()):
            continue
        try:
            out.records.append(
                make_record(
                    row["kind"],
                    row["addresses"],
                    row["start"],
                    row["end"],
                    row.get("reason", ""),
                    tz,
                )
            )
        except OutageError as exc:
            out.errors.append(f"строка {number}: {exc}")
    if not out.records and not out.errors:
        out.errors.append("в файле нет ни одного отключения")
    return out
