"""The flow of one campaign call: Originate, play the message, act on a key, store the result.

The attempt (with its ChannelId) is committed before this starts; only digits reach the
dial string. The customer is notified (a положительный звонок) when the message played to
its end or 1 was pressed; 0 goes to an operator when one is free, else the contact is
marked for a call-back; 9 opts the number out of this kind of notice. Everything that
happens is journaled on the attempt as it happens (autoinformer.phone.progress).

A call whose driver was lost is adopted, not abandoned (`adopt`, `_adopt`): a previous run
killed mid-call, or this run's AMI link dropped. The call goes on in Asterisk meanwhile
(AsyncAGI outlives the link), so the flow asks Asterisk what became of it:
- gone: closed with what was stored (a decided fate stays; unanswered and unseen: void);
- ringing: answered later, it enters AsyncAGI and is played as a new call;
- bridged to an operator, or waiting in the queue: left alone, never hung up; its outcome
  is taken when the queue gives it back or it ends;
- idle in AsyncAGI (the customer hears silence): driven again at once, the message picked
  up where it was, or the queue's result told and the call ended.
"Idle" is known by queueing an AGI NOOP: AsyncAGI runs commands one after another, so it
answers only once the lost driver's last command (a prompt, a queue) has finished.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from autoinformer.campaigns.plan import Plan
from autoinformer.exceptions import LeaseLapsed
from autoinformer.phone.book import CallBook, DueContact, OpenAttempt
from autoinformer.phone.config import DialerConfig, DialerStats
from autoinformer.phone.lease import DrivenLeases
from autoinformer.phone.live import LiveCalls
from autoinformer.phone.marks import HEARD_FAMILY, HeardMarks, forget_variables
from autoinformer.phone.pacing import DialGate, OperatorDesk
from autoinformer.phone.played import DialplanPlays, DialplanStart, Played, message_variables
from autoinformer.phone.prerender import contact_values
from autoinformer.phone.progress import CallJournal, CallProgress, CallRef
from autoinformer.phone.reconcile import AsteriskChannels, ChannelInfo
from autoinformer.scenarios import Scenario
from autoinformer.scheduling import CallFacts
from contact_center.clock import Clock
from contact_center.hotline.handoffs import Handoffs
from contact_center.hotline.models import AppealSource, EndedBy
from contact_center.privacy import mask_phone
from contact_center.service_state import HeartbeatLease
from contact_center.speech import Message, MessageError, PromptPart, Speech, SynthesisError
from contact_center.speech.prompts import prompt_path
from contact_center.tasks import TaskSet
from contact_center.telephony.agi import AgiChannel, AgiServer, DbKey
from contact_center.telephony.ami import AmiLink
from contact_center.telephony.exceptions import (
    AmiActionError,
    AmiConnectionError,
    AmiTimeout,
    ChannelGone,
    OriginateNotSent,
    TelephonyError,
)
from contact_center.telephony.numbers import InvalidPhoneNumber, dial_digits
from contact_center.telephony.originate import CAUSE_OUTCOME, OriginateResult, Originator

log = logging.getLogger(__name__)
# what a call whose driver is gone hears before Asterisk hangs it up (lease.py)
BYE_PROMPT = "goodbye"

ALL_KEYS = "0123456789*#"
# how often an adopted call's channel is looked at (a Hangup event wakes it sooner)
POLL = 1.0
# from a claim to the end of its ring time: the Originate's own way there, with room
RING_MARGIN = 5.0
# the longest a lost driver's last command may keep a channel busy (a queue call)
PROBE_LIMIT = 4 * 3600.0
LOST_LINK = (AmiConnectionError, AmiTimeout)
# reading the events already sent (`_caught_up`): Asterisk answers a Ping in
# milliseconds; a link that does not answer in this long is asked about the call instead
CATCH_UP_LIMIT = 5.0


def _asterisk_away(exc: TelephonyError) -> bool:
    """The driver lost the call: the link dropped, Asterisk stopped answering, or it is
    shutting down (then it refuses every AMI action, Hangup included, and its channels
    sit in silence until it stops)."""
    if isinstance(exc, LOST_LINK):
        return True
    return isinstance(exc, AmiActionError) and "shutting down" in exc.message.lower()


@dataclass(slots=True)
class _Call:
    plan: Plan
    scenario: Scenario
    contact: DueContact
    attempt_id: int
    channel_id: str
    progress: CallProgress
    journal: CallJournal
    names: list[str] = field(default_factory=list)
    channel: AgiChannel | None = None
    claim: asyncio.Future[AgiChannel] | None = None
    answered: bool = False
    # when a call nobody can drive is hung up (stored once, see Attempt.orphan_deadline)
    deadline: datetime | None = None
    # when its Originate went out (Attempt.started_at; the claim may be up to RESERVE_TTL earlier)
    started_at: datetime | None = None
    # this run hung the call up as one nobody can drive (its end is our doing)
    cut_by_us: bool = False
    # the appeal of its transfer to an operator (this run's; adopted calls look it up)
    appeal_id: int | None = None
    # earlier calls' heard marks its dialplan deletes once answered (HeardMarks)
    forgetting: list[str] = field(default_factory=list)
    # its last part was sent with a heard mark (AstDB): to be deleted once it is closed
    marked: bool = False
    # the recording its dialplan starts before AGI (CC_RECORDING), relative to Asterisk's
    # monitor folder; "" for a call that did not (an adopted one: `_record` starts it)
    recording_name: str = ""
    # its dialplan plays the message before AGI (CC_PARTS: autoinformer/phone/played.py)
    dialplan_plays: bool = False
    # how long its message plays (seconds; None: unknown)
    seconds: float | None = None
    # the worker lease's epoch its claim was made in (HeartbeatLease): dialed only in it
    epoch: int = 0


@dataclass(frozen=True, slots=True)
class _Dialing:
    """A call's Originate gone out: its AsyncAGI start, its dialplan's end, its reply."""

    claim: asyncio.Future[AgiChannel]
    played: asyncio.Future[Played]
    dialing: asyncio.Future[OriginateResult]


@dataclass(frozen=True, slots=True)
class _End:
    facts: CallFacts | None = None
    error: str = ""
    # not an attempt: nobody was dialed (or reached, as far as anyone could see)
    void: bool = False
    # the call goes on in Asterisk without us: the next start adopts it
    leave_open: bool = False


class CallFlow:
    """Runs each call the dialer launches or adopts; the dialer keeps the pacing."""

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
        gate: DialGate,
        live: LiveCalls,
        channels: AsteriskChannels,
        aux: TaskSet,
        stats: DialerStats,
        marks: HeardMarks,
        plays: DialplanPlays,
        leases: DrivenLeases | None = None,
        handoffs: Handoffs | None = None,
        worker_lease: HeartbeatLease | None = None,
    ) -> None:
        self._book = book
        self._worker_lease = worker_lease or HeartbeatLease()
        self._marks = marks
        self._plays = plays
        self._leases = leases
        # the goodbye a call whose lease ran out hears (its Asterisk name; "" unknown)
        self._bye = ""
        self._link = link
        self._agi = agi
        self._originator = originator
        self._speech = speech
        self._clock = clock
        self.config = config
        self._desk = desk
        self._gate = gate
        self._live = live
        self._channels = channels
        self._aux = aux
        self.stats = stats
        self._handoffs = handoffs

    # ------------------------------------------------------------------ entry points
    def start(
        self,
        plan: Plan,
        scenario: Scenario,
        contact: DueContact,
        attempt_id: int,
        channel_id: str,
        *,
        epoch: int = 0,
    ) -> Coroutine[Any, Any, None]:
        """A new call: the attempt was just claimed. Its Originate goes out now, in this
        step, when all it needs is at hand (the message on disk, Asterisk's run known):
        a freed slot's next call with no task hop in between (about 11 ms a call at 100
        channels, more while a wave of results is stored). The rest of the call is the
        coroutine returned, for the caller to run as the call's task. `epoch`: the worker
        lease's when the attempt was claimed."""
        call = self._call(plan, scenario, contact, attempt_id, channel_id, CallProgress())
        call.epoch = epoch
        return self._drive(call, self._dial(call, self._dial_now(call)))

    async def adopt(
        self,
        plan: Plan,
        scenario: Scenario,
        contact: DueContact,
        attempt: OpenAttempt,
        claim: asyncio.Future[AgiChannel],
    ) -> None:
        """A call a previous run left open; `claim` was taken before Asterisk was asked
        about it, so an answer meanwhile comes here."""
        self.stats.adopted += 1
        call = self._call(plan, scenario, contact, attempt.id, attempt.channel_id, attempt.progress)
        call.answered = attempt.answered
        call.claim = claim
        call.deadline = attempt.orphan_deadline
        call.started_at = attempt.started_at
        await self._drive(call, self._adopt_orphan(call))

    async def close_taken(
        self,
        plan: Plan,
        scenario: Scenario,
        contact: DueContact,
        attempt: OpenAttempt,
        peer: AmiLink | None,
    ) -> None:
        """A call a dead worker placed on another node, over by now (that Asterisk ends it
        at its hard limit): closed with what was stored, and with what that node's Asterisk
        (`peer`, None if it cannot be asked) says of it."""
        call = self._call(plan, scenario, contact, attempt.id, attempt.channel_id, attempt.progress)
        call.answered = attempt.answered
        await self._finish(call, await self._judge_taken(call, peer))

    async def _judge_taken(self, call: _Call, peer: AmiLink | None) -> _End:
        p = call.progress
        if p.received or p.decided or p.transferred:
            return _End(p.facts(), "ended while its worker was dead")
        if peer is None:
            return _End(void=True, error="its worker died, its node cannot be asked: not counted")
        if await self._heard_by_asterisk(call, peer):
            return _End(p.facts(), "heard to its end while its worker was dead")
        try:
            boot = await peer.asterisk_boot()
        except TelephonyError:
            boot = ""
        if not boot or boot != p.asterisk_boot:
            return _End(void=True, error="its worker died, its node restarted since: not counted")
        # the node stayed up: the call ended by the customer's doing or at the hard limit
        if call.answered:
            return _End(p.facts(), "cut mid-message while its worker was dead")
        return _End(CallFacts("no_answer"), "ended unanswered while its worker was dead")

    def _call(
        self,
        plan: Plan,
        scenario: Scenario,
        contact: DueContact,
        attempt_id: int,
        channel_id: str,
        progress: CallProgress,
    ) -> _Call:
        ref = CallRef(attempt_id, contact.id, plan.id, contact.phone, plan.kind)
        journal = CallJournal(self._book, ref, progress, self._clock)
        return _Call(plan, scenario, contact, attempt_id, channel_id, progress, journal)

    async def _drive(self, call: _Call, work: Coroutine[Any, Any, _End]) -> None:
        try:
            end = await work
        except asyncio.CancelledError:
            # the service is stopping: hang up, keep what the customer already got
            await self._finish(call, await self._interrupted(call))
            raise
        await self._finish(call, end)

    async def _adopt_orphan(self, call: _Call) -> _End:
        await self._render(call)
        return await self._adopt(call)

    # ------------------------------------------------------------------ a new call
    async def _render(self, call: _Call) -> None:
        values = contact_values(call.contact)
        message = call.scenario.message_for(values)
        self._rendered(call, await self._speech.render(message, values), message, values)

    def _rendered(
        self, call: _Call, names: list[str], message: Message, values: dict[str, Any]
    ) -> None:
        call.names = names
        call.progress.parts_total = len(call.names)
        call.seconds = self._speech.seconds(call.names)
        # what is played, kept with the attempt for its proof of notification
        texts = [
            self._speech.prompts.text(part.name) if isinstance(part, PromptPart) else part.text
            for part in self._speech.resolve(message, values)
        ]
        call.progress.message = json.dumps(
            [{"text": t, "sound": n} for t, n in zip(texts, call.names, strict=True)],
            ensure_ascii=False,
        )

    def _dial_now(self, call: _Call) -> _Dialing | None:
        """The call's Originate written in this step (see `start`); None when something
        it needs is not at hand (a part to synthesize, Asterisk's run not asked yet, the
        link down, a message or number that is wrong): `_dial` does it all, waiting."""
        boot = self._link.known_boot
        if not boot:
            return None
        try:
            values = contact_values(call.contact)
            message = call.scenario.message_for(values)
            names = self._speech.render_ready(message, values)
            number = dial_digits("+" + call.contact.phone)
            if names is None:
                return None
            self._rendered(call, names, message, values)
        except Exception:
            # `_dial` meets it again in the call's own task, and says what is wrong there
            # (here it would break the step of the call that freed the slot)
            return None
        call.claim = claim = self._agi.claim(call.channel_id)
        played = self._plays.expect(call.channel_id)
        dialing: asyncio.Future[OriginateResult]
        try:
            dialing = asyncio.ensure_future(self._originate_now(call, number, boot))
        except Exception as exc:
            # not sent (the link went down), or refused by a check: `_dial` reads it
            dialing = asyncio.get_running_loop().create_future()
            dialing.set_exception(exc)
        return _Dialing(claim, played, dialing)

    async def _dial(self, call: _Call, sent: _Dialing | None = None) -> _End:
        if sent is None:
            try:
                await self._render(call)
                number = dial_digits("+" + call.contact.phone)
            except (MessageError, SynthesisError, InvalidPhoneNumber) as exc:
                log.warning("attempt %d to %s failed: %s", call.attempt_id, self._who(call), exc)
                return _End(CallFacts("failed"), f"{type(exc).__name__}: {exc}")
            call.claim = self._agi.claim(call.channel_id)
            sent = _Dialing(
                call.claim,
                self._plays.expect(call.channel_id),
                asyncio.ensure_future(self._originate(call, number)),
            )
        claim, played, dialing = sent.claim, sent.played, sent.dialing
        try:
            # the call's AsyncAGI start (or its dialplan's end) means it was answered: go
            # on at once instead of waiting for the OriginateResponse, which may come later
            first: set[asyncio.Future[Any]] = {dialing, claim, played}
            self._gate.in_flight += 1
            try:
                done, _ = await asyncio.wait(
                    first, timeout=1.0, return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                self._gate.in_flight -= 1
            if not done:
                # a refusal comes at once: this Originate was taken, Asterisk dials again
                self._gate.sent()
                await asyncio.wait(first, return_when=asyncio.FIRST_COMPLETED)
            if not (_taken(claim) or _taken(played)):
                try:
                    result = await dialing
                except OriginateNotSent as exc:
                    self._agi.release(call.channel_id)
                    if not isinstance(exc, LeaseLapsed):
                        self._gate.not_sent()
                    log.warning("attempt %d: Originate not sent: %s", call.attempt_id, exc)
                    return _End(void=True, error=f"not sent: {exc}")
                except LOST_LINK as exc:
                    if await self._caught_up() and (_taken(claim) or _taken(played)):
                        # the reply's timer ran out while the events that tell were still
                        # unread (this process was stopped or starved past the ring time):
                        # read now, they tell as they would have in time
                        log.info(
                            "attempt %d: %s; its events, read late, tell", call.attempt_id, exc
                        )
                        self._gate.sent()
                        return await self._went_on(call, claim, played)
                    # the Originate went out but its reply was lost: ask Asterisk
                    log.warning(
                        "attempt %d: %s; asking Asterisk about the call", call.attempt_id, exc
                    )
                    return await self._recover(call)
                except TelephonyError as exc:
                    self._agi.release(call.channel_id)
                    log.warning(
                        "attempt %d to %s failed: %s", call.attempt_id, self._who(call), exc
                    )
                    return _End(CallFacts("failed"), f"{type(exc).__name__}: {exc}")
                self._gate.sent()
                if not result.answered:
                    self._agi.release(call.channel_id)
                    return _End(CallFacts(result.outcome.value))
                call.answered = True
                call.journal.answered()
                self._expect_end(call)
                ended = await self._after_answer(call, claim, played)
                if ended is not None:
                    return ended
            else:
                self._gate.sent()
            return await self._went_on(call, claim, played)
        finally:
            self._settle(dialing)
            self._plays.release(call.channel_id)

    async def _went_on(
        self, call: _Call, claim: asyncio.Future[AgiChannel], played: asyncio.Future[Played]
    ) -> _End:
        """Answered, and its AsyncAGI start (`claim`) or its dialplan's end (`played`) came:
        drive the call on from there, or close it."""
        # its dialplan deleted the marks on its way
        call.forgetting = []
        if _taken(claim):
            channel = claim.result()
            start = DialplanStart.from_env(channel.env) if call.dialplan_plays else None
            if start is None:
                return await self._answered(call, channel)
            call.progress.parts_played = max(call.progress.parts_played, start.played)
            return await self._answered(call, channel, start.played, start.key)
        self._agi.release(call.channel_id)
        return self._played_out(call, played.result())

    async def _caught_up(self) -> bool:
        """Has every event Asterisk sent until now been through the handlers? False:
        Asterisk cannot be asked (the link is down, or it does not answer)."""
        if not self._link.connected:
            return False
        try:
            await self._link.catch_up(timeout=CATCH_UP_LIMIT)
        except TelephonyError:
            return False
        return True

    def _expect_end(self, call: _Call) -> None:
        """Answered: when the call should end, for the dialer to claim its slot's next
        contact ahead (calls that start together end together, the first wave too)."""
        if call.seconds is None:
            return
        wait = max(0.0, call.scenario.wait_digit)
        self._live.expect_end(call.attempt_id, time.monotonic() + call.seconds + wait)

    async def _after_answer(
        self, call: _Call, claim: asyncio.Future[AgiChannel], played: asyncio.Future[Played]
    ) -> _End | None:
        """The Originate says answered: wait for the call's AsyncAGI start or, when its
        dialplan plays the message, for that to end (in AGI or with the call). None: one
        of them came."""
        # the dialplan plays for as long as the message lasts; Asterisk ends the call at its
        # hard limit at the latest (its `h` extension tells)
        limit = self.config.agi_timeout
        if call.dialplan_plays:
            limit += self.config.call_hard_limit
        connection = self._link.reconnects
        waited = 0.0
        either: set[asyncio.Future[Any]] = {claim, played}
        while not (_taken(claim) or _taken(played)):
            if claim.cancelled() or waited >= limit:
                self._agi.release(call.channel_id)
                await self._channels.hang_up_all(call.channel_id)
                return _End(call.progress.facts(), "answered but the call never reached AsyncAGI")
            if self._link.reconnects != connection or not self._link.connected:
                # its events may have gone with the link: ask Asterisk about the call
                return await self._recover(call)
            if self._channels.hung_up(call.channel_id):
                # ended with no word from its dialplan (the event precedes the Hangup)
                return await self._ended_unseen(call, seen=True)
            # a wait that was given up (stopping) must not wake this loop at once, again
            either = {f for f in either if not f.cancelled()}
            if either:
                await asyncio.wait(either, timeout=POLL, return_when=asyncio.FIRST_COMPLETED)
            else:
                await asyncio.sleep(POLL)
            waited += POLL
        return None

    def _played_out(self, call: _Call, played: Played) -> _End:
        """The dialplan played the message and ended the call with no AGI: the whole of it
        (its heard mark left), or up to the customer's hang-up."""
        p = call.progress
        if not call.answered:
            call.answered = True
            call.journal.answered()
        if played.recording:
            p.recording = played.recording
        p.parts_played = max(p.parts_played, played.played)
        if played.heard:
            p.played_to_end = True
            p.parts_played = max(p.parts_played, len(call.names))
        self._live.closing(call.attempt_id)
        # all of it goes with the close (the facts carry the parts and the recording)
        return _End(p.facts())

    async def _originate(self, call: _Call, number: str) -> OriginateResult:
        # which run of Asterisk this goes to ("" unknown: the link is down, or dropped)
        boot = await self._asterisk_boot()
        return await self._originate_now(call, number, boot)

    def _originate_now(
        self, call: _Call, number: str, boot: str
    ) -> Coroutine[Any, Any, OriginateResult]:
        """The Originate written now (OriginateNotSent raised now if it cannot be); the
        coroutine returned gives its outcome."""
        # an Originate that cannot reach Asterisk dials nobody: not an attempt. Checked
        # with no await before the send, so "connected" still holds when it goes out.
        if not self._link.connected:
            raise OriginateNotSent("the AMI link is down")
        # a worker stalled past its heartbeat lease may have had this claim taken over and
        # its contact called by another: the fence is checked in the step that sends
        if not self._worker_lease.holds(call.epoch):
            raise LeaseLapsed("this worker's heartbeat lease ran out after the claim")
        # stored with the attempt as the Originate goes out: the journal writes once this
        # step yields, by when the send happened, or failed and took it back below
        call.progress.asterisk_boot = boot
        call.progress.dialed_at = call.started_at = self._clock.now()
        # urgent: a call that ends at once (busy) while a kill follows the send is judged
        # by it (ended on the Asterisk still up: an attempt); unstored, it was voided and
        # the number called once more than the policy allows
        call.journal.changed(urgent=True)
        call.forgetting = self._marks.take()
        # a scenario with `record = false` (a mass warning): no MixMonitor, the journal
        # is the proof
        call.recording_name = self._recording_name(call) if call.scenario.record else ""
        try:
            reply = self._originator.originate_now(
                number=number,
                channel_id=call.channel_id,
                context=self.config.context,
                ring_timeout=call.plan.ring_timeout,
                variables={
                    "CC_CAMPAIGN": str(call.plan.id),
                    "CC_ATTEMPT": str(call.attempt_id),
                    "CC_CALL_LIMIT": str(int(self.config.call_hard_limit)),
                    "CC_RECORDING": call.recording_name,
                    **self._lease_variables(),
                    **forget_variables(call.forgetting),
                    **self._message_variables(call),
                },
            )
        except OriginateNotSent:
            call.progress.asterisk_boot = ""
            call.progress.dialed_at = None
            raise
        return self._outcome(call, reply)

    async def _outcome(
        self, call: _Call, reply: Coroutine[Any, Any, OriginateResult]
    ) -> OriginateResult:
        try:
            return await reply
        except OriginateNotSent:
            call.progress.asterisk_boot = ""
            call.progress.dialed_at = None
            raise
        except AmiActionError as exc:
            # `Response: Error` to an Async Originate ("Asterisk is shutting down"...): no
            # channel was made
            call.progress.asterisk_boot = ""
            call.progress.dialed_at = None
            raise OriginateNotSent(exc.message or str(exc)) from exc

    def _message_variables(self, call: _Call) -> dict[str, str]:
        """The message for the call's dialplan to play (autoinformer/phone/played.py)."""
        if not self.config.dialplan_message:
            return {}
        scenario = call.scenario
        end = scenario.wait_digit <= 0 and scenario.replies.get("goodbye") is None
        variables = message_variables(call.names, mark=_heard_key(call).key, end=end)
        call.dialplan_plays = bool(variables)
        # its last part leaves the heard mark: deleted once the attempt is closed
        call.marked = call.marked or call.dialplan_plays
        return variables

    async def _answered(
        self,
        call: _Call,
        channel: AgiChannel,
        start: int = 0,
        pressed: str | None = None,
        *,
        resume: str | None = None,
    ) -> _End:
        """The call is in AsyncAGI with us: play from part `start` on (or carry out
        `resume`, the action of a key the customer pressed and a lost driver stored)."""
        call.channel = channel
        if not call.answered:
            call.answered = True
            call.journal.answered()
        if self._leases is not None:
            self._leases.hold(channel.channel, self.config.call_hard_limit)
        try:
            await self._play(call, start, pressed, resume=resume)
        except TelephonyError as exc:
            if _asterisk_away(exc):
                log.warning("attempt %d: %s; asking Asterisk about the call", call.attempt_id, exc)
                return await self._recover(call)
            log.warning("attempt %d to %s: %s", call.attempt_id, self._who(call), exc)
            return _End(call.progress.facts(), f"{type(exc).__name__}: {exc}")
        finally:
            if self._leases is not None:
                self._leases.drop(channel.channel)
        p = call.progress
        if not (p.received or p.decided) and await self._asterisk_stopping():
            # hung up mid-message by Asterisk going away, not by the customer
            return _End(void=True, error="interrupted: Asterisk stopped during the message")
        return _End(p.facts())

    async def _asterisk_boot(self) -> str:
        try:
            return await self._link.asterisk_boot()
        except TelephonyError:
            return ""

    async def _asterisk_run_now(self) -> str:
        """The run of Asterisk up now, waiting for the link if it is down (an end seen
        while it was down, after a freeze say, is judged once Asterisk can be asked);
        "" when Asterisk refuses to say (it is shutting down)."""
        for _ in range(3):
            try:
                return await self._link.asterisk_boot()
            except AmiActionError:
                return ""
            except TelephonyError:
                await asyncio.sleep(POLL)
                await self._wait_link()
        return ""

    async def _asterisk_stopping(self) -> bool:
        """Is Asterisk going away? While it shuts down it refuses every AMI action, then
        the link drops; it hangs up its calls meanwhile, which looks like customers
        hanging up."""
        if not self._link.connected:
            return True
        try:
            await self._link.action("Ping", timeout=2)
        except AmiActionError as exc:
            return "shutting down" in exc.message.lower()
        except TelephonyError:
            return True
        return False

    # ------------------------------------------------------------------ a lost driver
    async def _recover(self, call: _Call) -> _End:
        """The AMI link dropped (or Asterisk stopped answering) mid-call: the call itself
        goes on; once the link is back, find out what became of it."""
        self.stats.recovered += 1
        await self._wait_link()
        return await self._adopt(call)

    async def _wait_link(self) -> None:
        while not self._link.connected:
            with contextlib.suppress(AmiConnectionError):
                await self._link.wait_connected(60)

    async def _adopt(self, call: _Call) -> _End:
        p = call.progress
        if p.queued and not p.transferred:
            # an operator answering from now on is noted as it happens
            self._desk.expect(call.channel_id, lambda op: self._operator_answered(call, op))
        fresh = True
        try:
            while True:
                try:
                    # the first look is fresh; later ones share the listing of every call
                    # being watched (a Hangup seen on the link drops a leg from it at once)
                    found = await self._channels.legs(call.channel_id, fresh=fresh)
                    fresh = False
                except TelephonyError:
                    if self._channels.hung_up(call.channel_id):
                        # the events still came: it is over (a slot freed while Asterisk
                        # shuts down, refusing every action)
                        return await self._ended_unseen(call)
                    await asyncio.sleep(POLL)  # Asterisk away: look again later
                    await self._wait_link()
                    continue
                if not found:
                    return await self._ended_unseen(call)
                own = found.get(call.channel_id)
                if own is None or not own.up:
                    # ringing still: once answered it enters AsyncAGI and comes to the claim
                    channel = await self._await_answer(call)
                    if channel is not None:
                        return await self._answered(call, channel)
                    continue
                if not call.answered:
                    call.answered = True  # answered while nobody watched
                    call.journal.answered()
                if own.bridge_id:
                    await self._note_bridged(call, own)
                    await self._channels.wait_end(call.channel_id, POLL)
                    continue
                state = await self._probe(call, own)
                if state == "idle":
                    return await self._continue(call)
                if state == "stray" and not p.queued and await self._dialplan_playing(own):
                    # its dialplan plays the message: AGI (or its end) comes after it
                    await self._channels.wait_end(call.channel_id, POLL)
                    continue
                undriveable = state == "stray" and not p.queued and await self._past_deadline(call)
                if state == "deadline" or undriveable:
                    log.warning(
                        "attempt %d: a call nobody can drive, hung up at its deadline",
                        call.attempt_id,
                    )
                    self.stats.orphans_hung_up += 1
                    call.cut_by_us = True
                    await self._channels.hang_up_all(call.channel_id)
                    await self._channels.wait_end(call.channel_id, POLL)
                elif state == "stray":
                    await self._channels.wait_end(call.channel_id, POLL)
        finally:
            if p.queued:
                self._desk.answered_by(call.channel_id)

    async def _dialplan_playing(self, own: ChannelInfo) -> bool:
        """Is the channel's dialplan playing its message, before AGI (CC_PARTS)?"""
        try:
            if await self._channels.variable(own.name, "CC_AGI"):
                return False
            return bool(await self._channels.variable(own.name, "CC_PARTS"))
        except TelephonyError:
            return False

    async def _await_answer(self, call: _Call) -> AgiChannel | None:
        claim = call.claim
        if claim is None or claim.cancelled():
            call.claim = claim = self._agi.claim(call.channel_id)
        if not claim.done():
            ended = asyncio.ensure_future(self._channels.wait_end(call.channel_id, POLL))
            try:
                either: set[asyncio.Future[Any]] = {claim, ended}
                await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
            finally:
                ended.cancel()
        if claim.done() and not claim.cancelled():
            return claim.result()
        return None

    async def _probe(self, call: _Call, own: ChannelInfo) -> str:
        """Wait until the channel is idle in AsyncAGI ("idle"); or "gone", "stray" (not
        in AsyncAGI at all), "retry" (the link dropped again), "deadline"."""
        channel = call.channel
        if channel is None or channel.channel != own.name or channel.gone:
            env = {"agi_uniqueid": call.channel_id, "agi_arg_1": self.config.context}
            channel = call.channel = AgiChannel(self._agi, own.name, env)
        probe = asyncio.ensure_future(channel.command("NOOP", timeout=PROBE_LIMIT))
        try:
            while True:
                done, _pending = await asyncio.wait({probe}, timeout=POLL)
                if done:
                    try:
                        result = probe.result()
                    except ChannelGone:
                        # the AGI layer says "not in AsyncAGI": a channel still up is a
                        # stray (parked elsewhere in the dialplan), not a call that ended
                        try:
                            found = await self._channels.legs(call.channel_id)
                        except TelephonyError:
                            return "gone"
                        return "stray" if call.channel_id in found else "gone"
                    except TelephonyError as exc:
                        if not _asterisk_away(exc):
                            return "stray"
                        await asyncio.sleep(POLL)
                        await self._wait_link()
                        return "retry"
                    return "idle" if result.code == 200 else "stray"
                try:
                    found = await self._channels.legs(call.channel_id)
                except TelephonyError:
                    continue
                current = found.get(call.channel_id)
                if current is None:
                    return "gone"
                if current.bridge_id:
                    await self._note_bridged(call, current)
                elif not call.progress.queued and await self._past_deadline(call):
                    return "deadline"
        finally:
            # a NOOP left queued on the channel runs later, its result read by nobody
            probe.cancel()

    async def _past_deadline(self, call: _Call) -> bool:
        """Has the call's orphan deadline passed? Stored the first time it is asked for
        (not before: a call driven at once never needs one, and the write would delay it)."""
        if call.deadline is None:
            grace = timedelta(seconds=self.config.orphan_grace)
            call.deadline = await self._book.keep_orphan_deadline(
                call.attempt_id, self._clock.now() + grace
            )
        return self._clock.now() >= call.deadline

    async def _note_bridged(self, call: _Call, own: ChannelInfo) -> None:
        """Bridged: only the operators' queue bridges our calls. Never hung up by us."""
        p = call.progress
        if p.transferred:
            return
        operator = ""
        with contextlib.suppress(TelephonyError):
            operator = await self._channels.variable(own.name, "MEMBERINTERFACE")
        self._operator_answered(call, operator or p.operator)
        await call.journal.flush()

    def _operator_answered(self, call: _Call, operator: str) -> None:
        p = call.progress
        p.queued = True
        p.transferred = True
        p.operator = operator or p.operator
        call.journal.changed()

    async def _continue(self, call: _Call) -> _End:
        """The adopted call is idle in AsyncAGI: finish it."""
        p = call.progress
        channel = call.channel
        assert channel is not None
        try:
            if p.queued and not p.transferred:
                operator = await self._channels.variable(channel.channel, "MEMBERINTERFACE")
                if operator:
                    self._operator_answered(call, operator)
            if p.transferred:
                # the operator's conversation is over
                await call.journal.flush()
                await self._hangup(channel)
                return _End(p.facts())
            if p.queued:
                # the queue gave the customer back with nobody (or never took them)
                p.callback = True
                await call.journal.flush()
                await self._say(channel, call.scenario.replies.get("operator_busy"))
                await self._hangup(channel)
                return _End(p.facts())
            if p.confirmed or p.opted_out or p.callback or not call.names:
                await self._hangup(channel)
                outcome = "answered" if p.received or p.decided else "failed"
                return _End(p.facts(outcome), "" if call.names else "message not rendered")
            # a key pressed during the lost driver's last prompt or wait ended that command
            # with the key as its result, which nobody may have read: it is the customer's
            # answer (a key that settles the call was stored before it was acted on, and
            # is handled above or just below; one that was ignored or repeated for may
            # count again)
            lost = await channel.last_key()
        except ChannelGone:
            return await self._ended_unseen(call, seen=True)
        except TelephonyError as exc:
            if not _asterisk_away(exc):
                raise
            return await self._recover(call)
        if not p.recording:
            # the lost driver may have started the recording without storing it: a second
            # MixMonitor on the same file would garble both
            with contextlib.suppress(TelephonyError):
                p.recording = await channel.get_variable("MIXMONITOR_FILENAME") or ""
        # parts its dialplan played before AGI (CC_PARTS), which nobody may have stored
        played = ""
        with contextlib.suppress(TelephonyError):
            played = await self._channels.variable(channel.channel, "CC_PLAYED")
        if played.isdigit() and int(played) > p.parts_played:
            p.parts_played = min(int(played), len(call.names))
            call.journal.changed()
        if not p.heard and await self._heard_by_asterisk(call):
            await call.journal.flush()
        start = len(call.names) if p.played_to_end else min(p.parts_played, len(call.names))
        if _transfer_asked(call.scenario, p):
            # the lost driver was putting the customer through (announcing it, or setting
            # the call up for the queue): the key is stored, so the transfer goes on
            # rather than the message starting again
            return await self._answered(call, channel, start, resume="operator")
        return await self._answered(call, channel, start, lost)

    async def _ended_unseen(self, call: _Call, *, seen: bool = False) -> _End:
        """The call's channels are gone and its end was not watched by a driver."""
        p = call.progress
        # the run of Asterisk that had the call is still up: the call did not die with
        # Asterisk, and a killed service ends no call (AsyncAGI outlives it), so it ended
        # by the customer's doing (or the network's): a true attempt
        stayed_up = (
            not call.cut_by_us
            and bool(p.asterisk_boot)
            and p.asterisk_boot == await self._asterisk_run_now()
        )
        if call.answered:
            if p.received or p.decided or p.transferred:
                return _End(p.facts(), "" if seen else "ended while nobody drove it")
            if await self._heard_by_asterisk(call):
                return _End(p.facts(), "heard to its end while nobody drove it")
            if stayed_up:
                return _End(p.facts(), "hung up mid-message while nobody drove it")
            # cut off mid-message while we could not see it, and Asterisk may have gone
            # away meanwhile (restarted, or not known): not knowing, no retry is spent on
            # it; its answer still counts for the frequency caps
            return _End(void=True, error="interrupted: ended mid-message while nobody drove it")
        if call.dialplan_plays and await self._heard_by_asterisk(call):
            # its answer went unseen (the events were lost with the link, or read too late
            # by a process stopped for a while), but its dialplan played the message whole
            call.answered = True
            call.journal.answered()
            return _End(p.facts(), "answered and heard to its end while nobody watched")
        if self._channels.seen_end(call.channel_id):
            # it rang and ended unanswered while we looked on (busy, no answer, congestion)
            cause = self._channels.cause(call.channel_id)
            outcome = CAUSE_OUTCOME.get(cause or 0)
            return _End(CallFacts(outcome.value if outcome else "no_answer"))
        if stayed_up:
            # it rang out unanswered while nobody watched (busy and congestion end as fast)
            return _End(CallFacts("no_answer"), "ended unanswered while nobody watched")
        if await self._rang_out_before_restart(call):
            return _End(
                CallFacts("no_answer"), "rang out while nobody watched, before Asterisk restarted"
            )
        return _End(void=True, error="unanswered, and its end was not seen: not counted")

    async def _rang_out_before_restart(self, call: _Call) -> bool:
        """Was the Asterisk run that had the call seen up (a heartbeat of any `serve`, a
        killed one's included) after its ring time was over? Then it rang out (or was
        refused) on that run, before the restart cut anything: an attempt. Had the customer
        answered, the call would have waited in AsyncAGI for whoever saw it next; an
        answer nobody stored is taken for no answer, which spends a retry rather than
        calling once more than the policy allows."""
        boot = call.progress.asterisk_boot
        if not boot or call.started_at is None:
            return False
        try:
            seen = await self._book.asterisk_seen_up(boot)
        except SQLAlchemyError:
            return False
        rang_until = call.started_at + timedelta(seconds=call.plan.ring_timeout + RING_MARGIN)
        return seen is not None and seen > rang_until

    async def _heard_by_asterisk(self, call: _Call, link: AmiLink | None = None) -> bool:
        """Did the last part end while nobody heard it (the mark `_play` has Asterisk leave;
        `link`: the node the call was on, ours by default)? Then the customer heard the
        whole message: noted in the call's progress."""
        try:
            heard = await _heard_key(call).exists(link or self._link)
        except (TelephonyError, ValueError):
            return False
        if heard:
            # on our node: ours to delete once the attempt is closed
            call.marked = call.marked or link is None
            p = call.progress
            p.played_to_end = True
            p.parts_played = max(p.parts_played, p.parts_total, len(call.names))
            call.journal.changed(urgent=True)
            log.info("attempt %d: its last part ended while nobody drove it", call.attempt_id)
        return heard

    # ------------------------------------------------------------------ stopping
    async def _interrupted(self, call: _Call) -> _End:
        self._agi.release(call.channel_id)
        p = call.progress
        channel = call.channel
        error = "interrupted: the service stopped during the call"
        if p.queued and (channel is None or not channel.gone):
            # with an operator, or waiting for one: never hung up by us. Once the queue
            # gives the customer back, AsyncAGI ends and the dialplan hangs up; the next
            # start closes the attempt.
            if channel is not None:
                await self._end_after_queue(channel)
            return _End(leave_open=True)
        if call.answered and channel is not None and not channel.gone:
            with contextlib.suppress(TelephonyError, TimeoutError):
                async with asyncio.timeout(5):
                    await self._hangup(channel)
        else:
            try:
                async with asyncio.timeout(5):
                    gone = await self._channels.hang_up_all(call.channel_id)
            except TimeoutError:
                gone = False
            if not gone:
                return _End(leave_open=True)  # Asterisk could not be asked: the next start
            if not call.answered:
                return _End(void=True, error="not answered before the service stopped")
        if p.received or p.decided:
            return _End(p.facts(), error)
        # cut off by our own stop: no retry spent (the answer still counts for the caps)
        return _End(void=True, error=error)

    async def _end_after_queue(self, channel: AgiChannel) -> None:
        with contextlib.suppress(TelephonyError, TimeoutError):
            async with asyncio.timeout(2):
                await self._link.action(
                    "AGI",
                    Channel=channel.channel,
                    Command="ASYNCAGI BREAK",
                    CommandID=uuid.uuid4().hex,
                )

    async def _finish(self, call: _Call, end: _End) -> None:
        attempt_id = call.attempt_id
        self._live.release(attempt_id)
        if call.forgetting:
            # never answered (or not known to be): its dialplan deleted nothing
            self._marks.give_back(call.forgetting)
            call.forgetting = []
        if not end.leave_open:
            await self._close_transfer(call)
        try:
            closed = False
            if end.void:
                await self._book.void(attempt_id, self._clock.now(), end.error)
                self.stats.voided += 1
                closed = True
            elif end.facts is not None and not end.leave_open:
                await call.journal.settle()
                status = await self._book.record(
                    attempt_id, end.facts, self._clock.now(), error=end.error
                )
                self.stats.by_status[status] += 1
                self.stats.finished += 1
                closed = True
            if closed and call.marked:
                # the attempt is closed: its mark says nothing anyone will ask for
                self._marks.stored(call.channel_id)
        except Exception:
            # the attempt stays open in the database: the next start adopts it
            log.exception("attempt %d: result could not be stored", attempt_id)
        finally:
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
                async with asyncio.timeout(60):  # a timeout cancels the wait for the reply
                    await dialing

        try:
            self._aux.spawn(wait(), name="originate-reply")
        except RuntimeError:  # stopping: nobody will read it
            dialing.cancel()

    # ------------------------------------------------------------------ the message
    async def _play(
        self,
        call: _Call,
        start: int = 0,
        pressed: str | None = None,
        *,
        resume: str | None = None,
    ) -> None:
        """Play the message from part `start` on and act on the key pressed; `pressed`: a
        key the customer already pressed (heard by a lost driver's last prompt); `resume`:
        the action of a stored key a lost driver was carrying out (no message first)."""
        scenario = call.scenario
        channel = call.channel
        assert channel is not None
        names = call.names
        p = call.progress
        journal = call.journal
        repeats = scenario.repeats
        action: str | None = resume
        recording: asyncio.Future[None] | None = None
        hung_up = False
        try:
            if not p.recording and call.scenario.record:
                if call.recording_name:
                    recording = asyncio.ensure_future(self._recording_started(call, channel))
                else:
                    recording = await self._record(call, channel)
            first = start
            digit: str | None = pressed
            while resume is None:
                if digit is None:
                    for index in range(first, len(names)):
                        # the last part leaves Asterisk's own mark when it ends: the one
                        # record of it when its end came while nobody could hear it
                        mark = _heard_key(call) if index == len(names) - 1 else None
                        call.marked = call.marked or mark is not None
                        digit = await channel.stream_file(
                            names[index], escape_digits=ALL_KEYS, mark=mark
                        )
                        if recording is not None:
                            await recording  # answered long before this part ended
                            recording = None
                        if digit:
                            break
                        p.parts_played = max(p.parts_played, index + 1)
                        if index + 1 < len(names) or p.played_to_end:
                            # the last part's count goes with the flush just below
                            journal.changed()
                    first = 0
                    if digit is None:
                        if scenario.wait_digit <= 0 and scenario.replies.get("goodbye") is None:
                            # the customer hears nothing more: the next call may start, and
                            # this one ends now rather than after the write below (the
                            # mark, written right behind the last part, records it until
                            # then: the write only waits for it)
                            self._live.closing(call.attempt_id)
                            if not p.played_to_end and await channel.marked():
                                await self._hangup(channel)
                                hung_up = True
                        if not p.played_to_end:
                            p.played_to_end = True
                            # stored before the call goes on (a wait for a key, a goodbye:
                            # silence or nearly): a kill from here on must not leave a
                            # customer who heard it all to be called again
                            await journal.flush()
                            # only now: until the flush, Asterisk's mark is the one record
                            # (a key that cut the last part leaves it, meaning the same)
                        if scenario.wait_digit > 0:
                            digit = await channel.wait_for_digit(scenario.wait_digit)
                if digit is None:
                    break
                p.digits += digit
                journal.changed()
                action = scenario.action(digit)
                if action == "repeat" and repeats > 0:
                    repeats -= 1
                    action = None
                    digit = None
                    first = 0  # again from the start, wherever the key came
                    continue
                if action in ("repeat", "ignore"):
                    action = None
                break
            if action == "confirm":
                p.confirmed = True
                await journal.flush()
                await self._say(channel, scenario.replies.get("confirmed"))
            elif action == "opt_out":
                p.opted_out = True
                await journal.flush()
                await self._say(channel, scenario.replies.get("opted_out"))
            elif action == "operator":
                # stored before the announcement: a service killed while it plays puts the
                # customer through on its next start (`_continue`), not back to the message
                await journal.flush()
                await self._transfer(call, channel)
            elif p.played_to_end:
                await self._say(channel, scenario.replies.get("goodbye"))
            self._live.closing(call.attempt_id)
            if not hung_up:
                await self._hangup(channel)
        except ChannelGone:
            pass  # the customer hung up: what was played so far is in `progress`
        finally:
            if recording is not None:
                recording.cancel()

    def _lease_variables(self) -> dict[str, str]:
        """The AGI part's bound and the goodbye its `T` extension says (lease.py)."""
        if self._leases is None or not self._leases.on:
            return {}
        if not self._bye:
            built = prompt_path(self._speech.sounds_dir, BYE_PROMPT)
            # not built yet (no `sounds build`): the call is just hung up
            self._bye = self._speech.playback_name(built) if built.is_file() else ""
        return {"CC_DRIVEN_LEASE": str(int(self._leases.lease)), "CC_BYE": self._bye}

    def _recording_name(self, call: _Call) -> str:
        local = self._clock.now().astimezone(call.plan.tz)
        return f"autoinformer/{local:%Y/%m/%d}/c{call.plan.id}-a{call.attempt_id}.wav"

    async def _recording_started(self, call: _Call, channel: AgiChannel) -> None:
        """The call's dialplan started MixMonitor before AGI ([autoinformer], CC_RECORDING):
        its file's full path, asked over AMI while the message plays (no AGI command, so
        the message's first part is the call's first command)."""
        try:
            path = await self._channels.variable(channel.channel, "MIXMONITOR_FILENAME")
        except TelephonyError as exc:
            if not _asterisk_away(exc):
                log.warning("attempt %d: recording's file not known: %s", call.attempt_id, exc)
            return
        if not path:
            log.warning("attempt %d: the call is not recorded (no MixMonitor)", call.attempt_id)
            return
        call.progress.recording = path
        call.journal.changed()

    async def _record(self, call: _Call, channel: AgiChannel) -> asyncio.Future[None]:
        """Record an adopted call whose dialplan did not (a new call's starts MixMonitor
        before AGI: `_recording_started`), as the hotline does (MixMonitor runs until the
        channel ends): the proof of notification a customer disputing a notice is shown. A
        recording that cannot start does not stop the message.

        MixMonitor and the question of its file name are queued at once, ahead of the
        message, and the message does not wait for their answers: AsyncAGI runs a
        channel's queued commands back to back, while a command sent after the last one's
        answer waits for the channel's next frame (20 ms each, two per call). Returns what
        stores the file name once Asterisk told it."""
        name = self._recording_name(call)
        started = asyncio.ensure_future(channel.exec("MixMonitor", name))
        asked = asyncio.ensure_future(channel.get_variable("MIXMONITOR_FILENAME"))
        # each sends its command in its first step, before it waits: both are queued, in
        # this order, before the caller sends the message's first part
        await asyncio.sleep(0)
        return asyncio.ensure_future(self._recorded(call, name, started, asked))

    async def _recorded(
        self,
        call: _Call,
        name: str,
        started: asyncio.Future[int],
        asked: asyncio.Future[str | None],
    ) -> None:
        try:
            await started
            path = await asked or name
        except TelephonyError as exc:
            if asked.done() and not asked.cancelled():
                asked.exception()  # read: the same trouble as MixMonitor's
            asked.cancel()
            # a hang-up or Asterisk going away stops the message as well: said there
            if not isinstance(exc, ChannelGone) and not _asterisk_away(exc):
                log.warning("attempt %d: the call is not recorded: %s", call.attempt_id, exc)
            return
        except asyncio.CancelledError:
            started.cancel()
            asked.cancel()
            raise
        call.progress.recording = path
        call.journal.changed()

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

    async def _transfer(self, call: _Call, channel: AgiChannel) -> None:
        plan, scenario, contact, p = call.plan, call.scenario, call.contact, call.progress
        if await self._desk.free(fresh=True) <= 0:
            # nobody can take the call: no waiting in a queue, an operator calls back
            p.callback = True
            await call.journal.flush()
            await self._say(channel, scenario.replies.get("operator_busy"))
            return
        self._desk.in_flight += 1
        self._desk.expect(channel.uniqueid, lambda op: self._operator_answered(call, op))
        try:
            # registered before it is announced: with the operators on another node, only
            # while one is still free, in one step with every other worker's transfers
            if not await self._register_transfer(call, channel):
                raise _NoOperator
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
                    f"{p.parts_played}/{p.parts_total}" + (" end" if p.played_to_end else "")
                ),
                "__CC_DIGITS": p.digits,
            }
            for name, value in context.items():
                await channel.set_variable(name, value)
            # stored before the customer enters the queue: whatever happens to this
            # service from here on, they are an operator's (put through, or called back)
            p.queued = True
            await call.journal.flush()
            timeout = int(self.config.queue_timeout)
            # with an operator: no hard limit (as in [operators-queue]); a conversation
            # past CC_CALL_HARD_LIMIT was cut by Asterisk mid-sentence. Its lease goes
            # first: a renewal after this would bound the conversation again
            if self._leases is not None:
                self._leases.drop(channel.channel)
            await channel.set_variable("TIMEOUT(absolute)", "0")
            if self.config.operators_trunk:
                await self._put_through(call, channel, timeout)
            else:
                await channel.exec(
                    "Queue", f"{self.config.queue},,,,{timeout}", timeout=timeout + 7200
                )
        except (ChannelGone, _NoOperator):
            pass
        finally:
            self._desk.in_flight -= 1
            operator = self._desk.answered_by(channel.uniqueid)
        if operator or p.transferred:
            self._operator_answered(call, operator or p.operator)
            return
        p.callback = True
        call.journal.changed()
        if not channel.gone:
            with contextlib.suppress(ChannelGone):
                await self._say(channel, scenario.replies.get("operator_busy"))

    async def _put_through(self, call: _Call, channel: AgiChannel, timeout: int) -> None:
        """The operators are on the hotline node: dial its queue over the node trunk.
        The appeal's id goes along (X-CC-Handoff, see [node-trunk-headers]): the hotline
        node's service moves the appeal to its own channel, so its desk shows the context.
        The hotline node answers the trunk call only when an operator answers, so the
        answer (DialEnd ANSWER on our channel) is "put through"; it is stored at once."""
        answered = _DialAnswer(channel.uniqueid, lambda: self._operator_answered(call, ""))
        remove = self._link.on_event("DialEnd", answered.on_dial_end)
        try:
            key = str(call.appeal_id) if call.appeal_id is not None else ""
            await channel.set_variable("__CC_HANDOFF", key)
            await channel.exec(
                "Dial",
                f"{self.config.operators_trunk},{timeout},b(node-trunk-headers^s^1)",
                timeout=timeout + 7200,
            )
            if not call.progress.transferred:
                status = await channel.get_variable("DIALSTATUS")
                if status == "ANSWER":
                    self._operator_answered(call, "")
        finally:
            remove()
            if call.progress.transferred and self._handoffs is not None:
                await self._note_remote_operator(call)

    async def _note_remote_operator(self, call: _Call) -> None:
        """Who answered on the hotline node, from the shared database (the appeal's
        operator, written there by that node's service); the trunk's name otherwise."""
        p = call.progress
        interface = ""
        if self._handoffs is not None and call.appeal_id is not None:
            try:
                interface = await self._handoffs.operator_interface(call.appeal_id)
            except SQLAlchemyError:
                log.warning("attempt %d: the operator's name was not read", call.attempt_id)
        p.operator = interface or p.operator or self.config.operators_trunk
        call.journal.changed()

    async def _register_transfer(self, call: _Call, channel: AgiChannel) -> bool:
        """The transfer is an appeal like a hotline call: the queue events time it, the
        operator's steps and class go on it, and the screen-pop shows what the call was about.
        Registered before the customer enters the queue, so AgentConnect finds it. With the
        operators on another node (the node trunk) it is registered only while the shared
        count has one free, and it counts as taken from then on: two dialer nodes that both
        saw the last free operator do not both send a customer. False: none was free."""
        if self._handoffs is None:
            return True
        register = (
            self._handoffs.register_if_operator_free
            if self.config.operators_trunk
            else self._handoffs.register
        )
        try:
            ref = await register(
                uniqueid=channel.uniqueid,
                channel=channel.channel,
                number="+" + call.contact.phone,
                source=AppealSource.TRANSFER,
                context=transfer_context(call.plan, call.scenario, call.contact, call.progress),
                account=call.contact.account or None,
            )
        except (SQLAlchemyError, ValueError, RuntimeError):
            # the customer still reaches an operator; only the journal entry is missing (a
            # resumed transfer's appeal may exist already: the channel is its unique key)
            log.exception("attempt %d: the transfer's appeal was not registered", call.attempt_id)
            return True
        if ref is None:
            log.info("attempt %d: the last free operator was taken meanwhile", call.attempt_id)
            return False
        call.appeal_id = ref.id
        return True

    async def _close_transfer(self, call: _Call) -> None:
        p = call.progress
        # an adopted call's transfer was registered by an earlier run: found by its channel
        if self._handoffs is None or (call.appeal_id is None and not p.queued):
            return
        ended_by = EndedBy.OPERATOR if p.transferred else EndedBy.SYSTEM
        try:
            await self._handoffs.close(call.channel_id, ended_by=ended_by, appeal_id=call.appeal_id)
        except SQLAlchemyError:
            log.exception("attempt %d: the transfer's appeal was not closed", call.attempt_id)

    @staticmethod
    def _who(call: _Call) -> str:
        return mask_phone(call.contact.phone)


class _NoOperator(Exception):
    """A transfer found no operator free when it came to register (another worker's took
    the last one): the customer is promised a call-back instead."""


def _heard_key(call: _Call) -> DbKey:
    return DbKey(HEARD_FAMILY, call.channel_id)


class _DialAnswer:
    """The far end answered our channel's Dial (DialEnd, DialStatus ANSWER): noted at once
    in the event callback, which must not raise (see ami.py)."""

    def __init__(self, uniqueid: str, on_answer: Callable[[], None]) -> None:
        self._uniqueid = uniqueid
        self._on_answer = on_answer
        self.seen = False

    def on_dial_end(self, event: Any) -> None:
        if self.seen or str(event.get("Uniqueid", "")) != self._uniqueid:
            return
        if str(event.get("DialStatus", "")) == "ANSWER":
            self.seen = True
            try:
                self._on_answer()
            except Exception:
                log.exception("call %s: the operator's answer was not noted", self._uniqueid)


def transfer_context(
    plan: Plan, scenario: Scenario, contact: DueContact, progress: CallProgress
) -> dict[str, Any]:
    """What the operator's screen shows about a transferred campaign call: the campaign, the
    scenario, how much of the message was played, the keys pressed and the values read out
    (the contact's list fields: debt and its date, outage times ...)."""
    return {
        "campaign_id": plan.id,
        "campaign_name": plan.name,
        "campaign_kind": plan.kind,
        "scenario": scenario.name,
        "parts_played": progress.parts_played,
        "parts_total": progress.parts_total,
        "played_to_end": progress.played_to_end,
        "digits": progress.digits,
        "contact_id": contact.id,
        "account": contact.account,
        "values": {str(k): str(v) for k, v in contact.values.items()},
    }


def _taken(future: asyncio.Future[Any]) -> bool:
    return future.done() and not future.cancelled()


def _transfer_asked(scenario: Scenario, p: CallProgress) -> bool:
    """The customer's last key asked for an operator and nothing came of it yet (not
    queued, not told to wait for a call-back, nothing else decided)."""
    if not p.digits or p.queued or p.callback or p.confirmed or p.opted_out:
        return False
    return scenario.action(p.digits[-1]) == "operator"


def _plain(text: str) -> str:
    """A value safe inside an AGI argument: no quotes, no line breaks."""
    return " ".join(text.replace('"', "'").split())[:80]
