"""The mailer's persistence: letters taken and marked `sending` a batch at a time before
any of them is sent, and their results.

Each letter is sent at most once, across stops and restarts: a letter is taken by giving
it a fresh Message-ID by compare-and-set on the one it had, and every later write is
guarded by that Message-ID (autoinformer.email.mailer has the whole protocol). Writes take
their turn with the dialer's (CallBook's writer).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, cast

from sqlalchemy import BindParameter, Table, bindparam, case, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from autoinformer.campaigns.plan import Plan
from autoinformer.models import Campaign, CampaignContact, Letter, OptOut
from autoinformer.phone.book import CallBook
from contact_center.storage.database import affected_rows

from .mime import new_message_id
from .sender import Deferral, DeliveryResult

log = logging.getLogger(__name__)

EMAIL_CHANNELS = ("email", "both")
_REPLY_MAX = 2000

# Core statements (executemany by parameter lists, no ORM evaluation of the rows)
_LETTERS: Final = cast(Table, Letter.__table__)

# a write to run inside a transaction of the book
Write = Callable[[AsyncSession], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class QueuedLetter:
    """A letter taken for sending, with the Message-ID it is sent under."""

    id: int
    campaign_id: int
    address: str
    name: str
    account: str
    phone: str  # digits of the same customer's phone contact, "" none
    values: Mapping[str, str]
    message_id: str
    rounds: int


def _reply_text(code: int | None, reply: str) -> str:
    text = f"{code} {reply}" if code is not None else reply
    return text[:_REPLY_MAX]


class LetterBook:
    """The mailer's persistence. Writes take their turn with the dialer's (CallBook)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], calls: CallBook) -> None:
        self._sessions = sessions
        self._calls = calls

    async def email_plans(self) -> list[Plan]:
        return await self._calls.active_plans(channels=EMAIL_CHANNELS)

    async def finish_if_done(self, campaign_id: int, now: datetime) -> bool:
        return await self._calls.finish_if_done(campaign_id, now)

    async def recover_sending(self, now: datetime) -> int:
        """Letters a previous run left between DATA and the reply: `unknown`, never resent."""
        async with self._calls.transaction() as session:
            result = await session.execute(
                update(Letter)
                .where(Letter.state == "sending")
                .values(
                    state="done",
                    status="unknown",
                    reply="служба остановилась во время передачи письма: доставка не подтверждена",
                    finished_at=now,
                    next_attempt_at=None,
                )
            )
            return affected_rows(result)

    async def clear_pauses(self) -> int:
        """A new start may come with fixed SMTP settings: paused e-mail sides try again
        (and pause again at the first letter if nothing changed)."""
        async with self._calls.transaction() as session:
            result = await session.execute(
                update(Campaign)
                .where(Campaign.email_paused.is_not(None))
                .values(email_paused=None, email_paused_at=None)
            )
            return affected_rows(result)

    async def pause(self, campaign_id: int, reason: str, now: datetime) -> None:
        async with self._calls.transaction() as session:
            await session.execute(
                update(Campaign)
                .where(Campaign.id == campaign_id)
                .values(email_paused=reason[:_REPLY_MAX], email_paused_at=now)
            )

    async def claim(
        self,
        plan: Plan,
        now: datetime,
        limit: int,
        domain: str,
        *,
        before: Sequence[Write] = (),
    ) -> tuple[list[QueuedLetter], int]:
        """Take up to `limit` due letters: each gets a fresh Message-ID and is marked
        `sending` in this one commit, before any of them is sent (a crash from here on
        leaves them `sending`: reported unknown, never sent twice; the mailer puts back
        those it did not reach with :meth:`release`). Letters whose address opted out of
        this kind since the campaign was made are closed instead. `before` (earlier
        results) are written first, in the same transaction.
        Returns (letters taken, letters closed as opted out)."""
        async with self._calls.transaction() as session:
            await apply(session, before)
            rows = (
                await session.execute(
                    select(
                        Letter.id,
                        Letter.address,
                        Letter.name,
                        Letter.account,
                        Letter.values,
                        Letter.message_id,
                        Letter.rounds,
                        CampaignContact.phone,
                    )
                    .outerjoin(CampaignContact, Letter.contact_id == CampaignContact.id)
                    .where(
                        Letter.campaign_id == plan.id,
                        Letter.state == "queued",
                        (Letter.next_attempt_at.is_(None)) | (Letter.next_attempt_at <= now),
                    )
                    .order_by(Letter.next_attempt_at.is_not(None), Letter.id)
                    .limit(limit)
                )
            ).all()
            if not rows:
                return [], 0
            opted = set(
                await session.scalars(
                    select(OptOut.address).where(
                        OptOut.kind == plan.kind, OptOut.address.in_({r.address for r in rows})
                    )
                )
            )
            closed = 0
            opted_ids = [r.id for r in rows if r.address in opted]
            if opted_ids:
                result = await session.execute(
                    update(Letter)
                    .where(Letter.id.in_(opted_ids), Letter.state == "queued")
                    .values(state="done", status="opted_out", finished_at=now)
                    .execution_options(synchronize_session=False)
                )
                closed = affected_rows(result)
            wanted = {r.id: new_message_id(domain=domain) for r in rows if r.address not in opted}
            if not wanted:
                return [], closed
            # one statement for the batch: compare-and-set on the Message-ID each letter had
            c = _LETTERS.c
            await session.execute(
                update(_LETTERS)
                .where(
                    c.id == bindparam("b_id"),
                    c.state == "queued",
                    c.message_id.is_not_distinct_from(bindparam("b_old")),
                )
                .values(message_id=bindparam("b_new"), state="sending", sending_at=now),
                [
                    {"b_id": r.id, "b_old": r.message_id, "b_new": wanted[r.id]}
                    for r in rows
                    if r.id in wanted
                ],
            )
            # which of them are ours: those now holding the Message-ID we gave them (another
            # mailer may have taken one first)
            held = {
                letter_id
                for letter_id, message_id in (
                    await session.execute(
                        select(Letter.id, Letter.message_id).where(
                            Letter.id.in_(list(wanted)), Letter.state == "sending"
                        )
                    )
                ).all()
                if message_id == wanted[letter_id]
            }
            taken = [
                QueuedLetter(
                    id=r.id,
                    campaign_id=plan.id,
                    address=r.address,
                    name=r.name,
                    account=r.account,
                    phone=r.phone or "",
                    values=json.loads(r.values or "{}"),
                    message_id=wanted[r.id],
                    rounds=r.rounds,
                )
                for r in rows
                if r.id in held
            ]
            return taken, closed

    def release(self, letter: QueuedLetter) -> Write:
        """A letter of a taken batch that was never handed to DATA (the mailer stopped or
        broke off the batch first): back to `queued`, certain not to have been sent."""
        return HeldUpdate(
            letter.id, letter.message_id, {"state": "queued", "sending_at": None}, "sending"
        )

    async def mark_sending(
        self, letter_id: int, message_id: str, now: datetime, *, before: Sequence[Write] = ()
    ) -> bool:
        """queued -> sending, committed before DATA (called again on a retry: idempotent),
        with `before` (earlier letters' results) in the same transaction. False: the letter
        is no longer held under `message_id` (the `before` writes are committed anyway)."""
        async with self._calls.transaction() as session:
            await apply(session, before)
            result = await session.execute(
                update(Letter)
                .where(
                    Letter.id == letter_id,
                    Letter.message_id == message_id,
                    Letter.state.in_(("queued", "sending")),
                )
                .values(state="sending", sending_at=now)
                .execution_options(synchronize_session=False)
            )
            return affected_rows(result) == 1

    async def write(self, writes: Sequence[Write]) -> None:
        if not writes:
            return
        async with self._calls.transaction() as session:
            await apply(session, writes)

    async def record_deferral(self, letter_id: int, message_id: str, deferral: Deferral) -> None:
        # a 4xx (or a link lost before DATA) means the server did not take the letter: it is
        # safe to send again, so a crash during the back-off must not leave it `sending`
        not_taken = deferral.code is not None or deferral.phase != "data"
        async with self._calls.transaction() as session:
            await session.execute(
                update(Letter)
                .where(Letter.id == letter_id, Letter.message_id == message_id)
                .values(
                    deferrals=Letter.deferrals + 1,
                    last_deferral=_reply_text(deferral.code, deferral.reply),
                    state=(
                        case((Letter.state == "sending", "queued"), else_=Letter.state)
                        if not_taken
                        else Letter.state
                    ),
                )
                .execution_options(synchronize_session=False)
            )

    def record(
        self,
        letter: QueuedLetter,
        result: DeliveryResult,
        now: datetime,
        *,
        status: str,
        next_at: datetime | None,
        rounds: int,
    ) -> Write:
        """The write storing a send's result; `next_at` set means queued again for another
        round. The result wins over a restart's `unknown` (same Message-ID: it is this
        letter's truth)."""
        values: dict[str, Any] = {
            "attempts": Increment(result.attempts),
            "code": result.code,
            "reply": result.reply[:_REPLY_MAX],
            "phase": result.phase,
            "rounds": rounds,
        }
        if next_at is None:
            values.update(state="done", status=status, finished_at=now, next_attempt_at=None)
        else:
            values.update(state="queued", status=status, next_attempt_at=next_at)
        return HeldUpdate(letter.id, letter.message_id, values)

    def fail_unsendable(self, letter: QueuedLetter, reason: str, now: datetime) -> Write:
        """A letter that cannot be built for its contact (a value the template refuses)."""
        values = {
            "state": "done",
            "status": "failed",
            "phase": "compose",
            "reply": reason[:_REPLY_MAX],
            "finished_at": now,
        }
        return HeldUpdate(letter.id, letter.message_id, values)

    def requeue(self, letter: QueuedLetter, result: DeliveryResult) -> Write:
        """The server could not be reached: the letter waits, not counted as a round."""
        values = {
            "state": "queued",
            "attempts": Increment(result.attempts),
            "last_deferral": _reply_text(result.code, result.reply),
        }
        return HeldUpdate(letter.id, letter.message_id, values)

    async def close_at_end(self, plan: Plan, now: datetime) -> int:
        """The campaign's end has come: letters not sent get their final status (an outage
        warning that did not go out in time is `not_reached_in_time`, as on the phone)."""
        async with self._calls.transaction() as session:
            letters = list(
                await session.scalars(
                    select(Letter).where(Letter.campaign_id == plan.id, Letter.state == "queued")
                )
            )
            for letter in letters:
                letter.state = "done"
                letter.finished_at = now
                letter.next_attempt_at = None
                if plan.kind == "outage":
                    letter.status = "not_reached_in_time"
                elif letter.status != "deferred":
                    letter.status = "not_sent"
            return len(letters)


@dataclass(frozen=True, slots=True)
class Increment:
    """A column raised by ``by`` (``attempts = attempts + by``)."""

    by: int


@dataclass(frozen=True, slots=True)
class HeldUpdate:
    """A write to one letter guarded by the Message-ID it is held under (and a state, if
    given). A Write of its own; :func:`apply` runs a batch of them with one statement for
    each shape (the same columns), executemany, instead of one statement a letter."""

    letter_id: int
    message_id: str
    values: Mapping[str, Any]
    state: str | None = None

    @property
    def shape(self) -> tuple[object, ...]:
        columns = tuple(sorted((k, isinstance(v, Increment)) for k, v in self.values.items()))
        return (self.state, columns)

    def params(self) -> dict[str, Any]:
        out: dict[str, Any] = {"b_id": self.letter_id, "b_message_id": self.message_id}
        for key, value in self.values.items():
            out[f"b_{key}"] = value.by if isinstance(value, Increment) else value
        return out

    async def __call__(self, session: AsyncSession) -> None:
        await _run_held(session, [self])


async def apply(session: AsyncSession, writes: Sequence[Write]) -> None:
    """Run ``writes`` in order, HeldUpdates of one shape together. Grouping keeps their
    order within a letter: a letter has at most one pending write of each kind, and kinds
    that touch the same letter (release, a result) never both occur for one letter."""
    groups: dict[tuple[object, ...], list[HeldUpdate]] = {}
    others: list[Write] = []
    for write in writes:
        if isinstance(write, HeldUpdate):
            groups.setdefault(write.shape, []).append(write)
        else:
            others.append(write)
    for write in others:
        await write(session)
    for group in groups.values():
        await _run_held(session, group)


async def _run_held(session: AsyncSession, group: Sequence[HeldUpdate]) -> None:
    first = group[0]
    table = _LETTERS
    c = table.c
    held = [c.id == bindparam("b_id"), c.message_id == bindparam("b_message_id")]
    if first.state is not None:
        held.append(c.state == first.state)
    values: dict[str, Any] = {}
    for key, value in first.values.items():
        param: BindParameter[Any] = bindparam(f"b_{key}")
        values[key] = c[key] + param if isinstance(value, Increment) else param
    statement = update(table).where(*held).values(values)
    params = [write.params() for write in group]
    if len(params) == 1:
        done = affected_rows(await session.execute(statement, params[0]))
    else:
        done = affected_rows(await session.execute(statement, params))
    if done != len(group):
        log.warning(
            "%d of %d letters: result not stored (taken over by another mailer)",
            len(group) - done,
            len(group),
        )
