"""Property tests: phrases convert back to the numbers they were built from."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contact_center.speech.numbers import GENDER_NAMES, Gender
from contact_center.speech.phrases import (
    UNITS,
    date_phrase,
    money_phrase,
    number_phrase,
    quantity_phrase,
    time_phrase,
)
from tests.unit.speech.speech_ru_words import ParseError, agreeing, parse_money, words_to_int

rubles = st.integers(min_value=0, max_value=10**9)
kopecks = st.integers(min_value=0, max_value=99)


@settings(max_examples=3000, deadline=None)
@given(rubles, kopecks)
def test_money_round_trips(r: int, k: int) -> None:
    amount = Decimal(r) + Decimal(k) / 100
    assert parse_money(money_phrase(amount)) == amount


@settings(max_examples=500, deadline=None)
@given(rubles, kopecks)
def test_money_from_strings_round_trips(r: int, k: int) -> None:
    amount = Decimal(r) + Decimal(k) / 100
    assert parse_money(money_phrase(f"{r},{k:02d}")) == amount
    assert parse_money(money_phrase(f"{r:,}.{k:02d}".replace(",", " "))) == amount


@settings(max_examples=1000, deadline=None)
@given(st.decimals(min_value=0, max_value=10**9, places=3, allow_nan=False, allow_infinity=False))
def test_money_rounds_half_up_to_kopecks(amount: Decimal) -> None:
    expected = amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    assert parse_money(money_phrase(amount)) == expected


@settings(max_examples=1000, deadline=None)
@given(st.integers(min_value=0, max_value=10**9), st.sampled_from(sorted(UNITS)))
def test_quantity_agrees(n: int, unit: str) -> None:
    spec = UNITS[unit]
    words = quantity_phrase(n, unit).split()
    assert words[-1] == agreeing(n, spec.one, spec.few, spec.many)
    assert words_to_int(words[:-1], spec.gender) == n


@settings(max_examples=1000, deadline=None)
@given(st.integers(min_value=-(10**11), max_value=10**11), st.sampled_from(GENDER_NAMES))
def test_number_round_trips(n: int, gender: Gender) -> None:
    words = number_phrase(n, gender=gender).split()
    sign = -1 if words[0] == "минус" else 1
    assert sign * words_to_int(words[1:] if sign < 0 else words, gender) == n


def test_every_time_of_day_round_trips() -> None:
    hour_forms = ("час", "часа", "часов")
    minute_forms = ("минута", "минуты", "минут")
    for hour in range(24):
        for minute in range(60):
            words = time_phrase(dt.time(hour, minute)).split()
            h_at = next(i for i, w in enumerate(words) if w in hour_forms)
            assert words_to_int(words[:h_at], "m") == hour
            assert words[h_at] == agreeing(hour, *hour_forms)
            rest = words[h_at + 1 :]
            if minute == 0:
                assert rest == []
            else:
                assert rest[-1] == agreeing(minute, *minute_forms)
                assert words_to_int(rest[:-1], "f") == minute


def test_every_day_of_a_leap_year_is_distinct() -> None:
    day = dt.date(2028, 1, 1)
    seen: set[str] = set()
    while day.year == 2028:
        phrase = date_phrase(day, year=False)
        assert phrase.endswith(("ое " + phrase.split()[-1], "ье " + phrase.split()[-1]))
        genitive = date_phrase(day, form="genitive", year=False)
        assert genitive.split()[-2].endswith("го")
        seen.add(phrase)
        day += dt.timedelta(days=1)
    assert len(seen) == 366


@pytest.mark.parametrize(
    "phrase",
    [
        "две рубля",
        "один копейка",
        "пятнадцать рублей",  # parses, but to 15, checked below
        "одна тысяча пятьсот рублей ноль копеек",
        "два тысячи рублей",
        "одна тысяча пятьсот рубль",
        "ноль рублей пять копеек",
        "один миллион одна тысяча одна рубль",
    ],
)
def test_the_parser_is_strict(phrase: str) -> None:
    if phrase == "пятнадцать рублей":
        assert parse_money(phrase) == Decimal(15) != Decimal(1500)
        return
    with pytest.raises(ParseError):
        parse_money(phrase)
