"""Letters written straight to the bytes SMTP carries, for bulk sending. Pure: no I/O.

:func:`mime.build_message` builds an :class:`email.message.EmailMessage` and the stdlib
serializes it: a parse tree per header, a content manager per part, a generator that walks
it all. That took about 4 ms of CPU a letter here, four times the whole SMTP round trip of
a letter, and was most of the gap to a raw aiosmtplib loop (bench/email_throughput.py). A
campaign's letters all have one shape (the headers below, ``text/plain`` or
``multipart/alternative`` with plain text and HTML), so this module writes that shape
directly: the same headers in the same order, the same encodings (RFC 2047 base64 words for
Cyrillic headers, UTF-8 bodies in base64 or quoted-printable chosen as the stdlib chooses),
CRLF line ends, nothing that needs SMTPUTF8 or 8BITMIME. A unit test parses these bytes with
the stdlib and compares every header and body with ``build_message``'s letter.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from email import quoprimime
from email.headerregistry import Address
from email.utils import format_datetime, formataddr
from typing import TYPE_CHECKING, Any, Final

from .exceptions import AddressError
from .mime import ascii_address, mailbox, notice_parts
from .templates import EmailTemplate, RenderedEmail

if TYPE_CHECKING:
    from contact_center.settings import Settings

CRLF: Final = "\r\n"
_LINE: Final = 78
# an encoded word is at most 75 characters (RFC 2047): 12 of "=?utf-8?b?" and "?=" and up to
# 60 of base64, 45 bytes of UTF-8
_WORD_BYTES: Final = 45
_HIGH_BYTES: Final = bytes(range(0x80, 0x100))
# an address as lists write it (dot-atoms both sides, ASCII after IDNA): taken as it is;
# anything else goes through the stdlib's full parser in mime.mailbox
_ATEXT: Final = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_PLAIN_ADDRESS: Final = re.compile(rf"{_ATEXT}(?:\.{_ATEXT})*@{_ATEXT}(?:\.{_ATEXT})*")


@dataclass(frozen=True, slots=True)
class WireLetter:
    """One letter ready for DATA, with the envelope the sender needs."""

    message_id: str
    envelope_from: str
    recipient: str
    data: bytes


def encoded_words(text: str, name: str) -> str:
    """``text`` as RFC 2047 ``=?utf-8?b?…?=`` words, one a line, never splitting a
    character; ``name`` is the header's (for the first line's length only)."""
    raw = text.encode("utf-8")
    words: list[str] = []
    start, size = 0, len(raw)
    # the first line ("Subject: =?...?=") within 78 characters too
    room = min(_WORD_BYTES, (_LINE - len(name) - 2 - 12) // 4 * 3)
    while start < size:
        end = min(start + room, size)
        while end < size and raw[end] & 0xC0 == 0x80:  # a UTF-8 continuation byte
            end -= 1
        words.append(f"=?utf-8?b?{binascii.b2a_base64(raw[start:end], newline=False).decode()}?=")
        start = end
    return f"{CRLF} ".join(words)


def _mailbox_value(name: str, address: Address | _Mailbox) -> str:
    if not address.addr_spec.isascii():
        raise AddressError("адрес должен быть в ASCII (IDNA) до записи в письмо")
    display = address.display_name
    if not display:
        return address.addr_spec
    if display.isascii():
        return formataddr((display, address.addr_spec))
    return f"{encoded_words(display, name)}{CRLF} <{address.addr_spec}>"


@functools.lru_cache(maxsize=16)
def _from_line(display: str, addr_spec: str) -> str:
    # the same for every letter of the service: encoded once
    return f"From: {_mailbox_value('From', Address(display_name=display, addr_spec=addr_spec))}"


def _recipient(address: str, name: str | None) -> Address | _Mailbox:
    addr_spec = ascii_address(address)
    if not _PLAIN_ADDRESS.fullmatch(addr_spec):
        return mailbox(address, name)
    # Address() would parse the addr-spec again with the stdlib's header parser; a plain
    # one needs no parsing, and a display name is any text (it is encoded, never parsed)
    return _Mailbox(" ".join((name or "").split()), addr_spec)


@dataclass(frozen=True, slots=True)
class _Mailbox:
    display_name: str
    addr_spec: str


def _text_line(name: str, text: str) -> str:
    if "\r" in text or "\n" in text:
        raise ValueError(f"a {name} header cannot hold a line break")
    if text.isascii() and len(name) + 2 + len(text) <= _LINE:
        return f"{name}: {text}"
    return f"{name}: {encoded_words(text, name)}"


def _body(text: str) -> tuple[str, str]:
    """(Content-Transfer-Encoding, the encoded body with CRLF line ends), chosen as
    ``email.contentmanager`` chooses for a UTF-8 text part under a 7-bit policy."""
    lines = text.encode("utf-8").splitlines()
    if max((len(line) for line in lines), default=0) <= _LINE:
        joined = b"\n".join(lines) + b"\n"
        if joined.isascii():
            return "7bit", CRLF.join(line.decode("ascii") for line in lines) + CRLF
    sniff = b"\r\n".join(lines[:10]) + b"\r\n"
    base64_size = len(binascii.b2a_base64(sniff))
    escaped = len(sniff) - len(sniff.translate(None, _HIGH_BYTES))
    # each byte above 0x7F is three characters in quoted-printable: Cyrillic text is
    # always shorter in base64, so the stdlib's pure-Python QP sniff is skipped for it
    if len(sniff) + 2 * escaped > base64_size or _qp_is_longer(sniff, base64_size):
        data = b"\r\n".join(lines) + b"\r\n"
        # 76-character lines, as the stdlib writes them, in one C call
        encoded = base64.encodebytes(data).decode("ascii")
        return "base64", encoded.replace("\n", CRLF)
    data = b"\r\n".join(lines) + b"\r\n"
    encoded = quoprimime.body_encode(data.decode("latin-1"), _LINE)
    return "quoted-printable", CRLF.join(encoded.splitlines()) + CRLF


def _qp_is_longer(sniff: bytes, base64_size: int) -> bool:
    return len(quoprimime.body_encode(sniff.decode("latin-1"), _LINE)) > base64_size


def _part(subtype: str, text: str) -> str:
    cte, body = _body(text)
    return (
        f'Content-Type: text/{subtype}; charset="utf-8"{CRLF}'
        f"Content-Transfer-Encoding: {cte}{CRLF}{CRLF}{body}"
    )


def wire_letter(
    *,
    content: RenderedEmail,
    sender: Address,
    to_address: str,
    to_name: str | None = None,
    message_id: str,
    list_unsubscribe: str | None = None,
    date: dt.datetime | None = None,
    tz: dt.tzinfo | None = None,
) -> WireLetter:
    """The letter :func:`mime.build_message` builds for the same arguments, as bytes."""
    to = _recipient(to_address, to_name)
    when = date or dt.datetime.now(tz or dt.UTC)
    if when.tzinfo is None:
        raise ValueError("date must be timezone-aware")
    if not (message_id.startswith("<") and message_id.endswith(">") and "@" in message_id):
        raise ValueError(f"not a Message-ID: {message_id!r}")
    if not message_id.isascii() or any(ch in message_id for ch in " \r\n"):
        raise ValueError(f"not a Message-ID: {message_id!r}")
    head = [
        _from_line(sender.display_name, sender.addr_spec),
        f"To: {_mailbox_value('To', to)}",
        _text_line("Subject", content.subject),
        f"Date: {format_datetime(when)}",
        f"Message-ID: {message_id}",
        "Auto-Submitted: auto-generated",
    ]
    if list_unsubscribe:
        urls = [part.strip() for part in list_unsubscribe.split(",")]
        head.append("List-Unsubscribe: " + f",{CRLF} ".join(urls))
        head.append("List-Unsubscribe-Post: List-Unsubscribe=One-Click")
    head.append("MIME-Version: 1.0")
    text = content.text if content.text.endswith("\n") else content.text + "\n"
    if content.html is None:
        body = _part("plain", text)
    else:
        parts = (_part("plain", text), _part("html", content.html))
        boundary = _boundary(parts)
        head.append(f'Content-Type: multipart/alternative;{CRLF} boundary="{boundary}"')
        body = (
            f"{CRLF}--{boundary}{CRLF}"
            + f"{CRLF}--{boundary}{CRLF}".join(parts)
            + f"{CRLF}--{boundary}--{CRLF}"
        )
        # the first delimiter's CRLF belongs to it; the preamble is empty
        body = body[len(CRLF) :]
    letter = CRLF.join(head) + CRLF + (CRLF if content.html is not None else "") + body
    return WireLetter(
        message_id=message_id,
        envelope_from=sender.addr_spec,
        recipient=to.addr_spec,
        data=letter.encode("ascii"),
    )


def _boundary(parts: tuple[str, ...]) -> str:
    # "=_" never occurs in base64 or quoted-printable; a 7-bit body is checked
    while True:
        boundary = f"=_{secrets.token_hex(12)}"
        if not any(boundary in part for part in parts):
            return boundary


def compose_letter(
    *,
    template: EmailTemplate,
    contact: Mapping[str, Any],
    to_address: str,
    to_name: str | None,
    kind: str,
    settings: Settings,
    contact_id: int | None = None,
    message_id: str | None = None,
    date: dt.datetime | None = None,
) -> WireLetter:
    """:func:`mime.compose_notice`'s letter as bytes (same arguments, same errors)."""
    parts = notice_parts(
        template=template,
        contact=contact,
        to_address=to_address,
        kind=kind,
        settings=settings,
        contact_id=contact_id,
        message_id=message_id,
    )
    return wire_letter(
        content=parts.content,
        sender=parts.sender,
        to_address=to_address,
        to_name=to_name,
        message_id=parts.message_id,
        list_unsubscribe=parts.list_unsubscribe,
        date=date,
        tz=parts.tz,
    )
