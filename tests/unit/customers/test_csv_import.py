import random
from datetime import date
from decimal import Decimal

import pytest

from contact_center.customers.columns import column_names_ru
from contact_center.customers.csv_import import (
    REQUIRED_COLUMNS,
    CustomerReader,
    FileRefused,
    NotTextError,
    ParsedFile,
    parse_customers,
    sniff_encoding,
)

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


SAVE_AS = "сохраните таблицу как CSV (UTF-8 или cp1251, разделитель «,» или «;»)"
NOISE = random.Random(5).randbytes(3000)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x89PNG\r\n\x1a\n" + NOISE, f"это не таблица CSV, а изображение PNG: {SAVE_AS}"),
        (
            b"PK\x03\x04" + NOISE,
            f"это не таблица CSV, а книга Excel (xlsx) или архив ZIP: {SAVE_AS}",
        ),
        (b"\xff\xd8\xff\xe0" + NOISE, f"это не таблица CSV, а изображение JPEG: {SAVE_AS}"),
        (HEADER.encode("utf-16"), f"это не таблица CSV, а текст в кодировке UTF-16: {SAVE_AS}"),
        (HEADER.encode("utf-16-be"), f"это не таблица CSV, а текст в кодировке UTF-16: {SAVE_AS}"),
        (HEADER.encode("utf-32"), f"это не таблица CSV, а текст в кодировке UTF-32: {SAVE_AS}"),
        (NOISE, f"это не таблица CSV, а двоичный файл: {SAVE_AS}"),
        (b"", "файл пуст: нет строки заголовка"),
        (b"\n\n", "строка 1: нет столбцов: " + column_names_ru(REQUIRED_COLUMNS)),
    ],
)
def test_a_file_that_is_no_csv_gives_one_reason_and_no_traceback(data: bytes, message: str) -> None:
    result = parse_customers(data, today=TODAY)
    assert [str(e) for e in result.errors] == [message]
    assert result.rows == []


def test_sniff_encoding_reads_the_whole_file() -> None:
    assert sniff_encoding(HEADER.encode()) == "utf-8"
    assert sniff_encoding("\ufeffа;б\n".encode()) == "utf-8"
    assert sniff_encoding("а;б\n".encode("cp1251")) == "cp1251"
    # UTF-8 broken far past the first chunk read: still not UTF-8
    late = ("а" * 2_000_000).encode() + "ё".encode("cp1251")
    assert sniff_encoding(late) == "cp1251"
    with pytest.raises(NotTextError, match=r"^файл не в UTF-8 \(строка 2\) и не в cp1251"):
        sniff_encoding(b"a\n\x98\n")


def test_the_reader_gives_rows_until_the_first_bad_line_and_then_lists_every_bad_line() -> None:
    data = (
        HEADER
        + "1,А,Б,1,89131112233,,0,,\n"
        + "2,В,Г,1,12345,,0,,\n"
        + "3,Д,Е,1,89131112235,,0,,\n"
        + "4,Ж,З,может,89131112236,,0,,\n"
    ).encode()
    reader = CustomerReader(data, today=TODAY)
    given = []
    with pytest.raises(FileRefused) as refused:
        for row in reader.checked():
            given.append(row.account)
    assert given == ["1"]  # nothing after line 3: the file will import nothing anyway
    assert [str(e) for e in refused.value.errors] == [
        "строка 3: phone: несуществующий номер телефона: «12345»",
        "строка 5: has_contract: ожидается да/нет или 1/0, получено «может»",
    ]


def test_a_good_file_read_row_by_row() -> None:
    data = (HEADER + "1,А,Б,1,89131112233,,0,,\n\n2,В,Г,0,89131112234,,0,0,\n").encode()
    reader = CustomerReader(data, today=TODAY)
    rows = list(reader.checked())
    assert [(r.line, r.account, r.debt) for r in rows] == [(2, "1", None), (4, "2", Decimal(0))]
    assert (reader.ok, reader.count, reader.encoding) == (True, 2, "utf-8")


def test_russian_export_with_several_phones_in_a_cell_is_read() -> None:
    text = (
        "Лицевой счёт;ФИО;Адрес;Договор;Телефон;Эл. почта;Согласие на рассылку;Долг;Дата долга\n"
        '240001;Сидоров Пётр;ул. Ленина, д. 7;да;"8 913 123-45-67, 8 (39144) 3-22-41";'
        "s@example.ru;да;1 234,56;01.11.2026\n"
    )
    result = parse(text, "cp1251")
    assert result.ok, result.errors
    (row,) = result.rows
    assert (row.account, row.name, row.debt) == ("240001", "Сидоров Пётр", Decimal("1234.56"))
    assert row.phones == ("+79131234567", "+73914432241")
    assert row.emails[0].consent is True


def test_russian_header_missing_a_column_names_it_both_ways() -> None:
    result = parse("ЛИЦЕВОЙ СЧЕТ,ФИО,Адрес,Договор,Эл.почта,Согласие на рассылку\n")
    assert [str(e) for e in result.errors] == ["строка 1: нет столбцов: phone («Телефон»)"]


def test_a_column_named_twice_in_two_languages_is_refused() -> None:
    result = parse("account,Лицевой счёт,name,address,has_contract,phone,email,email_consent\n")
    assert "«account» и «Лицевой счёт»" in str(result.errors[0])
