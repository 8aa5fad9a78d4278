"""Who may get e-mail: only addresses given with consent (standard, Appendix 1 p.4 and p.6).

Pure: bytes or values in, decisions out. Two sources use the same rule
(:func:`address_problem`):

- the customer base: each ``CustomerEmail`` has ``address`` and ``consent``;
- a campaign's own CSV with the columns ``email`` and ``email_consent`` (optional
  ``email_consent_date``, ``name``, ``account`` and any fields the template reads).

Unlike the customer import (all or nothing), a campaign list is filtered row by row: every
address with consent is taken, every other row is reported with its line and reason, so a
supervisor sees exactly who will not be mailed and why. Reasons never show a full address.
The CSV conventions (UTF-8 or cp1251, ``,`` or ``;``, yes/no words, addresses separated by
``;`` in a cell) are the customer import's, from the same functions.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

from contact_center.customers.csv_import import (
    EMAIL_RE,
    NotTextError,
    decode,
    parse_bool,
    parse_date,
)
from contact_center.privacy import mask_email

from .exceptions import AddressError, ConsentFileError
from .mime import ascii_address

if TYPE_CHECKING:
    # csv.reader's class; the csv module does not re-export its name
    from _csv import Reader

REQUIRED_COLUMNS = ("email", "email_consent")
MAX_ADDRESS_LENGTH = 254


@dataclass(frozen=True, slots=True)
class ConsentedAddress:
    """An address that may be mailed. ``fields`` holds the row's other columns as text
    (for the template); ``name`` and ``account`` are copied out when the file has them."""

    line: int
    address: str
    name: str = ""
    account: str = ""
    consent_date: date | None = None
    fields: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RejectedRow:
    """A row (or one address of a row) that will not be mailed; ``address`` is masked."""

    line: int
    reason: str
    address: str = ""

    def __str__(self) -> str:
        who = f" ({self.address})" if self.address else ""
        return f"строка {self.line}{who}: {self.reason}"


@dataclass(slots=True)
class ConsentList:
    accepted: list[ConsentedAddress] = field(default_factory=list)
    rejected: list[RejectedRow] = field(default_factory=list)
    encoding: str = "utf-8"


def address_problem(address: str | None, consent: bool | None) -> str | None:
    """Why ``address`` may not be mailed (None if it may): no consent, no or a malformed
    address, or one this channel cannot send to (non-Latin letters before the @)."""
    text = (address or "").strip()
    if not text:
        return "нет адреса"
    if not consent:
        return "нет согласия на рассылку (email_consent)"
    if len(text) > MAX_ADDRESS_LENGTH or not EMAIL_RE.fullmatch(text.lower()):
        return "неверный адрес"
    try:
        ascii_address(text)
    except AddressError as exc:
        return str(exc).split(":", 1)[0]
    return None


def _reader(text: str) -> tuple[Reader, list[str]] | None:
    # the separator is the one under which the header names the required columns
    for delimiter in (",", ";"):
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        try:
            header = [h.strip().lower() for h in next(reader)]
        except StopIteration:
            return None
        if all(c in header for c in REQUIRED_COLUMNS):
            return reader, header
    return None


def parse_consent_csv(data: bytes, *, today: date | None = None) -> ConsentList:
    """Addresses with consent from a CSV; every other row in ``rejected`` with its reason.

    Raises :class:`ConsentFileError` only when the file cannot be read as such a list at
    all (no text, empty, no ``email``/``email_consent`` columns, repeated column names,
    broken CSV).
    """
    try:
        text, encoding = decode(data)
    except NotTextError as exc:
        raise ConsentFileError(str(exc)) from None
    result = ConsentList(encoding=encoding)
    if not text.strip():
        raise ConsentFileError("файл пуст: нет строки заголовка")
    try:
        found = _reader(text)
    except csv.Error as exc:
        raise ConsentFileError(f"строка 1: не читается как CSV: {exc}") from None
    if found is None:
        raise ConsentFileError(f"строка 1: нужны столбцы {', '.join(REQUIRED_COLUMNS)}")
    reader, header = found
    repeated = sorted({c for c in header if header.count(c) > 1})
    if repeated:
        raise ConsentFileError(f"строка 1: повторяются столбцы: {', '.join(repeated)}")
    today = today or date.today()
    seen: dict[str, int] = {}
    try:
        for raw in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in raw):
                continue
            if len(raw) != len(header):
                result.rejected.append(
                    RejectedRow(line, f"ожидалось столбцов: {len(header)}, в строке: {len(raw)}")
                )
                continue
            _parse_row(line, dict(zip(header, raw, strict=True)), today, seen, result)
    except csv.Error as exc:
        raise ConsentFileError(f"строка {reader.line_num}: не читается как CSV: {exc}") from None
    return result


def _parse_row(
    line: int, values: dict[str, str], today: date, seen: dict[str, int], result: ConsentList
) -> None:
    accepted, rejected = row_addresses(line, values, today=today, seen=seen)
    result.accepted.extend(accepted)
    result.rejected.extend(rejected)


def row_addresses(
    line: int, values: Mapping[str, str], *, today: date, seen: dict[str, int]
) -> tuple[list[ConsentedAddress], list[RejectedRow]]:
    """One CSV row's addresses (``email``, ``email_consent``, optional ``email_consent_date``):
    those that may be mailed and, with reasons, those that may not. ``seen`` maps addresses
    already taken to their line (a repeat is refused) and is updated. Campaign lists that
    also carry phones use this for their e-mail side."""
    accepted: list[ConsentedAddress] = []
    rejected: list[RejectedRow] = []
    addresses = [a.strip() for a in values.get("email", "").split(";") if a.strip()]
    shown = ", ".join(mask_email(a) for a in addresses)
    try:
        consent = parse_bool(values.get("email_consent", ""), "email_consent")
    except ValueError as exc:
        return accepted, [RejectedRow(line, str(exc), shown)]
    try:
        consent_date = parse_date(values.get("email_consent_date", ""), "email_consent_date")
    except ValueError as exc:
        return accepted, [RejectedRow(line, str(exc), shown)]
    if consent and consent_date is not None and consent_date > today:
        reason = f"email_consent_date: согласие датировано будущим ({consent_date:%d.%m.%Y})"
        return accepted, [RejectedRow(line, reason, shown)]
    if not addresses:
        return accepted, [RejectedRow(line, "email: нет адреса")]
    others = {k: v.strip() for k, v in values.items() if k not in REQUIRED_COLUMNS}
    for raw in addresses:
        address = raw.lower()
        problem = address_problem(address, consent)
        if problem is None and address in seen:
            problem = f"адрес уже есть в строке {seen[address]}"
        if problem is not None:
            rejected.append(RejectedRow(line, problem, mask_email(address)))
            continue
        seen[address] = line
        accepted.append(
            ConsentedAddress(
                line=line,
                address=address,
                name=" ".join(values.get("name", "").split()),
                account=values.get("account", "").strip(),
                consent_date=consent_date,
                fields=others,
            )
        )
    return accepted, rejected
