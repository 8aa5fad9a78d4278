"""`--where` filters over the customer base: literal tables of what each filter picks and of
the refusals, each naming the filter."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from types import SimpleNamespace

import pytest

from contact_center.customers.filters import FilterError, matches_all, parse_filter, parse_filters

OUTAGE = "address=ул. Чкалова; ул. Ленина, д. 5, 7, 10-20"


def customer(
    address: str = "ул. Мира, д. 1",
    debt: str | None = None,
    debt_date: date | None = None,
    consent: bool | None = None,
) -> SimpleNamespace:
    emails = [] if consent is None else [SimpleNamespace(address="a@example.ru", consent=consent)]
    return SimpleNamespace(
        address=address,
        debt=Decimal(debt) if debt else None,
        debt_date=debt_date,
        emails=emails,
    )


@pytest.mark.parametrize(
    ("address", "reached"),
    [
        ("г. Дивногорск, ул. Чкалова, д. 1, кв. 3", True),
        ("ул. Чкалова 40", True),
        ("г. Дивногорск, улица Чкалова, дом 7", True),
        ("г. Дивногорск, ул. Ленина, д. 5, кв. 1", True),
        ("ул. Ленина, д. 7", True),
        ("ул. Ленина, д. 10", True),
        ("Ленина 15", True),
        ("ул. Ленина, д. 20", True),
        # the neighbours
        ("ул. Ленина, д. 6", False),
        ("ул. Ленина, д. 9", False),
        ("ул. Ленина, д. 21", False),
        ("ул. Ленина, д. 5а", False),
        ("ул. Ленина", False),
        ("пер. Чкалова, д. 1", False),
        ("ул. Чкаловская, д. 1", False),
        ("ул. Мира, д. 5", False),
        ("", False),
    ],
)
def test_address_filter_is_the_outage_registrys(address: str, reached: bool) -> None:
    assert parse_filter(OUTAGE).matches(customer(address)) is reached


@pytest.mark.parametrize(
    ("text", "who", "picked"),
    [
        ("debt>=1000", customer(debt="1000"), True),
        ("долг >= 1 000,50", customer(debt="1000.49"), False),
        ("debt>=1000", customer(), False),
        ("debt_date<2026-11-01", customer(debt_date=date(2026, 10, 31)), True),
        ("Дата долга<01.11.2026", customer(debt_date=date(2026, 11, 1)), False),
        ("debt_date<2026-11-01", customer(), False),
        ("email_consent=да", customer(consent=True), True),
        ("email_consent=да", customer(consent=False), False),
        ("Согласие на рассылку=нет", customer(consent=False), True),
        ("согласие=нет", customer(), True),
        ("street=ул. Мира", customer(), True),
        ("АДРЕС=ул. Мира, д. 2", customer(), False),
    ],
)
def test_each_filter(text: str, who: SimpleNamespace, picked: bool) -> None:
    assert parse_filter(text).matches(who) is picked


def test_all_filters_must_hold() -> None:
    filters = parse_filters([OUTAGE, "debt>=100"])
    assert matches_all(filters, customer("ул. Ленина, д. 7", debt="150"))
    assert not matches_all(filters, customer("ул. Ленина, д. 7", debt="50"))
    assert not matches_all(filters, customer("ул. Ленина, д. 8", debt="150"))


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("debt", "--where «debt»: фильтр пишется КЛЮЧ=ЗНАЧЕНИЕ"),
        ("district=север", "--where «district=север»: неизвестный фильтр «district»"),
        ("debt=5", "--where «debt=5»: этот фильтр пишется так: debt>=1000"),
        ("debt>=пять", "--where «debt>=пять»: долг: не сумма в рублях"),
        ("debt_date>=2026-01-01", "--where «debt_date>=2026-01-01»: этот фильтр пишется так"),
        ("debt_date<вчера", "--where «debt_date<вчера»: дата долга: дата должна быть"),
        ("email_consent=может", "--where «email_consent=может»: ожидается да или нет"),
        ("address=", "--where «address=»: нет значения"),
        ("address=ул. Ленина, д. 20-10", "--where «address=ул. Ленина, д. 20-10»: адрес"),
        ("address=ул. Ленина, д. пять", "не номер дома"),
    ],
)
def test_refusals_name_the_filter(text: str, error: str) -> None:
    with pytest.raises(FilterError) as caught:
        parse_filter(text)
    assert error in str(caught.value)
