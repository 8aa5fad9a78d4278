"""Parsing and validating a customer CSV export: pure, no I/O beyond the bytes given.

A file is accepted whole or refused whole: every bad line is reported with its number and why.
Offices export both UTF-8 and cp1251, with ',' or ';' as the separator; both are accepted.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from contact_center.parsing import parse_yes_no
from contact_center.telephony.numbers import InvalidPhoneNumber, normalize_phone

REQUIRED_COLUMNS = ("account", "name", "address", "has_contract", "phone", "email", "email_consent")
OPTIONAL_COLUMNS = ("debt", "debt_date", "email_consent_date", "timezone")
ACCOUNT_RE = re.compile(r"[0-9A-Za-zА-Яа-яЁё\-/]{1,32}")
# deliberately simple: one '@', no spaces, a dot in the domain; Cyrillic domains (.рф) allowed
EMAIL_RE = re.compile(r"[^@\s;,<>\"']{1,64}@[^@\s;,<>\"']+\.[^@\s;,<>\"'.]{2,}")
MAX_DEBT = Decimal("1000000000")


@dataclass(frozen=True, slots=True)
class EmailEntry:
    address: str
    consent: bool
    consent_date: date | None


@dataclass(frozen=True, slots=True)
class CustomerRow:
    line: int
    account: str
    name: str
    address: str
    has_contract: bool
    phones: tuple[str, ...]
    emails: tuple[EmailEntry, ...]
    debt: Decimal | None
    debt_date: date | None
    timezone: str | None


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"строка {self.line}: {self.reason}" if self.line else self.reason


@dataclass(slots=True)
class ParsedFile:
    rows: list[CustomerRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    encoding: str = "utf-8"

    @property
    def ok(self) -> bool:
        return not self.errors


def decode(data: bytes) -> tuple[str, str]:
    """Decode UTF-8 (with or without BOM), else cp1251; return (text, encoding name)."""
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("cp1251"), "cp1251"


def parse_bool(raw: str, column: str) -> bool:
    """A yes/no cell; an empty one means "no" (offices leave the cell blank)."""
    try:
        return parse_yes_no(raw, blank=False)
    except ValueError:
        raise ValueError(f"{column}: ожидается да/нет или 1/0, получено «{raw}»") from None


def parse_amount(raw: str, column: str) -> Decimal | None:
    text = raw.strip().replace("\u00a0", "").replace(" ", "").replace(",", ".")
    if not text:
        return None
    if not re.fullmatch(r"\d+(\.\d{1,2})?", text):
        raise ValueError(f"{column}: не сумма в рублях: «{raw}»")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{column}: не сумма в рублях: «{raw}»") from None
    if value >= MAX_DEBT:
        raise ValueError(f"{column}: слишком большая сумма: «{raw}»")
    return value


def parse_date(raw: str, column: str) -> date | None:
    text = raw.strip()
    if not text:
        return None
    for fmt in ("%Y-%m-%d", "%d.%m.%Y"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(f"{column}: дата должна быть ГГГГ-ММ-ДД или ДД.ММ.ГГГГ: «{raw}»")


def _split(raw: str) -> list[str]:
    return [part.strip() for part in raw.split(";") if part.strip()]


def _sniff_delimiter(header_line: str) -> str:
    return ";" if header_line.count(";") > header_line.count(",") else ","


def parse_customers(data: bytes, *, region: str = "RU", today: date | None = None) -> ParsedFile:
    """Validate every row; the result holds either rows (all good) or errors (some bad)."""
    text, encoding = decode(data)
    result = ParsedFile(encoding=encoding)
    first_line = text.split("\n", 1)[0]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_sniff_delimiter(first_line))
    try:
        header = next(reader)
    except StopIteration:
        result.errors.append(RowError(0, "файл пуст: нет строки заголовка"))
        return result
    except csv.Error as exc:
        result.errors.append(RowError(1, f"не читается как CSV: {exc}"))
        return result
    columns = [h.strip().lower() for h in header]
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    unknown = [c for c in columns if c not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS]
    if missing or unknown:
        parts = []
        if missing:
            parts.append("нет столбцов: " + ", ".join(missing))
        if unknown:
            parts.append("неизвестные столбцы: " + ", ".join(unknown))
        result.errors.append(RowError(1, "; ".join(parts)))
        return result
    seen_accounts: dict[str, int] = {}
    today = today or date.today()
    try:
        for raw_row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in raw_row):
                continue
            if len(raw_row) != len(columns):
                result.errors.append(
                    RowError(line, f"ожидалось столбцов: {len(columns)}, в строке: {len(raw_row)}")
                )
                continue
            values = dict(zip(columns, raw_row, strict=True))
            account = values["account"].strip()
            if account and account in seen_accounts:
                result.errors.append(
                    RowError(line, f"счёт {account} повторяет строку {seen_accounts[account]}")
                )
                continue
            seen_accounts.setdefault(account, line)
            try:
                result.rows.append(_parse_row(line, values, region=region, today=today))
            except ValueError as exc:
                result.errors.append(RowError(line, str(exc)))
    except csv.Error as exc:
        result.errors.append(RowError(reader.line_num, f"не читается как CSV: {exc}"))
    if result.errors:
        result.rows.clear()
    return result


def _parse_row(line: int, v: dict[str, str], *, region: str, today: date) -> CustomerRow:
    problems: list[str] = []

    def attempt(fn: Callable[..., Any], *args: object) -> Any:
        try:
            return fn(*args)
        except ValueError as exc:
            problems.append(str(exc))
            return None

    account = v["account"].strip()
    if not account:
        problems.append("account: пустой лицевой счёт")
    elif not ACCOUNT_RE.fullmatch(account):
        problems.append(f"account: недопустимый лицевой счёт «{account}»")
    has_contract = attempt(parse_bool, v["has_contract"], "has_contract")
    phones: list[str] = []
    for raw in _split(v["phone"]):
        try:
            number = normalize_phone(raw, region)
        except InvalidPhoneNumber as exc:
            problems.append(f"phone: {exc}")
            continue
        if number not in phones:
            phones.append(number)
    consent = attempt(parse_bool, v["email_consent"], "email_consent")
    consent_date = attempt(parse_date, v.get("email_consent_date", ""), "email_consent_date")
    emails: list[EmailEntry] = []
    for raw in _split(v["email"]):
        address = raw.lower()
        if not EMAIL_RE.fullmatch(address) or len(address) > 254:
            problems.append(f"email: неверный адрес «{raw}»")
            continue
        if all(e.address != address for e in emails):
            given = bool(consent)
            emails.append(EmailEntry(address, given, (consent_date or today) if given else None))
    if consent and not v["email"].strip():
        problems.append("email_consent: согласие указано, а адреса нет")
    debt = attempt(parse_amount, v.get("debt", ""), "debt")
    debt_date = attempt(parse_date, v.get("debt_date", ""), "debt_date")
    tz = v.get("timezone", "").strip() or None
    if tz is not None:
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(f"timezone: неизвестный часовой пояс «{tz}»")
    if problems:
        raise ValueError("; ".join(problems))
    return CustomerRow(
        line=line,
        account=account,
        name=" ".join(v["name"].split()),
        address=" ".join(v["address"].split()),
        has_contract=bool(has_contract),
        phones=tuple(phones),
        emails=tuple(emails),
        debt=debt,
        debt_date=debt_date,
        timezone=tz,
    )
