"""Handing letters to an SMTP server over one reused aiosmtplib connection.

:class:`SmtpSender` keeps one ``aiosmtplib.SMTP`` session open for a whole campaign
(``aiosmtplib.send()`` would open and close one per letter), paces letters with a token
bucket (``CC_SMTP_RATE`` per second) and runs each letter as its own MAIL / RCPT / DATA
transaction, so that it can tell the caller exactly where it stands:

- a **4xx** reply (or a lost or refused connection before DATA) is a *deferral*: recorded,
  then retried after ``base_delay * 2**n`` seconds (capped at ``max_delay``) up to
  ``attempts`` tries in all; the result is ``accepted`` if a later try succeeds, else
  ``deferred`` (temporary; the campaign may try again later);
- a **5xx** reply is final: ``failed``, with the server's code and text;
- after **any** error the session is reset (RSET) or, if that fails or the link was lost,
  closed and reopened before the next letter: a session that failed half-way answers 503
  to every later MAIL;
- a session that sat idle and was closed by the server is reopened once at no cost (not
  counted as a try, no delay);
- a refused login, a TLS failure, a 5xx greeting or a 5xx to MAIL FROM (530 "authentication
  required", 553 "sender not allowed"; 552 "too big" excepted) raises
  :class:`SmtpSetupError`: that is the settings' fault, not the customer's, so the campaign
  should pause instead of failing every address in the list.

Sending each letter exactly once across stops and restarts
-----------------------------------------------------------

SMTP has one moment of doubt: after the last line of DATA is sent and before the server's
reply arrives. If the link breaks then, the server may have taken the letter or not; no
protocol step can tell. The caller closes every other gap with this protocol:

1. give each letter a Message-ID and store it with the contact *before* sending
   (``mime.new_message_id`` / ``compose_notice(message_id=...)``), state ``queued``;
2. pass ``before_data=``: the sender calls it with the Message-ID after the server accepted
   the recipient and right before DATA. Store state ``sending`` there (it may be called
   again for the same letter on a retry: make it idempotent). If it raises, nothing is sent;
3. store the returned :class:`DeliveryResult` (``accepted`` with the server's reply, or
   ``deferred`` / ``failed`` / ``unknown``); pass ``on_deferral=`` to store each deferral as
   it happens, so a crash during a back-off loses none of them.

On restart: ``queued`` letters are sent normally (they never reached DATA); ``accepted``,
``failed`` are done; a letter left in ``sending`` is in the moment of doubt. The choice is:

- **at most once** (the default, ``resend_unconfirmed=False``): record it as ``unknown``
  ("delivery not confirmed") and do not send it again. Nothing is ever sent twice; a letter
  may be missing without anyone knowing whether it arrived. Within one run the sender itself
  returns ``unknown`` when the link breaks during DATA.
- **at least once** (``resend_unconfirmed=True``): send it again *with the same Message-ID*.
  Nothing is lost; in the rare crash inside that window the customer may get the letter
  twice (many mail systems collapse copies with one Message-ID, not all).

For debt and outage notices a duplicate is an annoyance and a silent loss a broken promise;
but the issue asks for "sends no message twice", so at most once is the default and
``unknown`` is reported, never hidden. The window is one round trip per letter.
"""

from __future__ import annotations

import asyncio
import logging
import re
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from typing import TYPE_CHECKING, Final, Literal, TypedDict, Unpack, cast

import aiosmtplib
from aiosmtplib import (
    SMTPAuthenticationError,
    SMTPException,
    SMTPResponseException,
    SMTPServerDisconnected,
    SMTPTimeoutError,
)

from contact_center.customers.csv_import import EMAIL_RE
from contact_center.privacy import mask_email

from .exceptions import SmtpSetupError, SmtpUnavailableError
from .mime import POLICY
from .wire import WireLetter

if TYPE_CHECKING:
    from contact_center.settings import Settings

log = logging.getLogger(__name__)

TlsMode = Literal["none", "starttls", "tls"]
DeliveryStatus = Literal["accepted", "deferred", "failed", "unknown"]
Phase = Literal["connect", "mail", "rcpt", "data"]
BeforeData = Callable[[str], Awaitable[None]]
OnDeferral = Callable[["Deferral"], Awaitable[None]]

TLS_MODES: Final = ("none", "starttls", "tls")
_QUIT_TIMEOUT: Final = 5.0
_SIZE_EXCEEDED: Final = 552  # a 5xx to MAIL that is about this letter, not about us
# any of these means "the link is gone": the transaction did not complete
_LINK_ERRORS: Final = (SMTPServerDisconnected, SMTPTimeoutError, ConnectionError, OSError)
_EMAIL_SEARCH_RE: Final = re.compile(EMAIL_RE.pattern)


def _masked(text: str) -> str:
    """Server replies often quote the address ("<ivanov@x.ru>: user unknown"): mask it for logs."""
    return _EMAIL_SEARCH_RE.sub(lambda m: mask_email(m[0].lstrip("<")), text)


@dataclass(frozen=True, slots=True)
class Deferral:
    """One temporary failure: a 4xx reply (``code``) or a lost link (``code`` None).
    ``retry_in`` is the delay before the next try, None when no try follows."""

    attempt: int
    phase: Phase
    code: int | None
    reply: str
    retry_in: float | None


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """What became of one letter.

    ``status``: ``accepted`` (the server took it: ``code`` 250 and its reply, often with the
    server's queue id), ``deferred`` (every try met a 4xx or a lost link: the last one is in
    ``code``/``reply``), ``failed`` (a 5xx: ``code``, ``reply`` and the ``phase`` that was
    refused) or ``unknown`` (the link broke after the letter was sent and before the reply;
    see the module docstring). ``attempts`` counts transactions tried; ``deferrals`` lists
    each temporary failure in order.
    """

    status: DeliveryStatus
    message_id: str
    attempts: int
    code: int | None = None
    reply: str = ""
    phase: Phase | None = None
    deferrals: tuple[Deferral, ...] = ()

    @property
    def accepted(self) -> bool:
        return self.status == "accepted"


class TokenBucket:
    """``rate`` tokens a second, at most ``burst`` saved up; ``rate <= 0`` means no limit.

    A taker that finds the bucket empty reserves its token (the count goes negative) and
    sleeps until it would have been there, so pacing holds under back-to-back calls.
    """

    def __init__(
        self,
        *,
        rate: float,
        burst: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.rate = float(rate)
        # a tenth of a second's worth: smooth, but a late wake-up does not lose the pace
        self.burst = max(1.0, float(burst) if burst is not None else self.rate / 10)
        self._clock = clock
        self._sleep = sleep
        self._tokens = self.burst
        self._last = clock()

    async def take(self) -> None:
        if self.rate <= 0:
            return
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now
        self._tokens -= 1.0
        if self._tokens < 0:
            await self._sleep(-self._tokens / self.rate)


@dataclass(frozen=True, slots=True)
class _Outcome:
    kind: Literal["accepted", "temporary", "permanent", "unconfirmed", "stale"]
    phase: Phase
    code: int | None = None
    reply: str = ""


class SenderOptions(TypedDict, total=False):
    """The keywords of :class:`SmtpSender` (keep in step with its ``__init__``)."""

    host: str
    port: int
    tls: TlsMode
    username: str
    password: str
    timeout: float
    rate: float
    burst: float | None
    attempts: int
    base_delay: float
    max_delay: float
    resend_unconfirmed: bool
    envelope_from: str | None
    local_hostname: str | None
    tls_context: ssl.SSLContext | None
    sleep: Callable[[float], Awaitable[None]]


class SmtpSender:
    """One SMTP session reused for many letters; see the module docstring for the protocol.

    Use as ``async with SmtpSender.from_settings(settings) as sender: ...`` or call
    :meth:`close`. Sends are serialized (one transaction at a time on one link); for more
    throughput run several senders. The connection opens on the first :meth:`send` or on
    :meth:`connect` (call it first to learn early that the settings are wrong).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 25,
        tls: TlsMode = "none",
        username: str = "",
        password: str = "",
        timeout: float = 30.0,
        rate: float = 50.0,
        burst: float | None = None,
        attempts: int = 4,
        base_delay: float = 1.0,
        max_delay: float = 60.0,
        resend_unconfirmed: bool = False,
        envelope_from: str | None = None,
        local_hostname: str | None = None,
        tls_context: ssl.SSLContext | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if tls not in TLS_MODES:
            raise ValueError(f"tls must be one of {TLS_MODES}, not {tls!r}")
        if attempts < 1 or base_delay < 0 or max_delay < 0 or timeout <= 0:
            raise ValueError("attempts >= 1, delays >= 0 and timeout > 0 are required")
        self.host = host
        self.port = port
        self.tls: TlsMode = tls
        self._username = username or None
        self._password = password
        self.timeout = timeout
        self.attempts = attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.resend_unconfirmed = resend_unconfirmed
        self.envelope_from = envelope_from
        self._local_hostname = local_hostname
        self._tls_context = tls_context
        self._sleep = sleep
        self._bucket = TokenBucket(rate=rate, burst=burst, sleep=sleep)
        self._smtp: aiosmtplib.SMTP | None = None
        self._lock = asyncio.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Unpack[SenderOptions]) -> SmtpSender:
        """A sender for ``CC_SMTP_*``; ``overrides`` are any keyword of the constructor."""
        values: SenderOptions = {
            "host": settings.smtp_host,
            "port": settings.smtp_port,
            # Settings keeps it as a str; the constructor refuses anything but a TlsMode
            "tls": cast(TlsMode, settings.smtp_tls),
            "username": settings.smtp_user,
            "password": settings.smtp_password,
            "timeout": settings.smtp_timeout,
            "rate": settings.smtp_rate,
        }
        values.update(overrides)
        return cls(**values)

    def __repr__(self) -> str:  # never the password
        return f"SmtpSender({self.host}:{self.port}, tls={self.tls}, user={self._username!r})"

    # --- connection ---------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._smtp is not None and self._smtp.is_connected

    async def __aenter__(self) -> SmtpSender:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def connect(self) -> None:
        """Open the session now. Raises :class:`SmtpSetupError` (settings are wrong) or
        :class:`SmtpUnavailableError` (the server cannot be reached)."""
        async with self._lock:
            if not self.connected:
                try:
                    await self._open()
                except _LINK_ERRORS as exc:
                    raise SmtpUnavailableError(
                        f"SMTP-сервер {self.host}:{self.port} недоступен: {exc}"
                    ) from None
                except SMTPResponseException as exc:
                    raise SmtpUnavailableError(
                        f"SMTP-сервер {self.host}:{self.port} ответил {exc.code} {exc.message}"
                    ) from None

    async def _open(self) -> None:
        """Connect, EHLO, STARTTLS/TLS and login as configured; setup errors raise."""
        self._drop()
        smtp = aiosmtplib.SMTP(
            hostname=self.host,
            port=self.port,
            username=self._username,
            password=self._password if self._username else None,
            timeout=self.timeout,
            use_tls=self.tls == "tls",
            # False, not None: None would silently upgrade when offered, and a "none"
            # setting must mean plain text (a test server, a local relay)
            start_tls=self.tls == "starttls",
            tls_context=self._tls_context,
            local_hostname=self._local_hostname,
        )
        try:
            await smtp.connect()
        except _LINK_ERRORS as exc:
            # aiosmtplib wraps a failed TLS handshake in SMTPConnectError: that one is ours
            cause = exc.__cause__ or exc
            if isinstance(cause, ssl.SSLError):
                raise SmtpSetupError(f"SMTP-сервер {self.host}:{self.port}: TLS: {cause}") from None
            raise
        except SMTPResponseException as exc:
            if 500 <= exc.code < 600:
                what = (
                    f"не принял логин {self._username!r}"
                    if isinstance(exc, SMTPAuthenticationError)
                    else "отказал"
                )
                raise SmtpSetupError(
                    f"SMTP-сервер {self.host}:{self.port} {what}: {exc.code} {exc.message}"
                ) from None
            raise
        except SMTPException as exc:  # STARTTLS or AUTH not offered, and the like
            raise SmtpSetupError(f"SMTP-сервер {self.host}:{self.port}: {exc}") from None
        self._smtp = smtp

    def _drop(self) -> None:
        """Forget the session without ceremony (it is broken or in an unknown state)."""
        if self._smtp is not None:
            self._smtp.close()
            self._smtp = None

    async def _reset(self) -> None:
        """RSET after an error; if even that fails, drop the link so the next letter
        starts on a fresh one instead of meeting 503 forever."""
        if not self.connected:
            self._drop()
            return
        assert self._smtp is not None
        try:
            await self._smtp.rset()
        except (SMTPException, *_LINK_ERRORS):
            self._drop()

    async def close(self) -> None:
        """QUIT politely (briefly) and close; safe to call twice."""
        async with self._lock:
            smtp, self._smtp = self._smtp, None
            if smtp is not None and smtp.is_connected:
                try:
                    await smtp.quit(timeout=_QUIT_TIMEOUT)
                except (SMTPException, *_LINK_ERRORS):
                    pass
                finally:
                    smtp.close()

    # --- sending ------------------------------------------------------------------------

    async def send(
        self,
        message: EmailMessage | WireLetter,
        *,
        before_data: BeforeData | None = None,
        on_deferral: OnDeferral | None = None,
    ) -> DeliveryResult:
        """Hand one letter (one To address, a Message-ID; an EmailMessage, or a WireLetter
        already in bytes) to the server, retrying as the
        module docstring says. ``before_data(message_id)`` runs right before each DATA;
        ``on_deferral(deferral)`` after each temporary failure. Exceptions from either
        callback, and cancellation, abort the send (nothing more is sent for this letter)
        and propagate; :class:`SmtpSetupError` propagates too."""
        if isinstance(message, WireLetter):
            message_id, recipient = message.message_id, message.recipient
            envelope_from = self.envelope_from or message.envelope_from
            data = message.data
        else:
            message_id = str(message.get("Message-ID", "")).strip()
            recipient = _single_recipient(message)
            envelope_from = self.envelope_from or _sender_address(message)
            data = message.as_bytes(policy=POLICY)
        if not message_id:
            raise ValueError("the letter has no Message-ID (store one before sending)")
        deferrals: list[Deferral] = []
        async with self._lock:
            attempt = 0
            stale_retried = False
            while True:
                attempt += 1
                await self._bucket.take()
                outcome = await self._attempt(
                    data=data,
                    envelope_from=envelope_from,
                    recipient=recipient,
                    message_id=message_id,
                    before_data=before_data,
                )
                if outcome.kind == "stale" and not stale_retried:
                    # an idle session the server closed: reopen at once, not a real try
                    stale_retried = True
                    attempt -= 1
                    continue
                if outcome.kind == "accepted":
                    return DeliveryResult(
                        status="accepted",
                        message_id=message_id,
                        attempts=attempt,
                        code=outcome.code,
                        reply=outcome.reply,
                        phase="data",
                        deferrals=tuple(deferrals),
                    )
                if outcome.kind == "permanent":
                    log.warning(
                        "letter to %s failed at %s: %s %s",
                        mask_email(recipient),
                        outcome.phase,
                        outcome.code,
                        _masked(outcome.reply),
                    )
                    return DeliveryResult(
                        status="failed",
                        message_id=message_id,
                        attempts=attempt,
                        code=outcome.code,
                        reply=outcome.reply,
                        phase=outcome.phase,
                        deferrals=tuple(deferrals),
                    )
                if outcome.kind == "unconfirmed" and not self.resend_unconfirmed:
                    log.warning(
                        "letter to %s: link lost during DATA, delivery unknown (not resent)",
                        mask_email(recipient),
                    )
                    return DeliveryResult(
                        status="unknown",
                        message_id=message_id,
                        attempts=attempt,
                        reply=outcome.reply,
                        phase="data",
                        deferrals=tuple(deferrals),
                    )
                # temporary (or unconfirmed with resending allowed, or stale twice)
                backoff = min(self.max_delay, self.base_delay * 2 ** len(deferrals))
                delay = None if attempt >= self.attempts else backoff
                deferral = Deferral(
                    attempt=attempt,
                    phase=outcome.phase,
                    code=outcome.code,
                    reply=outcome.reply,
                    retry_in=delay,
                )
                deferrals.append(deferral)
                log.info(
                    "letter to %s deferred at %s (try %d): %s %s",
                    mask_email(recipient),
                    outcome.phase,
                    attempt,
                    outcome.code if outcome.code is not None else "link lost",
                    _masked(outcome.reply),
                )
                if on_deferral is not None:
                    await on_deferral(deferral)
                if delay is None:
                    return DeliveryResult(
                        status="deferred",
                        message_id=message_id,
                        attempts=attempt,
                        code=outcome.code,
                        reply=outcome.reply,
                        phase=outcome.phase,
                        deferrals=tuple(deferrals),
                    )
                await self._sleep(delay)

    async def _attempt(
        self,
        *,
        data: bytes,
        envelope_from: str,
        recipient: str,
        message_id: str,
        before_data: BeforeData | None,
    ) -> _Outcome:
        """One MAIL/RCPT/DATA transaction on the open session (opening it if needed)."""
        reused = self.connected
        if not reused:
            try:
                await self._open()
            except SMTPResponseException as exc:  # a 4xx greeting, EHLO or STARTTLS reply
                self._drop()
                return _Outcome("temporary", "connect", exc.code, exc.message)
            except _LINK_ERRORS as exc:
                self._drop()
                return _Outcome("temporary", "connect", None, _describe(exc))
        smtp = self._smtp
        assert smtp is not None
        phase: Phase = "mail"
        try:
            options = [f"SIZE={len(data)}"] if smtp.supports_extension("size") else []
            await smtp.mail(envelope_from, options=options)
            phase = "rcpt"
            await smtp.rcpt(recipient)
        except SMTPResponseException as exc:
            outcome = await self._refused(phase, exc)
            if phase == "mail" and outcome.kind == "permanent" and exc.code != _SIZE_EXCEEDED:
                # MAIL carries only our envelope sender: a 5xx there (530 authentication or
                # STARTTLS required, 553 sender not allowed) is the settings' fault and would
                # fail every letter of the campaign alike
                raise SmtpSetupError(
                    f"SMTP-сервер {self.host}:{self.port} не принял отправителя: "
                    f"{exc.code} {exc.message}"
                ) from None
            return outcome
        except _LINK_ERRORS as exc:
            self._drop()
            kind: Literal["stale", "temporary"] = (
                "stale" if reused and phase == "mail" else "temporary"
            )
            return _Outcome(kind, phase, None, _describe(exc))
        except BaseException:
            # cancelled (the service is stopping) or a bug: the session's state is unknown
            self._drop()
            raise
        if before_data is not None:
            try:
                await before_data(message_id)
            except asyncio.CancelledError:
                self._drop()
                raise
            except BaseException:
                # the caller could not record "sending": send nothing, keep the session clean
                await self._reset()
                raise
        try:
            response = await smtp.data(data)
        except SMTPResponseException as exc:
            return await self._refused("data", exc)
        except _LINK_ERRORS as exc:
            # the letter may or may not have reached the server: the moment of doubt
            self._drop()
            return _Outcome("unconfirmed", "data", None, _describe(exc))
        except BaseException:
            self._drop()
            raise
        return _Outcome("accepted", "data", response.code, response.message)

    async def _refused(self, phase: Phase, exc: SMTPResponseException) -> _Outcome:
        await self._reset()
        kind: Literal["temporary", "permanent"] = (
            "temporary" if 400 <= exc.code < 500 else "permanent"
        )
        return _Outcome(kind, phase, exc.code, exc.message)


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return f"соединение потеряно: {text}"


def _single_recipient(message: EmailMessage) -> str:
    header = message.get("To")
    addresses: tuple[Address, ...] = getattr(header, "addresses", ())
    if len(addresses) != 1 or message.get("Cc") or message.get("Bcc"):
        raise ValueError("a notice letter has exactly one To address and no Cc/Bcc")
    return str(addresses[0].addr_spec)


def _sender_address(message: EmailMessage) -> str:
    header = message.get("From")
    addresses: tuple[Address, ...] = getattr(header, "addresses", ())
    if len(addresses) != 1:
        raise ValueError("the letter needs exactly one From address")
    return str(addresses[0].addr_spec)
