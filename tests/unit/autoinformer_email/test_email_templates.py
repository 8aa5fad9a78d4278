"""E-mail templates: typed values as text, escaping, and errors that name the key and field."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from autoinformer.email import EmailTemplate, TemplateError, TemplateRenderError
from autoinformer.email.templates import (
    ValueProblem,
    format_date,
    format_money,
    format_number,
    format_phone,
    format_quantity,
    format_time,
    format_timerange,
)

S = "\u00a0"  # the no-break space inside amounts and numbers

MONEY = [
    (Decimal("1500"), f"1{S}500,00{S}₽"),
    (1500, f"1{S}500,00{S}₽"),  # an int is rubles, not kopecks
    ("1 500,5", f"1{S}500,50{S}₽"),
    ("0.01", f"0,01{S}₽"),
    (0, f"0,00{S}₽"),
    (Decimal("999.999"), f"1{S}000,00{S}₽"),  # rounded half up to kopecks
    (Decimal("1234567.89"), f"1{S}234{S}567,89{S}₽"),
    (21.21, f"21,21{S}₽"),
]


@pytest.mark.parametrize(("value", "text"), MONEY)
def test_money_is_written_with_kopecks_and_the_ruble_sign(value: Any, text: str) -> None:
    assert format_money(value) == text


def test_money_can_be_written_with_another_sign_or_none() -> None:
    assert format_money(1500, sign="руб.") == f"1{S}500,00{S}руб."
    assert format_money(1500, sign="") == f"1{S}500,00"


DATES = [
    ({}, f"5 декабря 2026{S}г."),
    ({"year": False}, "5 декабря"),
    ({"year": "no"}, "5 декабря"),  # the phone scenarios' spelling works too
    ({"form": "genitive"}, f"5 декабря 2026{S}г."),
    ({"form": "from"}, f"с 5 декабря 2026{S}г."),
    ({"form": "until", "year": False}, "до 5 декабря"),
    ({"form": "through"}, f"по 5 декабря 2026{S}г."),
    ({"style": "digits"}, "05.12.2026"),
    ({"style": "digits", "year": False}, "05.12"),
    ({"style": "digits", "form": "until"}, "до 05.12.2026"),
    ({"style": "words", "year": False}, "пятое декабря"),
    ({"style": "words", "form": "genitive", "year": False}, "пятого декабря"),
    ({"style": "words"}, "пятое декабря две тысячи двадцать шестого года"),
    ({"style": "words", "form": "from", "year": False}, "с пятого декабря"),
]


@pytest.mark.parametrize(("options", "text"), DATES)
def test_dates_in_words_or_digits_as_the_template_says(options: dict[str, Any], text: str) -> None:
    assert format_date(dt.date(2026, 12, 5), **options) == text


@pytest.mark.parametrize("value", ["2026-12-05", "05.12.2026", dt.datetime(2026, 12, 5, 9, 30)])
def test_dates_are_read_from_strings_and_datetimes(value: Any) -> None:
    assert format_date(value, style="digits") == "05.12.2026"


TIMES = [
    ("9:30", {}, "09:30"),
    (dt.time(0, 5), {}, "00:05"),
    ("17:00", {"form": "at"}, "в 17:00"),
    ("17:00", {"form": "from"}, "с 17:00"),
    ("17:00", {"form": "until"}, "до 17:00"),
    ("09:30", {"style": "words"}, "девять часов тридцать минут"),
    ("21:00", {"style": "words", "form": "at"}, "в двадцать один час"),
]


@pytest.mark.parametrize(("value", "options", "text"), TIMES)
def test_times_are_hours_and_minutes(value: Any, options: dict[str, Any], text: str) -> None:
    assert format_time(value, **options) == text


def test_time_ranges_from_two_fields_or_one_string() -> None:
    assert format_timerange("09:00", "17:30") == "с 09:00 до 17:30"
    assert format_timerange("9:00 - 17:30") == "с 09:00 до 17:30"
    assert format_timerange("09:00-17:30", style="words") == (
        "с девяти часов до семнадцати часов тридцати минут"
    )


QUANTITIES = [
    (1, "day", f"1{S}день"),
    (3, "day", f"3{S}дня"),
    (11, "day", f"11{S}дней"),
    ("1,5", "day", f"1,5{S}дня"),
    (21, "request", f"21{S}заявка"),
    (150, "kwh", f"150{S}кВт·ч"),
    (Decimal("1250.75"), "kwh", f"1{S}250,75{S}кВт·ч"),
    (2, "minute", f"2{S}минуты"),
]


@pytest.mark.parametrize(("value", "unit", "text"), QUANTITIES)
def test_quantities_agree_with_their_unit(value: Any, unit: str, text: str) -> None:
    assert format_quantity(value, unit) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [(12345, f"12{S}345"), (-7, "-7"), ("1 000 000", f"1{S}000{S}000"), (0, "0")],
)
def test_plain_numbers_are_grouped_by_thousands(value: Any, text: str) -> None:
    assert format_number(value) == text


PHONES = [
    ("+79131234567", "+7 913 123-45-67"),
    ("89131234567", "+7 913 123-45-67"),
    ("9131234567", "+7 913 123-45-67"),
    ("+7 (391) 234-56-78", "+7 391 234-56-78"),
    ("+73914431234", "+7 (39144) 3-12-34"),  # Divnogorsk: the long area code in brackets
    ("83914431234", "+7 (39144) 3-12-34"),
    ("31234", "3-12-34"),
    ("2345678", "234-56-78"),
]


@pytest.mark.parametrize(("value", "text"), PHONES)
def test_phone_numbers_are_written_in_the_usual_groups(value: str, text: str) -> None:
    assert format_phone(value) == text


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        (lambda: format_money("много"), "не сумма"),
        (lambda: format_money(-1), "отрицательной"),
        # None on purpose: the run-time check of an empty value is under test
        (lambda: format_money(None), "пустое значение"),  # type: ignore[arg-type]
        (lambda: format_date("31.02.2026"), "нет такой даты"),
        (lambda: format_date("2026-12-05", style="roman"), "style="),
        (lambda: format_date("2026-12-05", form="dative"), "form="),
        (lambda: format_date("2026-12-05", year="maybe"), "year="),
        (lambda: format_time("25:00"), "нет такого времени"),
        (lambda: format_timerange("09:00"), "интервал"),
        (lambda: format_quantity(3, "kg"), "неизвестная единица"),
        (lambda: format_phone("12"), "не телефонный номер"),
        (lambda: format_money(""), "пустое значение"),
    ],
)
def test_values_that_cannot_be_shown_are_refused(call: Any, fragment: str) -> None:
    with pytest.raises(ValueProblem, match=fragment):
        call()


# --- templates --------------------------------------------------------------------------

DEBT = EmailTemplate(
    subject="Задолженность {{ debt | money }}\n по счёту {{ account }}",
    text="{{ name }}, долг {{ debt | money }} на {{ debt_date | date(style='digits') }}.",
    html="<p>{{ name }}: <b>{{ debt | money }}</b></p><a href='{{ unsubscribe_url }}'>x</a>",
)
CUSTOMER = {
    "name": "Иванов & <Сын>",
    "account": "10-00001",
    "debt": Decimal("1500"),
    "debt_date": dt.date(2026, 11, 25),
}


def test_a_template_renders_subject_text_and_escaped_html_for_one_contact() -> None:
    letter = DEBT.render(CUSTOMER, extra={"unsubscribe_url": "http://x/u?token=a&b=1"})
    assert letter.subject == f"Задолженность 1{S}500,00{S}₽ по счёту 10-00001"
    assert letter.text == f"Иванов & <Сын>, долг 1{S}500,00{S}₽ на 25.11.2026."
    assert letter.html == (
        f"<p>Иванов &amp; &lt;Сын&gt;: <b>1{S}500,00{S}₽</b></p>"
        "<a href='http://x/u?token=a&amp;b=1'>x</a>"
    )


def test_the_channel_values_win_over_contact_fields_of_the_same_name() -> None:
    forged = {**CUSTOMER, "unsubscribe_url": "http://evil/"}
    letter = DEBT.render(forged, extra={"unsubscribe_url": "http://good/"})
    assert letter.html is not None
    assert "http://good/" in letter.html
    assert "evil" not in letter.html


def test_fields_lists_what_the_template_reads_without_the_channel_names() -> None:
    assert DEBT.fields == {"name", "account", "debt", "debt_date"}


def test_a_template_without_html_renders_none_for_html() -> None:
    template = EmailTemplate.load({"subject": "Тема", "text": "Текст"})
    assert template.render({}).html is None
    assert template.to_mapping() == {"subject": "Тема", "text": "Текст"}


def test_a_stored_template_loads_back_equal() -> None:
    assert EmailTemplate.load(DEBT.to_mapping()) == DEBT


@pytest.mark.parametrize(
    ("contact", "field", "message"),
    [
        ({"name": "И", "account": "1", "debt_date": "2026-11-25"}, "debt", "нет поля 'debt'"),
        ({**CUSTOMER, "debt": None}, "debt", "поле 'debt': пустое значение"),
        ({**CUSTOMER, "debt": "много"}, "debt", "поле 'debt': не сумма"),
        ({**CUSTOMER, "name": None}, "name", "пустое поле 'name'"),
        ({**CUSTOMER, "debt_date": "32.13.2026"}, "debt_date", "поле 'debt_date'"),
    ],
)
def test_a_missing_or_bad_contact_field_is_an_error_naming_it(
    contact: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(TemplateRenderError, match=message) as caught:
        DEBT.render(contact)
    assert caught.value.field == field
    assert caught.value.key.startswith("email.")


def test_a_missing_nested_field_is_named_with_its_path() -> None:
    template = EmailTemplate(subject="s", text="Адрес: {{ customer.address.city }}")
    with pytest.raises(TemplateRenderError, match=r"нет поля 'customer\.address'"):
        template.render({"customer": {}})


def test_a_guarded_optional_field_may_be_missing() -> None:
    template = EmailTemplate(
        subject="s", text="{% if debt is defined %}Долг {{ debt | money }}{% else %}Нет{% endif %}"
    )
    assert template.render({}).text == "Нет"


@pytest.mark.parametrize(
    ("spec", "where"),
    [
        ({"subject": "{{ debt | money(", "text": "t"}, "email.subject, строка 1"),
        ({"subject": "s", "text": "a\n{% if %}"}, "email.text, строка 2"),
        ({"subject": "s", "text": "{{ x | mony }}"}, "email.text, строка 1: ошибка шаблона"),
        ({"subject": "s", "text": "{{ d | date(form='dativ') }}"}, "email.text, строка 1: фильтр"),
        (
            {"subject": "s", "text": "t", "html": "\n\n{{ q | quantity('kg') }}"},
            "email.html, строка 3",
        ),
        ({"subject": "s", "text": "{{ d | date(stile='digits') }}"}, "неверные параметры"),
        ({"subject": " ", "text": "t"}, "email.subject: пустая тема"),
        ({"subject": "s", "text": ""}, "email.text: пустой текст"),
        ({"subject": "s"}, "email.text: обязательный ключ"),
        ({"subject": "s", "text": "t", "body": "x"}, "email: неизвестные ключи: body"),
        ({"subject": "s", "text": 5}, "email.text: шаблон должен быть строкой"),
    ],
)  # fmt: skip
def test_templates_are_checked_on_load_and_errors_name_the_key(
    spec: dict[str, Any], where: str
) -> None:
    with pytest.raises(TemplateError) as caught:
        EmailTemplate.load(spec)
    assert where in str(caught.value)


def test_a_literal_end_time_is_accepted_and_checked() -> None:
    template = EmailTemplate(subject="s", text="{{ start | timerange('17:00') }}")
    assert template.render({"start": "09:00"}).text == "с 09:00 до 17:00"
    EmailTemplate(subject="s", text="{{ start | timerange(end='00:00') }}")  # loads: no error
    with pytest.raises(TemplateError, match="нет такого времени"):
        EmailTemplate(subject="s", text="{{ start | timerange('25:00') }}")


def test_errors_name_the_scenario_the_template_came_from() -> None:
    with pytest.raises(TemplateError, match=r"^debt_reminder\.email\.text"):
        EmailTemplate.load({"subject": "s", "text": "{{ x | mony }}"}, where="debt_reminder.email")


def test_templates_cannot_reach_python_internals() -> None:
    template = EmailTemplate(subject="s", text="{{ name.__class__.__mro__ }}")
    with pytest.raises(TemplateRenderError, match="запрещено"):
        template.render({"name": "x"})


def test_a_subject_that_renders_empty_is_refused() -> None:
    template = EmailTemplate(subject="{{ title }}", text="t")
    with pytest.raises(TemplateRenderError, match="тема письма получилась пустой"):
        template.render({"title": "  "})
