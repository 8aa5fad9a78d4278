"""The hotline call flow over AsyncAGI, as an explicit state machine (wazo-calld's call state
idea): every transition is checked against the allowed ones and stamped with the service clock,
and the stamps become the appeal's timings.

    arrived -> answered -> warned -> closed -> message -> ended          (out of hours)
                                  -> ivr <-> self_service
                                     ivr -> queued -> connected -> ended
                                             queued -> message -> ended (no operator in time)
    any state -> ended (the caller hangs up)

The recording warning is the first thing every answered caller hears (standard, ch. 2 § 2.1
p. 2.3); MixMonitor starts before it so the whole call is recorded.

An AMI link drop does not end a call (AsyncAGI outlives the link): the flow waits for the
link and goes on from the state the call is in (a caller in the menus goes to an operator; a
queue or a conversation runs on inside Asterisk and its outcome is learned afterwards). A call
the flow cannot drive any more is released to the dialplan's fallback (recovery.py).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Coroutine, MutableMapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from contact_center.calendar import CalendarError, ReloadingCalendar
from contact_center.clock import Clock
from contact_center.customers.models import Customer
from contact_center.customers.services import CustomerService
from contact_center.hotline.appeals import AppealService
from contact_center.hotline.ivr import Action, Menu, MenuCursor
from contact_center.hotline.ivr_library import IvrLibrary
from contact_center.hotline.models import EndedBy
from contact_center.hotline.outage_store import OutageService
from contact_center.hotline.outages import outage_message
from contact_center.hotline.recovery import DONE_VARIABLE, CallRecovery, release
from contact_center.operators.services import OperatorService
from contact_center.privacy import mask_phone
from contact_center.speech.message import MessageError
from contact_center.speech.service import Speech
from contact_center.speech.synth import SynthesisError
from contact_center.telephony.agi import AgiChannel
from contact_center.telephony.ami import AmiLink
from contact_center.telephony.exceptions import (
    AmiActionError,
    AmiConnectionError,
    AmiTimeout,
    ChannelGone,
    TelephonyError,
)
from contact_center.telephony.numbers import InvalidPhoneNumber, normalize_phone

log = logging.getLogger(__name__)

QUEUE = "operators"
# a caller bouncing around the menus this many times goes to an operator
MAX_MENU_STEPS = 30
MESSAGE_MAX_S = 120.0
ACCOUNT_MAX_DIGITS = 16
ACCOUNT_TIMEOUT_S = 6.0
# the longest conversation the AGI EXEC of Queue() may take before we stop waiting for it
QUEUE_EXEC_LIMIT_S = 6 * 3600
# an EXEC Queue whose AGI action was lost with the link is sent again at most this often
QUEUE_EXEC_TRIES = 3
# a flow resumes its call after this many link failures in a row at most, then lets go
MAX_RESUMES = 5
# letting go of a call when the service stops: the release takes two AMI round trips
LET_GO_LIMIT_S = 5.0
_SAFE_ID = re.compile(r"[^A-Za-z0-9_.\-]")


class CallState(StrEnum):
    ARRIVED = "arrived"
    ANSWERED = "answered"
    WARNED = "warned"
    CLOSED = "closed"
    IVR = "ivr"
    SELF_SERVICE = "self_service"
    QUEUED = "queued"
    CONNECTED = "connected"
    MESSAGE = "message"
    ENDED = "ended"


S = CallState
TRANSITIONS: dict[CallState, frozenset[CallState]] = {
    S.ARRIVED: frozenset({S.ANSWERED}),
    S.ANSWERED: frozenset({S.WARNED}),
    S.WARNED: frozenset({S.CLOSED, S.IVR}),
    S.CLOSED: frozenset({S.MESSAGE}),
    S.IVR: frozenset({S.SELF_SERVICE, S.QUEUED}),
    S.SELF_SERVICE: frozenset({S.IVR}),
    S.QUEUED: frozenset({S.CONNECTED, S.MESSAGE}),
    S.CONNECTED: frozenset(),
    S.MESSAGE: frozenset(),
    S.ENDED: frozenset(),
}


class IllegalTransition(RuntimeError):
    error_id = "hotline-illegal-transition"


@dataclass(frozen=True, slots=True)
class Transition:
    state: CallState
    at: datetime


class CallStateMachine:
    """States with their times; `ENDED` is reachable from every state but itself."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self.transitions: list[Transition] = [Transition(S.ARRIVED, clock.now())]

    @property
    def state(self) -> CallState:
        return self.transitions[-1].state

    def can(self, state: CallState) -> bool:
        if state is S.ENDED:
            return self.state is not S.ENDED
        return state in TRANSITIONS[self.state]

    def to(self, state: CallState, at: datetime | None = None) -> datetime:
        if not self.can(state):
            raise IllegalTransition(f"{self.state} -> {state}")
        stamp = at or self._clock.now()
        self.transitions.append(Transition(state, stamp))
        return stamp

    def entered(self, state: CallState) -> datetime | None:
        return next((t.at for t in self.transitions if t.state is state), None)

    def visited(self, state: CallState) -> bool:
        return self.entered(state) is not None


@dataclass(frozen=True, slots=True)
class CallDeps:
    """What a hotline call works with; built once by the hotline service, shared by its calls."""

    appeals: AppealService
    outages: OutageService
    customers: CustomerService
    speech: Speech
    ivr: IvrLibrary
    calendar: ReloadingCalendar
    clock: Clock
    tz: ZoneInfo
    # calls in progress by Uniqueid: a call is in it from its appeal to its end, so the queue
    # event consumer can tell it an operator answered
    live: MutableMapping[str, HotlineCall]
    default_region: str
    queue_timeout: float
    link: AmiLink
    # calls the flow lets go of, and how long it waits for a dropped link (link_grace)
    recovery: CallRecovery
    operators: OperatorService
    # returns once the queue event consumer has handled every event received so far
    settle_events: Callable[[], Awaitable[None]]


class LostControl(Exception):
    """The flow cannot drive its call any more (e.g. the AMI link is not back in time)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class HotlineCall:
    """One caller on the hotline, from AsyncAGIStart to the end of the call.

    Nothing lost, nobody cut off: `run` never raises (but CancelledError). A dropped AMI link
    does not end the call (AsyncAGI outlives the link): the flow waits for it and goes on
    from where the call stands. A call the flow cannot drive any more is released to the
    dialplan's fallback (queue or goodbye) and its open appeal handed to CallRecovery; every
    other end closes the appeal here, in the database, whatever the link's state.
    """

    def __init__(self, deps: CallDeps, channel: AgiChannel) -> None:
        self.deps = deps
        self.channel = channel
        self.clock = deps.clock
        self.speech = deps.speech
        self.machine = CallStateMachine(deps.clock)
        if channel.entered_at is not None:
            # picked up after a reconnect: it arrived while nobody listened
            arrived = min(deps.clock.from_epoch(channel.entered_at), deps.clock.now())
            self.machine.transitions[0] = Transition(S.ARRIVED, arrived)
        self.uniqueid = channel.uniqueid
        self.appeal_id: int | None = None
        self.number = ""
        self.customer: Customer | None = None
        self.caller = ""
        # what the caller heard, in order (Asterisk names) and the menu path
        self.played: list[str] = []
        self.events: list[list[Any]] = []
        self.path: list[str] = []
        self.ended_by: EndedBy | None = None
        self.recording = ""
        self.next_opening: datetime | None = None
        self.task: asyncio.Task[Any] | None = None
        # why the flow let go of the call to the dialplan (None: it drove it to the end)
        self.handed_off: str | None = None
        # QUEUESTATUS once Queue() has returned; a link drop while it ran (events may be lost)
        self.queue_status: str | None = None
        self.queue_gap = False
        self.message_due: date | None = None
        self.message_stage = ""  # "", "recording", "recorded"
        self._link_back = asyncio.Event()
        # the link-down watchdog may interrupt the flow only while it drives the call, and
        # not while it waits for the link itself
        self._driving = False
        self._regaining = False
        self._watchdog: asyncio.Task[None] | None = None
        self._link_timed_out = False
        # the timeline notes the link's own drops and returns ("link": "down"/"back") while
        # the flow has the call; a drop noted and not yet followed by its return
        self._link_down_noted = False
        # the link dropped during this call and the call has not been seen alive since: an
        # end learned now (ChannelGone after the reconnect) was seen by nobody ("lost")
        self._unwitnessed = False
        self._confirm: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ run
    async def run(self) -> None:
        self.task = asyncio.current_task()
        try:
            await self._register()
            self._driving = True
            await self._drive()
        except ChannelGone:
            if self.ended_by is EndedBy.LOST or (self.ended_by is None and self._unwitnessed):
                # the channel was found gone after a reconnect (by the AGI reconciliation or
                # by _regain): its Hangup went to nobody, so who ended the call and when is
                # not known; the end is when that was found out
                self.ended_by = EndedBy.LOST
                self._note("note", "ended while the AMI link was down")
            self.ended_by = self.ended_by or EndedBy.CALLER
        except asyncio.CancelledError:
            self._driving = False
            if self._link_timed_out and self.task is not None and self.task.uncancel() == 0:
                # our own watchdog, not a stop: the link stayed down past the grace period
                await self._let_go("link down")
                return
            # the service is stopping (or this flow was cancelled): the dialplan takes the
            # caller over; bounded, so a slow link does not hold the stop up
            try:
                async with asyncio.timeout(LET_GO_LIMIT_S):
                    await self._let_go("stopped")
            except Exception:
                log.exception("hotline call %s: letting go at stop failed", self.uniqueid)
            raise
        except LostControl as exc:
            await self._let_go(exc.reason)
            return
        except Exception as exc:
            if isinstance(exc, TelephonyError):
                log.warning("hotline call %s: %s: %s", self.uniqueid, exc.error_id, exc)
            else:
                log.exception("hotline flow failed on call %s", self.uniqueid)
            await self._let_go(getattr(exc, "error_id", type(exc).__name__))
            return
        finally:
            self._driving = False
            if self._watchdog is not None:
                self._watchdog.cancel()
            if self._confirm is not None:
                self._confirm.cancel()
        await self._finish()

    async def _register(self) -> None:
        channel = self.channel
        try:
            self.caller = normalize_phone(channel.caller_id, self.deps.default_region)
        except InvalidPhoneNumber:
            self.caller = ""
        if self.caller:
            self.customer = await self.deps.customers.find_by_phone(self.caller)
        ref = await self.deps.appeals.register(
            uniqueid=self.uniqueid,
            channel=channel.channel,
            caller_number=self.caller or channel.caller_id[:32],
            customer_id=self.customer.id if self.customer else None,
            arrived_at=self.machine.transitions[0].at,
        )
        self.appeal_id, self.number = ref.id, ref.number
        self.deps.live[self.uniqueid] = self
        log.info(
            "hotline call %s from %s: appeal %s%s",
            self.uniqueid,
            mask_phone(self.caller) if self.caller else "unknown",
            self.number,
            " (known customer)" if self.customer else "",
        )

    async def _drive(self) -> None:
        """The call's script; after an AMI link drop (or an action unanswered in time: a
        half-open link) it goes on from where the call stands."""
        try:
            await self._script()
            return
        except (AmiConnectionError, AmiTimeout):
            pass
        for _attempt in range(MAX_RESUMES):
            await self._regain()
            try:
                await self._resume()
                return
            except (AmiConnectionError, AmiTimeout):
                continue
        # a link that keeps failing: the dialplan's fallback is steadier than we are
        raise LostControl("link unstable")

    async def _script(self) -> None:
        assert self.appeal_id is not None
        await self.channel.answer()
        answered = self._to(S.ANSWERED)
        await self.deps.appeals.set(self.appeal_id, answered_at=answered)
        await self._start_recording()
        # the first thing the caller hears: the call is recorded
        await self.play_prompt("recording_warning")
        self._to(S.WARNED)
        await self._after_warning(resumed=False)

    async def _after_warning(self, *, resumed: bool) -> None:
        now = self.clock.now().astimezone(self.deps.tz)
        if not self.deps.calendar.current.is_open(now):
            await self.play_prompt("greeting")
            await self._closed(now)
        elif resumed:
            # the service just lost the caller for a while: an operator, not the menus
            self._to(S.IVR)
            await self._queue()
        else:
            await self._ivr()

    def _to(self, state: CallState) -> datetime:
        at = self.machine.to(state)
        self.events.append(["state", state.value, at.isoformat()])
        return at

    def _note(self, kind: str, what: str) -> datetime:
        at = self.clock.now()
        self.events.append([kind, what, at.isoformat()])
        return at

    # ------------------------------------------------------------------ the link
    def link_changed(self, up: bool) -> None:
        """The AMI link dropped (False) or is logged in again (True): from the service, for
        the calls its flows have. The timeline notes it from here, not from command errors:
        AGI commands wait across a drop, so a flow may never see one fail."""
        loop = asyncio.get_running_loop()
        if up:
            self._link_back.set()
            self._noted_back()
            if self._unwitnessed and (self._confirm is None or self._confirm.done()):
                self._confirm = loop.create_task(
                    self._confirm_alive(), name=f"hotline-confirm-{self.uniqueid}"
                )
            return
        self._noted_down()
        self._unwitnessed = True
        if self._driving and (self._watchdog is None or self._watchdog.done()):
            self._watchdog = loop.create_task(
                self._link_watchdog(), name=f"hotline-link-watchdog-{self.uniqueid}"
            )

    def _noted_down(self) -> None:
        if not self._link_down_noted:
            self._link_down_noted = True
            self._note("link", "down")

    def _noted_back(self) -> None:
        if self._link_down_noted:
            self._link_down_noted = False
            self._note("link", "back")

    async def _confirm_alive(self) -> None:
        """After a reconnect: is the caller still there? Then an end from now on is seen
        (AsyncAGIEnd, Hangup). A call already gone stays unwitnessed: its ChannelGone, from
        the AGI reconciliation, closes the appeal as lost."""
        try:
            if await self._alive():
                self._unwitnessed = False
        except (AmiConnectionError, AmiTimeout):
            pass  # dropped again: the next return asks again

    async def _link_watchdog(self) -> None:
        """A command may wait across a link drop (its result comes once the link is back),
        but a link down past the grace period must not hold the call: the flow lets go and
        the reconciliation releases the call when the link returns."""
        await asyncio.sleep(self.deps.recovery.link_grace)
        if self.deps.link.connected or not self._driving or self._regaining:
            return
        if self.task is not None and not self.task.done():
            log.warning("hotline call %s: AMI link down too long, letting go", self.uniqueid)
            self._link_timed_out = True
            self.task.cancel()

    async def _regain(self) -> None:
        """The AMI link dropped under a command. The call goes on inside Asterisk (AsyncAGI
        outlives the link): wait for the link, at most `link_grace`, then check the caller
        is still there. Raises LostControl if the link is not back in time, ChannelGone
        (ended by "lost") if the caller left meanwhile."""
        # noted already when the link said so; a half-open link (an action unanswered in
        # time) is down as far as this call is concerned
        self._noted_down()
        link = self.deps.link
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.deps.recovery.link_grace
        self._regaining = True
        try:
            while True:
                if not link.connected:
                    try:
                        await link.wait_connected(max(0.01, deadline - loop.time()))
                    except AmiConnectionError:
                        raise LostControl("link down") from None
                try:
                    alive = await self._alive()
                except (AmiConnectionError, AmiTimeout):
                    if loop.time() >= deadline:
                        raise LostControl("link down") from None
                    # dropped again, or half-open: the keepalive will drop it
                    await asyncio.sleep(0.2)
                    continue
                break
        finally:
            self._regaining = False
        self._noted_back()
        if alive:
            self._unwitnessed = False
        else:
            # the caller left while nobody watched: when, and who hung up, is unknown
            self.channel.gone = True
            self.ended_by = EndedBy.LOST
            raise ChannelGone(f"{self.uniqueid} ended while the AMI link was down")

    async def _alive(self) -> bool:
        try:
            # by Uniqueid: a channel name can be reused by a newer call after a restart
            await self.deps.link.action("Getvar", Channel=self.uniqueid, Variable=DONE_VARIABLE)
        except AmiActionError:
            return False
        return True

    async def _resume(self) -> None:
        """Go on after the link came back, from the state the call is in."""
        state = self.machine.state
        self.path.append("link:resumed")
        if state is S.ARRIVED:
            await self._script()
            return
        if state is S.ANSWERED:
            if not self.recording:
                await self._start_recording()
            # the warning may have been cut by the drop: heard again before anything else
            await self.play_prompt("recording_warning")
            self._to(S.WARNED)
            state = S.WARNED
        if state is S.WARNED:
            await self._after_warning(resumed=True)
        elif state in (S.IVR, S.SELF_SERVICE):
            if state is S.SELF_SERVICE:
                self._to(S.IVR)
            await self._queue()
        elif state is S.CLOSED:
            now = self.clock.now().astimezone(self.deps.tz)
            calendar = self.deps.calendar.current
            await self._take_message(self.message_due or calendar.next_working_day(now.date()))
        elif state in (S.QUEUED, S.CONNECTED):
            if self.queue_status is None:
                await self._wait_queue()
            elif self.machine.visited(S.CONNECTED) or self.queue_status == "CONTINUE":
                self.ended_by = EndedBy.OPERATOR
            else:
                await self._no_operator()
        elif state is S.MESSAGE:
            if self.message_stage == "recording":
                # RECORD FILE runs on in Asterisk: a command queued behind it answers when
                # the recording ends
                await self.channel.command("NOOP", timeout=MESSAGE_MAX_S + 60)
            if self.message_stage:
                await self._message_recorded()
            else:
                await self._record_message()

    # ------------------------------------------------------------------ the end
    async def _finish(self) -> None:
        """The end the flow saw: close the appeal (the database only, never the link), then
        hang up. A hang-up the link cannot carry is left to the reconciliation."""
        self.deps.live.pop(self.uniqueid, None)
        if self.ended_by is None:
            self.ended_by = EndedBy.CALLER if self.channel.gone else EndedBy.SYSTEM
        ended = self._to(S.ENDED)
        await self._close(ended)
        log.info("hotline call %s ended by %s", self.uniqueid, self.ended_by.value)
        if not self.channel.gone:
            await self._hang_up()

    async def _close(self, ended: datetime) -> None:
        if self.appeal_id is None:
            return
        assert self.ended_by is not None
        for attempt in range(2):
            try:
                await self.deps.appeals.close(
                    self.appeal_id,
                    ended_at=ended,
                    ended_by=self.ended_by.value,
                    ivr_path=" ".join(self.path),
                    timeline=self.events,
                )
                return
            except Exception:
                if attempt:
                    log.exception("appeal %s of call %s not closed", self.number, self.uniqueid)
                else:
                    await asyncio.sleep(0.5)  # a database busy for a moment

    async def _hang_up(self) -> None:
        """CC_HOTLINE_DONE first: should the HANGUP be lost with the link, the release by
        the reconciliation ends in the fallback's goodbye, not in the queue again."""
        link = self.deps.link
        for _attempt in range(2):
            try:
                await link.action(
                    "Setvar", Channel=self.uniqueid, Variable=DONE_VARIABLE, Value="1"
                )
                await self.channel.hangup()
                return
            except (AmiActionError, ChannelGone):
                return  # gone already
            except AmiConnectionError:
                try:
                    await link.wait_connected(self.deps.recovery.link_grace)
                except AmiConnectionError:
                    break
            except AmiTimeout:
                break
        log.warning("hotline call %s not hung up (no AMI link): left to the reconciliation",
                    self.uniqueid)  # fmt: skip
        self.deps.recovery.adopt(self.uniqueid, None, done=True, released=False)

    def _business_done(self) -> bool:
        """Whether the fallback should say goodbye rather than queue the caller: out of hours
        (a message, not an operator), or after the operator's conversation."""
        if self.machine.state in (S.CLOSED, S.MESSAGE):
            return True
        return self.queue_status == "CONTINUE"

    async def _let_go(self, reason: str) -> None:
        """Hand the call to the dialplan's fallback ([hotline] after AGI(): queue or goodbye)
        and its appeal, still open, to CallRecovery, which closes it when the end is learned
        (Hangup event, reconciliation, or the service's stop). Never raises."""
        if self.channel.gone:
            self.ended_by = self.ended_by or EndedBy.CALLER
            await self._finish()
            return
        self.deps.live.pop(self.uniqueid, None)
        self.handed_off = reason
        self.path.append(f"handoff:{reason}")
        self._note("handoff", reason)
        done = self._business_done()
        # adopted before the release: the fallback's events may come right after it
        orphan = self.deps.recovery.adopt(self.uniqueid, self.appeal_id, done=done, released=False)
        if self.deps.link.connected:
            try:
                await release(self.deps.link, self.uniqueid, done=done)
                orphan.released = True
                self.deps.recovery.released += 1
            except AmiActionError:
                # no such channel: the caller has gone; the AsyncAGIEnd is on its way
                self.deps.recovery.orphans.pop(self.uniqueid, None)
                self.channel.gone = True
                self.ended_by = self.ended_by or EndedBy.CALLER
                await self._finish()
                return
            except TelephonyError as exc:
                log.warning("hotline call %s not released yet: %s", self.uniqueid, exc)
        if self.appeal_id is not None:
            try:
                await self.deps.appeals.save_progress(
                    self.appeal_id, ivr_path=" ".join(self.path), timeline=self.events
                )
            except Exception:
                log.exception("progress of appeal %s not saved", self.number)
        log.warning(
            "hotline call %s (%s) handed to the dialplan: %s%s",
            self.uniqueid,
            self.number or "no appeal",
            reason,
            "" if orphan.released else "; released once the AMI link is back",
        )

    # ------------------------------------------------------------------ sounds
    async def play(self, names: list[str], *, escape: str = "") -> str | None:
        for name in names:
            self.played.append(name)
            self.events.append(["play", name, self.clock.now().isoformat()])
            digit = await self.channel.stream_file(name, escape_digits=escape)
            if digit:
                return digit
        return None

    async def play_prompt(self, name: str, *, escape: str = "") -> str | None:
        return await self.play([await self.speech.prompt(name)], escape=escape)

    async def say(self, template: str, fields: dict[str, Any] | None = None) -> None:
        await self.play(await self.speech.render(template, fields or {}))

    async def _start_recording(self) -> None:
        local = self.clock.now().astimezone(self.deps.tz)
        name = f"hotline/{local:%Y/%m/%d}/{_SAFE_ID.sub('_', self.uniqueid)}.wav"
        # set before the EXEC: a flow resumed after a link drop must not start a second one
        self.recording = name
        await self.channel.exec("MixMonitor", name)
        self.recording = await self.channel.get_variable("MIXMONITOR_FILENAME") or name
        assert self.appeal_id is not None
        await self.deps.appeals.set(self.appeal_id, recording_path=self.recording)

    # ------------------------------------------------------------------ out of hours
    async def _closed(self, now: datetime) -> None:
        self._to(S.CLOSED)
        assert self.appeal_id is not None
        await self.deps.appeals.set(self.appeal_id, out_of_hours=True)
        calendar = self.deps.calendar.current
        try:
            opening = calendar.next_opening(now)
        except CalendarError:
            log.exception("no opening time found")
            opening = None
        self.next_opening = opening
        due = opening.date() if opening else calendar.next_working_day(now.date())
        self.message_due = due
        if opening is None:
            await self.play_prompt("hotline_closed")
        else:
            await self.say(
                "{prompt:hotline_closed} {prompt:hotline_opens} "
                "{date:open_date form=genitive year=no} {time:open_time form=at}.",
                {"open_date": opening.date(), "open_time": opening.time()},
            )
        await self._take_message(due)

    async def _take_message(self, due: date) -> None:
        """Record a message and register the appeal for `due` (a working day)."""
        self._to(S.MESSAGE)
        self.message_due = due
        await self._record_message()

    async def _record_message(self) -> None:
        assert self.appeal_id is not None
        await self.play_prompt("leave_message")
        folder = self.recording.rsplit("/", 1)[0] if "/" in self.recording else "hotline"
        path = f"{folder}/{_SAFE_ID.sub('_', self.uniqueid)}-message"
        await self.deps.appeals.set(
            self.appeal_id, kind="message", message_path=f"{path}.wav", due_date=self.message_due
        )
        if "message" not in self.path:
            self.path.append("message")
        self.message_stage = "recording"
        await self.channel.record_file(
            path, fmt="wav", escape_digits="#", max_seconds=MESSAGE_MAX_S, silence_s=5
        )
        await self._message_recorded()

    async def _message_recorded(self) -> None:
        self.message_stage = "recorded"
        await self.play_prompt("message_recorded")
        await self.play_prompt("goodbye")
        self.ended_by = EndedBy.SYSTEM

    # ------------------------------------------------------------------ IVR
    async def _ivr(self) -> None:
        self._to(S.IVR)
        # the menus as they are now: a reload during the call does not move the caller
        cursor = MenuCursor(self.deps.ivr.scripts)
        # a caller who knows the menu may press its key during the greeting
        pressed = await self.play_prompt("greeting", escape=cursor.menu.escape_digits)
        for _step in range(MAX_MENU_STEPS):
            menu = cursor.menu
            action, key = await self._ask(menu, pressed)
            pressed = None
            self.path.append(f"{menu.name}:{key}={action.label()}")
            match action.kind:
                case "repeat":
                    continue
                case "back":
                    cursor.back()
                case "menu":
                    assert action.menu is not None
                    cursor.enter(action.menu)
                case "play":
                    assert action.message is not None
                    await self.say(action.message)
                case "debt":
                    await self._self_service(self._debt)
                case "outages":
                    await self._self_service(self._outages)
                case "hangup":
                    await self.play_prompt("goodbye")
                    self.ended_by = EndedBy.SYSTEM
                    return
                case _:
                    await self._queue()
                    return
        await self._queue()

    async def _ask(self, menu: Menu, pressed: str | None = None) -> tuple[Action, str]:
        if pressed is not None and pressed in menu.keys:
            return menu.keys[pressed], pressed
        names = await self.speech.render(menu.prompt)
        for attempt in range(menu.retries + 1):
            digit = await self.play(names, escape=menu.escape_digits)
            if digit is None:
                digit = await self.channel.wait_for_digit(menu.timeout)
            if digit is not None and digit in menu.keys:
                return menu.keys[digit], digit
            if attempt < menu.retries:
                await self.play_prompt("no_input" if digit is None else "invalid_choice")
        return menu.on_timeout, "timeout"

    async def _self_service(self, step: Any) -> None:
        self._to(S.SELF_SERVICE)
        try:
            await step()
        except (MessageError, SynthesisError):
            # a phrase that cannot be spoken must not drop the caller: back to the menu
            log.exception("self-service phrase failed on call %s", self.uniqueid)
            self.path.append("error")
        self._to(S.IVR)

    async def _debt(self) -> None:
        for _attempt in range(2):
            prompt = await self.speech.prompt("enter_account")
            self.played.append(prompt)
            self.events.append(["play", prompt, self.clock.now().isoformat()])
            account = await self.channel.get_data(
                prompt, timeout_s=ACCOUNT_TIMEOUT_S, max_digits=ACCOUNT_MAX_DIGITS
            )
            if not account:
                self.path.append("debt:no_input")
                await self.play_prompt("no_input")
                continue
            customer = await self.deps.customers.get(account)
            if customer is None:
                self.path.append("debt:unknown")
                await self.play_prompt("account_not_found")
                continue
            self.path.append("debt:found")
            debt = customer.debt if customer.debt is not None else Decimal(0)
            if debt <= 0:
                await self.play_prompt("no_debt")
            elif customer.debt_date is not None:
                await self.say(
                    "{prompt:debt_as_of} {date:debt_date year=no} {prompt:debt_amount} "
                    "{money:debt}.",
                    {"debt": debt, "debt_date": customer.debt_date},
                )
            else:
                await self.say("{prompt:debt_amount} {money:debt}.", {"debt": debt})
            return

    async def _outages(self) -> None:
        now = self.clock.now()
        address = self.customer.address if self.customer and self.customer.address else None
        items = await self.deps.outages.for_caller(address, now)
        self.path.append(f"outages:{len(items)}")
        if not items:
            await self.play_prompt("no_outages" if address else "no_current_outages")
            return
        for item in items:
            template, fields = outage_message(item)
            await self.say(template, fields)

    # ------------------------------------------------------------------ operators
    async def _queue(self) -> None:
        self._to(S.QUEUED)
        await self.play_prompt("connecting_operator")
        await self._wait_queue()

    async def _wait_queue(self) -> None:
        status = await self._queue_outcome()
        self.queue_status = status
        self.path.append(f"queue:{status.lower() or 'done'}")
        if self.queue_gap:
            await self._settle_queue_facts(status)
        if self.machine.visited(S.CONNECTED) or status == "CONTINUE":
            self.ended_by = EndedBy.OPERATOR
            return
        await self._no_operator()

    async def _no_operator(self) -> None:
        # nobody answered in time, or nobody is logged in: take a message for today
        await self.play_prompt("no_operators")
        now = self.clock.now().astimezone(self.deps.tz)
        calendar = self.deps.calendar.current
        due = now.date() if calendar.is_open(now) else calendar.next_working_day(now.date())
        await self._take_message(due)

    async def _queue_outcome(self) -> str:
        """Run Queue() and return its QUEUESTATUS, riding out AMI link drops.

        Queue() goes on inside Asterisk whatever happens to the link, so a conversation is
        never cut by us; only the AsyncAGIExec that reports its end can be lost. An AGI
        command queued behind Queue() is answered only once Queue() has returned: after a
        drop, `GET VARIABLE QUEUESTATUS` is both the witness of the queue's end and its
        outcome (empty: the EXEC never reached Asterisk, so it is sent again). A witness is
        added after every re-login too, in case an answer fell into the gap unnoticed.
        """
        # c: come back here when the operator hangs up; the queue's own announcements
        # (position) come from queues.conf
        args = f"{QUEUE},c,,,{int(self.deps.queue_timeout)}"
        witnesses: set[asyncio.Future[str]] = set()
        spawned: list[asyncio.Future[str]] = []

        def watch(coro: Coroutine[Any, Any, str]) -> None:
            task = asyncio.ensure_future(coro)
            witnesses.add(task)
            spawned.append(task)

        watch(self._run_queue(args))
        self._link_back.clear()
        sent = 1
        try:
            while True:
                if not witnesses:
                    self.queue_gap = True
                    await self._regain()
                    self._link_back.clear()
                    watch(self._queue_status())
                back = asyncio.ensure_future(self._link_back.wait())
                waiting: set[asyncio.Future[Any]] = {*witnesses, back}
                try:
                    done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    back.cancel()
                if self._link_back.is_set():
                    # the link came back while a witness still waits (commands that survive
                    # a reconnect): its answer may have fallen into the gap, so ask again
                    self._link_back.clear()
                    self.queue_gap = True
                    if self.deps.link.connected:
                        self._note("witness", "QUEUESTATUS asked again after the link came back")
                        watch(self._queue_status())
                for task in done:
                    if task not in witnesses:
                        continue
                    witnesses.discard(task)
                    try:
                        status = task.result()
                    except (AmiConnectionError, AmiTimeout):
                        # the witness is lost, not the queue: whether the EXEC reached
                        # Asterisk is told by the next one
                        self.queue_gap = True
                        continue
                    if status or sent >= QUEUE_EXEC_TRIES:
                        return status
                    # QUEUESTATUS unset: Queue() never ran, its EXEC was lost with the link
                    for other in witnesses:
                        other.cancel()
                    witnesses.clear()
                    watch(self._run_queue(args))
                    sent += 1
        finally:
            for task in spawned:
                if not task.done():
                    task.cancel()
                elif not task.cancelled():
                    task.exception()  # retrieved: an unused witness's error is not news

    async def _run_queue(self, args: str) -> str:
        await self.channel.exec("Queue", args, timeout=QUEUE_EXEC_LIMIT_S)
        return await self._queue_status()

    async def _queue_status(self) -> str:
        result = await self.channel.command("GET VARIABLE QUEUESTATUS", timeout=QUEUE_EXEC_LIMIT_S)
        return result.data if result.code == 200 and result.value == 1 else ""

    async def _settle_queue_facts(self, status: str) -> None:
        """The link dropped while Queue() ran, so AgentConnect or AgentComplete may have
        been lost with it. What reached the event consumer is handled first; what is still
        missing is rebuilt from the channel's queue variables (MEMBERINTERFACE; QEHOLDTIME:
        whole seconds the caller waited) and the moment the queue's end was learned."""
        if status != "CONTINUE" or self.appeal_id is None:
            return
        learned = self.clock.now()
        await self.deps.settle_events()
        appeal = await self.deps.appeals.get(self.appeal_id)
        if appeal.operator_answered_at is not None and appeal.operator_ended_at is not None:
            return
        interface = await self.channel.get_variable("MEMBERINTERFACE") or ""
        operators = self.deps.operators
        if appeal.operator_answered_at is None:
            hold = await self.channel.get_variable("QEHOLDTIME") or ""
            entered = appeal.queue_entered_at or self.machine.entered(S.QUEUED) or learned
            at = entered + timedelta(seconds=int(hold)) if hold.isdigit() else learned
            op = await operators.call_connected(interface, appeal.id, at) if interface else None
            await self.deps.appeals.operator_answered(self.uniqueid, op.id if op else None, at)
            self.connected(at)
            self._note("rebuilt", "operator answer (QEHOLDTIME)")
        if appeal.operator_ended_at is None:
            await self.deps.appeals.operator_ended(self.uniqueid, learned)
            if interface:
                await operators.call_completed(interface, learned)
            self._note("rebuilt", "operator end (queue end learned after the link came back)")

    def connected(self, at: datetime) -> None:
        """AgentConnect for this call (from the queue event consumer)."""
        if self.machine.can(S.CONNECTED):
            self.machine.to(S.CONNECTED, at)
            self.events.append(["state", S.CONNECTED.value, at.isoformat()])
