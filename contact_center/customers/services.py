"""Customer base operations: import a validated file (all or nothing), look up by phone."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import islice

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contact_center.customers.csv_import import CustomerRow
from contact_center.customers.models import Customer, CustomerEmail, CustomerPhone

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ImportSummary:
    created: int
    updated: int

    @property
    def total(self) -> int:
        return self.created + self.updated


class CustomerService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def import_rows(
        self,
        rows: Iterable[CustomerRow],
        *,
        progress: Callable[[int], None] | None = None,
        chunk: int = 500,
    ) -> ImportSummary:
        """Create or update customers by account number in one transaction; `rows` may be
        a reader that raises after its last row to roll the whole file back."""
        created = updated = 0
        pending = iter(rows)
        async with self._sessions() as session, session.begin():
            while part := list(islice(pending, chunk)):
                existing = {
                    c.account: c
                    for c in (
                        await session.scalars(
                            select(Customer).where(Customer.account.in_([r.account for r in part]))
                        )
                    ).all()
                }
                for row in part:
                    customer = existing.get(row.account)
                    if customer is None:
                        customer = Customer(account=row.account)
                        session.add(customer)
                        created += 1
                    else:
                        updated += 1
                    _apply(customer, row)
                await session.flush()
                if progress is not None:
                    progress(len(part))
        log.info("imported customers: %d created, %d updated", created, updated)
        return ImportSummary(created=created, updated=updated)

    async def find_by_phone(self, e164: str) -> Customer | None:
        """Caller-ID lookup: the customer whose contract lists this number."""
        async with self._sessions() as session:
            return await session.scalar(
                select(Customer)
                .join(CustomerPhone)
                .where(CustomerPhone.number == e164)
                .order_by(Customer.has_contract.desc(), Customer.id)
                .limit(1)
            )

    async def get(self, account: str) -> Customer | None:
        async with self._sessions() as session:
            return await session.scalar(select(Customer).where(Customer.account == account))

    async def search(self, query: str, *, limit: int = 50) -> list[Customer]:
        """Customers matching every word of `query` in their account, name or address (any
        case; "иванов чкалова" finds Иванов on ул. Чкалова), by account. A query that looks
        like a phone number (digits, spaces, dashes, brackets, '+') also finds the phones
        containing it, written with a country code or without ("8 913 ..." finds +7913...)."""
        terms = search_terms(query)
        if not terms.words:
            return []
        per_word: list[ColumnElement[bool]] = []
        for variants in terms.words:
            fields: list[ColumnElement[bool]] = []
            for variant in variants:
                pattern = f"%{variant}%"
                fields += [
                    Customer.account.ilike(pattern, escape="\\"),
                    Customer.name.ilike(pattern, escape="\\"),
                    Customer.address.ilike(pattern, escape="\\"),
                ]
            per_word.append(or_(*fields))
        match = and_(*per_word)
        if terms.phone_digits:
            phones = select(CustomerPhone.customer_id).where(
                CustomerPhone.number.like(f"%{terms.phone_digits}%")
            )
            match = or_(match, Customer.id.in_(phones))
        async with self._sessions() as session:
            rows = await session.scalars(
                select(Customer).where(match).order_by(Customer.account).limit(limit)
            )
            return list(rows.all())

    async def page(self, *, limit: int = 50, offset: int = 0) -> tuple[int, list[Customer]]:
        """A page of the base by account, and how many customers there are."""
        async with self._sessions() as session:
            total = await session.scalar(select(func.count(Customer.id))) or 0
            rows = await session.scalars(
                select(Customer).order_by(Customer.account).limit(limit).offset(offset)
            )
            return int(total), list(rows.all())

    async def count(self) -> int:
        async with self._sessions() as session:
            return int(await session.scalar(select(func.count(Customer.id))) or 0)


@dataclass(frozen=True, slots=True)
class SearchTerms:
    # per word, its LIKE-escaped spellings: SQLite folds the case of ASCII letters only, so
    # Cyrillic is matched as typed, lower, upper and capitalised ("иванов" finds "Иванов")
    words: tuple[tuple[str, ...], ...]
    phone_digits: str  # "" unless the query looks like (a part of) a phone number


_PHONE_CHARS = set("0123456789+()- ")
MAX_WORDS = 8


def search_terms(query: str) -> SearchTerms:
    text = " ".join(query.split())[:100]
    words = []
    for word in text.split()[:MAX_WORDS]:
        escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        variants = (escaped, escaped.lower(), escaped.upper(), escaped.capitalize())
        words.append(tuple(dict.fromkeys(variants)))
    digits = "".join(ch for ch in text if ch.isdigit())
    phone = ""
    if len(digits) >= 3 and set(text) <= _PHONE_CHARS:
        # a national 8 prefix or a leading 7 of an 11-digit number: the stored E.164 has +7
        phone = digits[1:] if len(digits) == 11 and digits[0] in "78" else digits
    return SearchTerms(tuple(words), phone)


def _apply(customer: Customer, row: CustomerRow) -> None:
    customer.name = row.name
    customer.address = row.address
    customer.has_contract = row.has_contract
    customer.debt = row.debt
    customer.debt_date = row.debt_date
    customer.timezone = row.timezone
    # the file is the office's current truth: phones and addresses are replaced, not merged
    by_number = {p.number: p for p in customer.phones}
    customer.phones = [by_number.get(n) or CustomerPhone(number=n) for n in row.phones]
    by_address = {e.address: e for e in customer.emails}
    emails = []
    for entry in row.emails:
        email = by_address.get(entry.address) or CustomerEmail(address=entry.address)
        if entry.consent and not email.consent:
            email.consent_date = entry.consent_date
        elif not entry.consent:
            email.consent_date = None
        email.consent = entry.consent
        emails.append(email)
    customer.emails = emails
