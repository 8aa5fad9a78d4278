"""Call lists: a CSV file or the customer base validated into contacts (pure).

Column `phone` is required; `account`, `name`, `address`, `debt`, `outage_start`,
`outage_end`, `timezone` and any field a scenario names are optional. Each row is checked
against the scenario's message (its values must be speakable), so a row that would fail
at the phone is refused here, listed with its line and reason. Duplicate phones are
collapsed to their first row; opted-out phones are left out. After validation a phone is
digits only (E.164 without '+'): nothing from a list reaches a dial string otherwise.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from autoinformer.exceptions import CallListError
from contact_center.customers.csv_import import decode, parse_amount
from contact_center.speech.message import MessageError, resolve
from contact_center.telephony.numbers import InvalidPhoneNumber, dial_digits, normalize_phone

KNOWN_COLUMNS = ("phone", "account", "name", "address", "debt", "outage_start", "outage_end")
DATETIME_FIELDS = frozenset({"outage_start", "outage_end"})
MONEY_FIELDS = frozenset({"debt"})
_COLUMN_RE = re.compile(r"^[a-z_][a-z0-9_]{0,63}$")
_DATETIME_FORMATS = ("%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%d.%m.%Y %H:%M", "%Y-%m-%dT%H:%M:%S")
MAX_ROWS = 200_000


@dataclass(frozen=True, slots=True)
class ListContact:
    line: int
    phone: str  # digits only
    account: str = ""
    name: str = ""
    timezone: str | None = None
    # every other column as validated text (debt "1500.00", outage_start "2026-12-01T09:00")
    values: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RowNote:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"строка {self.line}: {self.reason}" if self.line else self.reason


@dataclass(slots=True)
class ParsedList:
    contacts: list[ListContact] = field(default_factory=list)
    rejected: list[RowNote] = field(default_factory=list)
    duplicates: list[RowNote] = field(default_factory=list)
    opted_out: list[RowNote] = field(default_factory=list)


class MessageLike(Protocol):
    """What list validation needs of a scenario (see scenarios.Scenario)."""

    @property
    def fields(self) -> frozenset[str]: ...

    def message_for(self, values: Mapping[str, Any]) -> Any: ...


def parse_datetime(raw: str, column: str) -> str:
    """'2026-12-01 09:00' or '01.12.2026 09:00' -> '2026-12-01T09:00' (local wall time)."""
    text = " ".join(raw.split())
    for fmt in _DATETIME_FORMATS:
        try:
            return datetime.strptime(text, fmt).strftime("%Y-%m-%dT%H:%M")
        except ValueError:
            continue
    raise ValueError(f"{column}: дата и время должны быть ГГГГ-ММ-ДД ЧЧ:ММ или ДД.ММ.ГГГГ ЧЧ:ММ")


def speech_values(contact: Mapping[str, str]) -> dict[str, Any]:
    """Stored text values typed for speech: money as Decimal, outage times as datetimes."""
    out: dict[str, Any] = {}
    for key, value in contact.items():
        if key in MONEY_FIELDS and value:
            out[key] = Decimal(value)
        elif key in DATETIME_FIELDS and value:
            out[key] = datetime.strptime(value, "%Y-%m-%dT%H:%M")
        else:
            out[key] = value
    return out


def contact_fields(contact: ListContact) -> dict[str, str]:
    """Everything a message may read about a contact (phone, account, name, values)."""
    base = {"phone": "+" + contact.phone, "account": contact.account, "name": contact.name}
    return {**base, **{k: v for k, v in contact.values.items()}}


def _check_message(scenario: MessageLike | None, fields: Mapping[str, str]) -> None:
    if scenario is None:
        return
    values = speech_values(fields)
    resolve(scenario.message_for(values), values)


def _validate_row(
    line: int, raw: Mapping[str, str], *, region: str, scenario: MessageLike | None
) -> ListContact:
    problems: list[str] = []

    def attempt(fn: Callable[[], str]) -> str:
        try:
            return fn()
        except ValueError as exc:
            problems.append(str(exc))
            return ""

    phone = ""
    try:
        phone = dial_digits(normalize_phone(raw.get("phone", ""), region))
    except InvalidPhoneNumber as exc:
        problems.append(f"phone: {exc}")
    values: dict[str, str] = {}
    for key, cell in raw.items():
        text = " ".join((cell or "").split())
        if key in ("phone", "account", "name", "timezone") or not text:
            continue
        if key in MONEY_FIELDS:
            amount = attempt(lambda t=text, k=key: str(parse_amount(t, k) or ""))
            if amount:
                values[key] = str(Decimal(amount).quantize(Decimal("0.01")))
        elif key in DATETIME_FIELDS:
            stamp = attempt(lambda t=text, k=key: parse_datetime(t, k))
            if stamp:
                values[key] = stamp
        else:
            values[key] = text
    if "outage_start" in values and "outage_end" in values:
        if values["outage_end"] <= values["outage_start"]:
            problems.append("outage_end: конец отключения раньше начала")
    tz = " ".join(raw.get("timezone", "").split()) or None
    if tz is not None:
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(f"timezone: неизвестный часовой пояс «{tz}»")
    account = " ".join(raw.get("account", "").split())
    if len(account) > 32:
        problems.append("account: длиннее 32 знаков")
    contact = ListContact(
        line=line,
        phone=phone,
        account=account,
        name=" ".join(raw.get("name", "").split()),
        timezone=tz,
        values=values,
    )
    if not problems:
        try:
            _check_message(scenario, contact_fields(contact))
        except MessageError as exc:
            problems.append(f"сообщение не собрать: {exc}")
    if problems:
        raise ValueError("; ".join(problems))
    return contact


def _collect(
    rows: Iterable[tuple[int, Mapping[str, str]]],
    *,
    region: str,
    scenario: MessageLike | None,
    opted_out: Collection[str],
) -> ParsedList:
    result = ParsedList()
    first_line: dict[str, int] = {}
    for line, raw in rows:
        try:
            contact = _validate_row(line, raw, region=region, scenario=scenario)
        except ValueError as exc:
            result.rejected.append(RowNote(line, str(exc)))
            continue
        if contact.phone in first_line:
            result.duplicates.append(
                RowNote(line, f"номер повторяет строку {first_line[contact.phone]}: объединён")
            )
            continue
        first_line[contact.phone] = line
        if contact.phone in opted_out:
            result.opted_out.append(
                RowNote(line, "абонент отказался от уведомлений этого вида: не звоним")
            )
            continue
        result.contacts.append(contact)
    return result


def parse_call_list(
    data: bytes,
    *,
    scenario: MessageLike | None = None,
    region: str = "RU",
    opted_out: Collection[str] = (),
) -> ParsedList:
    """Validate a call list CSV (UTF-8 or cp1251, ',' or ';'); raise CallListError if the
    file as a whole is unusable (no header, no `phone` column)."""
    text, _encoding = decode(data)
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise CallListError("файл пуст: нет строки заголовка") from None
    except csv.Error as exc:
        raise CallListError(f"строка 1: не читается как CSV: {exc}") from None
    columns = [h.strip().lower() for h in header]
    if "phone" not in columns:
        raise CallListError("строка 1: нет обязательного столбца phone")
    bad = [c for c in columns if not _COLUMN_RE.match(c)]
    if bad:
        raise CallListError(f"строка 1: недопустимые имена столбцов: {', '.join(bad)}")
    if len(set(columns)) != len(columns):
        raise CallListError("строка 1: столбцы повторяются")
    missing = sorted(scenario.fields - set(columns) - {"phone"}) if scenario else []
    if missing:
        raise CallListError(f"строка 1: сценарий читает столбцы, которых нет: {', '.join(missing)}")

    def rows() -> Iterable[tuple[int, Mapping[str, str]]]:
        count = 0
        try:
            for raw in reader:
                if not any(cell.strip() for cell in raw):
                    continue
                count += 1
                if count > MAX_ROWS:
                    raise CallListError(f"в списке больше {MAX_ROWS} строк")
                if len(raw) != len(columns):
                    yield reader.line_num, {"__bad__": str(len(raw))}
                    continue
                yield reader.line_num, dict(zip(columns, raw, strict=True))
        except csv.Error as exc:
            raise CallListError(f"строка {reader.line_num}: не читается как CSV: {exc}") from None

    def checked() -> Iterable[tuple[int, Mapping[str, str]]]:
        for line, raw in rows():
            if "__bad__" in raw:
                bad_rows.append(
                    RowNote(line, f"ожидалось столбцов: {len(columns)}, в строке: {raw['__bad__']}")
                )
                continue
            yield line, raw

    bad_rows: list[RowNote] = []
    result = _collect(checked(), region=region, scenario=scenario, opted_out=opted_out)
    result.rejected = sorted(result.rejected + bad_rows, key=lambda n: n.line)
    return result


class CustomerLike(Protocol):
    account: str
    name: str
    address: str
    has_contract: bool
    debt: Decimal | None
    timezone: str | None

    @property
    def phones(self) -> Any: ...


def contacts_from_customers(
    customers: Iterable[CustomerLike],
    *,
    scenario: MessageLike | None = None,
    region: str = "RU",
    opted_out: Collection[str] = (),
) -> ParsedList:
    """A call list from the customer base: only customers with a contract, only the
    contract's phones (standard, Appendix 1 p. 5). `line` is the customer's position."""

    def rows() -> Iterable[tuple[int, Mapping[str, str]]]:
        for index, customer in enumerate(customers, start=1):
            if not customer.has_contract:
                continue
            # a debt notice goes to debtors only: the rest of the base is not "rejected"
            if scenario is not None and "debt" in scenario.fields and not (customer.debt or 0) > 0:
                continue
            for phone in customer.phones:
                if not getattr(phone, "from_contract", True):
                    continue
                yield (
                    index,
                    {
                        "phone": phone.number,
                        "account": customer.account,
                        "name": customer.name,
                        "address": customer.address,
                        "debt": "" if customer.debt is None else str(customer.debt),
                        "timezone": customer.timezone or "",
                    },
                )

    return _collect(rows(), region=region, scenario=scenario, opted_out=opted_out)
