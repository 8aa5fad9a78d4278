"""Letters as MIME, and the signed one-click unsubscribe links they carry. Pure: no I/O.

A letter is an :class:`email.message.EmailMessage` that needs no SMTPUTF8 and no 8BITMIME
from any server: Cyrillic display names and subjects become RFC 2047 encoded words, bodies
are UTF-8 in base64 or quoted-printable (whichever is shorter), an address on a Cyrillic
domain (.рф) goes out in IDNA form. It is ``multipart/alternative`` (plain text first, then
HTML) when the template has HTML, a single ``text/plain`` part otherwise.

Headers: From (``Электросеть Дивногорск <noreply@…>`` from ``CC_SMTP_FROM``), To (the
customer's name and address), Subject, Date (in the utility's time zone), Message-ID
(``make_msgid`` on the domain of ``CC_SMTP_FROM``, so no host name leaks and every message of
the service carries the same right-hand side), ``Auto-Submitted: auto-generated`` (RFC 3834:
out-of-office robots do not answer it), and RFC 8058 one-click unsubscribe::

    List-Unsubscribe: <https://…/unsubscribe?token=v1.…>,
     <mailto:noreply@…?subject=unsubscribe%20v1.…>
    List-Unsubscribe-Post: List-Unsubscribe=One-Click

The token is ``v1.<payload>.<mac>``: the payload names the contact (its id, or its address
for a list without ids) and the kind of notice; the MAC is HMAC-SHA256 with
``CC_UNSUBSCRIBE_SECRET``, truncated to 128 bits. The payload is readable (base64url, not
encrypted): prefer contact ids, so that an address does not sit in web-server logs.
RFC 8058 also asks for a DKIM signature covering both headers; signing is the outgoing
mail server's job.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from email.header import Header
from email.headerregistry import Address, AddressHeader, HeaderRegistry
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import format_datetime, formataddr, make_msgid
from typing import Any, Final, cast
from urllib.parse import quote, urlencode, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from contact_center.privacy import mask_email
from contact_center.settings import Settings

from .exceptions import AddressError, UnsubscribeTokenError
from .templates import EmailTemplate, RenderedEmail

TOKEN_VERSION: Final = "v1"
KIND_RE: Final = re.compile(r"[a-z][a-z0-9_-]{0,31}")
_MAC_BYTES: Final = 16
# headers whose values are long unbreakable URLs: written as they are, one URL a line
_VERBATIM_HEADERS: Final = frozenset({"list-unsubscribe"})
_ADDRESS_HEADERS: Final = frozenset({"from", "to", "reply-to"})
_TEXT_HEADERS: Final = frozenset({"subject"})
_LINE: Final = 78
_HEADERS: Final = HeaderRegistry()


class _MailPolicy(EmailPolicy):
    """``email.policy.SMTP`` with a folder of its own for the headers of our letters.

    Two reasons. The stdlib folder turns any token longer than a line (a URL with a signed
    token is) into an RFC 2047 encoded word, and ``=?utf-8?q?=3Chttps=3A…`` is no URL to a
    mail client: List-Unsubscribe is written as it is, one URL a line (up to 998 octets is
    legal). And it is slow: refolding the parse tree of a Cyrillic Subject/From/To took
    ~3 ms a letter, most of the sender's time in ``bench/email_throughput.py``. Short ASCII
    values go out unchanged; Cyrillic text and display names are encoded by the classic
    ``email.header.Header`` encoder (UTF-8, base64 words, lines within 76 characters).
    Anything else (long or structured ASCII values) still goes to the stdlib folder.
    """

    def _fast(self, name: str, value: Any) -> str | None:
        lower = name.lower()
        if lower in _VERBATIM_HEADERS:
            parts = [p.strip() for p in str(value).split(",")]
            return f"{name}: " + f",{self.linesep} ".join(parts) + self.linesep
        if lower in _ADDRESS_HEADERS and getattr(value, "addresses", None):
            encoded = [self._mailbox(name, a) for a in value.addresses]
            return f"{name}: " + f",{self.linesep} ".join(encoded) + self.linesep
        text = str(value)
        if "\n" in text or "\r" in text:
            return None
        if text.isascii():
            if len(name) + 2 + len(text) <= _LINE:
                return f"{name}: {text}{self.linesep}"
            return None
        if lower in _TEXT_HEADERS:
            return f"{name}: {_encode_words(text, name, self.linesep)}{self.linesep}"
        return None

    def _mailbox(self, name: str, address: Address) -> str:
        if not address.addr_spec.isascii():
            raise AddressError("адрес должен быть в ASCII (IDNA) до записи в письмо")
        display = address.display_name
        if not display:
            return address.addr_spec
        if display.isascii():
            return formataddr((display, address.addr_spec))
        return f"{_encode_words(display, name, self.linesep)}{self.linesep} <{address.addr_spec}>"

    def fold(self, name: str, value: Any) -> str:
        fast = self._fast(name, value)
        return fast if fast is not None else super().fold(name, value)

    def fold_binary(self, name: str, value: Any) -> bytes:
        fast = self._fast(name, value)
        return fast.encode("ascii") if fast is not None else super().fold_binary(name, value)


class _HeaderClasses(HeaderRegistry):
    """The stdlib registry builds a new header class with ``type()`` on every lookup (a
    dozen per letter); the classes hold no state, so one per header name is enough."""

    def __init__(self) -> None:
        super().__init__()
        self._made: dict[str, type] = {}

    def __getitem__(self, name: str) -> type:
        key = name.lower()
        made = self._made.get(key)
        if made is None:
            made = self._made[key] = super().__getitem__(key)
        return made


def _encode_words(text: str, name: str, linesep: str) -> str:
    return Header(text, "utf-8", header_name=name).encode(linesep=linesep)


# 7bit: bodies are base64/quoted-printable, so a server without 8BITMIME takes them too
POLICY: Final = _MailPolicy(
    linesep="\r\n", utf8=False, cte_type="7bit", header_factory=_HeaderClasses()
)


# --- addresses --------------------------------------------------------------------------


def ascii_address(address: str) -> str:
    """``иванов@пример.рф`` is refused; ``ivanov@пример.рф`` -> ``ivanov@xn--e1afmkfd.xn--p1ai``.

    The local part must be ASCII (anything else needs SMTPUTF8, which many servers lack);
    the domain is IDNA-encoded. Raises :class:`AddressError` with the address masked.
    """
    text = address.strip()
    local, at, domain = text.rpartition("@")
    if not at or not local or not domain or any(ch in text for ch in "\r\n\0 <>,;"):
        raise AddressError(f"неверный адрес: {mask_email(text)}")
    if not local.isascii():
        raise AddressError(f"адрес с нелатинскими буквами до @: {mask_email(text)}")
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            raise AddressError(f"неверный домен в адресе: {mask_email(text)}") from None
    return f"{local}@{domain.lower()}"


@functools.lru_cache(maxsize=16)
def parse_mailbox(value: str) -> Address:
    """``"Электросеть Дивногорск <noreply@localhost>"`` -> an Address with an ASCII addr."""
    try:
        header = _HEADERS("From", value)
        # typeshed types the call as BaseHeader; for From the class is an AddressHeader too
        addresses = cast(AddressHeader, header).addresses
    except (ValueError, TypeError, IndexError):
        raise AddressError(f"неверный адрес отправителя: {value!r}") from None
    if len(addresses) != 1 or header.defects or "@" not in addresses[0].addr_spec:
        raise AddressError(f"неверный адрес отправителя: {value!r}")
    parsed = addresses[0]
    return Address(display_name=parsed.display_name, addr_spec=ascii_address(parsed.addr_spec))


def mailbox(address: str, name: str | None = None) -> Address:
    """A recipient: the customer's name (any script) and an ASCII address."""
    clean_name = " ".join((name or "").split())
    try:
        return Address(display_name=clean_name, addr_spec=ascii_address(address))
    except (ValueError, IndexError) as exc:
        if isinstance(exc, AddressError):
            raise
        raise AddressError(f"неверный адрес: {mask_email(address)}") from None


# --- unsubscribe tokens -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UnsubscribeRequest:
    """Who opts out of what: exactly one of ``contact_id`` and ``address`` is set."""

    kind: str
    contact_id: int | None = None
    address: str | None = None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: str, payload: bytes) -> bytes:
    # the version is in the MAC too: a v1 signature can never vouch for another format
    digest = hmac.new(secret.encode("utf-8"), TOKEN_VERSION.encode() + b"." + payload, "sha256")
    return digest.digest()[:_MAC_BYTES]


def make_unsubscribe_token(
    *, secret: str, kind: str, contact_id: int | None = None, address: str | None = None
) -> str:
    """A token for "opt ``contact_id`` (or ``address``) out of notices of ``kind``"."""
    if not secret:
        raise UnsubscribeTokenError("не задан секрет ссылок отписки (CC_UNSUBSCRIBE_SECRET)")
    if not KIND_RE.fullmatch(kind):
        raise UnsubscribeTokenError(f"неверный вид уведомления: {kind!r}")
    if (contact_id is None) == (address is None):
        raise UnsubscribeTokenError("нужен ровно один из contact_id и address")
    if contact_id is not None:
        # checked at run time too: not every caller is type-checked
        if not isinstance(contact_id, int):
            raise UnsubscribeTokenError(f"неверный номер контакта: {contact_id!r}")
        if isinstance(contact_id, bool) or contact_id < 0:
            raise UnsubscribeTokenError(f"неверный номер контакта: {contact_id!r}")
        who = f"c:{contact_id}"
    else:
        assert address is not None
        who = f"a:{address.strip().lower()}"
    payload = f"{who}|{kind}".encode()
    return f"{TOKEN_VERSION}.{_b64(payload)}.{_b64(_mac(secret, payload))}"


def verify_unsubscribe_token(token: str, *, secret: str) -> UnsubscribeRequest:
    """The request a token was made for; :class:`UnsubscribeTokenError` if it is malformed or
    was not signed with ``secret`` (compared in constant time)."""
    if not secret:
        raise UnsubscribeTokenError("не задан секрет ссылок отписки (CC_UNSUBSCRIBE_SECRET)")
    # checked at run time too: not every caller is type-checked
    if not isinstance(token, str):
        raise UnsubscribeTokenError("неверная ссылка отписки")
    if len(token) > 1024:
        raise UnsubscribeTokenError("неверная ссылка отписки")
    version, dot1, rest = token.strip().partition(".")
    body, dot2, mac = rest.partition(".")
    if version != TOKEN_VERSION or not dot1 or not dot2:
        raise UnsubscribeTokenError("неверная ссылка отписки")
    try:
        payload, signature = _unb64(body), _unb64(mac)
    except (ValueError, TypeError):
        raise UnsubscribeTokenError("неверная ссылка отписки") from None
    if not hmac.compare_digest(signature, _mac(secret, payload)):
        raise UnsubscribeTokenError("ссылка отписки не подписана этим сервисом")
    try:
        who, _, kind = payload.decode("utf-8").rpartition("|")
    except UnicodeDecodeError:  # pragma: no cover - signed payloads are always UTF-8
        raise UnsubscribeTokenError("неверная ссылка отписки") from None
    tag, _, value = who.partition(":")
    if tag == "c" and value.isdigit():
        return UnsubscribeRequest(kind=kind, contact_id=int(value))
    if tag == "a" and value:
        return UnsubscribeRequest(kind=kind, address=value)
    raise UnsubscribeTokenError("неверная ссылка отписки")  # pragma: no cover


def unsubscribe_url(base_url: str, token: str) -> str:
    """``http://host/unsubscribe`` + token -> ``http://host/unsubscribe?token=v1...``."""
    parts = urlsplit(base_url)
    query = (parts.query + "&" if parts.query else "") + urlencode({"token": token})
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


def list_unsubscribe_value(*, url: str, mailto: str | None = None, token: str = "") -> str:
    """The List-Unsubscribe value: the https link first (the one RFC 8058 clients POST to),
    then an optional mailto whose subject carries the token, so a mailbox robot can act."""
    if not url.isascii() or any(ch in url for ch in "<>\r\n, "):
        raise ValueError(f"ссылка отписки должна быть ASCII без пробелов: {url!r}")
    value = f"<{url}>"
    if mailto:
        subject = quote(f"unsubscribe {token}".strip())
        value += f", <mailto:{ascii_address(mailto)}?subject={subject}>"
    return value


# --- the letter -------------------------------------------------------------------------


def message_id_domain(from_header: str) -> str:
    """The right-hand side of our Message-IDs: the sender's domain (stable, no host name)."""
    return parse_mailbox(from_header).domain


def new_message_id(*, domain: str) -> str:
    """``<175….12345.987…@domain>``; store it before sending (see ``sender``)."""
    return make_msgid(domain=domain)


def build_message(
    *,
    content: RenderedEmail,
    sender: str | Address,
    to_address: str,
    to_name: str | None = None,
    message_id: str,
    list_unsubscribe: str | None = None,
    date: dt.datetime | None = None,
    tz: dt.tzinfo | None = None,
) -> EmailMessage:
    """One letter. ``sender`` is a From header (``"Имя <addr>"``) or an Address;
    ``list_unsubscribe`` a value from :func:`list_unsubscribe_value` (then the one-click
    ``List-Unsubscribe-Post`` is added too); ``date`` defaults to now in ``tz``."""
    msg = EmailMessage(policy=POLICY)
    msg["From"] = sender if isinstance(sender, Address) else parse_mailbox(sender)
    msg["To"] = mailbox(to_address, to_name)
    msg["Subject"] = content.subject
    when = date or dt.datetime.now(tz or dt.UTC)
    if when.tzinfo is None:
        raise ValueError("date must be timezone-aware")
    msg["Date"] = format_datetime(when)
    if not (message_id.startswith("<") and message_id.endswith(">") and "@" in message_id):
        raise ValueError(f"not a Message-ID: {message_id!r}")
    msg["Message-ID"] = message_id
    msg["Auto-Submitted"] = "auto-generated"
    if list_unsubscribe:
        msg["List-Unsubscribe"] = list_unsubscribe
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    text = content.text if content.text.endswith("\n") else content.text + "\n"
    msg.set_content(text, subtype="plain", charset="utf-8")
    if content.html is not None:
        msg.add_alternative(content.html, subtype="html", charset="utf-8")
        for part in msg.iter_parts():
            # add_alternative copies MIME-Version into the parts; it belongs on top only
            del part["MIME-Version"]
    return msg


@dataclass(frozen=True, slots=True)
class NoticeParts:
    """What a notice letter is built from once its template is rendered for a contact."""

    content: RenderedEmail
    sender: Address
    message_id: str
    list_unsubscribe: str
    tz: dt.tzinfo


def notice_parts(
    *,
    template: EmailTemplate,
    contact: Mapping[str, Any],
    to_address: str,
    kind: str,
    settings: Settings,
    contact_id: int | None = None,
    message_id: str | None = None,
) -> NoticeParts:
    """Render ``template`` for ``contact`` with its signed unsubscribe link (see
    :func:`compose_notice`)."""
    if contact_id is not None:
        token = make_unsubscribe_token(
            secret=settings.unsubscribe_secret, kind=kind, contact_id=contact_id
        )
    else:
        token = make_unsubscribe_token(
            secret=settings.unsubscribe_secret, kind=kind, address=to_address
        )
    url = unsubscribe_url(settings.unsubscribe_base_url, token)
    content = template.render(contact, extra={"unsubscribe_url": url})
    sender = parse_mailbox(settings.smtp_from)
    return NoticeParts(
        content=content,
        sender=sender,
        message_id=message_id or new_message_id(domain=sender.domain),
        list_unsubscribe=list_unsubscribe_value(url=url, mailto=sender.addr_spec, token=token),
        tz=_zone(settings.timezone),
    )


@functools.lru_cache(maxsize=8)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def compose_notice(
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
) -> EmailMessage:
    """Render ``template`` for ``contact`` and build the letter with its unsubscribe link.

    The link opts ``contact_id`` (or, without one, ``to_address``) out of ``kind``; the
    template sees it as ``{{ unsubscribe_url }}``. Pass the ``message_id`` you stored for
    this contact (a resend after a restart must reuse it); without one a new id is made.
    Bulk senders use :func:`autoinformer.email.wire.compose_letter` (the same letter as
    bytes, several times faster).
    """
    parts = notice_parts(
        template=template,
        contact=contact,
        to_address=to_address,
        kind=kind,
        settings=settings,
        contact_id=contact_id,
        message_id=message_id,
    )
    return build_message(
        content=parts.content,
        sender=parts.sender,
        to_address=to_address,
        to_name=to_name,
        message_id=parts.message_id,
        list_unsubscribe=parts.list_unsubscribe,
        date=date,
        tz=parts.tz,
    )
