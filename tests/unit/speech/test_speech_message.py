"""Messages: templates and mappings to segments, segments plus contact fields to parts."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from contact_center.speech.message import (
    Message,
    MessageError,
    PromptPart,
    PromptSegment,
    SpeechPart,
    TextSegment,
    ValueSegment,
    message_text,
    resolve,
)

CONTACT: dict[str, Any] = {
    "debt": Decimal("1500.50"),
    "outage_date": dt.date(2026, 12, 5),
    "outage_from": "09:00",
    "outage_to": dt.time(17, 30),
    "hours": "08:00-17:00",
    "phone": "+7 913 123-45-67",
    "kwh": 21,
    "requests": 2,
    "account": {"number": 1234567},
}


def test_template_to_segments() -> None:
    message = Message.parse(
        "{prompt:autoinformer_intro} Задолженность составляет {money:debt}. "
        "Отключение {date:outage_date form=genitive year=no} "
        "{timerange:outage_from end=outage_to}."
    )
    assert message.segments == (
        PromptSegment("autoinformer_intro"),
        TextSegment("Задолженность составляет"),
        ValueSegment("money", "debt"),
        TextSegment("Отключение"),
        ValueSegment("date", "outage_date", form="genitive", year=False),
        ValueSegment("timerange", "outage_from", end_field="outage_to"),
    )
    assert message.fields == {"debt", "outage_date", "outage_from", "outage_to"}
    assert message.prompts == {"autoinformer_intro"}


def test_mapping_list_equals_template() -> None:
    from_list = Message.parse(
        [
            {"prompt": "debt_amount"},
            {"value": "money", "field": "debt"},
            {"text": "Расход"},
            {"value": "quantity", "field": "kwh", "unit": "kwh"},
            "за {quantity:days unit=day}",
        ]
    )
    from_template = Message.parse(
        "{prompt:debt_amount} {money:debt} Расход {quantity:kwh unit=kwh} "
        "за {quantity:days unit=day}"
    )
    assert from_list == from_template


def test_resolve_fills_every_kind() -> None:
    message = Message.parse(
        "{prompt:greeting} Долг {money:debt}. {date:outage_date form=from year=no} "
        "{time:outage_from form=at} {timerange:hours} {quantity:kwh unit=kwh} "
        "{quantity:requests unit=request} {phone:phone} {number:account.number}"
    )
    parts = resolve(message, CONTACT)
    assert parts == [
        PromptPart("greeting"),
        SpeechPart("Долг"),
        SpeechPart("одна тысяча пятьсот рублей пятьдесят копеек"),
        SpeechPart("с пятого декабря"),
        SpeechPart("в девять часов"),
        SpeechPart("с восьми часов до семнадцати часов"),
        SpeechPart("двадцать один киловатт-час"),
        SpeechPart("две заявки"),
        SpeechPart(
            "плюс семь, девятьсот тринадцать, сто двадцать три, сорок пять, шестьдесят семь"
        ),
        SpeechPart("один миллион двести тридцать четыре тысячи пятьсот шестьдесят семь"),
    ]
    assert message_text(parts, {"greeting": "Здравствуйте!"}).startswith("Здравствуйте! Долг")


@pytest.mark.parametrize(
    ("contact", "fragment"),
    [
        ({}, "нет поля 'debt'"),
        ({"debt": None}, "пустое поле 'debt'"),
        ({"debt": "  "}, "пустое поле 'debt'"),
        ({"debt": "-1"}, "поле 'debt': сумма не может быть отрицательной"),
        ({"debt": "1e30"}, "поле 'debt'"),
    ],
)
def test_resolve_errors_name_the_field(contact: dict[str, Any], fragment: str) -> None:
    with pytest.raises(MessageError) as info:
        resolve(Message.parse("Долг {money:debt}"), contact)
    assert fragment in str(info.value)


def test_resolve_error_masks_phone() -> None:
    with pytest.raises(MessageError) as info:
        resolve(Message.parse("{phone:phone}"), {"phone": "+1 202 555 0147"})
    assert "555" not in str(info.value)


@pytest.mark.parametrize(
    "template",
    [
        "",
        "   ",
        "{money}",
        "{bogus:field}",
        "{quantity:kwh}",
        "{quantity:kwh unit=liters}",
        "{money:debt unit=kwh}",
        "{date:d form=dative}",
        "{money:debt form=from}",
        "{date:d year=maybe}",
        "{number:n gender=ж}",
        "{money:debt end=x}",
        "{money:debt colour=red}",
        "{prompt:Bad-Name}",
        "{prompt:greeting loud=yes}",
        "{money:1debt}",
        "Долг {money:debt",
        "Долг money:debt}",
        "{text:hello}",
    ],
)
def test_bad_templates(template: str) -> None:
    with pytest.raises(MessageError):
        Message.parse(template)


@pytest.mark.parametrize(
    "item",
    [
        {"prompt": "a", "text": "b"},
        {"value": "money"},
        {"prompt": "greeting", "form": "x"},
        {"text": "hi", "unit": "kwh"},
        {},
    ],
)
def test_bad_mappings(item: dict[str, Any]) -> None:
    with pytest.raises(MessageError):
        Message.parse([item])


def test_punctuation_between_values_is_not_a_phrase() -> None:
    message = Message.parse("{money:a}, {money:b}.")
    assert message.segments == (ValueSegment("money", "a"), ValueSegment("money", "b"))


def test_check_prompts() -> None:
    message = Message.parse("{prompt:greeting} {prompt:nope}")
    with pytest.raises(MessageError, match="nope"):
        message.check_prompts({"greeting"})
