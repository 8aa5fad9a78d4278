"""Campaign lists with e-mail: consent only, every refused row with its reason, channels per row."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest

from autoinformer.exceptions import CallListError
from autoinformer.lists import (
    ParsedList,
    contacts_from_customers,
    letter_fields,
    parse_campaign_list,
)
from autoinformer.scenarios import builtin_scenarios
from contact_center.speech.prompts import PromptCatalog

PROMPTS = set(PromptCatalog.load())
SCENARIOS = {s.name: s for s in builtin_scenarios(prompts=PROMPTS)}
DEBT = SCENARIOS["debt-notice"]
OUTAGE = SCENARIOS["outage-warning"]
TODAY = date(2026, 12, 1)


def parse(text: str, channel: str, **kw: Any) -> ParsedList:
    kw.setdefault("scenario", DEBT)
    return parse_campaign_list(text.encode(), channel=channel, today=TODAY, **kw)


EMAIL_LIST = """account,name,email,email_consent,debt,email_consent_date
1,Иванов,Ivanov@Example.ru,да,"1 500,50",
2,Петров,petrov@example.ru,нет,200,
3,Сидоров,,да,300,
4,Двое,a@example.ru; b@example.ru,1,400,
5,Без долга,nodebt@example.ru,1,,
6,Повтор,ivanov@example.ru,1,10,
7,Отказ,optout@example.ru,1,10,
8,Будущее,future@example.ru,1,10,2027-01-01
9,Плохая сумма,money@example.ru,1,12a,
"""


def test_email_channel_takes_only_addresses_with_consent_and_says_why_for_every_other_row() -> None:
    parsed = parse(EMAIL_LIST, "email", opted_out_addresses={"optout@example.ru"})
    assert [(x.line, x.address, x.account, dict(x.values)) for x in parsed.letters] == [
        (2, "ivanov@example.ru", "1", {"debt": "1500.50"}),
        (5, "a@example.ru", "4", {"debt": "400.00"}),
        (5, "b@example.ru", "4", {"debt": "400.00"}),
    ]
    assert parsed.contacts == []
    reasons = {n.line: n.reason for n in parsed.rejected}
    assert reasons == {
        3: "e-mail p***@example.ru: нет согласия на рассылку (email_consent)",
        4: "e-mail: нет адреса",
        6: "e-mail n***@example.ru: письмо не собрать: email.subject, строка 1: нет поля 'debt'",
        7: "e-mail i***@example.ru: адрес уже есть в строке 2",
        9: "e-mail f***@example.ru: email_consent_date: согласие датировано будущим (01.01.2027)",
        10: "e-mail m***@example.ru: debt: не сумма в рублях: «12a»",
    }
    assert [str(n) for n in parsed.opted_out] == [
        "строка 8: e-mail o***@example.ru: адрес отказался от писем этого вида: не пишем"
    ]
    every_note = " ".join(str(n) for n in parsed.rejected + parsed.opted_out)
    assert "@example.ru:" in every_note and "petrov@" not in every_note


BOTH_LIST = """phone,account,name,debt,email,email_consent
+7 913 000-00-01,1,Иванов,1500,ivanov@example.ru,да
+7 913 000-00-02,2,Петров,200,petrov@example.ru,нет
,3,Сидоров,300,sidorov@example.ru,да
+7 913 000-00-04,4,Кузнецов,400,,
not a phone,5,Никто,500,,
bad phone,6,Письмо,600,only-mail@example.ru,1
8 913 000-00-01,7,Повтор,700,second@example.ru,1
,8,Пусто,800,,
"""


def test_both_gives_each_row_the_channels_it_has() -> None:
    parsed = parse(BOTH_LIST, "both")
    assert [(c.line, c.phone) for c in parsed.contacts] == [
        (2, "79130000001"),
        (3, "79130000002"),
        (5, "79130000004"),
    ]
    # a letter carries its row's phone digits (the report puts it beside that call)
    assert [(x.line, x.address, x.phone) for x in parsed.letters] == [
        (2, "ivanov@example.ru", "79130000001"),
        (4, "sidorov@example.ru", ""),
        (7, "only-mail@example.ru", ""),
        (8, "second@example.ru", "79130000001"),
    ]
    assert [(n.line, n.reason) for n in parsed.partial] == [
        (3, "e-mail p***@example.ru: нет согласия на рассылку (email_consent)"),
        (7, "звонок: phone: недопустимые символы в номере «bad phone»"),
    ]
    rejected = {n.line: n.reason for n in parsed.rejected}
    assert sorted(rejected) == [6, 9]
    assert rejected[6].startswith("звонок: phone:")
    assert rejected[9] == "нет ни телефона, ни адреса e-mail с согласием"
    assert [n.line for n in parsed.duplicates] == [8]


def test_a_letter_is_filled_with_typed_values_like_the_phone_message() -> None:
    (letter,) = parse(BOTH_LIST.splitlines()[0] + "\n" + BOTH_LIST.splitlines()[1], "both").letters
    fields = letter_fields(
        address=letter.address,
        phone=letter.phone,
        account=letter.account,
        name=letter.name,
        values=letter.values,
    )
    assert fields["debt"] == Decimal("1500.00")
    assert (fields["phone"], fields["email"]) == ("+79130000001", "ivanov@example.ru")
    assert DEBT.email is not None
    rendered = DEBT.email.render(fields, extra={"unsubscribe_url": "https://x/u"})
    assert rendered.subject == "Задолженность 1\u00a0500,00\u00a0₽ по лицевому счёту 1"


@pytest.mark.parametrize(
    ("text", "channel", "error"),
    [
        ("account,debt\n1,2\n", "email", "для канала email нужны столбцы email, email_consent"),
        ("phone,debt\n+79130000001,2\n", "both", "нет: email, email_consent"),
        ("email,email_consent,debt\na@b.ru,1,1\n", "both", "нет обязательного столбца phone"),
        (
            "email,email_consent\na@b.ru,1\n",
            "email",
            "письмо сценария читает столбцы, которых нет: debt",
        ),
    ],
)
def test_a_list_missing_what_its_channel_needs_is_refused_as_a_whole(
    text: str, channel: str, error: str
) -> None:
    with pytest.raises(CallListError, match=error):
        parse(text, channel)


def test_an_outage_letter_reads_the_address_and_times() -> None:
    text = (
        "address,outage_start,outage_end,email,email_consent\n"
        "ул. Мира 1,05.12.2026 10:00,05.12.2026 17:00,a@example.ru,да\n"
    )
    (letter,) = parse(text, "email", scenario=OUTAGE).letters
    assert letter.values["outage_start"] == "2026-12-05T10:00"
    fields = letter_fields(
        address=letter.address, phone="", account="", name="", values=letter.values
    )
    assert OUTAGE.email is not None
    body = OUTAGE.email.render(fields, extra={"unsubscribe_url": "https://x/u"}).text
    assert "По адресу ул. Мира 1 электроэнергия будет отключена 5 декабря 2026\u00a0г." in body
    assert "с 10:00 до 17:00" in body


def customer(
    account: str,
    contract: bool,
    debt: str | None,
    phones: Iterable[tuple[str, bool]] = (),
    emails: Iterable[tuple[str, bool]] = (),
) -> SimpleNamespace:
    return SimpleNamespace(
        account=account,
        name=f"Абонент {account}",
        address="ул. Мира 1",
        has_contract=contract,
        debt=Decimal(debt) if debt else None,
        debt_date=date(2026, 11, 25),
        timezone=None,
        phones=[SimpleNamespace(number=n, from_contract=c) for n, c in phones],
        emails=[SimpleNamespace(address=a, consent=c) for a, c in emails],
    )


BASE = [
    customer("1", True, "10", [("+79130000001", True)], [("one@example.ru", True)]),
    customer("2", True, "10", [("+79130000002", True)], [("two@example.ru", False)]),
    customer("3", True, "10", [], [("three@example.ru", True)]),
    customer("4", False, "10", [], [("nocontract@example.ru", True)]),
    customer("5", True, None, [], [("nodebt@example.ru", True)]),
    customer("6", True, "10", [("+79130000006", True), ("+79130000007", True)], []),
]


def test_the_customer_base_mails_only_consenting_addresses_of_customers_with_a_contract() -> None:
    parsed = contacts_from_customers(BASE, scenario=DEBT, channel="email")
    assert [(x.line, x.address) for x in parsed.letters] == [
        (1, "one@example.ru"),
        (3, "three@example.ru"),
    ]
    assert parsed.contacts == []
    assert [(n.line, n.reason) for n in parsed.rejected] == [
        (2, "e-mail t***@example.ru: нет согласия на рассылку (email_consent)")
    ]


def test_the_customer_base_with_both_channels() -> None:
    parsed = contacts_from_customers(BASE, scenario=DEBT, channel="both")
    # one contact per customer: a second number is its fallback
    assert [(c.phone, c.alternates) for c in parsed.contacts] == [
        ("79130000001", ()),
        ("79130000002", ()),
        ("79130000006", ("79130000007",)),
    ]
    assert [(x.address, x.phone) for x in parsed.letters] == [
        ("one@example.ru", "79130000001"),
        ("three@example.ru", ""),
    ]
    assert [(n.line, n.reason) for n in parsed.partial] == [
        (2, "e-mail t***@example.ru: нет согласия на рассылку (email_consent)")
    ]
    phone_only = contacts_from_customers(BASE, scenario=DEBT)
    assert phone_only.letters == [] and len(phone_only.contacts) == 3
