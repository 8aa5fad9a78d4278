"""Call lists in the customer import's vocabulary: Russian headers, several numbers in a
phone cell (the first dialled, the rest fallbacks), refusals from the base by account."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest

from autoinformer.exceptions import CallListError
from autoinformer.lists import contacts_from_customers, parse_call_list, parse_campaign_list
from autoinformer.scenarios import builtin_scenarios
from contact_center.speech.prompts import PromptCatalog

PROMPTS = set(PromptCatalog.load())
DEBT = next(s for s in builtin_scenarios(prompts=PROMPTS) if s.name == "debt-notice")
OUTAGE = next(s for s in builtin_scenarios(prompts=PROMPTS) if s.name == "outage-warning")


def test_russian_headers_are_read_as_the_import_reads_them() -> None:
    data = (
        "Телефон;Лицевой счёт;ФИО;Адрес;Долг;district\n"
        '"8 913 000-00-01; 8 913 000-00-02";240001;Иванов И.;ул. Мира 1;"1 500,50";север\n'
    ).encode("cp1251")
    [contact] = parse_call_list(data, scenario=DEBT).contacts
    assert (contact.phone, contact.alternates) == ("79130000001", ("79130000002",))
    assert (contact.account, contact.name) == ("240001", "Иванов И.")
    assert dict(contact.values) == {"address": "ул. Мира 1", "debt": "1500.50", "district": "север"}


def test_outage_columns_in_russian() -> None:
    data = (
        "Телефон,Адрес,Начало отключения,Окончание отключения\n"
        "+79130000001,ул. Мира 1,01.12.2026 09:00,01.12.2026 17:00\n"
    ).encode()
    [contact] = parse_call_list(data, scenario=OUTAGE).contacts
    assert contact.values["outage_end"] == "2026-12-01T17:00"


@pytest.mark.parametrize(
    ("header", "error"),
    [
        ("ФИО,Долг", "нет обязательного столбца phone"),
        ("Телефон,ТЕЛЕФОН", "столбцы повторяются"),
        ("Телефон,phone", "«Телефон» и «phone»"),
        ("Телефон,Лицевой счёт", "сценарий читает столбцы, которых нет: debt"),
    ],
)
def test_russian_header_refusals(header: str, error: str) -> None:
    with pytest.raises(CallListError, match=error):
        parse_call_list(f"{header}\n1,2\n".encode(), scenario=DEBT)


def test_bad_numbers_in_a_cell_are_skipped_with_a_note_and_a_cell_without_one_refused() -> None:
    data = ('phone,debt,account\n"абв; +7 913 000-00-01",10,1\n"абв; 12",10,2\n').encode()
    parsed = parse_call_list(data, scenario=DEBT)
    assert [(c.line, c.phone, c.alternates) for c in parsed.contacts] == [(2, "79130000001", ())]
    assert [n.line for n in parsed.partial] == [2]
    assert "номер пропущен" in parsed.partial[0].reason
    assert [n.line for n in parsed.rejected] == [3]
    assert parsed.rejected[0].reason.startswith("phone:")


def test_a_number_of_another_row_is_left_to_it() -> None:
    data = (
        b"phone,debt,account\n"
        b'"+79130000001; +79130000002",10,1\n'
        b'"+79130000002; +79130000003",10,2\n'
        b"+79130000003,10,3\n"
    )
    parsed = parse_call_list(data, scenario=DEBT)
    assert [(c.phone, c.alternates) for c in parsed.contacts] == [
        ("79130000001", ("79130000002",)),
        ("79130000003", ()),
    ]
    assert [(n.line, n.reason) for n in parsed.duplicates] == [
        (4, "номер повторяет строку 3: объединён")
    ]


def test_a_row_whose_fallback_opted_out_is_not_called() -> None:
    data = b'phone,debt,account\n"+79130000001; +79130000002",10,1\n'
    parsed = parse_call_list(data, scenario=DEBT, opted_out={"79130000002"})
    assert parsed.contacts == []
    assert [n.line for n in parsed.opted_out] == [2]


def test_letters_join_the_contact_of_a_several_number_row() -> None:
    data = (
        "Телефон,Эл. почта,Согласие на рассылку,Долг,Лицевой счёт\n"
        '"+79130000001; +79130000002",a@example.ru,да,10,1\n'
    ).encode()
    parsed = parse_campaign_list(data, channel="both")
    assert [c.phone for c in parsed.contacts] == ["79130000001"]
    assert [(letter.address, letter.phone) for letter in parsed.letters] == [
        ("a@example.ru", "79130000001")
    ]


def _customer(account: str, debt: str | None, *phones: str, contract: bool = True) -> Any:
    return SimpleNamespace(
        account=account,
        name="И",
        address="ул. Мира 1",
        has_contract=contract,
        debt=Decimal(debt) if debt else None,
        timezone=None,
        phones=[SimpleNamespace(number=n, from_contract=True) for n in phones],
    )


def test_base_gives_one_contact_per_customer_with_its_numbers_as_fallbacks() -> None:
    parsed = contacts_from_customers(
        [_customer("240001", "10", "+79130000001", "+79130000002")], scenario=DEBT
    )
    assert [(c.account, c.phone, c.alternates) for c in parsed.contacts] == [
        ("240001", "79130000001", ("79130000002",))
    ]


def test_refusals_from_the_base_name_the_account_not_a_line() -> None:
    parsed = contacts_from_customers(
        [
            _customer("240001", "10", "+79130000001"),
            _customer("240002", "5", "+79130000001"),
            _customer("240003", "7", "+79130000003"),
        ],
        scenario=DEBT,
        opted_out={"79130000003"},
    )
    assert [str(n) for n in parsed.duplicates] == [
        "счёт 240002: номер повторяет счёт 240001: объединён"
    ]
    assert [str(n) for n in parsed.opted_out] == [
        "счёт 240003: абонент отказался от уведомлений этого вида: не звоним"
    ]
