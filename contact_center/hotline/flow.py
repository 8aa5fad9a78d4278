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
"""

from __future__ import annotations

import logging
import re
from collections.abc import MutableMapping
from dataclasses import dataclass
from datetime import date, datetime
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
from contact_center.privacy import mask_phone
from contact_center.speech.message import MessageError
from contact_center.speech.service import Speech
from contact_center.speech.synth import SynthesisError
from contact_center.telephony.agi import AgiChannel
from contact_center.telephony.exceptions import ChannelGone
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


class HotlineCall:
    """One caller on the hotline, from AsyncAGIStart to the end of the call."""

    def __init__(self, deps: CallDeps, channel: AgiChannel) -> None:
        self.deps = deps
        self.channel = channel
        self.clock = deps.clock
        self.speech = deps.speech
        self.machine = CallStateMachine(deps.clock)
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

    # ------------------------------------------------------------------ run
    async def run(self) -> None:
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
        try:
            await channel.answer()
            answered = self._to(S.ANSWERED)
            await self.deps.appeals.set(ref.id, answered_at=answered)
            await self._start_recording()
            # the first thing the caller hears: the call is recorded
            await self.play_prompt("recording_warning")
            self._to(S.WARNED)
            now = self.clock.now().astimezone(self.deps.tz)
            if self.deps.calendar.current.is_open(now):
                await self._ivr()
            else:
                await self.play_prompt("greeting")
                await self._closed(now)
        except ChannelGone:
            self.ended_by = self.ended_by or EndedBy.CALLER
        finally:
            await self._finish()

    def _to(self, state: CallState) -> datetime:
        at = self.machine.to(state)
        self.events.append(["state", state.value, at.isoformat()])
        return at

    async def _finish(self) -> None:
        self.deps.live.pop(self.uniqueid, None)
        if self.ended_by is None:
            self.ended_by = EndedBy.CALLER if self.channel.gone else EndedBy.SYSTEM
        ended = self._to(S.ENDED)
        if not self.channel.gone:
            await self.channel.hangup()
        if self.appeal_id is not None:
            await self.deps.appeals.finish(
                self.appeal_id,
                ended_at=ended,
                ended_by=self.ended_by.value,
                ivr_path=" ".join(self.path),
                timeline=self.events,
            )
        log.info("hotline call %s ended by %s", self.uniqueid, self.ended_by.value)

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
        if opening is None:
            await self.play_prompt("hotline_closed")
        else:
            await self.say(
                "{prompt:hotline_closed} {prompt:hotline_opens} "
                "{date:open_date form=genitive year=no} {time:open_time form=at}.",
                {"open_date": opening.date(), "open_time": opening.time()},
            )
        due = opening.date() if opening else calendar.next_working_day(now.date())
        await self._take_message(due)

    async def _take_message(self, due: date) -> None:
        """Record a message and register the appeal for `due` (a working day)."""
        self._to(S.MESSAGE)
        assert self.appeal_id is not None
        await self.play_prompt("leave_message")
        folder = self.recording.rsplit("/", 1)[0] if "/" in self.recording else "hotline"
        path = f"{folder}/{_SAFE_ID.sub('_', self.uniqueid)}-message"
        await self.deps.appeals.set(
            self.appeal_id, kind="message", message_path=f"{path}.wav", due_date=due
        )
        self.path.append("message")
        await self.channel.record_file(
            path, fmt="wav", escape_digits="#", max_seconds=MESSAGE_MAX_S, silence_s=5
        )
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
        timeout = int(self.deps.queue_timeout)
        # c: come back here when the operator hangs up; the queue's own announcements
        # (position) come from queues.conf
        await self.channel.exec("Queue", f"{QUEUE},c,,,{timeout}", timeout=QUEUE_EXEC_LIMIT_S)
        status = (await self.channel.get_variable("QUEUESTATUS")) or ""
        self.path.append(f"queue:{status.lower() or 'done'}")
        if self.machine.visited(S.CONNECTED) or status == "CONTINUE":
            self.ended_by = EndedBy.OPERATOR
            return
        # nobody answered in time, or nobody is logged in: take a message for today
        await self.play_prompt("no_operators")
        now = self.clock.now().astimezone(self.deps.tz)
        calendar = self.deps.calendar.current
        due = now.date() if calendar.is_open(now) else calendar.next_working_day(now.date())
        await self._take_message(due)

    def connected(self, at: datetime) -> None:
        """AgentConnect for this call (from the queue event consumer)."""
        if self.machine.can(S.CONNECTED):
            self.machine.to(S.CONNECTED, at)
            self.events.append(["state", S.CONNECTED.value, at.isoformat()])
