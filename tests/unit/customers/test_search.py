"""Customer search on a real SQLite base: account, name, phone or address, any case."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from contact_center.customers.csv_import import parse_customers
from contact_center.customers.services import CustomerService, search_terms
from contact_center.storage import migrate
from contact_center.storage.database import create_engine, session_factory
from tests.conftest import NewDatabase

BASE = (
    "account,name,address,has_contract,phone,email,email_consent\n"
    '100200,Иванов Иван Иванович,"г. Дивногорск, ул. Чкалова, д. 5, кв. 12",да,'
    "+79135550101;+73914400011,,нет\n"
    '100300,Петрова Анна,"г. Дивногорск, ул. Ленина, д. 7",да,+79135550102,,нет\n'
    '200100,ООО 100% Свет_Плюс,"г. Дивногорск, ул. Заводская, д. 1",нет,+73914412345,,нет\n'
)


@pytest.fixture
async def customers(tmp_path: Path, new_database: NewDatabase) -> AsyncIterator[CustomerService]:
    url = new_database("c")
    await asyncio.to_thread(migrate.upgrade, url)
    engine = create_engine(url)
    service = CustomerService(session_factory(engine))
    parsed = parse_customers(BASE.encode(), region="RU")
    assert parsed.ok, parsed.errors
    await service.import_rows(parsed.rows)
    try:
        yield service
    finally:
        await engine.dispose()


async def accounts(service: CustomerService, q: str) -> list[str]:
    return [c.account for c in await service.search(q)]


async def test_search_by_account_part(customers: CustomerService) -> None:
    assert await accounts(customers, "1003") == ["100300"]
    assert await accounts(customers, "100") == ["100200", "100300", "200100"]


async def test_search_by_name_in_any_case(customers: CustomerService) -> None:
    assert await accounts(customers, "иванов") == ["100200"]
    assert await accounts(customers, "ИВАНОВ") == ["100200"]
    assert await accounts(customers, "петрова анна") == ["100300"]


async def test_every_word_must_match_somewhere(customers: CustomerService) -> None:
    assert await accounts(customers, "иванов чкалова") == ["100200"]
    assert await accounts(customers, "иванов ленина") == []
    assert await accounts(customers, "дивногорск 1003") == ["100300"]


async def test_search_by_address(customers: CustomerService) -> None:
    assert await accounts(customers, "чкалова") == ["100200"]
    assert await accounts(customers, "ул. Ленина") == ["100300"]


async def test_search_by_phone_as_people_write_it(customers: CustomerService) -> None:
    assert await accounts(customers, "+7 913 555-01-02") == ["100300"]
    assert await accounts(customers, "8 (913) 555-01-01") == ["100200"]
    assert await accounts(customers, "4400011") == ["100200"]


async def test_like_wildcards_in_the_query_are_literal(customers: CustomerService) -> None:
    assert await accounts(customers, "100%") == ["200100"]
    # "_" as a wildcard would match "т_" here (and "т_п" no longer tells: PostgreSQL folds
    # Cyrillic case, so it finds "т_П" literally)
    assert await accounts(customers, "Све__Плюс") == []
    assert await accounts(customers, "Свет_Плюс") == ["200100"]


async def test_blank_query_finds_nothing_and_limit_holds(customers: CustomerService) -> None:
    assert await accounts(customers, "   ") == []
    assert len(await customers.search("Дивногорск", limit=2)) == 2


def test_search_terms_phone_digits_only_for_phone_like_queries() -> None:
    assert search_terms("8 913 555 01 01").phone_digits == "9135550101"
    assert search_terms("улица 5").phone_digits == ""
    assert search_terms("Иванов  Чкалова").words[0][:2] == ("Иванов", "иванов")
    assert search_terms("12").phone_digits == ""
