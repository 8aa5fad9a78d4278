"""The flow of one campaign call: Originate, play the message, act on a key, store the result.

The attempt (with its ChannelId) is committed before this starts; only digits reach the
dial string. The customer is notified (a положительный звонок) when the message played to
its end or 1 was pressed; 0 goes to an operator when one is free, else the contact is
marked for a call-back; 9 opts the number out of this kind of notice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any

from autoinformer.campaigns.plan import Plan
from autoinformer.phone.book import CallBook, DueContact, OpenAttempt
from autoinformer.phone.config import DialerConfig, DialerStats
from autoinformer.phone.live import LiveCalls
from autoinformer.phone.pacing import OperatorDesk
from autoinformer.phone.prerender import contact_values
from autoinformer.phone.reconcile import AsteriskChannels
from autoinformer.scenarios import Scenario
from autoinformer.scheduling import CallFacts
from contact_center.clock import Clock
from contact_center.privacy import mask_phone
from contact_center.speech import Message, MessageError, Speech, SynthesisError
from contact_center.tasks import TaskSet
from contact_center.telephony.agi import AgiChannel, AgiServer
from contact_center.telephony.ami import AmiLink
from contact_center.telephony.exceptions import (
    AmiActionError,
    AmiConnectionError,
    AmiTimeout,
    ChannelGone,
    TelephonyError,
)
from contact_center.telephony.numbers import InvalidPhoneNumber, dial_digits
from contact_center.telephony.originate import Originator

log = logging.getLogger(__name__)

ALL_KEYS = "0123456789*#"


@dataclass(slots=True)
class _CallState:
    parts_total: int = 0
    parts_played: int = 0
    played_to_end: bool = False
    confirmed: bool = False
    transferred: bool = False
    callback: bool = False
    opted_out: bool = False
    digits: str = ""
    operator: str = ""

    @property
    def received(self) -> bool:
        return self.played_to_end or self.confirmed

    def facts(self, outcome: str = "answered") -> CallFacts:
        return CallFacts(
            outcome=outcome,
            played_to_end=self.played_to_end,
            confirmed=self.confirmed,
            transferred=self.transferred,
            callback=self.callback,
            opted_out=self.opted_out,
            digits=self.digits,
            extra={
                "parts_played": self.parts_played,
                "parts_total": self.parts_total,
                "operator": self.operator,
            },
        )


class CallFlow:
    """Runs each call the dialer launches; the dialer keeps the pacing."""

    def __init__(
        self,
        *,
        book: CallBook,
        link: AmiLink,
        agi: AgiServer,
        originator: Originator,
        speech: Speech,
        clock: Clock,
        config: DialerConfig,
        desk: OperatorDesk,
        live: LiveCalls,
        channels: AsteriskChannels,
        aux: TaskSet,
        stats: DialerStats,
    ) -> None:
        self._book = book
        self._link = link
        self._agi = agi
        self._originator = originator
        self._speech = speech
        self._clock = clock
        self.config = config
        self._desk = desk
        self._live = live
        self._channels = channels
        self._aux = aux
        self.stats = stats

    async def run(
        self,
        plan: Plan,
        scenario: Scenario,
        contact: DueContact,
        attempt_id: int,
        channel_id: str,
    ) -> None:
        state = _CallState()
        channel: AgiChannel | None = None
        answered = False
        originating = False
        facts: CallFacts | None = None
        error = ""
        leave_open = False
        try:
            values = contact_values(contact)
            names = await self._speech.render(scenario.message_for(values), values)
            state.parts_total = len(names)
            number = dial_digits("+" + contact.phone)
            claim = self._agi.claim(channel_id)
            originating = True
            dialing = asyncio.ensure_future(
                self._originator.originate(
                    number=number,
                    channel_id=channel_id,
                    context=self.config.context,
                    ring_timeout=plan.ring_timeout,
                    variables={"CC_CAMPAIGN": str(plan.id), "CC_ATTEMPT": str(attempt_id)},
                )
            )
            try:
                # the call's AsyncAGI start means it was answered: play at once instead of
                # waiting for the OriginateResponse, which may come a moment later
                first: set[asyncio.Future[Any]] = {dialing, claim}
                await asyncio.wait(first, return_when=asyncio.FIRST_COMPLETED)
                if claim.done() and not claim.cancelled():
                    channel = claim.result()
                else:
                    result = await dialing
                    if result.answered:
                        channel = await asyncio.wait_for(claim, self.config.agi_timeout)
                    else:
                        self._agi.release(channel_id)
                        facts = CallFacts(result.outcome.value)
            except TimeoutError:
                self._agi.release(channel_id)
                await self._channels.hang_up_all(channel_id)
                answered = True
                facts, error = state.facts(), "answered but the call never reached AsyncAGI"
            finally:
                originating = channel is None and facts is None and not dialing.done()
                self._settle(dialing)
            if channel is not None:
                answered = True
                # stored alongside the playback, not before it: the customer is listening
                marking = asyncio.ensure_future(
                    self._book.mark_answered(attempt_id, self._clock.now(), len(names))
                )
                try:
                    await self._play(plan, scenario, contact, channel, names, state)
                    facts = state.facts()
                finally:
                    await marking
        except asyncio.CancelledError:
            # the service is stopping: hang up, keep what the customer already got
            self._agi.release(channel_id)
            if channel is not None and not channel.gone:
                with contextlib.suppress(TelephonyError, TimeoutError):
                    await asyncio.wait_for(channel.hangup(), 5)
            elif originating:
                leave_open = not await self._channels.hang_up_all(channel_id)
            if state.received:
                facts = state.facts()
            else:
                facts = state.facts("failed")
            error = "interrupted: the service stopped during the call"
            await self._finish(attempt_id, facts, error, leave_open)
            raise
        except (AmiConnectionError, AmiTimeout) as exc:
            # the call's fate is unknown (Originate or AGI reply lost): check it later
            self._agi.release(channel_id)
            log.warning("attempt %d: %s; will check the call against Asterisk", attempt_id, exc)
            self._live.suspect(OpenAttempt(attempt_id, channel_id, contact.id, plan.id, answered))
            leave_open = True
        except (TelephonyError, MessageError, SynthesisError, InvalidPhoneNumber) as exc:
            self._agi.release(channel_id)
            facts = state.facts() if answered else CallFacts("failed")
            error = f"{type(exc).__name__}: {exc}"
            log.warning("attempt %d to %s failed: %s", attempt_id, mask_phone(contact.phone), exc)
        await self._finish(attempt_id, facts, error, leave_open)

    async def _finish(
        self, attempt_id: int, facts: CallFacts | None, error: str, leave_open: bool
    ) -> None:
        try:
            if not leave_open and facts is not None:
                self._live.release(attempt_id)
                status = await self._book.record(attempt_id, facts, self._clock.now(), error=error)
                self.stats.by_status[status] += 1
                self.stats.finished += 1
        except Exception:
            # the attempt stays open in the database: the next start reconciles it
            log.exception("attempt %d: result could not be stored", attempt_id)
        finally:
            if leave_open and self._live.is_suspect(attempt_id):
                # keep the number busy until the check says the call is over
                entry = self._live.get(attempt_id)
                if entry is not None:
                    entry.task = None
            else:
                self._live.forget(attempt_id)

    def _settle(self, dialing: asyncio.Future[Any]) -> None:
        """The Originate's own reply is not needed once the call is in AsyncAGI; let it
        arrive in the background (owned) and read its outcome so nothing is left dangling."""
        if dialing.done():
            if not dialing.cancelled():
                dialing.exception()
            return

        async def wait() -> None:
            with contextlib.suppress(TelephonyError, TimeoutError):
                await asyncio.wait_for(dialing, 60)

        try:
            self._aux.spawn(wait(), name="originate-reply")
        except RuntimeError:  # stopping: nobody will read it
            dialing.cancel()

    async def _play(
        self,
        plan: Plan,
        scenario: Scenario,
        contact: DueContact,
        channel: AgiChannel,
        names: list[str],
        state: _CallState,
    ) -> None:
        repeats = scenario.repeats
        action: str | None = None
        try:
            while True:
                digit: str | None = None
                for index, name in enumerate(names):
                    digit = await channel.stream_file(name, escape_digits=ALL_KEYS)
                    if digit:
                        break
                    state.parts_played = max(state.parts_played, index + 1)
                if digit is None:
                    state.played_to_end = True
                    if scenario.wait_digit > 0:
                        digit = await channel.wait_for_digit(scenario.wait_digit)
                if digit is None:
                    break
                state.digits += digit
                action = scenario.action(digit)
                if action == "repeat" and repeats > 0:
                    repeats -= 1
                    action = None
                    continue
                if action in ("repeat", "ignore"):
                    action = None
                break
            if action == "confirm":
                state.confirmed = True
                await self._say(channel, scenario.replies.get("confirmed"))
            elif action == "opt_out":
                state.opted_out = True
                await self._say(channel, scenario.replies.get("opted_out"))
            elif action == "operator":
                await self._transfer(plan, scenario, contact, channel, state)
            elif state.played_to_end:
                await self._say(channel, scenario.replies.get("goodbye"))
            await self._hangup(channel)
        except ChannelGone:
            pass  # the customer hung up: what was played so far is in `state`

    async def _hangup(self, channel: AgiChannel) -> None:
        """End the call with AMI Hangup: it takes effect at once, while an AGI HANGUP
        waits its turn in the channel's AsyncAGI queue (measured: 25 ms more per call)."""
        if channel.gone:
            return
        try:
            await self._link.action("Hangup", Channel=channel.channel)
        except AmiActionError:
            pass  # already gone
        except TelephonyError:
            await channel.hangup()

    async def _say(self, channel: AgiChannel, message: Message | None) -> None:
        if message is None:
            return
        for name in await self._speech.render(message, {}):
            await channel.stream_file(name)

    async def _transfer(
        self,
        plan: Plan,
        scenario: Scenario,
        contact: DueContact,
        channel: AgiChannel,
        state: _CallState,
    ) -> None:
        if await self._desk.free(fresh=True) <= 0:
            # nobody can take the call: no waiting in a queue, an operator calls back
            state.callback = True
            await self._say(channel, scenario.replies.get("operator_busy"))
            return
        self._desk.in_flight += 1
        self._desk.expect(channel.uniqueid)
        try:
            await self._say(channel, scenario.replies.get("operator"))
            # the operator's side inherits these (the `__` prefix): what the call was about
            context = {
                "__CC_SOURCE": "autoinformer",
                "__CC_CAMPAIGN": str(plan.id),
                "__CC_CAMPAIGN_NAME": _plain(plan.name),
                "__CC_SCENARIO": scenario.name,
                "__CC_CONTACT": str(contact.id),
                "__CC_ACCOUNT": _plain(contact.account),
                "__CC_PLAYED": (
                    f"{state.parts_played}/{state.parts_total}"
                    + (" end" if state.played_to_end else "")
                ),
                "__CC_DIGITS": state.digits,
            }
            for name, value in context.items():
                await channel.set_variable(name, value)
            timeout = int(self.config.queue_timeout)
            await channel.exec("Queue", f"{self.config.queue},,,,{timeout}", timeout=timeout + 7200)
        except ChannelGone:
            pass
        finally:
            self._desk.in_flight -= 1
            operator = self._desk.answered_by(channel.uniqueid)
        if operator:
            state.transferred = True
            state.operator = operator
            return
        state.callback = True
        if not channel.gone:
            with contextlib.suppress(ChannelGone):
                await self._say(channel, scenario.replies.get("operator_busy"))


def _plain(text: str) -> str:
    """A value safe inside an AGI argument: no quotes, no line breaks."""
    return " ".join(text.replace('"', "'").split())[:80]
