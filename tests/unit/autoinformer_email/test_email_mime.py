"""Letters as MIME: headers survive the trip through bytes and decode back to Cyrillic."""

from __future__ import annotations

import datetime as dt
import email
from email import policy
from email.message import EmailMessage, MIMEPart
from zoneinfo import ZoneInfo

import pytest

from autoinformer.email import (
    AddressError,
    EmailTemplate,
    RenderedEmail,
    build_message,
    compose_notice,
    message_id_domain,
    new_message_id,
    verify_unsubscribe_token,
)
from autoinformer.email.mime import ascii_address, list_unsubscribe_value, parse_mailbox
from contact_center.settings import Settings

KRASNOYARSK = ZoneInfo("Asia/Krasnoyarsk")
WHEN = dt.datetime(2026, 12, 1, 10, 30, tzinfo=KRASNOYARSK)
CONTENT = RenderedEmail(
    subject="Задолженность 1\u00a0500,00\u00a0₽ по лицевому счёту 10-00001: оплатите до 5 декабря",
    text="Здравствуйте!\nДолг 1\u00a0500,00\u00a0₽.",
    html="<p>Долг <b>1\u00a0500,00\u00a0₽</b></p>",
)
LONG_URL = "https://lk.example.ru/unsubscribe?token=v1." + "A" * 180


def body(part: MIMEPart) -> str:
    # text/* is CRLF in canonical form (RFC 2046), inside base64 too
    return str(part.get_content()).replace("\r\n", "\n")


def roundtrip(message: EmailMessage) -> tuple[bytes, EmailMessage]:
    raw = message.as_bytes()
    parsed = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return raw, parsed


LIST_UNSUBSCRIBE = list_unsubscribe_value(url=LONG_URL, mailto="noreply@energo.example.ru")


def letter(
    *,
    content: RenderedEmail = CONTENT,
    to_address: str = "ivanov@example.ru",
    to_name: str = "Иванов Иван Иванович",
    message_id: str = "<1.2.3@energo.example.ru>",
    list_unsubscribe: str | None = LIST_UNSUBSCRIBE,
    date: dt.datetime = WHEN,
) -> EmailMessage:
    return build_message(
        content=content,
        sender="Электросеть Дивногорск <noreply@energo.example.ru>",
        to_address=to_address,
        to_name=to_name,
        message_id=message_id,
        list_unsubscribe=list_unsubscribe,
        date=date,
    )


def test_headers_are_ascii_on_the_wire_and_decode_back_to_cyrillic() -> None:
    raw, got = roundtrip(letter())
    assert raw.isascii()
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")
    (sender,) = got["From"].addresses
    assert (sender.display_name, sender.addr_spec) == (
        "Электросеть Дивногорск",
        "noreply@energo.example.ru",
    )
    (to,) = got["To"].addresses
    assert (to.display_name, to.addr_spec) == ("Иванов Иван Иванович", "ivanov@example.ru")
    assert got["Subject"] == CONTENT.subject
    assert got["Message-ID"] == "<1.2.3@energo.example.ru>"
    assert got["Date"] == "Tue, 01 Dec 2026 10:30:00 +0700"
    assert got["Auto-Submitted"] == "auto-generated"
    assert got["MIME-Version"] == "1.0"


def test_list_unsubscribe_keeps_long_urls_intact_and_offers_one_click() -> None:
    raw, got = roundtrip(letter())
    assert b"=?utf-8?q?=3Chttps" not in raw, "a URL must not become an encoded word"
    assert f"List-Unsubscribe: <{LONG_URL}>,\r\n <mailto:".encode() in raw
    https, mailto = (p.strip() for p in str(got["List-Unsubscribe"]).split(","))
    assert https == f"<{LONG_URL}>"
    assert mailto == "<mailto:noreply@energo.example.ru?subject=unsubscribe>"
    assert got["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_without_an_unsubscribe_link_there_is_no_one_click_header() -> None:
    _, got = roundtrip(letter(list_unsubscribe=None))
    assert got["List-Unsubscribe"] is None
    assert got["List-Unsubscribe-Post"] is None


def test_text_and_html_are_utf8_alternatives_text_first() -> None:
    _, got = roundtrip(letter())
    assert got.get_content_type() == "multipart/alternative"
    parts = list(got.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert all(p.get_content_charset() == "utf-8" for p in parts)
    assert all(p["MIME-Version"] is None for p in parts)
    assert body(parts[0]) == "Здравствуйте!\nДолг 1\u00a0500,00\u00a0₽.\n"
    assert body(parts[1]) == "<p>Долг <b>1\u00a0500,00\u00a0₽</b></p>\n"


def test_a_letter_without_html_is_a_single_text_part() -> None:
    content = RenderedEmail(subject="Тема", text="Текст", html=None)
    _, got = roundtrip(letter(content=content))
    assert got.get_content_type() == "text/plain"
    assert body(got) == "Текст\n"


def test_a_cyrillic_domain_goes_out_in_idna_form() -> None:
    _, got = roundtrip(letter(to_address="ivanov@пример.рф"))
    assert got["To"].addresses[0].addr_spec == "ivanov@xn--e1afmkfd.xn--p1ai"


@pytest.mark.parametrize(
    "address", ["иванов@example.ru", "no-at-sign", "a@b@", "a b@example.ru", "x@exa\nmple.ru"]
)
def test_addresses_this_channel_cannot_send_to_are_refused_masked(address: str) -> None:
    with pytest.raises(AddressError) as caught:
        ascii_address(address)
    assert address not in str(caught.value)


def test_from_header_parsing_and_the_message_id_domain() -> None:
    sender = parse_mailbox("Электросеть Дивногорск <noreply@localhost>")
    assert sender.display_name == "Электросеть Дивногорск"
    assert sender.addr_spec == "noreply@localhost"
    assert message_id_domain("Электросеть <noreply@energo.example.ru>") == "energo.example.ru"
    message_id = new_message_id(domain="energo.example.ru")
    assert message_id.startswith("<") and message_id.endswith("@energo.example.ru>")
    with pytest.raises(AddressError):
        parse_mailbox("not an address")


@pytest.mark.parametrize("bad", ["no-brackets@x", "<no-at-sign>", ""])
def test_a_message_id_must_look_like_one(bad: str) -> None:
    with pytest.raises(ValueError, match="Message-ID"):
        letter(message_id=bad)


def test_a_naive_date_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone"):
        letter(date=dt.datetime(2026, 12, 1, 10, 30))


def test_compose_notice_renders_links_and_headers_from_settings() -> None:
    settings = Settings(
        smtp_from="Электросеть Дивногорск <noreply@energo.example.ru>",
        unsubscribe_base_url="https://lk.example.ru/unsubscribe",
        unsubscribe_secret="s3cret",
    )
    template = EmailTemplate(
        subject="Долг {{ debt | money }}", text="Отписаться: {{ unsubscribe_url }}"
    )
    message = compose_notice(
        template=template,
        contact={"debt": 1500},
        to_address="ivanov@example.ru",
        to_name="Иванов",
        kind="debt",
        settings=settings,
        contact_id=42,
        message_id="<stored.1@energo.example.ru>",
        date=WHEN,
    )
    _, got = roundtrip(message)
    assert got["Message-ID"] == "<stored.1@energo.example.ru>"
    https = str(got["List-Unsubscribe"]).split(",")[0].strip()[1:-1]
    assert https.startswith("https://lk.example.ru/unsubscribe?token=v1.")
    assert body(got) == f"Отписаться: {https}\n"
    token = https.split("token=")[1]
    request = verify_unsubscribe_token(token, secret="s3cret")
    assert (request.contact_id, request.address, request.kind) == (42, None, "debt")
    mailto = str(got["List-Unsubscribe"]).split(",")[1].strip()
    assert mailto == f"<mailto:noreply@energo.example.ru?subject=unsubscribe%20{token}>"


def test_compose_notice_without_a_contact_id_signs_the_address_and_makes_a_message_id() -> None:
    template = EmailTemplate(subject="Тема", text="Текст")
    message = compose_notice(
        template=template,
        contact={},
        to_address="Petrov@Example.ru",
        to_name=None,
        kind="outage",
        settings=Settings(),
    )
    _, got = roundtrip(message)
    assert got["Message-ID"].endswith("@localhost>")
    token = str(got["List-Unsubscribe"]).split("token=")[1].split(">")[0]
    request = verify_unsubscribe_token(token, secret=Settings().unsubscribe_secret)
    assert (request.contact_id, request.address, request.kind) == (
        None,
        "petrov@example.ru",
        "outage",
    )


@pytest.mark.parametrize(
    "subject",
    ["Plain ASCII subject", "Долг " + "очень " * 40 + "длинный", "x" * 120],
)
def test_any_subject_decodes_back_to_itself(subject: str) -> None:
    content = RenderedEmail(subject=subject, text="t", html=None)
    raw, got = roundtrip(letter(content=content))
    assert got["Subject"] == subject
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))


def test_latin_display_names_with_specials_are_quoted() -> None:
    _, got = roundtrip(letter(to_name="Ivanov, Ivan (office)"))
    assert got["To"].addresses[0].display_name == "Ivanov, Ivan (office)"
    assert got["To"].addresses[0].addr_spec == "ivanov@example.ru"
