"""Which customers a campaign targets: `--where` filters over the customer base (pure).

A filter is `KEY OP VALUE`, in English or Russian, case and «ё» not mattering:

- `address=ул. Чкалова; ул. Ленина, д. 5, 7, 10-20` (also `адрес=`, `street=`, `улица=`):
  the customer's address is among these streets and houses, written as the outage registry
  writes them (contact_center.hotline.outages);
- `debt>=1000` (`долг>=`): the debt is at least this many roubles (`1 000,50` too);
- `debt_date<2026-11-01` (`дата долга<`): the debt dates from before this day;
- `email_consent=да` (`согласие=`): has (with `нет`: has not) an e-mail address with consent.

Several filters all have to hold. A filter that cannot be read raises :class:`FilterError`
naming it and saying how to write it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Protocol

from contact_center.customers.columns import fold
from contact_center.customers.csv_import import parse_amount, parse_date
from contact_center.hotline.exceptions import OutageError
from contact_center.hotline.outages import AffectedEntry, parse_address, parse_affected
from contact_center.parsing import parse_yes_no

# folded key -> (filter, the one operator it takes)
KEYS = {
    "address": ("address", "="),
    "адрес": ("address", "="),
    "street": ("address", "="),
    "улица": ("address", "="),
    "debt": ("debt", ">="),
    "долг": ("debt", ">="),
    "debt date": ("debt_date", "<"),
    "дата долга": ("debt_date", "<"),
    "email consent": ("email_consent", "="),
    "согласие": ("email_consent", "="),
    "согласие на рассылку": ("email_consent", "="),
}
HOW = {
    "address": "address=ул. Чкалова; ул. Ленина, д. 5, 7, 10-20",
    "debt": "debt>=1000",
    "debt_date": "debt_date<2026-11-01",
    "email_consent": "email_consent=да",
}
_FILTER_RE = re.compile(r"^\s*([^<>=]+?)\s*(>=|<|=)\s*(.*?)\s*$", re.DOTALL)


class FilterError(ValueError):
    """A `--where` filter that cannot be read (the message names it, Russian)."""


class FilteredCustomer(Protocol):
    address: str
    debt: Decimal | None
    debt_date: date | None

    @property
    def emails(self) -> Any: ...


@dataclass(frozen=True, slots=True)
class CustomerFilter:
    text: str  # as written
    key: str  # address | debt | debt_date | email_consent
    entries: tuple[AffectedEntry, ...] = ()
    amount: Decimal = Decimal(0)
    day: date | None = None
    consent: bool = True

    def matches(self, customer: FilteredCustomer) -> bool:
        if self.key == "address":
            parsed = parse_address(customer.address or "")
            return parsed is not None and any(e.covers(parsed) for e in self.entries)
        if self.key == "debt":
            return customer.debt is not None and customer.debt >= self.amount
        if self.key == "debt_date":
            assert self.day is not None
            return customer.debt_date is not None and customer.debt_date < self.day
        given = any(bool(e.consent) for e in (customer.emails or ()))
        return given is self.consent


def parse_filter(text: str) -> CustomerFilter:
    """One filter; raises :class:`FilterError`."""
    match = _FILTER_RE.match(text)
    name = f"--where «{text.strip()}»"
    if match is None:
        raise FilterError(
            f"{name}: фильтр пишется КЛЮЧ=ЗНАЧЕНИЕ, например {HOW['address']}, {HOW['debt']}"
        )
    raw_key, op, value = match.groups()
    known = KEYS.get(fold(raw_key))
    if known is None:
        raise FilterError(
            f"{name}: неизвестный фильтр «{raw_key.strip()}»; есть: " + ", ".join(HOW.values())
        )
    key, wanted = known
    if op != wanted:
        raise FilterError(f"{name}: этот фильтр пишется так: {HOW[key]}")
    if not value:
        raise FilterError(f"{name}: нет значения; пример: {HOW[key]}")
    try:
        if key == "address":
            return CustomerFilter(text.strip(), key, entries=parse_affected(value))
        if key == "debt":
            amount = parse_amount(value, "долг")
            assert amount is not None
            return CustomerFilter(text.strip(), key, amount=amount)
        if key == "debt_date":
            return CustomerFilter(text.strip(), key, day=parse_date(value, "дата долга"))
        return CustomerFilter(text.strip(), key, consent=parse_yes_no(value))
    except (OutageError, ValueError) as exc:
        raise FilterError(f"{name}: {exc}") from None


def parse_filters(texts: Iterable[str]) -> tuple[CustomerFilter, ...]:
    return tuple(parse_filter(text) for text in texts)


def matches_all(filters: Sequence[CustomerFilter], customer: FilteredCustomer) -> bool:
    return all(f.matches(customer) for f in filters)


def describe(filters: Sequence[CustomerFilter]) -> str:
    """The filters as stored with the campaign (its `source`)."""
    return " и ".join(f.text for f in filters)
