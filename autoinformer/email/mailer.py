"""The e-mail side of campaigns inside `contact-center serve`: one owned task that sends the
letters of started campaigns over one reused SMTP session (autoinformer.email.SmtpSender).

When: between the campaign's start and end, at any hour. A letter waits in the customer's
mailbox until they read it, so the phone calling window (about waking people) does not
apply; the end still does (an outage warning's end is its 24-hour cut-off).

Each letter is sent at most once, across stops and restarts (sender.py's protocol), with
the state commits batched (one commit a letter was most of a letter's time on SQLite):

1. `claim`, one commit for a batch of letters (``MailerConfig.batch``): each letter, still
   `queued`, gets a fresh Message-ID by compare-and-set on the one it had (whoever holds the
   current Message-ID sends it, nobody else does) and is marked `sending` in that same
   commit, before any letter of the batch is sent;
2. the letters are built while the one before is on the wire (``BuiltAhead``: one letter
   at a time on the loop) and sent one after another; `before_data` only checks the letter
   is still this batch's (a letter a 4xx put back in the queue is marked `sending` again,
   committed, before its next DATA);
3. the results (accepted with the server's reply, failed, unknown, deferred) are committed
   together in the next batch's claim (the same transaction, written before it selects),
   at the end of a pass that took nothing, or when the service stops: one commit a batch.
   Each deferral is stored as it happens (`on_deferral`); a 4xx means the server did not
   take the letter, so the letter goes back to `queued` at once and a crash during the
   back-off cannot lose it. Letters of the batch that were never handed to DATA (the
   service stopped, the server went away, the settings were refused) go back to `queued`
   in that same commit.

A hard crash between the batch's `sending` commit and its results leaves the whole batch
`sending`: the letters sent and those not yet sent alike are reported `unknown` ("delivery
not confirmed") and none is sent again. That is the price of one commit a batch instead of
one a letter; a smaller batch makes it smaller.

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
import functools
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from autoinformer.campaigns.plan import Plan
from autoinformer.campaigns.scenario_store import ScenarioStore
from autoinformer.lists import letter_fields
from autoinformer.loop import PassLoop
from autoinformer.scenarios import Scenario
from contact_center.clock import Clock
from contact_center.privacy import mask_email
from contact_center.settings import Settings
from contact_center.tasks import TaskSet

from .ahead import Built, BuiltAhead
from .book import LetterBook, QueuedLetter, Write
from .exceptions import EmailChannelError, SmtpSetupError
from .mime import message_id_domain
from .sender import Deferral, DeliveryResult, SmtpSender
from .wire import WireLetter, compose_letter

log = logging.getLogger(__name__)


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


@dataclass(slots=True)
class MailerStats:
    sent: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    recovered_unknown: int = 0
    setup_pauses: int = 0


class LetterTaken(Exception):
    """The letter's Message-ID changed under us (another mailer took it): do not send."""


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
        # the database away for a moment is expected; a bug is logged with its traceback
        self._loop = PassLoop(
            "mailer", self._pass_once, tick=self.config.tick, expected=(SQLAlchemyError, OSError)
        )
        self._recovered = False
        self._unavailable_until = 0.0
        self._backoff = 0.0
        # results decided but not yet committed (see the module docstring, step 3)
        self._unsaved: list[Write] = []
        # the batch's letters not yet handed to DATA, and letters a deferral put back to
        # `queued` (they are marked `sending` again before their next DATA)
        self._untouched: dict[int, QueuedLetter] = {}
        self._requeued: set[int] = set()
        self.stats = MailerStats()

    # ------------------------------------------------------------------ life cycle
    def start(self) -> None:
        self._task = self._tasks.spawn(self.run(), name="autoinformer-mailer")

    def wake(self) -> None:
        self._loop.wake()

    @property
    def _stopping(self) -> bool:
        return self._loop.stopping

    async def stop(self) -> None:
        """Start no new letter; let the one in the sender finish (its reply normally comes in
        milliseconds) for up to `drain_timeout`, then cancel. A letter cut off during DATA
        stays `sending` and the next start reports it `unknown`."""
        self._loop.stop()
        if self._task is not None and not self._task.done() and self.config.drain_timeout > 0:
            await asyncio.wait({self._task}, timeout=self.config.drain_timeout)
        await self._tasks.close()
        await self._sender.close()

    async def run(self) -> None:
        try:
            await self._loop.run()
        finally:
            # stopping (or cancelled): the results already known are stored, not lost
            try:
                await self._flush()
            except Exception:
                log.exception("mailer: %d results could not be stored", len(self._unsaved))

    async def _flush(self) -> None:
        writes = self._take_unsaved()
        try:
            await self._book.write(writes)
        except BaseException:
            self._unsaved[:0] = writes
            raise

    async def _pass_once(self) -> bool:
        if not self._recovered:
            await self._recover()
            self._recovered = True
        return await self._pass()

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
            letters, closed = await self._book.claim(
                plan, now, self.config.batch, self._domain, before=self._take_unsaved()
            )
            if not letters and not closed:
                await self._finish_if_done(plan, now)
                continue
            busy = True
            # taken and `sending`, not yet handed to DATA: put back if the batch stops early
            self._untouched = {letter.id: letter for letter in letters}
            try:
                build = functools.partial(self._build, plan, scenario)
                async with BuiltAhead(letters, build, depth=4) as ahead:
                    async for built in ahead:
                        if self._stopping:
                            break
                        verdict = await self._send(plan, built)
                        if verdict in ("setup", "unavailable"):
                            break
            finally:
                # stored with the next claim, in its transaction and before its select (a
                # letter queued again is never taken early), or at the end of an idle pass,
                # or when the mailer stops: one commit a batch
                self._unsaved.extend(self._book.release(left) for left in self._untouched.values())
                self._untouched = {}
        if not busy and self._unsaved:
            await self._flush()
        return busy

    def _take_unsaved(self) -> list[Write]:
        writes, self._unsaved = self._unsaved, []
        return writes

    async def _finish_if_done(self, plan: Plan, now: datetime) -> None:
        if await self._book.finish_if_done(plan.id, now):
            log.info("campaign %d finished", plan.id)

    def _build(self, plan: Plan, scenario: Scenario, letter: QueuedLetter) -> WireLetter:
        assert scenario.email is not None
        fields = letter_fields(
            address=letter.address,
            phone=letter.phone,
            account=letter.account,
            name=letter.name,
            values=letter.values,
        )
        return compose_letter(
            template=scenario.email,
            contact=fields,
            to_address=letter.address,
            to_name=letter.name or None,
            kind=plan.kind,
            settings=self._settings,
            contact_id=letter.id,
            message_id=letter.message_id,
        )

    async def _send(self, plan: Plan, built: Built[QueuedLetter, WireLetter]) -> str:
        letter = built.item
        if built.error is not None:
            exc = built.error
            if not isinstance(exc, EmailChannelError | ValueError):
                raise exc
            log.warning("letter %d to %s cannot be built: %s", letter.id, _masked(letter), exc)
            reason = f"письмо не собрать: {exc}"
            self._decided(letter, self._book.fail_unsendable(letter, reason, self._now()))
            self._count("failed")
            return "failed"
        message = built.result
        assert message is not None

        async def before_data(message_id: str) -> None:
            # the batch's claim marked it `sending`; only a letter a deferral put back in the
            # queue is marked again (committed) before its next DATA
            self._untouched.pop(letter.id, None)
            if letter.id not in self._requeued:
                return
            earlier = self._take_unsaved()
            try:
                held = await self._book.mark_sending(
                    letter.id, message_id, self._now(), before=earlier
                )
            except BaseException:
                self._unsaved[:0] = earlier
                raise
            self._requeued.discard(letter.id)
            if not held:
                raise LetterTaken(f"letter {letter.id} is no longer held by {message_id}")

        async def on_deferral(deferral: Deferral) -> None:
            await self._book.record_deferral(letter.id, letter.message_id, deferral)
            if deferral.code is not None or deferral.phase != "data":
                self._requeued.add(letter.id)  # record_deferral put it back to `queued`

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
            self._untouched.pop(letter.id, None)
            return "taken"
        finally:
            self._requeued.discard(letter.id)
        now = self._now()
        if result.status == "deferred" and all(d.code is None for d in result.deferrals):
            # no reply at all, only lost or refused connections: the server is away
            self._decided(letter, self._book.requeue(letter, result))
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
        self._decided(
            letter,
            self._book.record(letter, result, now, status=status, next_at=next_at, rounds=rounds),
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

    def _decided(self, letter: QueuedLetter, write: Write) -> None:
        self._untouched.pop(letter.id, None)
        self._unsaved.append(write)

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
