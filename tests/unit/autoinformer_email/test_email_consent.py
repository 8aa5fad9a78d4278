"""Consent: only addresses given voluntarily are mailed; every other row says why."""

from __future__ import annotations

from datetime import date

import pytest

from autoinformer.email import (
    ConsentFileError,
    ConsentList,
    address_problem,
    parse_consent_csv,
)

TODAY = date(2026, 12, 1)


def parse(text: str, *, encoding: str = "utf-8") -> ConsentList:
    return parse_consent_csv(text.encode(encoding), today=TODAY)


LIST = """\
account,name,email,email_consent,email_consent_date,debt
10-1,Иванов Иван,ivanov@example.ru,да,2025-03-01,1500
10-2,Петров,petrov@example.ru,нет,,200
10-3,Сидоров,,да,,300
10-4,Кузнецов,not-an-address,1,,400
10-5,Дубль,IVANOV@example.ru,1,,500
10-6,Кириллица,иван@example.ru,1,,600
10-7,Два адреса,a@example.ru; b@пример.рф,yes,,700
10-8,Непонятно,c@example.ru,может быть,,800
10-9,Будущее,d@example.ru,1,2027-01-01,900
10-10,Лишнее,e@example.ru,1,,1000,extra
"""


def test_only_addresses_with_consent_are_taken_with_their_fields() -> None:
    result = parse(LIST)
    assert [(a.line, a.address) for a in result.accepted] == [
        (2, "ivanov@example.ru"),
        (8, "a@example.ru"),
        (8, "b@пример.рф"),
    ]
    first = result.accepted[0]
    assert (first.name, first.account, first.consent_date) == (
        "Иванов Иван",
        "10-1",
        date(2025, 3, 1),
    )
    assert first.fields["debt"] == "1500"
    assert "email" not in first.fields


def test_every_rejected_row_has_its_line_and_reason_and_no_full_address() -> None:
    rejected = [str(r) for r in parse(LIST).rejected]
    assert rejected == [
        "строка 3 (p***@example.ru): нет согласия на рассылку (email_consent)",
        "строка 4: email: нет адреса",
        "строка 5 (***): неверный адрес",
        "строка 6 (i***@example.ru): адрес уже есть в строке 2",
        "строка 7 (и***@example.ru): адрес с нелатинскими буквами до @",
        "строка 9 (c***@example.ru): "
        "email_consent: ожидается да/нет или 1/0, получено «может быть»",
        "строка 10 (d***@example.ru): email_consent_date: согласие датировано будущим (01.01.2027)",
        "строка 11: ожидалось столбцов: 6, в строке: 7",
    ]
    assert not any("petrov@" in r or "ivanov@" in r.lower() for r in rejected)


def test_cp1251_and_semicolons_are_read_like_the_customer_import() -> None:
    text = "email;email_consent;name\r\nivanov@example.ru;да;Иванов\r\n"
    result = parse(text, encoding="cp1251")
    assert result.encoding == "cp1251"
    assert [(a.address, a.name) for a in result.accepted] == [("ivanov@example.ru", "Иванов")]


def test_blank_lines_are_skipped() -> None:
    result = parse("email,email_consent\n\na@example.ru,1\n,\n")
    assert [a.address for a in result.accepted] == ["a@example.ru"]
    assert result.rejected == []


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "файл пуст"),
        ("email,name\na@example.ru,x\n", "нужны столбцы email, email_consent"),
        ("email,email_consent,email\na,1,b\n", "повторяются столбцы: email"),
    ],
)
def test_a_file_that_is_no_consent_list_is_refused_whole(text: str, fragment: str) -> None:
    with pytest.raises(ConsentFileError, match=fragment):
        parse(text)


@pytest.mark.parametrize(
    ("data", "what"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01", "изображение PNG"),
        ("email,email_consent\na@example.ru,да\n".encode("utf-16"), "текст в кодировке UTF-16"),
    ],
)
def test_a_file_that_is_no_text_is_refused_whole(data: bytes, what: str) -> None:
    with pytest.raises(ConsentFileError) as exc:
        parse_consent_csv(data, today=TODAY)
    assert str(exc.value) == (
        f"это не таблица CSV, а {what}: "
        "сохраните таблицу как CSV (UTF-8 или cp1251, разделитель «,» или «;»)"
    )


@pytest.mark.parametrize(
    ("address", "consent", "problem"),
    [
        ("ivanov@example.ru", True, None),
        ("ivanov@пример.рф", True, None),
        ("ivanov@example.ru", False, "нет согласия на рассылку (email_consent)"),
        ("ivanov@example.ru", None, "нет согласия на рассылку (email_consent)"),
        ("", True, "нет адреса"),
        (None, True, "нет адреса"),
        ("ivanov@", True, "неверный адрес"),
        ("x" * 250 + "@example.ru", True, "неверный адрес"),
        ("иванов@example.ru", True, "адрес с нелатинскими буквами до @"),
    ],
)
def test_the_customer_base_uses_the_same_rule(
    address: str | None, consent: bool | None, problem: str | None
) -> None:
    assert address_problem(address, consent) == problem
