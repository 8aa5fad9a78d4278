"""One-click unsubscribe (RFC 8058): the opt-out itself, and the small HTTP edge that takes it.

The link in every letter (``List-Unsubscribe``) carries a signed token naming the letter and
the kind of notice. Using it opts the letter's address out of letters of that kind, for
every later campaign, through the same table as the phone's "press 9" (``ai_opt_outs``,
here with an address instead of a phone): each channel opts out on its own, so leaving the
debt letters does not stop a debt call, and pressing 9 does not stop letters. Letters of
that kind still queued for the address are closed as ``opted_out`` at once.

The HTTP edge is a minimal asyncio server run by ``contact-center serve``
(``CC_HTTP_HOST``/``CC_HTTP_PORT``), not Twisted web (DESIGN.md's choice for the web desk):
Twisted is not a dependency yet and its asyncio reactor must be installed by the core
before anything imports it; for one endpoint that is heavier than this file. The logic is
in :class:`Unsubscribes`, so the web desk can put a Twisted resource in front of it later.

- ``GET /unsubscribe?token=…`` shows a confirmation page with a button and changes nothing
  (mail scanners and link previews fetch links by themselves);
- ``POST /unsubscribe?token=…`` with the body ``List-Unsubscribe=One-Click`` (what mail
  clients send, and what the page's button sends) opts out and answers 200;
- a bad or forged token answers 400 with the reason.

Requests are parsed strictly: a request head of at most 8 KiB, a body of at most 4 KiB
with a Content-Length (no chunked bodies), 10 seconds to send it all, one request per
connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.parser
import email.policy
import html
import logging
import re
from collections.abc import AsyncIterator, Callable, Collection, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Final, Protocol, cast
from urllib.parse import parse_qs, unquote, urlsplit

from sqlalchemy import CursorResult, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from autoinformer.email import UnsubscribeRequest, UnsubscribeTokenError, verify_unsubscribe_token
from autoinformer.models import Campaign, Letter, OptOut
from autoinformer.scenarios import KINDS
from contact_center.clock import Clock
from contact_center.privacy import mask_email

log = logging.getLogger(__name__)

# "письма …" for each kind of notice
LETTERS_RU: Final = {
    "debt": "о задолженности",
    "outage": "о плановых отключениях",
    "reminder": "с напоминаниями",
    "tariff": "об изменении тарифа",
}
MAX_HEAD: Final = 8 * 1024
MAX_BODY: Final = 4 * 1024
READ_TIMEOUT: Final = 10.0
ONE_CLICK: Final = ("List-Unsubscribe", "One-Click")
_TOKEN_IN_TEXT_RE: Final = re.compile(r"v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")

Transaction = Callable[[], AbstractAsyncContextManager[AsyncSession]]


# ============================================================================ the opt-out


@dataclass(frozen=True, slots=True)
class Unsubscription:
    """Who leaves which letters. `address` is full: mask it before showing or logging."""

    kind: str
    address: str
    letter_id: int | None
    already: bool
    closed: int = 0  # letters of that kind still queued for the address, now not sent

    @property
    def masked(self) -> str:
        return mask_email(self.address)

    @property
    def letters_ru(self) -> str:
        return LETTERS_RU.get(self.kind, self.kind)


def extract_token(text: str) -> str:
    """The token from what a clerk pastes: the token itself, the whole link, or the mailto
    subject ("unsubscribe v1.…", maybe still %-encoded)."""
    value = unquote(text.strip())
    found = _TOKEN_IN_TEXT_RE.search(value)
    # nothing token-like: hand the text on as it is, its check says what is wrong
    return found[0] if found else value


class TokenOptOuts(Protocol):
    """What the HTTP edge needs of :class:`Unsubscribes`."""

    async def lookup(self, token: str) -> Unsubscription: ...

    async def opt_out(self, token: str) -> Unsubscription: ...


class Unsubscribes:
    """Unsubscribe tokens checked and applied (the HTTP edge and the CLI share it)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        secret: str,
        clock: Clock,
        transaction: Transaction | None = None,
    ) -> None:
        self._sessions = sessions
        self._secret = secret
        self._clock = clock
        self._transaction = transaction

    def verify(self, token: str) -> UnsubscribeRequest:
        request = verify_unsubscribe_token(token, secret=self._secret)
        if request.kind not in KINDS:
            raise UnsubscribeTokenError(f"неизвестный вид уведомлений: {request.kind}")
        return request

    async def _who(self, session: AsyncSession, request: UnsubscribeRequest) -> Letter | str:
        if request.contact_id is None:
            assert request.address is not None
            return request.address
        letter = await session.get(Letter, request.contact_id)
        if letter is None:
            raise UnsubscribeTokenError("письма по этой ссылке больше нет в базе")
        return letter

    async def lookup(self, token: str) -> Unsubscription:
        """What the token would do; changes nothing (the GET page)."""
        request = self.verify(token)
        async with self._sessions() as session:
            who = await self._who(session, request)
            address = who if isinstance(who, str) else who.address
            already = await session.scalar(
                select(OptOut.id).where(OptOut.address == address, OptOut.kind == request.kind)
            )
        letter_id = None if isinstance(who, str) else who.id
        return Unsubscription(request.kind, address, letter_id, already is not None)

    async def opt_out(self, token: str) -> Unsubscription:
        """Apply the token (idempotent: a second use says it was already done)."""
        request = self.verify(token)
        now = self._clock.now()
        write = self._transaction or self._plain_transaction
        same_kind = select(Campaign.id).where(Campaign.kind == request.kind)
        async with write() as session:
            who = await self._who(session, request)
            address = who if isinstance(who, str) else who.address
            letter_id = None if isinstance(who, str) else who.id
            campaign_id = None if isinstance(who, str) else who.campaign_id
            dialect = session.get_bind().dialect.name
            insert = pg_insert if dialect == "postgresql" else sqlite_insert
            added = await session.execute(
                insert(OptOut)
                .values(
                    phone=None,
                    address=address,
                    kind=request.kind,
                    campaign_id=campaign_id,
                    created_at=now,
                )
                .on_conflict_do_nothing()
            )
            if not isinstance(who, str) and who.unsubscribed_at is None:
                who.unsubscribed_at = now
            closed = await session.execute(
                update(Letter)
                .where(
                    Letter.address == address,
                    Letter.state == "queued",
                    Letter.campaign_id.in_(same_kind),
                )
                .values(state="done", status="opted_out", finished_at=now)
                .execution_options(synchronize_session=False)
            )
        # DML gives a CursorResult, which has rowcount; AsyncSession.execute is typed as Result
        added_rows = cast("CursorResult[Any]", added).rowcount
        closed_rows = cast("CursorResult[Any]", closed).rowcount
        result = Unsubscription(
            request.kind,
            address,
            letter_id,
            already=added_rows == 0,
            closed=int(closed_rows or 0),
        )
        log.info(
            "unsubscribe: %s (letter %s) leaves %s letters%s; %d queued letters closed",
            result.masked,
            letter_id,
            request.kind,
            " (already)" if result.already else "",
            result.closed,
        )
        return result

    @contextlib.asynccontextmanager
    async def _plain_transaction(self) -> AsyncIterator[AsyncSession]:
        async with self._sessions() as session, session.begin():
            yield session


# ============================================================================ HTTP


class HttpError(Exception):
    def __init__(
        self, status: int, reason: str, *, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.headers = dict(headers or {})


@dataclass(frozen=True, slots=True)
class HttpRequest:
    method: str
    path: str
    query: Mapping[str, list[str]]
    headers: Mapping[str, str]  # lower-case names
    body: bytes = b""


_REQUEST_LINE_RE: Final = re.compile(r"([A-Z]{1,16}) (/[!-~]{0,4095}) HTTP/1\.[01]")
_TOKEN_RE: Final = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_SINGLE: Final = frozenset({"content-length", "content-type", "host", "transfer-encoding"})
_STATUS: Final = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    411: "Length Required",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def parse_head(head: bytes) -> tuple[str, str, dict[str, list[str]], dict[str, str]]:
    """(method, path, query, headers) from a request head ending in CRLF CRLF; HttpError 400
    for anything not plainly HTTP/1.x (non-ASCII, folded or repeated framing headers)."""
    try:
        text = head.decode("ascii")
    except UnicodeDecodeError:
        raise HttpError(400, "запрос не в ASCII") from None
    lines = text.split("\r\n")
    match = _REQUEST_LINE_RE.fullmatch(lines[0])
    if match is None:
        raise HttpError(400, "неверная строка запроса")
    method, target = match.groups()
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        if line[0] in " \t":
            raise HttpError(400, "перенос строки в заголовке не допускается")
        name, colon, value = line.partition(":")
        if not colon or not _TOKEN_RE.fullmatch(name):
            raise HttpError(400, "неверный заголовок")
        key = name.lower()
        value = value.strip(" \t")
        if key in headers:
            if key in _SINGLE:
                raise HttpError(400, f"заголовок {name} повторяется")
            headers[key] += ", " + value
        else:
            headers[key] = value
    parts = urlsplit(target)
    try:
        query = parse_qs(parts.query, strict_parsing=False, max_num_fields=20)
    except ValueError:
        raise HttpError(400, "неверные параметры запроса") from None
    return method, parts.path, query, headers


def one_click_body(content_type: str, body: bytes) -> bool:
    """Does the POST body carry List-Unsubscribe=One-Click (RFC 8058 allows form-urlencoded
    and multipart/form-data)?"""
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == "application/x-www-form-urlencoded" or (not kind and body):
        try:
            fields = parse_qs(body.decode("ascii"), max_num_fields=20)
        except (UnicodeDecodeError, ValueError):
            return False
        return fields.get(ONE_CLICK[0]) == [ONE_CLICK[1]]
    if kind == "multipart/form-data":
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode("ascii", "replace") + body
        )
        if not message.is_multipart():
            return False
        for part in message.iter_parts():
            params = dict(part.get_params(header="content-disposition") or [])
            payload = part.get_payload(decode=True)
            if params.get("name") == ONE_CLICK[0] and isinstance(payload, bytes):
                return payload.strip() == ONE_CLICK[1].encode()
    return False


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="ru"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title></head>"
        '<body style="font-family:sans-serif;max-width:36em;margin:2em auto;padding:0 1em">'
        f'<h1 style="font-size:1.4em">{html.escape(title)}</h1>{body}</body></html>'
    )


def confirm_page(found: Unsubscription) -> str:
    who = html.escape(found.masked)
    what = html.escape(found.letters_ru)
    if found.already:
        return _page(
            "Вы уже отписаны",
            f"<p>Адрес {who} уже не получает письма {what}.</p>",
        )
    # action="" posts back to this very URL, token included (also behind a proxy)
    return _page(
        "Отказаться от писем?",
        f"<p>Адрес {who} больше не будет получать письма {what}.</p>"
        '<form method="post" action="">'
        f'<input type="hidden" name="{ONE_CLICK[0]}" value="{ONE_CLICK[1]}">'
        '<button type="submit" style="font-size:1.1em;padding:.4em 1.2em">'
        "Отказаться от писем</button></form>"
        '<p style="color:#666">Отказ касается только писем; звонки он не меняет.</p>',
    )


def done_page(done: Unsubscription) -> str:
    return _page(
        "Готово",
        f"<p>Адрес {html.escape(done.masked)} больше не будет получать письма "
        f"{html.escape(done.letters_ru)}.</p>",
    )


def error_page(reason: str) -> str:
    return _page("Ссылка не работает", f"<p>{html.escape(reason)}</p>")


def response_bytes(
    status: int, page: str, *, head_only: bool = False, headers: Mapping[str, str] | None = None
) -> bytes:
    body = page.encode("utf-8")
    lines = [
        f"HTTP/1.1 {status} {_STATUS.get(status, 'Error')}",
        "Content-Type: text/html; charset=utf-8",
        f"Content-Length: {len(body)}",
        "Cache-Control: no-store",
        "X-Content-Type-Options: nosniff",
        # the token is in the URL: no Referer carries it anywhere
        "Referrer-Policy: no-referrer",
        "Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'; "
        "form-action 'self'; frame-ancestors 'none'",
        "Connection: close",
        *(f"{k}: {v}" for k, v in (headers or {}).items()),
    ]
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")
    return head if head_only else head + body


class UnsubscribeServer:
    """The unsubscribe endpoint on an asyncio server; see the module docstring."""

    def __init__(
        self,
        unsubscribes: TokenOptOuts,
        *,
        host: str,
        port: int,
        paths: Collection[str] = ("/unsubscribe",),
        read_timeout: float = READ_TIMEOUT,
    ) -> None:
        self._unsubscribes = unsubscribes
        self.host = host
        self._port = port
        self._paths = frozenset(paths)
        self._read_timeout = read_timeout
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[Any]] = set()

    @property
    def port(self) -> int:
        """The bound port (the configured one, or the one picked for port 0)."""
        if self._server is None or not self._server.sockets:
            return self._port
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._handle, self.host, self._port, limit=MAX_HEAD
        )
        log.info("unsubscribe endpoint on http://%s:%d%s", self.host, self.port, min(self._paths))

    async def close(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for task in list(self._connections):
            task.cancel()
        if self._connections:
            await asyncio.gather(*self._connections, return_exceptions=True)
        await server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
        try:
            data = await self._serve(reader)
            if data:
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client went away
        except Exception:
            log.exception("unsubscribe endpoint: request failed")
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
            if task is not None:
                self._connections.discard(task)

    async def _serve(self, reader: asyncio.StreamReader) -> bytes:
        head_only = False
        try:
            async with asyncio.timeout(self._read_timeout):
                request = await self._read(reader)
            head_only = request.method == "HEAD"
            status, page = await self._respond(request)
            return response_bytes(status, page, head_only=head_only)
        except HttpError as exc:
            return response_bytes(
                exc.status, error_page(exc.reason), head_only=head_only, headers=exc.headers
            )
        except TimeoutError:
            return response_bytes(408, error_page("запрос не пришёл целиком вовремя"))
        except asyncio.IncompleteReadError:
            return b""

    async def _read(self, reader: asyncio.StreamReader) -> HttpRequest:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.LimitOverrunError:
            raise HttpError(431, "слишком длинный запрос") from None
        method, path, query, headers = parse_head(head)
        body = b""
        if method == "POST":
            if "transfer-encoding" in headers:
                raise HttpError(411, "нужен Content-Length, а не Transfer-Encoding")
            length = headers.get("content-length")
            if length is None:
                raise HttpError(411, "нужен заголовок Content-Length")
            if not length.isdigit():
                raise HttpError(400, "неверный Content-Length")
            if int(length) > MAX_BODY:
                raise HttpError(413, "слишком большое тело запроса")
            body = await reader.readexactly(int(length))
        return HttpRequest(method, path, query, headers, body)

    async def _respond(self, request: HttpRequest) -> tuple[int, str]:
        if request.path not in self._paths:
            raise HttpError(404, "нет такой страницы")
        if request.method not in ("GET", "HEAD", "POST"):
            raise HttpError(405, "метод не поддерживается", headers={"Allow": "GET, HEAD, POST"})
        tokens = request.query.get("token", [])
        if len(tokens) != 1 or not tokens[0]:
            raise HttpError(400, "в ссылке нет параметра token")
        try:
            if request.method == "POST":
                if not one_click_body(request.headers.get("content-type", ""), request.body):
                    raise HttpError(400, "ожидается тело List-Unsubscribe=One-Click")
                return 200, done_page(await self._unsubscribes.opt_out(tokens[0]))
            return 200, confirm_page(await self._unsubscribes.lookup(tokens[0]))
        except UnsubscribeTokenError as exc:
            raise HttpError(400, str(exc)) from None
        except SQLAlchemyError:
            log.exception("unsubscribe endpoint: the database failed")
            raise HttpError(503, "сервис временно недоступен, попробуйте позже") from None


def unsubscribe_paths(base_url: str) -> tuple[str, ...]:
    """The path of CC_UNSUBSCRIBE_BASE_URL, and /unsubscribe (a proxy may map one to the other)."""
    path = urlsplit(base_url).path or "/unsubscribe"
    return tuple(dict.fromkeys((path, "/unsubscribe")))
