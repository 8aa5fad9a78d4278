"""One-click unsubscribe (RFC 8058): the opt-out itself, and the small HTTP edge that takes it.

The link in every letter (``List-Unsubscribe``) carries a signed token naming the letter and
the kind of notice. Using it opts the letter's address out of letters of that kind, for
every later campaign, through the same table as the phone's "press 9" (``ai_opt_outs``,
here with an address instead of a phone): each channel opts out on its own, so leaving the
debt letters does not stop a debt call, and pressing 9 does not stop letters. Letters of
that kind still queued for the address are closed as ``opted_out`` at once.

The HTTP edge is two routes on the web console's Twisted site (`register_web`), served by
``contact-center serve`` on ``CC_HTTP_HOST``/``CC_HTTP_PORT``; the logic is in
:class:`Unsubscribes`.

- ``GET /unsubscribe?token=…`` shows a confirmation page with a button and changes nothing
  (mail scanners and link previews fetch links by themselves);
- ``POST /unsubscribe?token=…`` with the body ``List-Unsubscribe=One-Click`` (what mail
  clients send, and what the page's button sends) opts out and answers 200;
- a bad or forged token answers 400 with the reason.

The site bounds what a request may carry (web/site.py).
"""

from __future__ import annotations

import contextlib
import email.parser
import email.policy
import html
import logging
import re
from collections.abc import AsyncIterator, Callable, Collection
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
from contact_center.web.console import WebConsole
from contact_center.web.routing import WebRequest, WebResponse

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


# the token is in the URL: no Referer may carry it anywhere
PAGE_HEADERS: Final = {"Referrer-Policy": "no-referrer"}


async def respond(
    unsubscribes: TokenOptOuts, *, method: str, tokens: list[str], content_type: str, body: bytes
) -> tuple[int, str]:
    """(status, page) for a GET (confirmation, changes nothing) or a one-click POST."""
    if len(tokens) != 1 or not tokens[0]:
        return 400, error_page("в ссылке нет параметра token")
    try:
        if method == "POST":
            if not one_click_body(content_type, body):
                return 400, error_page("ожидается тело List-Unsubscribe=One-Click")
            return 200, done_page(await unsubscribes.opt_out(tokens[0]))
        return 200, confirm_page(await unsubscribes.lookup(tokens[0]))
    except UnsubscribeTokenError as exc:
        return 400, error_page(str(exc))
    except SQLAlchemyError:
        log.exception("unsubscribe endpoint: the database failed")
        return 503, error_page("сервис временно недоступен, попробуйте позже")


def register_web(web: WebConsole, unsubscribes: TokenOptOuts, paths: Collection[str]) -> None:
    """GET and POST on each path, open to anyone holding a signed token. No CSRF token: a
    mail client's one-click POST (RFC 8058) cannot carry one, and the signed token already
    names the letter, so a forged request can only do what the link's owner could."""

    async def handle(request: WebRequest) -> WebResponse:
        status, page = await respond(
            unsubscribes,
            method=request.method,
            tokens=list(request.query.get("token", [])),
            content_type=request.headers.get("content-type", ""),
            body=request.body,
        )
        return WebResponse(page.encode(), "text/html; charset=utf-8", status, PAGE_HEADERS)

    for path in paths:
        web.routes.add(path, handle, methods=("GET",), permission=None)
        web.routes.add(path, handle, methods=("POST",), permission=None, csrf=False)


def unsubscribe_paths(base_url: str) -> tuple[str, ...]:
    """The path of CC_UNSUBSCRIBE_BASE_URL, and /unsubscribe (a proxy may map one to the other)."""
    path = urlsplit(base_url).path or "/unsubscribe"
    return tuple(dict.fromkeys((path, "/unsubscribe")))
