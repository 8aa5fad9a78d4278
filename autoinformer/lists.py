"""Campaign lists: a CSV file or the customer base validated into contacts and letters (pure).

A list row gives the channels it has. **Phone** (`--channel phone` or `both`): column
`phone`; `account`, `name`, `address`, `debt`, `outage_start`, `outage_end`, `timezone` and
any field a scenario names are optional; columns may be named in Russian as the customer
import names them (:mod:`contact_center.customers.columns`: «Телефон», «Лицевой счёт»…).
A phone cell may hold several numbers: the first valid one is dialled, the others are
fallbacks tried in turn after `failed` or `no_answer`. Each row is checked against the
scenario's message (its values must be speakable), so a row that would fail at the phone
is refused here, listed with its line (the account, for the customer base) and reason.
A number another row already has is left to that row (a row with no number of its own is
a duplicate); a row any of whose numbers opted out is left out. After validation a phone is
digits only (E.164 without '+'): nothing from a list reaches a dial string otherwise.

**E-mail** (`--channel email` or `both`; standard, Appendix 1 p. 4 and 6): only addresses
given with consent, columns `email` and `email_consent` (optional `email_consent_date`),
the consent rule of :mod:`autoinformer.email.consent`. Each address is checked against the
scenario's letter (it must render for the row). Repeated addresses, addresses that opted out
of this kind and every refused address are reported with the line and the reason, the
address masked.

With `both`, a row gives a phone contact and letters when it can; a row that can give
neither is refused, one that gives only one channel is reported as partly refused.

A list is read one row at a time (:class:`ListReader`): the campaign service writes its
contacts and letters in batches as they come, so only the notes about refused rows and the
phones seen so far are held, never the list (:func:`parse_campaign_list` keeps everything,
for small lists and tests).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from autoinformer.email.consent import address_problem, row_addresses
from autoinformer.email.exceptions import TemplateError
from autoinformer.email.templates import EmailTemplate
from autoinformer.exceptions import CallListError
from contact_center.customers.columns import HeaderError, map_header, parse_phone_cell
from contact_center.customers.csv_import import NotTextError, open_text, parse_amount
from contact_center.privacy import mask_email
from contact_center.speech.message import MessageError, resolve
from contact_center.telephony.numbers import dial_digits

if TYPE_CHECKING:
    # csv.reader's class; the csv module does not re-export its name
    from _csv import Reader

KNOWN_COLUMNS = ("phone", "account", "name", "address", "debt", "outage_start", "outage_end")
EMAIL_COLUMNS = ("email", "email_consent", "email_consent_date")
LIST_CHANNELS = ("phone", "email", "both")
# what every letter's template may read even when the list has no such column
LETTER_BASE_FIELDS = frozenset({"phone", "account", "name", "email"})
DATETIME_FIELDS = frozenset({"outage_start", "outage_end"})
MONEY_FIELDS = frozenset({"debt"})
_COLUMN_RE = re.compile(r"^[a-z_][a-z0-9_]{0,63}$")
_DATETIME_FORMATS = ("%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%d.%m.%Y %H:%M", "%Y-%m-%dT%H:%M:%S")
MAX_ROWS = 200_000
# what the template check puts where the real link will be (the letter's id is not known yet)
_CHECK_URL = "https://unsubscribe.invalid/unsubscribe?token=v1.check"


@dataclass(frozen=True, slots=True)
class ListContact:
    line: int
    phone: str  # digits only: the number dialled first
    account: str = ""
    name: str = ""
    timezone: str | None = None
    # every other column as validated text (debt "1500.00", outage_start "2026-12-01T09:00")
    values: Mapping[str, str] = field(default_factory=dict)
    # the cell's further valid numbers (digits), dialled in turn after failed or no_answer
    alternates: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ListLetter:
    """One address with consent: a letter of the campaign."""

    line: int
    address: str  # lower-case, as given
    # digits of the same row's phone contact ('' none): the letter joins its report row
    phone: str = ""
    account: str = ""
    name: str = ""
    values: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RowNote:
    line: int
    reason: str
    # what names the row to its reader instead of the line: «счёт 100001» for the base
    label: str = ""

    def __str__(self) -> str:
        where = self.label or (f"строка {self.line}" if self.line else "")
        return f"{where}: {self.reason}" if where else self.reason


@dataclass(slots=True)
class ParsedList:
    contacts: list[ListContact] = field(default_factory=list)
    rejected: list[RowNote] = field(default_factory=list)
    duplicates: list[RowNote] = field(default_factory=list)
    opted_out: list[RowNote] = field(default_factory=list)
    letters: list[ListLetter] = field(default_factory=list)
    # rows that gave one channel and not the other (channel both), or some of their addresses
    partial: list[RowNote] = field(default_factory=list)


class MessageLike(Protocol):
    """What list validation needs of a scenario (see scenarios.Scenario)."""

    @property
    def fields(self) -> frozenset[str]: ...

    @property
    def email(self) -> EmailTemplate | None: ...

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


def letter_fields(
    *, address: str, phone: str, account: str, name: str, values: Mapping[str, str]
) -> dict[str, Any]:
    """What a letter's template reads, typed like a phone message's values (the mailer
    fills the stored letters the same way)."""
    base = {
        "phone": "+" + phone if phone else "",
        "account": account,
        "name": name,
        "email": address,
    }
    return speech_values({**base, **values})


def _check_message(scenario: MessageLike | None, fields: Mapping[str, str]) -> None:
    if scenario is None:
        return
    values = speech_values(fields)
    resolve(scenario.message_for(values), values)


def _amount_text(text: str, column: str) -> str:
    amount = parse_amount(text, column)
    return "" if amount is None else str(amount)


ZERO_DEBT = "0.00"
NO_DEBT_REASON = "debt: задолженность 0,00 ₽ — уведомлять не о чем"


@dataclass(slots=True)
class _Common:
    """A row's cells other than phone and e-mail, validated."""

    account: str
    name: str
    timezone: str | None
    values: dict[str, str]
    problems: list[str]


def _common(raw: Mapping[str, str]) -> _Common:
    problems: list[str] = []

    def attempt(fn: Callable[[], str]) -> str:
        try:
            return fn()
        except ValueError as exc:
            problems.append(str(exc))
            return ""

    values: dict[str, str] = {}
    for key, cell in raw.items():
        text = " ".join((cell or "").split())
        if key in ("phone", "account", "name", "timezone") or key in EMAIL_COLUMNS or not text:
            continue
        if key in MONEY_FIELDS:
            amount = attempt(partial(_amount_text, text, key))
            if amount:
                values[key] = str(Decimal(amount).quantize(Decimal("0.01")))
        elif key in DATETIME_FIELDS:
            stamp = attempt(partial(parse_datetime, text, key))
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
    name = " ".join(raw.get("name", "").split())
    return _Common(account, name, tz, values, problems)


def _validate_row(
    line: int,
    raw: Mapping[str, str],
    *,
    region: str,
    scenario: MessageLike | None,
    common: _Common | None = None,
) -> ListContact:
    common = common or _common(raw)
    problems = list(common.problems)
    cell = parse_phone_cell(raw.get("phone", ""), region)
    numbers = [dial_digits(number) for number in cell.numbers]
    if not numbers:
        problems.insert(0, f"phone: {cell.invalid[0] if cell.invalid else 'пустой номер телефона'}")
    contact = ListContact(
        line=line,
        phone=numbers[0] if numbers else "",
        account=common.account,
        name=common.name,
        timezone=common.timezone,
        values=common.values,
        alternates=tuple(numbers[1:]),
    )
    if not problems and scenario is not None and "debt" in scenario.fields:
        if common.values.get("debt") == ZERO_DEBT:
            problems.append(NO_DEBT_REASON)
    if not problems:
        try:
            _check_message(scenario, contact_fields(contact))
        except MessageError as exc:
            problems.append(f"сообщение не собрать: {exc}")
    if problems:
        raise ValueError("; ".join(problems))
    return contact


@dataclass(slots=True)
class _Row:
    """One row of a list: its cells and its e-mail side (addresses that may be mailed, and
    why the others may not); `email_given` is False when the row has no address at all."""

    line: int
    raw: Mapping[str, str]
    addresses: list[str] = field(default_factory=list)
    address_notes: list[str] = field(default_factory=list)
    email_given: bool = False
    label: str = ""  # see RowNote.label

    def note(self, reason: str) -> RowNote:
        return RowNote(self.line, reason, self.label)


def _letter_note(address: str, reason: str) -> str:
    return f"e-mail {address}: {reason}" if address else f"e-mail: {reason}"


def _letters_of(
    row: _Row,
    common: _Common,
    phone: str,
    template: EmailTemplate | None,
    opted_out_addresses: Collection[str],
    notes: list[str],
    opted: list[str],
) -> list[ListLetter]:
    letters: list[ListLetter] = []
    for address in row.addresses:
        masked = mask_email(address)
        if address in opted_out_addresses:
            opted.append(_letter_note(masked, "адрес отказался от писем этого вида: не пишем"))
            continue
        if common.problems:
            notes.append(_letter_note(masked, "; ".join(common.problems)))
            continue
        if template is not None and "debt" in template.fields:
            if common.values.get("debt") == ZERO_DEBT:
                notes.append(_letter_note(masked, NO_DEBT_REASON))
                continue
        letter = ListLetter(
            line=row.line,
            address=address,
            phone=phone,
            account=common.account,
            name=common.name,
            values=common.values,
        )
        if template is not None:
            fields = letter_fields(
                address=address,
                phone=phone,
                account=common.account,
                name=common.name,
                values=common.values,
            )
            try:
                template.render(fields, extra={"unsubscribe_url": _CHECK_URL})
            except TemplateError as exc:
                notes.append(_letter_note(masked, f"письмо не собрать: {exc}"))
                continue
        letters.append(letter)
    return letters


def _collect(
    rows: Iterable[_Row],
    result: ParsedList,
    *,
    region: str,
    scenario: MessageLike | None,
    opted_out: Collection[str],
    channel: str = "phone",
    opted_out_addresses: Collection[str] = (),
) -> Iterator[ListContact | ListLetter]:
    """Contacts and letters in list order; every note goes into `result` as it is found."""
    # int keys: 200,000 phones as ints take about half of what their strings would
    first_line: dict[int, int] = {}
    # a base row's account by its line, for a repeat to name it (CSV rows have none)
    labels: dict[int, str] = {}
    template = scenario.email if scenario is not None and channel != "phone" else None
    for row in rows:
        line, raw = row.line, row.raw
        common = _common(raw)
        # the phone side ------------------------------------------------------------
        phone_problem = ""
        phone = ""  # digits of a valid phone, even a repeated or opted-out one
        phone_taken = False
        phone_wanted = channel == "phone" or (channel == "both" and raw.get("phone", "").strip())
        if phone_wanted:
            try:
                contact = _validate_row(line, raw, region=region, scenario=scenario, common=common)
            except ValueError as exc:
                phone_problem = str(exc)
            else:
                phone = contact.phone
                phone_taken = True
                numbers = (contact.phone, *contact.alternates)
                # every number of a contact is its own: a number another row has (as its
                # first or a fallback) is left to that row
                fresh = [n for n in numbers if int(n) not in first_line]
                if not fresh:
                    earlier = first_line[int(phone)]
                    where = labels.get(earlier) or f"строку {earlier}"
                    result.duplicates.append(row.note(f"номер повторяет {where}: объединён"))
                elif any(n in opted_out for n in numbers):
                    # the customer said no to this kind of notice, on whichever number
                    for n in fresh:
                        first_line[int(n)] = line
                    result.opted_out.append(
                        row.note("абонент отказался от уведомлений этого вида: не звоним")
                    )
                else:
                    for n in fresh:
                        first_line[int(n)] = line
                    if row.label:
                        labels[line] = row.label
                    phone = fresh[0]
                    if list(numbers) != fresh:
                        contact = replace(contact, phone=fresh[0], alternates=tuple(fresh[1:]))
                    yield contact
                invalid = parse_phone_cell(raw.get("phone", ""), region).invalid
                if invalid:
                    result.partial.extend(
                        row.note(f"phone: {reason}: номер пропущен") for reason in invalid
                    )
        if channel == "phone":
            if phone_problem:
                result.rejected.append(row.note(phone_problem))
            continue
        # the e-mail side -----------------------------------------------------------
        notes = list(row.address_notes)
        opted: list[str] = []
        letters = _letters_of(row, common, phone, template, opted_out_addresses, notes, opted)
        yield from letters
        result.opted_out.extend(row.note(note) for note in opted)
        email_taken = bool(letters or opted)
        if channel == "email":
            if email_taken:
                result.partial.extend(row.note(note) for note in notes)
            else:
                result.rejected.append(row.note("; ".join(notes) or "e-mail: нет адреса"))
            continue
        problems = ([f"звонок: {phone_problem}"] if phone_problem else []) + notes
        if phone_taken or email_taken:
            result.partial.extend(row.note(problem) for problem in problems)
        else:
            reason = "; ".join(problems) or "нет ни телефона, ни адреса e-mail с согласием"
            result.rejected.append(row.note(reason))


class EmptyListError(CallListError):
    """Nothing of the list can be sent: every row refused, repeated or opted out. `parsed`
    holds each row's reason, for the supervisor to see all of them, not a count."""

    def __init__(self, message: str, parsed: ParsedList) -> None:
        super().__init__(message)
        self.parsed = parsed


EMPTY_LIST = {
    "phone": "в списке не осталось ни одного абонента для звонка",
    "email": "в списке не осталось ни одного адреса с согласием на рассылку",
    "both": "в списке не осталось ни одного абонента для звонка или письма",
}


class ListReader:
    """A campaign list validated one row at a time: iterating gives its contacts and letters
    in list order (nothing is kept, so a 200,000-row list is never held as objects), and
    `result` collects every refused, repeated, opted-out and partly refused row with its
    reason as they are met; `contacts` and `letters` count what was given. One pass only."""

    def __init__(
        self,
        rows: Iterable[_Row],
        *,
        region: str,
        scenario: MessageLike | None,
        opted_out: Collection[str],
        channel: str,
        opted_out_addresses: Collection[str],
        result: ParsedList | None = None,
    ) -> None:
        self.channel = channel
        self.result = result if result is not None else ParsedList()
        self.contacts = 0
        self.letters = 0
        self._items: Iterator[ListContact | ListLetter] | None = _collect(
            rows,
            self.result,
            region=region,
            scenario=scenario,
            opted_out=opted_out,
            channel=channel,
            opted_out_addresses=opted_out_addresses,
        )

    def __iter__(self) -> Iterator[ListContact | ListLetter]:
        items, self._items = self._items, None
        if items is None:
            return
        for item in items:
            if isinstance(item, ListContact):
                self.contacts += 1
            else:
                self.letters += 1
            yield item

    def check_not_empty(self) -> None:
        """After reading: raise :class:`EmptyListError` when nothing can be sent."""
        if not self.contacts and not self.letters:
            raise EmptyListError(EMPTY_LIST[self.channel], self.result)

    def collect(self) -> ParsedList:
        """Read everything into `result` (contacts and letters kept): small lists, tests."""
        for item in self:
            if isinstance(item, ListContact):
                self.result.contacts.append(item)
            else:
                self.result.letters.append(item)
        return self.result


def _csv_rows(
    reader: Reader,
    columns: list[str],
    rejected: list[RowNote],
    *,
    channel: str,
    today: date,
    defaults: Mapping[str, str] | None = None,
) -> Iterator[_Row]:
    """The rows of a list after its header; a row with the wrong number of cells goes to
    `rejected` instead (in line order, as the rows are read)."""
    seen: dict[str, int] = {}
    count = 0
    try:
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue
            count += 1
            if count > MAX_ROWS:
                raise CallListError(f"в списке больше {MAX_ROWS} строк")
            line = reader.line_num
            if len(cells) != len(columns):
                rejected.append(
                    RowNote(line, f"ожидалось столбцов: {len(columns)}, в строке: {len(cells)}")
                )
                continue
            raw = dict(zip(columns, cells, strict=True))
            for key, value in (defaults or {}).items():
                if not raw.get(key, "").strip():
                    raw[key] = value
            row = _Row(line, raw)
            if channel != "phone" and raw.get("email", "").strip():
                row.email_given = True
                taken, refused = row_addresses(line, raw, today=today, seen=seen)
                row.addresses = [a.address for a in taken]
                row.address_notes = [_letter_note(r.address, r.reason) for r in refused]
            yield row
    except csv.Error as exc:
        raise CallListError(f"строка {reader.line_num}: не читается как CSV: {exc}") from None


def open_campaign_list(
    data: bytes,
    *,
    channel: str = "phone",
    scenario: MessageLike | None = None,
    region: str = "RU",
    opted_out: Collection[str] = (),
    opted_out_addresses: Collection[str] = (),
    today: date | None = None,
    defaults: Mapping[str, str] | None = None,
) -> ListReader:
    """A campaign list CSV (UTF-8 or cp1251, ',' or ';') for `channel`, its header checked
    now and its rows as they are read. Raises CallListError if the file as a whole is
    unusable (not text, no header, a required column missing, a column the scenario reads
    missing); a broken line or more than MAX_ROWS rows raise it while reading. `defaults`
    fill a column the list lacks and its empty cells (the outage's start and end)."""
    if channel not in LIST_CHANNELS:
        raise CallListError(f"канал должен быть одним из: {', '.join(LIST_CHANNELS)}")
    try:
        stream, _encoding = open_text(data)
    except NotTextError as exc:
        raise CallListError(str(exc)) from None
    first = stream.readline()
    stream.seek(0)
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(stream, delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise CallListError("файл пуст: нет строки заголовка") from None
    except csv.Error as exc:
        raise CallListError(f"строка 1: не читается как CSV: {exc}") from None
    try:
        # the customer import's vocabulary: «Телефон», «Лицевой счёт», «Долг»… or English
        columns = map_header(header)
    except HeaderError as exc:
        raise CallListError(f"строка 1: {exc}") from None
    required = {"phone": ["phone"], "email": ["email", "email_consent"]}
    required["both"] = required["phone"] + required["email"]
    absent = [c for c in required[channel] if c not in columns]
    if absent == ["phone"]:
        raise CallListError("строка 1: нет обязательного столбца phone")
    if absent:
        raise CallListError(
            f"строка 1: для канала {channel} нужны столбцы {', '.join(required[channel])}; "
            f"нет: {', '.join(absent)}"
        )
    bad = [c for c in columns if not _COLUMN_RE.match(c)]
    if bad:
        raise CallListError(f"строка 1: недопустимые имена столбцов: {', '.join(bad)}")
    if scenario is not None and channel != "email":
        missing = sorted(scenario.fields - set(columns) - set(defaults or {}) - {"phone"})
        if missing:
            raise CallListError(
                f"строка 1: сценарий читает столбцы, которых нет: {', '.join(missing)}"
            )
    if scenario is not None and scenario.email is not None and channel != "phone":
        missing = sorted(
            scenario.email.fields - set(columns) - set(defaults or {}) - LETTER_BASE_FIELDS
        )
        if missing:
            raise CallListError(
                f"строка 1: письмо сценария читает столбцы, которых нет: {', '.join(missing)}"
            )
    result = ParsedList()
    rows = _csv_rows(
        reader,
        columns,
        result.rejected,
        channel=channel,
        today=today or date.today(),
        defaults=defaults,
    )
    return ListReader(
        rows,
        region=region,
        scenario=scenario,
        opted_out=opted_out,
        channel=channel,
        opted_out_addresses=opted_out_addresses,
        result=result,
    )


def parse_campaign_list(
    data: bytes,
    *,
    channel: str = "phone",
    scenario: MessageLike | None = None,
    region: str = "RU",
    opted_out: Collection[str] = (),
    opted_out_addresses: Collection[str] = (),
    today: date | None = None,
) -> ParsedList:
    """The whole list validated at once, contacts and letters kept (see
    :func:`open_campaign_list`, which the campaign service reads instead)."""
    return open_campaign_list(
        data,
        channel=channel,
        scenario=scenario,
        region=region,
        opted_out=opted_out,
        opted_out_addresses=opted_out_addresses,
        today=today,
    ).collect()


def parse_call_list(
    data: bytes,
    *,
    scenario: MessageLike | None = None,
    region: str = "RU",
    opted_out: Collection[str] = (),
) -> ParsedList:
    """A phone-only call list (see :func:`parse_campaign_list`)."""
    return parse_campaign_list(
        data, channel="phone", scenario=scenario, region=region, opted_out=opted_out
    )


class CustomerLike(Protocol):
    account: str
    name: str
    address: str
    has_contract: bool
    debt: Decimal | None
    timezone: str | None

    @property
    def phones(self) -> Any: ...


def customers_list(
    customers: Iterable[CustomerLike],
    *,
    scenario: MessageLike | None = None,
    region: str = "RU",
    opted_out: Collection[str] = (),
    channel: str = "phone",
    opted_out_addresses: Collection[str] = (),
    defaults: Mapping[str, str] | None = None,
) -> ListReader:
    """A campaign list from the customer base: only customers with a contract (standard,
    Appendix 1 p. 5), only the contract's phones, only e-mail addresses with consent
    (`CustomerEmail.consent`, p. 6). One contact per customer, its further phones the
    fallbacks; `line` is the customer's position, and every note names the account."""
    needs_debt = scenario is not None and (
        "debt" in scenario.fields
        or (channel != "phone" and scenario.email is not None and "debt" in scenario.email.fields)
    )

    def rows() -> Iterator[_Row]:
        seen: dict[str, int] = {}
        for index, customer in enumerate(customers, start=1):
            if not customer.has_contract:
                continue
            # a debt notice goes to debtors only: the rest of the base is not "rejected"
            if needs_debt and not (customer.debt or 0) > 0:
                continue
            debt_date = getattr(customer, "debt_date", None)
            base = {
                **(defaults or {}),
                "account": customer.account,
                "name": customer.name,
                "address": customer.address,
                "debt": "" if customer.debt is None else str(customer.debt),
                "debt_date": "" if debt_date is None else debt_date.isoformat(),
                "timezone": customer.timezone or "",
            }
            phones = []
            if channel != "email":
                phones = [p.number for p in customer.phones if getattr(p, "from_contract", True)]
            # one contact per customer: the first number is dialled, the others are its
            # fallbacks (the same phone cell a CSV list gives)
            label = f"счёт {customer.account}"
            email_row = _Row(index, {**base, "phone": "; ".join(phones)}, label=label)
            if channel != "phone":
                for item in getattr(customer, "emails", ()) or ():
                    address = str(item.address).strip().lower()
                    email_row.email_given = True
                    problem = address_problem(address, bool(item.consent))
                    if problem is None and address in seen:
                        problem = f"адрес уже есть у абонента {seen[address]}"
                    if problem is not None:
                        email_row.address_notes.append(_letter_note(mask_email(address), problem))
                        continue
                    seen[address] = index
                    email_row.addresses.append(address)
            if phones or email_row.email_given:
                yield email_row

    return ListReader(
        rows(),
        region=region,
        scenario=scenario,
        opted_out=opted_out,
        channel=channel,
        opted_out_addresses=opted_out_addresses,
    )


def contacts_from_customers(
    customers: Iterable[CustomerLike],
    *,
    scenario: MessageLike | None = None,
    region: str = "RU",
    opted_out: Collection[str] = (),
    channel: str = "phone",
    opted_out_addresses: Collection[str] = (),
) -> ParsedList:
    """:func:`customers_list` read at once, contacts and letters kept."""
    return customers_list(
        customers,
        scenario=scenario,
        region=region,
        opted_out=opted_out,
        channel=channel,
        opted_out_addresses=opted_out_addresses,
    ).collect()
