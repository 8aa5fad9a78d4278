from datetime import date
from decimal import Decimal

import pytest

from contact_center.customers.csv_import import ParsedFile, parse_customers

HEADER = "account,name,address,has_contract,phone,email,email_consent,debt,debt_date\n"
TODAY = date(2026, 11, 25)


def parse(text: str, encoding: str = "utf-8") -> ParsedFile:
    return parse_customers(text.encode(encoding), today=TODAY)


def test_good_file_gives_normalised_rows() -> None:
    result = parse(
        HEADER
        + '100001,Иванов  Иван,"г. Дивногорск, ул. Чкалова, 1",да,'
        + '"+7 913 123-45-67; 8 (39144) 3-22-41",Ivanov@Example.ru,1,"1 500,50",01.11.2026\n'
    )
    assert result.ok, result.errors
    (row,) = result.rows
    assert row.account == "100001"
    assert row.name == "Иванов Иван"
    assert row.has_contract is True
    assert row.phones == ("+79131234567", "+73914432241")
    assert row.emails[0].address == "ivanov@example.ru"
    assert row.emails[0].consent is True
    assert row.emails[0].consent_date == TODAY
    assert row.debt == Decimal("1500.50")
    assert row.debt_date == date(2026, 11, 1)


def test_cp1251_file_is_read() -> None:
    result = parse(HEADER + "100002,Петрова Анна,ул. Бочкина 5,1,89131112233,,0,,\n", "cp1251")
    assert result.ok
    assert result.encoding == "cp1251"
    assert result.rows[0].name == "Петрова Анна"


def test_semicolon_separated_export_is_read() -> None:
    text = HEADER.replace(",", ";") + '1;А;Б;1;"89131112233;89131112234";;0;;\n'
    result = parse(text)
    assert result.ok, result.errors
    assert len(result.rows[0].phones) == 2


def test_one_bad_row_rejects_the_file_and_names_the_line() -> None:
    result = parse(
        HEADER
        + "1,А,Б,1,89131112233,,0,,\n"
        + "2,В,Г,1,12345,,0,,\n"
        + "3,Д,Е,1,89131112235,,0,,\n"
    )
    assert not result.ok
    assert result.rows == []
    assert [e.line for e in result.errors] == [3]
    assert "12345" in str(result.errors[0])
    assert str(result.errors[0]).startswith("строка 3:")


@pytest.mark.parametrize(
    ("row", "fragment"),
    [
        ("1,А,Б,может,89131112233,,0,,", "has_contract"),
        ("1,А,Б,1,89131112233,not-an-email,0,,", "email"),
        ("1,А,Б,1,89131112233,,1,,", "согласие"),
        ("1,А,Б,1,89131112233,,0,-5,", "debt"),
        ("1,А,Б,1,89131112233,,0,1e30,", "debt"),
        ("1,А,Б,1,89131112233,,0,10,2026-02-30", "debt_date"),
        (",А,Б,1,89131112233,,0,,", "account"),
        ("1,А,Б,1,89131112233,,0,,,extra", "столбцов"),
    ],
)
def test_each_kind_of_bad_value_is_explained(row: str, fragment: str) -> None:
    result = parse(HEADER + row + "\n")
    assert not result.ok
    assert fragment in str(result.errors[0])


def test_duplicate_account_names_both_lines() -> None:
    result = parse(HEADER + "7,А,Б,1,89131112233,,0,,\n7,В,Г,1,89131112234,,0,,\n")
    assert [str(e) for e in result.errors] == ["строка 3: счёт 7 повторяет строку 2"]


def test_missing_and_unknown_columns_are_listed() -> None:
    result = parse("account,name,phone,colour\n1,А,89131112233,red\n")
    assert not result.ok
    message = str(result.errors[0])
    assert "has_contract" in message and "colour" in message


def test_empty_file_is_refused() -> None:
    assert not parse("").ok
