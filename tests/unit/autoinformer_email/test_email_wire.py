"""The bulk path's letters (wire.py, written as bytes) are the letters build_message makes:
the stdlib parses both to the same headers and bodies."""

from __future__ import annotations

import datetime as dt
import email
from email import policy
from email.header import decode_header, make_header
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import pytest

from autoinformer.email import AddressError, EmailTemplate, RenderedEmail, build_message
from autoinformer.email.mime import compose_notice, list_unsubscribe_value, parse_mailbox
from autoinformer.email.wire import compose_letter, encoded_words, wire_letter
from contact_center.settings import Settings

WHEN = dt.datetime(2026, 12, 1, 10, 30, tzinfo=ZoneInfo("Asia/Krasnoyarsk"))
SENDER = "Электросеть Дивногорск <noreply@energo.example.ru>"
UNSUBSCRIBE = list_unsubscribe_value(
    url="https://lk.example.ru/unsubscribe?token=v1." + "A" * 180,
    mailto="noreply@energo.example.ru",
    token="v1.AAA",
)
CYRILLIC = RenderedEmail(
    subject="Задолженность 1\u00a0500,00\u00a0₽ по лицевому счёту 10-00001: оплатите до 5 декабря",
    text="Здравствуйте!\nДолг 1\u00a0500,00\u00a0₽.\n\nСсылка: https://example.ru/x",
    html="<p>Долг <b>1\u00a0500,00\u00a0₽</b></p>",
)
ASCII_TEXT = RenderedEmail(subject="Notice", text="Plain ASCII text.\nSecond line.", html=None)
LONG_ASCII = RenderedEmail(
    subject="An ASCII subject long enough that a header line must be folded somewhere: " * 2,
    text=("A long ASCII line with one ё in it " * 6 + "\n") * 12,
    html="<p>" + "x" * 200 + "</p>",
)


def parse(raw: bytes) -> EmailMessage:
    parsed = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def decoded(raw_value: str) -> str:
    # RFC 2047 decoding (the whitespace between encoded words dropped); the stdlib's address
    # parser keeps it, so two encoders splitting a long name at different places would
    # seem to differ
    unfolded = raw_value.replace("\r\n", "").replace("\n", "")
    return str(make_header(decode_header(unfolded)))


def summary(message: EmailMessage) -> dict[str, object]:
    parts = list(message.iter_parts()) if message.is_multipart() else [message]
    return {
        "headers": [
            (k, decoded(v))
            for k, v in message.raw_items()
            if k.lower() not in ("content-type", "content-transfer-encoding")
        ],
        "type": message.get_content_type(),
        "parts": [
            (
                p.get_content_type(),
                p.get_content_charset(),
                p["Content-Transfer-Encoding"],
                p.get_content(),
            )
            for p in parts
        ],
    }


@pytest.mark.parametrize("content", [CYRILLIC, ASCII_TEXT, LONG_ASCII], ids=["ru", "ascii", "long"])
@pytest.mark.parametrize(
    ("address", "name"),
    [
        ("ivanov@example.ru", "Иванов Иван Иванович"),
        ("ivanov@пример.рф", "Ivanov Ivan"),
        ("a.b@example.ru", None),
        (
            "x@example.ru",
            "Очень длинное имя абонента, которое не помещается в одну строку заголовка",
        ),
    ],
)
def test_the_bytes_parse_to_the_same_letter_as_build_message(
    content: RenderedEmail, address: str, name: str | None
) -> None:
    kwargs = dict(
        content=content,
        to_address=address,
        to_name=name,
        message_id="<1.2.3@energo.example.ru>",
        list_unsubscribe=UNSUBSCRIBE,
        date=WHEN,
    )
    reference = build_message(sender=SENDER, **kwargs)  # type: ignore[arg-type]
    fast = wire_letter(sender=parse_mailbox(SENDER), **kwargs)  # type: ignore[arg-type]
    assert fast.data.isascii()
    assert b"\n" not in fast.data.replace(b"\r\n", b"")
    assert max(len(line) for line in fast.data.split(b"\r\n")) <= 998
    assert summary(parse(fast.data)) == summary(parse(reference.as_bytes()))
    assert fast.recipient == reference["To"].addresses[0].addr_spec
    assert fast.envelope_from == "noreply@energo.example.ru"


def test_compose_letter_is_compose_notice_as_bytes() -> None:
    template = EmailTemplate(
        subject="Долг {{ debt | money }}",
        text="{{ name }}, долг {{ debt | money }}. {{ unsubscribe_url }}",
        html="<p>{{ name }}</p>",
    )
    settings = Settings(unsubscribe_secret="s")
    args = dict(
        template=template,
        contact={"name": "Пётр <script>", "debt": "1500"},
        to_address="p@example.ru",
        to_name="Пётр",
        kind="debt",
        settings=settings,
        contact_id=7,
        message_id="<9@localhost>",
        date=WHEN,
    )
    fast = compose_letter(**args)  # type: ignore[arg-type]
    assert summary(parse(fast.data)) == summary(
        parse(compose_notice(**args).as_bytes())  # type: ignore[arg-type]
    )
    assert "&lt;script&gt;" in parse(fast.data).get_body(("html",)).get_content()  # type: ignore[union-attr]


def test_encoded_words_keep_lines_short_and_never_split_a_letter() -> None:
    text = "ё" * 100 + " конец"
    folded = encoded_words(text, "Subject")
    lines = ("Subject: " + folded).split("\r\n")
    assert all(len(line) <= 78 for line in lines)
    assert str(parse(f"Subject: {folded}\r\n\r\n".encode())["Subject"]) == text


def test_a_line_break_in_the_subject_or_a_bad_address_is_refused() -> None:
    with pytest.raises(ValueError):
        wire_letter(
            content=RenderedEmail(subject="a\nBcc: x@y.ru", text="t", html=None),
            sender=parse_mailbox(SENDER),
            to_address="a@example.ru",
            message_id="<1@x>",
            date=WHEN,
        )
    with pytest.raises(AddressError):
        wire_letter(
            content=ASCII_TEXT,
            sender=parse_mailbox(SENDER),
            to_address="иван@example.ru",
            message_id="<1@x>",
            date=WHEN,
        )
