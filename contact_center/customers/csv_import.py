"""Parsing and validating a customer CSV export: pure, no I/O beyond the bytes given.

A file is accepted whole or refused whole: every bad line is reported with its number and why.
Offices export both UTF-8 and cp1251, with ',' or ';' as the separator; both are accepted.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from contact_center.customers.columns import (
    HeaderError,
    column_names_ru,
    map_header,
    parse_phone_cell,
)
from contact_center.parsing import parse_yes_no

if TYPE_CHECKING:
    # csv.reader's class; the csv module does not re-export its name
    from _csv import Reader

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


# --- is it text at all -----------------------------------------------------------------

SAVE_AS = "сохраните таблицу как CSV (UTF-8 или cp1251, разделитель «,» или «;»)"
# what people actually hand over instead of a CSV: the spreadsheet itself, a scan, an archive
_SIGNATURES: Final = (
    (b"PK\x03\x04", "книга Excel (xlsx) или архив ZIP"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "книга Excel или документ Word старого формата"),
    (b"%PDF", "документ PDF"),
    (b"\x89PNG\r\n\x1a\n", "изображение PNG"),
    (b"\xff\xd8\xff", "изображение JPEG"),
    (b"GIF8", "изображение GIF"),
    (b"\x1f\x8b", "архив gzip"),
    (b"Rar!\x1a\x07", "архив RAR"),
    (b"7z\xbc\xaf\x27\x1c", "архив 7z"),
    (b"{\\rtf", "документ RTF"),
)
_WIDE_BOMS: Final = (
    (b"\xff\xfe\x00\x00", "UTF-32"),
    (b"\x00\x00\xfe\xff", "UTF-32"),
    (b"\xff\xfe", "UTF-16"),
    (b"\xfe\xff", "UTF-16"),
)
# C0 controls no spreadsheet writes into a CSV (tab, line breaks and form feed are fine)
_CONTROL_BYTES: Final = bytes(b for b in range(32) if b not in (9, 10, 11, 12, 13))
_SNIFF_BYTES = 65536
_CHUNK = 1 << 20


class NotTextError(ValueError):
    """Bytes that are no CSV text: an image, a workbook, UTF-16, random bytes. The message
    says what the file looks like and how to save it (one line, Russian)."""


def _looks_like(head: bytes) -> str | None:
    for bom, name in _WIDE_BOMS:
        if head.startswith(bom):
            return f"текст в кодировке {name}"
    for signature, name in _SIGNATURES:
        if head.startswith(signature):
            return name
    if _utf16_text(head):
        return "текст в кодировке UTF-16"
    return None


def _utf16_text(head: bytes) -> bool:
    # Excel's "Unicode text" has no BOM when cut out of a stream; its Latin letters, digits
    # and Cyrillic all sit below U+0500, which random bytes almost never do
    if b"\x00" not in head and b"\x04" not in head:
        return False
    for encoding in ("utf-16-le", "utf-16-be"):
        try:
            text = head[: len(head) // 2 * 2].decode(encoding)
        except UnicodeDecodeError:
            continue
        if text and sum(ch < "\u0500" for ch in text) * 10 >= len(text) * 9:
            return True
    return False


def sniff_encoding(data: bytes) -> str:
    """'utf-8' or 'cp1251', the encoding `data` is text in; raise :class:`NotTextError` for
    anything else. Reads the whole file in chunks without keeping a decoded copy."""
    head = data[:_SNIFF_BYTES]
    what = _looks_like(head)
    if what is None and b"\x00" in data:
        what = "двоичный файл"
    if what is None and head:
        controls = sum(head.count(byte) for byte in _CONTROL_BYTES)
        if controls * 100 > len(head):
            what = "двоичный файл"
    if what is not None:
        raise NotTextError(f"это не таблица CSV, а {what}: {SAVE_AS}")
    view = memoryview(data)
    decoder = codecs.getincrementaldecoder("utf-8")()
    start = 0
    try:
        for start in range(0, len(data), _CHUNK):
            decoder.decode(view[start : start + _CHUNK])
        decoder.decode(b"", final=True)
        return "utf-8"
    except UnicodeDecodeError as exc:
        # exc.start counts from the chunk; a sequence cut by the chunk edge starts before it
        not_utf8 = data.count(b"\n", 0, max(start + exc.start, 0)) + 1
    # cp1251 leaves only 0x98 undefined
    bad = data.find(b"\x98")
    if bad >= 0:
        line = data.count(b"\n", 0, bad) + 1
        raise NotTextError(
            f"файл не в UTF-8 (строка {not_utf8}) и не в cp1251 (байт 0x98 в строке {line}): "
            f"{SAVE_AS}"
        )
    return "cp1251"


def decode(data: bytes) -> tuple[str, str]:
    """Decode UTF-8 (with or without BOM), else cp1251; return (text, encoding name).
    Raises :class:`NotTextError` (a ValueError) for bytes that are no text."""
    encoding = sniff_encoding(data)
    return data.decode("utf-8-sig" if encoding == "utf-8" else encoding), encoding


def open_text(data: bytes) -> tuple[io.TextIOWrapper, str]:
    """`data` as a text stream for csv.reader (lines decoded as they are read, so a large
    file is not held twice) and its encoding. Raises :class:`NotTextError`."""
    encoding = sniff_encoding(data)
    stream = io.TextIOWrapper(
        io.BytesIO(data), encoding="utf-8-sig" if encoding == "utf-8" else encoding, newline=""
    )
    return stream, encoding


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


class FileRefused(ValueError):
    """Raised by :meth:`CustomerReader.checked` after the last line when any line was bad:
    whoever was writing the rows rolls back, so the file imports nothing."""

    def __init__(self, errors: list[RowError]) -> None:
        self.errors = errors
        super().__init__(f"ошибок: {len(errors)}")


class CustomerReader:
    """A customer file read one line at a time: a large export is never held as rows.

    Bytes that are no text and header problems are found when the reader is made (they are
    then in `errors` and iteration gives nothing). Iterating gives the valid rows; each bad
    line adds to `errors`, and after the first one no more rows are given (the file will
    import nothing), though every line is still checked so that all of them are listed.
    One pass only."""

    def __init__(self, data: bytes, *, region: str = "RU", today: date | None = None) -> None:
        self.errors: list[RowError] = []
        self.encoding = "utf-8"
        self.count = 0  # valid rows given so far
        self._region = region
        self._today = today or date.today()
        self._reader: Reader | None = None
        self._columns: list[str] = []
        try:
            stream, self.encoding = open_text(data)
        except NotTextError as exc:
            self.errors.append(RowError(0, str(exc)))
            return
        delimiter = _sniff_delimiter(stream.readline())
        stream.seek(0)
        reader = csv.reader(stream, delimiter=delimiter)
        try:
            header = next(reader)
        except StopIteration:
            self.errors.append(RowError(0, "файл пуст: нет строки заголовка"))
            return
        except csv.Error as exc:
            self.errors.append(RowError(1, f"не читается как CSV: {exc}"))
            return
        try:
            # Russian exports («Лицевой счёт;ФИО;Адрес;…») and English names alike
            columns = map_header(header)
        except HeaderError as exc:
            self.errors.append(RowError(1, str(exc)))
            return
        missing = [c for c in REQUIRED_COLUMNS if c not in columns]
        unknown = [c for c in columns if c not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS]
        if missing or unknown:
            parts = []
            if missing:
                parts.append("нет столбцов: " + column_names_ru(missing))
            if unknown:
                parts.append("неизвестные столбцы: " + ", ".join(unknown))
            self.errors.append(RowError(1, "; ".join(parts)))
            return
        self._reader = reader
        self._columns = columns

    @property
    def ok(self) -> bool:
        return not self.errors

    def __iter__(self) -> Iterator[CustomerRow]:
        reader, self._reader = self._reader, None
        if reader is None:
            return
        columns = self._columns
        seen_accounts: dict[str, int] = {}
        try:
            for raw_row in reader:
                line = reader.line_num
                if not any(cell.strip() for cell in raw_row):
                    continue
                if len(raw_row) != len(columns):
                    self.errors.append(
                        RowError(
                            line, f"ожидалось столбцов: {len(columns)}, в строке: {len(raw_row)}"
                        )
                    )
                    continue
                values = dict(zip(columns, raw_row, strict=True))
                account = values["account"].strip()
                if account and account in seen_accounts:
                    self.errors.append(
                        RowError(line, f"счёт {account} повторяет строку {seen_accounts[account]}")
                    )
                    continue
                seen_accounts.setdefault(account, line)
                try:
                    row = _parse_row(line, values, region=self._region, today=self._today)
                except ValueError as exc:
                    self.errors.append(RowError(line, str(exc)))
                    continue
                if not self.errors:
                    self.count += 1
                    yield row
        except csv.Error as exc:
            self.errors.append(RowError(reader.line_num, f"не читается как CSV: {exc}"))

    def checked(self) -> Iterator[CustomerRow]:
        """The rows to write; raises :class:`FileRefused` after the last line if any line
        was bad (or the file could not be read at all)."""
        yield from self
        if self.errors:
            raise FileRefused(self.errors)


def parse_customers(data: bytes, *, region: str = "RU", today: date | None = None) -> ParsedFile:
    """Validate every row; the result holds either rows (all good) or errors (some bad)."""
    reader = CustomerReader(data, region=region, today=today)
    rows = list(reader)
    return ParsedFile(
        rows=[] if reader.errors else rows, errors=reader.errors, encoding=reader.encoding
    )


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
    # the import keeps every number of the cell, so a bad one refuses the line
    cell = parse_phone_cell(v["phone"], region)
    problems.extend(f"phone: {reason}" for reason in cell.invalid)
    phones = list(cell.numbers)
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
