"""The e-mail side of campaigns inside `contact-center serve`: one owned task that sends the
letters of started campaigns over one reused SMTP session (autoinformer.email.SmtpSender).

When: between the campaign's start and end, at any hour. A letter waits in the customer's
mailbox until they read it, so the phone calling window (about waking people) does not
apply; the end still does (an outage warning's end is its 24-hour cut-off).

Each letter is sent at most once, across stops and restarts (sender.py's protocol):

1. `claim`: the letter, still `queued`, gets a fresh Message-ID by compare-and-set on the
   one it had: whoever holds the current Message-ID sends it, nobody else does;
2. `before_data` (right before DATA, committed): `queued` -> `sending`, guarded by that
   Message-ID; if it fails, nothing is sent;
3. the result is stored: accepted (with the server's reply), failed (5xx, the reply),
   unknown (the link broke during DATA), or deferred. Each deferral is stored as it
   happens (`on_deferral`); a 4xx means the server did not take the letter, so the letter
   goes back to `queued` at once and a crash during the back-off cannot lose it.
   A result is committed together with the next letter's `sending` mark (one transaction
   a letter instead of two: SQLite commits were half the time of a letter), or at the end
   of the batch, or when the service stops. A hard crash in that moment leaves the letter
   `sending`: reported `unknown`, never sent twice.

On start, letters left in `sending` by the previous run may have been taken by the server:
they become `unknown` ("delivery not confirmed") and are not resent. A deferred letter gets
`MailerConfig.rounds` rounds of the sender's own retries, `retry_delay` apart (doubling),
within the campaign's end. A server that cannot be reached at all is not the letter's
fault: the letter stays queued and the mailer waits (up to `unavailable_backoff`). A server
that refuses our settings (login, TLS, sender: SmtpSetupError) pauses the e-mail side of
the campaign with the reason in its status, instead of failing every address.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from autoinformer.email import (
    Deferral,
    DeliveryResult,
    EmailChannelError,
    SmtpSender,
    SmtpSetupError,
    compose_notice,
    message_id_domain,
    new_message_id,
)
from autoinformer.lists import letter_fields
from autoinformer.models import Campaign, CampaignContact, Letter, OptOut
from autoinformer.scenarios import Scenario
from autoinformer.scheduling import Clock
from autoinformer.services import CallBook, Plan, ScenarioStore
from contact_center.privacy import mask_email
from contact_center.settings import Settings
from contact_center.tasks import TaskSet

log = logging.getLogger(__name__)

EMAIL_CHANNELS = ("email", "both")
_REPLY_MAX = 2000

# a write to run inside a transaction of the book
Write = Callable[[AsyncSession], Awaitable[None]]


@dataclass(slots=True)
class MailerConfig:
    # seconds between passes when there is nothing to send
    tick: float = 1.0
    # letters taken per campaign per pass (campaign pauses are seen between batches)
    batch: int = 20
    # send() rounds a letter the server keeps deferring gets in all, and the wait before
    # the second one (doubling after that)
    rounds: int = 3
    retry_delay: float = 600.0
    # the longest wait when the server cannot be reached at all
    unavailable_backoff: float = 60.0
    # on stop, the letter in the sender gets this long to have its reply and be stored
    drain_timeout: float = 5.0
    # SmtpSender keyword overrides (tests: short delays)
    sender: Mapping[str, Any] = field(default_factory=dict)


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


@dataclass(slots=True)
class MailerStats:
    sent: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    recovered_unknown: int = 0
    setup_pauses: int = 0


class LetterTaken(Exception):
    """The letter's Message-ID changed under us (another mailer took it): do not send."""


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
            return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def clear_pauses(self) -> int:
        """A new start may come with fixed SMTP settings: paused e-mail sides try again
        (and pause again at the first letter if nothing changed)."""
        async with self._calls.transaction() as session:
            result = await session.execute(
                update(Campaign)
                .where(Campaign.email_paused.is_not(None))
                .values(email_paused=None, email_paused_at=None)
            )
            return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def pause(self, campaign_id: int, reason: str, now: datetime) -> None:
        async with self._calls.transaction() as session:
            await session.execute(
                update(Campaign)
                .where(Campaign.id == campaign_id)
                .values(email_paused=reason[:_REPLY_MAX], email_paused_at=now)
            )

    async def claim(
        self, plan: Plan, now: datetime, limit: int, domain: str
    ) -> tuple[list[QueuedLetter], int]:
        """Take up to `limit` due letters (each with a fresh Message-ID); letters whose
        address opted out of this kind since the campaign was made are closed instead.
        Returns (letters taken, letters closed as opted out)."""
        async with self._calls.transaction() as session:
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
            taken: list[QueuedLetter] = []
            for r in rows:
                if r.address in opted:
                    result = await session.execute(
                        update(Letter)
                        .where(Letter.id == r.id, Letter.state == "queued")
                        .values(state="done", status="opted_out", finished_at=now)
                    )
                    closed += int(result.rowcount or 0)  # type: ignore[attr-defined]
                    continue
                message_id = new_message_id(domain=domain)
                held = (
                    Letter.message_id.is_(None)
                    if r.message_id is None
                    else Letter.message_id == r.message_id
                )
                result = await session.execute(
                    update(Letter)
                    .where(Letter.id == r.id, Letter.state == "queued", held)
                    .values(message_id=message_id)
                    .execution_options(synchronize_session=False)
                )
                if result.rowcount != 1:  # type: ignore[attr-defined]
                    continue  # another mailer took it first
                taken.append(
                    QueuedLetter(
                        id=r.id,
                        campaign_id=plan.id,
                        address=r.address,
                        name=r.name,
                        account=r.account,
                        phone=r.phone or "",
                        values=json.loads(r.values or "{}"),
                        message_id=message_id,
                        rounds=r.rounds,
                    )
                )
            return taken, closed

    async def mark_sending(
        self, letter_id: int, message_id: str, now: datetime, *, before: Sequence[Write] = ()
    ) -> bool:
        """queued -> sending, committed before DATA (called again on a retry: idempotent),
        with `before` (earlier letters' results) in the same transaction. False: the letter
        is no longer held under `message_id` (the `before` writes are committed anyway)."""
        async with self._calls.transaction() as session:
            for write in before:
                await write(session)
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
            return result.rowcount == 1  # type: ignore[attr-defined]

    async def write(self, writes: Sequence[Write]) -> None:
        if not writes:
            return
        async with self._calls.transaction() as session:
            for write in writes:
                await write(session)

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
            "attempts": Letter.attempts + result.attempts,
            "code": result.code,
            "reply": result.reply[:_REPLY_MAX],
            "phase": result.phase,
            "rounds": rounds,
        }
        if next_at is None:
            values.update(state="done", status=status, finished_at=now, next_attempt_at=None)
        else:
            values.update(state="queued", status=status, next_attempt_at=next_at)
        return _held_update(letter, values)

    def fail_unsendable(self, letter: QueuedLetter, reason: str, now: datetime) -> Write:
        """A letter that cannot be built for its contact (a value the template refuses)."""
        values = {
            "state": "done",
            "status": "failed",
            "phase": "compose",
            "reply": reason[:_REPLY_MAX],
            "finished_at": now,
        }
        return _held_update(letter, values)

    def requeue(self, letter: QueuedLetter, result: DeliveryResult) -> Write:
        """The server could not be reached: the letter waits, not counted as a round."""
        values = {
            "state": "queued",
            "attempts": Letter.attempts + result.attempts,
            "last_deferral": _reply_text(result.code, result.reply),
        }
        return _held_update(letter, values)

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


def _held_update(letter: QueuedLetter, values: Mapping[str, Any]) -> Write:
    async def write(session: AsyncSession) -> None:
        done = await session.execute(
            update(Letter)
            .where(Letter.id == letter.id, Letter.message_id == letter.message_id)
            .values(**values)
            # nothing of these rows is loaded in the session: no per-row evaluation
            .execution_options(synchronize_session=False)
        )
        if done.rowcount != 1:  # type: ignore[attr-defined]
            log.warning("letter %d: result not stored (taken over by another mailer)", letter.id)

    return write


class Mailer:
    """Sends the letters of running e-mail campaigns; see the module docstring."""

    def __init__(
        self,
        *,
        book: LetterBook,
        scenarios: ScenarioStore,
        settings: Settings,
        clock: Clock,
        config: MailerConfig | None = None,
        sender: SmtpSender | None = None,
    ) -> None:
        self.config = config or MailerConfig()
        self._book = book
        self._scenarios = scenarios
        self._settings = settings
        self._clock = clock
        self._sender = sender or SmtpSender.from_settings(settings, **dict(self.config.sender))
        self._domain = message_id_domain(settings.smtp_from)
        self._tasks = TaskSet("autoinformer-mailer")
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._stopping = False
        self._unavailable_until = 0.0
        self._backoff = 0.0
        # results decided but not yet committed (see the module docstring, step 3)
        self._unsaved: list[Write] = []
        self.stats = MailerStats()

    # ------------------------------------------------------------------ life cycle
    def start(self) -> None:
        self._task = self._tasks.spawn(self.run(), name="autoinformer-mailer")

    def wake(self) -> None:
        self._wake.set()

    async def stop(self) -> None:
        """Start no new letter; let the one in the sender finish (its reply normally comes in
        milliseconds) for up to `drain_timeout`, then cancel. A letter cut off during DATA
        stays `sending` and the next start reports it `unknown`."""
        self._stopping = True
        self._wake.set()
        if self._task is not None and not self._task.done() and self.config.drain_timeout > 0:
            await asyncio.wait({self._task}, timeout=self.config.drain_timeout)
        await self._tasks.close()
        await self._sender.close()

    async def run(self) -> None:
        try:
            await self._loop()
        finally:
            # stopping (or cancelled): the results already known are stored, not lost
            try:
                await self._flush()
            except Exception:
                log.exception("mailer: %d results could not be stored", len(self._unsaved))

    async def _flush(self) -> None:
        writes = list(self._unsaved)
        await self._book.write(writes)
        del self._unsaved[: len(writes)]

    async def _loop(self) -> None:
        recovered = False
        delay = self.config.tick
        while not self._stopping:
            self._wake.clear()
            busy = False
            try:
                if not recovered:
                    await self._recover()
                    recovered = True
                busy = await self._pass()
                delay = self.config.tick
            except (SQLAlchemyError, OSError) as exc:
                # the database is away for a moment: keep trying, slower
                log.warning("mailer pass failed: %s", exc)
                delay = min(delay * 2, 10.0)
            except Exception:
                # a bug must not end the e-mail side of every campaign for the whole run
                log.exception("mailer pass failed")
                delay = min(delay * 2, 10.0)
            if busy:
                await asyncio.sleep(0)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)

    async def _recover(self) -> None:
        now = self._clock.now()
        unknown = await self._book.recover_sending(now)
        if unknown:
            self.stats.recovered_unknown += unknown
            log.warning(
                "%d letters were in DATA when the service stopped: delivery unknown, not resent",
                unknown,
            )
        if await self._book.clear_pauses():
            log.info("e-mail sides paused by SMTP errors try again after the restart")

    # ------------------------------------------------------------------ sending
    async def _pass(self) -> bool:
        now = self._clock.now()
        busy = False
        for plan in await self._book.email_plans():
            if plan.end_at is not None and now >= plan.end_at:
                closed = await self._book.close_at_end(plan, now)
                if closed:
                    log.info("campaign %d reached its end: %d letters not sent", plan.id, closed)
                await self._finish_if_done(plan, now)
                continue
            if (
                self._stopping
                or plan.status != "running"
                or now < plan.start_at
                or plan.email_paused
                or time.monotonic() < self._unavailable_until
            ):
                continue
            scenario = await self._scenarios.by_id(plan.scenario_id)
            if scenario.email is None:  # refused at creation; a guard for hand-made rows
                await self._book.pause(plan.id, "в сценарии кампании нет письма ([email])", now)
                continue
            letters, closed = await self._book.claim(plan, now, self.config.batch, self._domain)
            if not letters and not closed:
                await self._finish_if_done(plan, now)
                continue
            busy = True
            try:
                for letter in letters:
                    if self._stopping:
                        break
                    verdict = await self._send(plan, scenario, letter)
                    if verdict in ("setup", "unavailable"):
                        break
            finally:
                # before the next claim: a letter queued again must not be taken early
                await self._flush()
        return busy

    async def _finish_if_done(self, plan: Plan, now: datetime) -> None:
        if await self._book.finish_if_done(plan.id, now):
            log.info("campaign %d finished", plan.id)

    async def _send(self, plan: Plan, scenario: Scenario, letter: QueuedLetter) -> str:
        assert scenario.email is not None
        fields = letter_fields(
            address=letter.address,
            phone=letter.phone,
            account=letter.account,
            name=letter.name,
            values=letter.values,
        )
        try:
            message = compose_notice(
                template=scenario.email,
                contact=fields,
                to_address=letter.address,
                to_name=letter.name or None,
                kind=plan.kind,
                settings=self._settings,
                contact_id=letter.id,
                message_id=letter.message_id,
            )
        except (EmailChannelError, ValueError) as exc:
            log.warning("letter %d to %s cannot be built: %s", letter.id, _masked(letter), exc)
            reason = f"письмо не собрать: {exc}"
            self._unsaved.append(self._book.fail_unsendable(letter, reason, self._now()))
            self._count("failed")
            return "failed"

        async def before_data(message_id: str) -> None:
            earlier = list(self._unsaved)
            held = await self._book.mark_sending(letter.id, message_id, self._now(), before=earlier)
            del self._unsaved[: len(earlier)]
            if not held:
                raise LetterTaken(f"letter {letter.id} is no longer held by {message_id}")

        async def on_deferral(deferral: Deferral) -> None:
            await self._book.record_deferral(letter.id, letter.message_id, deferral)

        try:
            result = await self._sender.send(
                message, before_data=before_data, on_deferral=on_deferral
            )
        except SmtpSetupError as exc:
            # the settings' fault, not the customer's: every letter would fail alike
            await self._book.pause(plan.id, str(exc), self._now())
            self.stats.setup_pauses += 1
            log.error("campaign %d: e-mail paused: %s", plan.id, exc)
            return "setup"
        except LetterTaken:
            log.info("letter %d was taken by another mailer; not sent here", letter.id)
            return "taken"
        now = self._now()
        if result.status == "deferred" and all(d.code is None for d in result.deferrals):
            # no reply at all, only lost or refused connections: the server is away
            self._unsaved.append(self._book.requeue(letter, result))
            self._server_away()
            log.warning(
                "SMTP server %s:%d cannot be reached; letters wait %.0f s",
                self._sender.host,
                self._sender.port,
                self._backoff,
            )
            return "unavailable"
        self._backoff = 0.0
        status, next_at, rounds = self._verdict(plan, letter, result, now)
        self._unsaved.append(
            self._book.record(letter, result, now, status=status, next_at=next_at, rounds=rounds)
        )
        self._count(status if next_at is None else "deferred-again")
        return result.status

    def _verdict(
        self, plan: Plan, letter: QueuedLetter, result: DeliveryResult, now: datetime
    ) -> tuple[str, datetime | None, int]:
        """(status, when to try again or None, rounds so far) for a send's result."""
        if result.status != "deferred":
            return result.status, None, letter.rounds
        rounds = letter.rounds + 1
        if rounds >= self.config.rounds:
            return "deferred", None, rounds
        when = now + timedelta(seconds=self.config.retry_delay * 2 ** (rounds - 1))
        if plan.end_at is not None and when >= plan.end_at:
            return ("not_reached_in_time" if plan.kind == "outage" else "deferred"), None, rounds
        return "deferred", when, rounds

    def _server_away(self) -> None:
        self._backoff = min(
            self.config.unavailable_backoff, max(self._backoff * 2, self.config.tick)
        )
        self._unavailable_until = time.monotonic() + self._backoff

    def _now(self) -> datetime:
        return self._clock.now()

    def _count(self, status: str) -> None:
        self.stats.sent += 1
        self.stats.by_status[status] = self.stats.by_status.get(status, 0) + 1


def _masked(letter: QueuedLetter) -> str:
    return mask_email(letter.address)
