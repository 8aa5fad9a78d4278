"""The dialer: one asyncio loop that paces campaign calls, and the flow of each call.

Safety rules it keeps (issue 5, DESIGN.md):
- a ChannelId is made with new_channel_id() and committed with the attempt (CallBook.claim)
  before the Originate goes out; only digits reach the dial string;
- before anything is dialed after a start, attempts left open by a crash are checked
  against Asterisk's channels: a call still live is waited for (and hung up if nobody
  drives it after a grace period), one that is not live is closed as failed and retried by
  the policy; an attempt whose fate is unknown (the AMI link dropped mid-Originate) stays
  open and is checked the same way once the link is back;
- a contact is never called twice at once (claim is a conditional UPDATE; one number is
  never in two calls, whichever campaign), and never again once notified (final state);
- a scenario that offers 0 is paced by the free operators of queue `operators`; when none
  is free the customer hears so and the contact is marked for an operator's call-back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.exc import SQLAlchemyError

from autoinformer.lists import speech_values
from autoinformer.scenarios import Scenario
from autoinformer.scheduling import (
    CallFacts,
    Clock,
    ProductionCalendar,
    cap_release,
    next_call_time,
)
from autoinformer.services import CallBook, DueContact, OpenAttempt, Plan, ScenarioStore
from contact_center.privacy import mask_phone
from contact_center.speech import Message, MessageError, PromptPart, Speech, SynthesisError
from contact_center.speech.prompts import prompt_path
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
CAP_LOOKBACK = timedelta(days=31)


@dataclass(slots=True)
class DialerConfig:
    context: str = "autoinformer"
    queue: str = "operators"
    # seconds a transferred customer may wait in the queue before the call-back fallback
    queue_timeout: float = 30.0
    tick: float = 0.5
    # a call found live after a restart, with nobody driving it, is hung up after this
    orphan_grace: float = 30.0
    # on stop, calls in progress get this long to finish before they are hung up
    drain_timeout: float = 5.0
    # seconds to wait for the AsyncAGI start of an answered call
    agi_timeout: float = 10.0


class OperatorDesk:
    """Free operators of the queue, from AMI QueueSummary (Available minus callers already
    waiting), cached for a second; transfers in flight are counted as taken."""

    def __init__(self, link: AmiLink, queue: str, *, ttl: float = 1.0) -> None:
        self._link = link
        self._queue = queue
        self._ttl = ttl
        self._cached: tuple[float, int] | None = None
        self.in_flight = 0

    async def free(self, *, fresh: bool = False) -> int:
        now = time.monotonic()
        if fresh or self._cached is None or now - self._cached[0] > self._ttl:
            available = 0
            try:
                events = await self._link.action_list("QueueSummary", Queue=self._queue)
                for event in events:
                    if str(event.get("Queue", "")) == self._queue:
                        available = _int(event.get("Available")) - _int(event.get("Callers"))
            except TelephonyError as exc:
                log.warning("QueueSummary failed: %s", exc)
            self._cached = (now, max(0, available))
        return max(0, self._cached[1] - self.in_flight)


def _int(value: Any) -> int:
    text = str(value or "0")
    return int(text) if text.lstrip("-").isdigit() else 0


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


@dataclass(slots=True)
class _Live:
    campaign_id: int
    contact_id: int
    phone: str
    task: asyncio.Task[Any] | None = None
    released: bool = False


@dataclass(slots=True)
class DialerStats:
    launched: int = 0
    finished: int = 0
    reconciled: int = 0
    orphans_hung_up: int = 0
    by_status: dict[str, int] = field(default_factory=lambda: defaultdict(int))


class Dialer:
    def __init__(
        self,
        *,
        book: CallBook,
        scenarios: ScenarioStore,
        link: AmiLink,
        agi: AgiServer,
        originator: Originator,
        speech: Speech,
        clock: Clock,
        calendar: ProductionCalendar,
        config: DialerConfig | None = None,
    ) -> None:
        self._book = book
        self._scenarios = scenarios
        self._link = link
        self._agi = agi
        self._originator = originator
        self._speech = speech
        self._clock = clock
        self._calendar = calendar
        self.config = config or DialerConfig()
        self._desk = OperatorDesk(link, self.config.queue)
        self._calls = TaskSet("autoinformer-calls")
        self._aux = TaskSet("autoinformer-aux")
        self._live: dict[int, _Live] = {}  # attempt id -> call in progress (or orphan)
        self._phones: set[str] = set()
        self._per_campaign: dict[int, int] = defaultdict(int)
        self._prepared: dict[int, asyncio.Task[bool]] = {}
        self._suspect: dict[int, OpenAttempt] = {}
        self._connected: dict[str, str] = {}  # caller uniqueid -> operator interface
        self._wake = asyncio.Event()
        self._plans_cache: tuple[float, list[Plan]] | None = None
        self._stopping = False
        self._reconciled = False
        self.stats = DialerStats()
        self._unsubscribe = link.on_event("AgentConnect", self._on_agent_connect)

    # ------------------------------------------------------------------ life cycle
    async def run(self) -> None:
        """Reconcile, then pace calls until cancelled."""
        delay = self.config.tick
        while not self._stopping:
            # cleared before the pass: a call ending during it wakes the next one at once
            self._wake.clear()
            try:
                if not self._reconciled:
                    await self._reconcile()
                    self._reconciled = True
                await self._check_suspects()
                await self._pass()
                delay = self.config.tick
            except (SQLAlchemyError, TelephonyError, OSError) as exc:
                # the database or Asterisk is away for a moment: keep trying, slower
                log.warning("dialer pass failed: %s", exc)
                delay = min(delay * 2, 10.0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)

    async def stop(self) -> None:
        """Stop dialing; give calls in progress `drain_timeout` to finish, hang up the rest
        (their attempts are recorded, or left open for the next start to reconcile)."""
        self._stopping = True
        self._wake.set()
        tasks = [live.task for live in self._live.values() if live.task is not None]
        if tasks and self.config.drain_timeout > 0:
            await asyncio.wait(tasks, timeout=self.config.drain_timeout)
        await self._calls.close()
        await self._aux.close()
        for task in self._prepared.values():
            task.cancel()
        self._unsubscribe()

    @property
    def calls_in_progress(self) -> int:
        return sum(1 for live in self._live.values() if live.task is not None)

    def _on_agent_connect(self, event: Any) -> None:
        interface = str(event.get("Interface", "") or event.get("MemberName", ""))
        for key in ("Uniqueid", "Linkedid"):
            uid = str(event.get(key, ""))
            if uid:
                self._connected[uid] = interface

    # ------------------------------------------------------------------ reconciliation
    async def _live_channels(self) -> dict[str, str]:
        """Uniqueid -> channel name of every channel Asterisk has now."""
        events = await self._link.action_list("CoreShowChannels")
        live: dict[str, str] = {}
        for event in events:
            name = str(event.get("Channel", ""))
            for key in ("Uniqueid", "Linkedid"):
                uid = str(event.get(key, ""))
                if uid and (key == "Uniqueid" or uid not in live):
                    live.setdefault(uid, name)
        return live

    async def _reconcile(self) -> None:
        """Before the first call: every attempt a previous run left open is checked."""
        await self._book.release_stray_calling()
        open_attempts = await self._book.open_attempts()
        if not open_attempts:
            return
        log.warning("reconciling %d attempts left open by a previous run", len(open_attempts))
        await self._reconcile_attempts(open_attempts)

    async def _reconcile_attempts(self, attempts: list[OpenAttempt]) -> None:
        live = await self._live_channels()
        for attempt in attempts:
            existing = self._live.get(attempt.id)
            if existing is not None and existing.task is not None:
                continue  # its call task is still running here
            if attempt.channel_id in live or f"{attempt.channel_id}-b" in live:
                if existing is None:
                    contact = await self._book.contact_fields(attempt.contact_id)
                    phone = contact.phone if contact else ""
                    self._live[attempt.id] = _Live(attempt.campaign_id, attempt.contact_id, phone)
                    self._phones.add(phone)
                    self._per_campaign[attempt.campaign_id] += 1
                self._aux.spawn(self._wait_orphan(attempt), name=f"orphan-{attempt.id}")
            else:
                await self._book.record(
                    attempt.id,
                    CallFacts("failed"),
                    self._clock.now(),
                    error="interrupted: the call was not live when checked",
                )
                self.stats.reconciled += 1
                if existing is not None:
                    self._forget(attempt.id)

    async def _wait_orphan(self, attempt: OpenAttempt) -> None:
        """A call of a previous run is still live: nobody dials its contact until it ends.
        Nobody drives it either (its AsyncAGI session died with that run), so after a
        grace period it is hung up rather than left as dead air."""
        started = time.monotonic()
        hung_up = False
        try:
            while True:
                live = await self._live_channels()
                names = {
                    name
                    for uid, name in live.items()
                    if uid in (attempt.channel_id, f"{attempt.channel_id}-b")
                }
                if not names:
                    break
                if not hung_up and time.monotonic() - started >= self.config.orphan_grace:
                    for name in names:
                        with contextlib.suppress(AmiActionError):
                            await self._link.action("Hangup", Channel=name)
                    hung_up = True
                    self.stats.orphans_hung_up += 1
                await asyncio.sleep(1.0)
            await self._book.record(
                attempt.id,
                CallFacts("failed"),
                self._clock.now(),
                error="interrupted: a previous run's call, waited for until it ended",
            )
            self.stats.reconciled += 1
        finally:
            self._forget(attempt.id)

    async def _check_suspects(self) -> None:
        """Attempts whose Originate or AGI reply was lost with the link: check them."""
        if not self._suspect or not self._link.connected:
            return
        attempts = list(self._suspect.values())
        self._suspect.clear()
        await self._reconcile_attempts(attempts)

    # ------------------------------------------------------------------ pacing
    async def _plans(self) -> list[Plan]:
        """Active campaigns, re-read at most once a tick: calls ending together wake
        many passes, and a pause or cancel from the CLI is still seen within a tick."""
        now = time.monotonic()
        if self._plans_cache is None or now - self._plans_cache[0] >= self.config.tick:
            self._plans_cache = (now, await self._book.active_plans())
        return self._plans_cache[1]

    async def _pass(self) -> None:
        now = self._clock.now()
        for plan in await self._plans():
            if plan.end_at is not None and now >= plan.end_at:
                closed = await self._book.finish_at_end(plan, now)
                if closed:
                    log.info("campaign %d reached its end: %d contacts closed", plan.id, closed)
                if not self._per_campaign.get(plan.id):
                    await self._finish_if_done(plan, now)
                continue
            if plan.status != "running" or now < plan.start_at or self._stopping:
                continue
            if not await self._ready(plan):
                continue
            scenario = await self._scenarios.by_id(plan.scenario_id)
            await self._dial_due(plan, scenario, now)
            if not self._per_campaign.get(plan.id):
                await self._finish_if_done(plan, now)

    async def _finish_if_done(self, plan: Plan, now: datetime) -> None:
        if await self._book.finish_if_done(plan.id, now):
            log.info("campaign %d finished", plan.id)

    async def _limit(self, plan: Plan, scenario: Scenario) -> int:
        limit = plan.concurrency
        if scenario.offers_operator:
            # keep answered calls in proportion to the operators who could take a transfer
            free = await self._desk.free()
            limit = min(limit, max(1, math.ceil(free * scenario.calls_per_free_operator)))
        return limit

    async def _dial_due(self, plan: Plan, scenario: Scenario, now: datetime) -> None:
        slots = await self._limit(plan, scenario) - self._per_campaign.get(plan.id, 0)
        if slots <= 0:
            return
        ready: list[DueContact] = []
        for contact in await self._book.due(plan.id, now, slots * 2 + 5):
            if len(ready) >= slots:
                break
            if contact.phone in self._phones or any(c.phone == contact.phone for c in ready):
                continue  # this number is in a call of ours right now
            tz = _zone(contact.timezone, plan.tz)
            opens = next_call_time(now, tz, plan.windows, self._calendar)
            if opens is None or opens > now:
                until = opens or (plan.end_at or now + timedelta(days=1))
                await self._book.defer(contact.id, until, "window")
                continue
            if not plan.caps.none:
                answered = await self._book.answered_times(
                    contact.phone, plan.kind, now - CAP_LOOKBACK
                )
                blocked = cap_release(answered, now, plan.caps)
                if blocked is not None:
                    await self._book.defer(contact.id, blocked[0], f"cap_{blocked[1]}")
                    continue
            ready.append(contact)
        if not ready:
            return
        # a number in a call of another campaign (or another dialer) waits its turn
        elsewhere = await self._book.phones_in_call([c.phone for c in ready])
        for contact in ready:
            if contact.phone in elsewhere:
                await self._book.defer(contact.id, now + timedelta(seconds=15), "line_busy")
        ready = [c for c in ready if c.phone not in elsewhere]
        if self._stopping or not ready:
            return
        for contact, attempt_id, channel_id in await self._book.claim_many(plan, ready, now):
            entry = _Live(plan.id, contact.id, contact.phone)
            self._live[attempt_id] = entry
            self._phones.add(contact.phone)
            self._per_campaign[plan.id] += 1
            entry.task = self._calls.spawn(
                self._call(plan, scenario, contact, attempt_id, channel_id),
                name=f"call-{attempt_id}",
            )
            self.stats.launched += 1

    def _release(self, attempt_id: int) -> None:
        """The call is over: its slot and its number are free for the next pass (the
        contact itself stays `calling` in the database until its result is stored)."""
        entry = self._live.get(attempt_id)
        if entry is not None and not entry.released:
            entry.released = True
            self._phones.discard(entry.phone)
            self._per_campaign[entry.campaign_id] -= 1
        self._wake.set()

    def _forget(self, attempt_id: int) -> None:
        self._release(attempt_id)
        self._live.pop(attempt_id, None)

    # ------------------------------------------------------------------ speech ahead
    async def _ready(self, plan: Plan) -> bool:
        """Render the campaign's phrases ahead of dialing (once per run of the service)."""
        task = self._prepared.get(plan.id)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._prerender(plan))
            task.add_done_callback(lambda _t: self._wake.set())
            self._prepared[plan.id] = task
        if not task.done():
            return False
        if task.cancelled() or task.exception() is not None:
            if not task.cancelled():
                log.error("campaign %d: pre-rendering failed", plan.id, exc_info=task.exception())
            del self._prepared[plan.id]  # try again on a later pass
            return False
        return True

    async def _prerender(self, plan: Plan) -> bool:
        scenario = await self._scenarios.by_id(plan.scenario_id)
        texts: dict[str, None] = {}
        prompts: set[str] = set()
        messages = [m for m in scenario.replies.values() if m is not None]
        for reply in messages:
            _collect(self._speech, reply, {}, texts, prompts)
        bad = 0
        for contact in await self._book.all_waiting(plan.id):
            values = contact_values(contact)
            try:
                _collect(self._speech, scenario.message_for(values), values, texts, prompts)
            except MessageError:
                bad += 1
        for name in prompts:
            await self._speech.prompt(name)
        report = await self._speech.prerender_texts(texts)
        log.info(
            "campaign %d: %d phrases ready (%d synthesized, %d failed, %d contacts unfit)",
            plan.id,
            report.phrases,
            report.synthesized,
            report.failed_texts,
            bad,
        )
        return True

    # ------------------------------------------------------------------ one call
    async def _call(
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
                await asyncio.wait({dialing, claim}, return_when=asyncio.FIRST_COMPLETED)
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
                await self._hangup_by_id(channel_id)
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
                leave_open = not await self._hangup_by_id(channel_id)
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
            self._suspect[attempt_id] = OpenAttempt(
                attempt_id, channel_id, contact.id, plan.id, answered
            )
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
                self._release(attempt_id)
                status = await self._book.record(attempt_id, facts, self._clock.now(), error=error)
                self.stats.by_status[status] += 1
                self.stats.finished += 1
        except Exception:
            # the attempt stays open in the database: the next start reconciles it
            log.exception("attempt %d: result could not be stored", attempt_id)
        finally:
            if leave_open and attempt_id in self._suspect:
                # keep the number busy until the check says the call is over
                entry = self._live.get(attempt_id)
                if entry is not None:
                    entry.task = None
            else:
                self._forget(attempt_id)

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

    async def _hangup_by_id(self, channel_id: str) -> bool:
        """Hang up the channels of `channel_id`; True when none is left."""
        try:
            live = await self._live_channels()
            for uid, name in live.items():
                if uid in (channel_id, f"{channel_id}-b"):
                    with contextlib.suppress(AmiActionError):
                        await self._link.action("Hangup", Channel=name)
            return True
        except TelephonyError:
            return False

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
        operator = self._connected.pop(channel.uniqueid, "")
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


def _zone(name: str | None, default: ZoneInfo) -> ZoneInfo:
    if not name:
        return default
    try:
        return ZoneInfo(name)
    except Exception:  # validated on import; a zone removed from tzdata since falls back
        return default


def contact_values(contact: DueContact) -> dict[str, Any]:
    """The contact's fields typed for speech (what its message is filled from)."""
    fields: Mapping[str, str] = {
        "phone": "+" + contact.phone,
        "account": contact.account,
        "name": contact.name,
        **contact.values,
    }
    return speech_values(fields)


def _collect(
    speech: Speech,
    message: Message,
    values: Mapping[str, Any],
    texts: dict[str, None],
    prompts: set[str],
) -> None:
    for part in speech.resolve(message, values):
        if isinstance(part, PromptPart):
            if not prompt_path(speech.sounds_dir, part.name).is_file():
                prompts.add(part.name)
        else:
            texts[part.text] = None
