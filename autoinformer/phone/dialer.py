"""The dialer: one loop that paces campaign calls; each call runs in autoinformer.phone.call.

Safety rules it keeps (issue 5, DESIGN.md):
- a ChannelId is made with new_channel_id() and committed with the attempt
  (CallBook.claim_many) before the Originate goes out; only digits reach the dial string;
- what happens on a call is stored as it happens (autoinformer.phone.progress): a contact
  who confirmed, opted out or went to an operator is final at that moment;
- at a start, before anything is dialed, every attempt a previous run left open is
  adopted (CallFlow.adopt): calls with an operator or in the queue are left to finish,
  answered calls waiting in AsyncAGI are driven again at once, the rest are closed; an
  adopted call holds its campaign's slot exactly while its channel exists. A call that
  loses the AMI link mid-way is adopted the same way by its own task once the link is back;
- an Originate that never reached Asterisk is not an attempt (voided, no retry spent);
  nothing is dialed while the link is down, and after a refusal ("shutting down") the
  dialer holds and sends one call at a time until Asterisk takes one (pacing.DialGate);
- a contact is never called twice at once (the claim is a conditional UPDATE; one number
  is never in two calls, whichever campaign), and never again once notified (final state);
- a scenario that offers 0 is paced by the free operators of queue `operators`; when none
  is free the customer hears so and the contact is marked for an operator's call-back;
- calls start as slots free up, not in passes: each pass claims a few contacts more than
  the free slots (`_reserve_size`, committed with their ChannelIds like any claim) and a
  call that frees its slot, or starts closing (autoinformer.phone.live), launches the
  next one at once, with no query in between. On PostgreSQL (several workers share a
  campaign's concurrency) the ones beyond the free slots are claimed `ahead`: not
  counted until a call of this worker's that ends hands one its slot, in the write
  that closes that call (CallBook.hand_over); ones not dialed soon (a pause, a stop, the
  link down) are handed back (no attempt kept, no retry spent), and a crash leaves them
  to the start's adoption (never sent: voided, no retry spent);
- a campaign's phrases are rendered before its first call (autoinformer.phone.prerender):
  as it is created in this process, or while a scheduled one waits for its start;
- a list from the customer base is called with the data as they stand at dial time
  (autoinformer.phone.fresh): a paid debt is not called, a changed one read out as it is
  now, an outage moved or removed in the registry moves or cancels the remaining calls.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import takewhile
from zoneinfo import ZoneInfo

from sqlalchemy.exc import SQLAlchemyError

from autoinformer.campaigns.plan import Plan
from autoinformer.campaigns.scenario_store import ScenarioStore
from autoinformer.loop import PassLoop
from autoinformer.phone.book import CallBook, DueContact, OpenAttempt
from autoinformer.phone.call import CallFlow
from autoinformer.phone.config import DialerConfig, DialerStats
from autoinformer.phone.fresh import FreshData
from autoinformer.phone.lease import DrivenLeases
from autoinformer.phone.live import LiveCall, LiveCalls
from autoinformer.phone.marks import HeardMarks
from autoinformer.phone.pacing import (
    DialGate,
    OperatorDesk,
    Pace,
    effective_concurrency,
    operator_share,
)
from autoinformer.phone.played import DialplanPlays
from autoinformer.phone.prerender import Prerenderer, PrerenderSummary
from autoinformer.phone.reconcile import AsteriskChannels
from autoinformer.scenarios import Scenario
from autoinformer.scheduling import CAP_LOOKBACK, CallingWindows, cap_release, next_call_time
from contact_center.calendar import WorkingDays
from contact_center.clock import Clock
from contact_center.hotline.handoffs import Handoffs
from contact_center.service_state import HeartbeatLease
from contact_center.speech import Speech
from contact_center.tasks import TaskSet
from contact_center.telephony.agi import AgiChannel, AgiServer
from contact_center.telephony.ami import AmiLink
from contact_center.telephony.channels import live_channel_ids
from contact_center.telephony.exceptions import TelephonyError
from contact_center.telephony.originate import Originator
from contact_center.telephony.peers import PeerAsterisks

log = logging.getLogger(__name__)

# a contact claimed ahead and not dialed for this long goes back (seconds): its checks
# (the calling window, the customer base) were made at the claim
RESERVE_TTL = 5.0


@dataclass(frozen=True, slots=True)
class _Claimed:
    """A contact claimed ahead of a free slot (see the module docstring)."""

    plan: Plan
    scenario: Scenario
    contact: DueContact
    attempt_id: int
    channel_id: str
    at: float  # monotonic
    # the worker lease's epoch at the claim (HeartbeatLease): not dialed in a later one
    epoch: int = 0
    # claimed ahead of a free slot on PostgreSQL (CallBook.claim_wave): dialed only in a
    # slot one of this worker's calls of the campaign hands it (CallBook.hand_over)
    ahead: bool = False


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
        calendar: WorkingDays,
        config: DialerConfig | None = None,
        handoffs: Handoffs | None = None,
        live_instances: Callable[[], Awaitable[Collection[str]]] | None = None,
        free_operators: Callable[[], Awaitable[int]] | None = None,
        peers: Callable[[], PeerAsterisks] | None = None,
        worker_lease: HeartbeatLease | None = None,
    ) -> None:
        self._book = book
        # this worker as the others see it: stalled past it, what it claimed may be theirs
        self._worker_lease = worker_lease = worker_lease or HeartbeatLease()
        self._scenarios = scenarios
        self._link = link
        self._agi = agi
        self._clock = clock
        self._calendar = calendar
        self.config = config or DialerConfig()
        self.stats = DialerStats()
        # the database or Asterisk away for a moment is expected: keep trying, slower
        self._loop = PassLoop(
            "dialer",
            self._pass_once,
            tick=self.config.tick,
            expected=(SQLAlchemyError, TelephonyError, OSError),
        )
        # the operators on another node (free_operators: the shared database) or on ours
        self._desk = OperatorDesk(link, self.config.queue, counter=free_operators)
        self._gate = DialGate()
        self._calls = TaskSet("autoinformer-calls")
        self._aux = TaskSet("autoinformer-aux")
        # a call ending launches a call claimed ahead and wakes the next pass: its slot is free
        self._live = LiveCalls(on_release=self._slot_freed)
        self._reserve: dict[int, list[_Claimed]] = {}
        # each campaign's limit as the last pass computed it (for launches between passes)
        self._limits: dict[int, int] = {}
        self._windows: dict[tuple[int, CallingWindows, str, int], bool] = {}
        self._channels = channels = AsteriskChannels(link)
        self._plays = plays = DialplanPlays(link)
        self.leases = leases = DrivenLeases(link, self.config.driven_lease)
        self._prerenderer = Prerenderer(book=book, scenarios=scenarios, speech=speech)
        self._fresh = FreshData(book)
        # heard marks of closed attempts, deleted by the next calls' dialplan
        self.marks = HeardMarks()
        self._flow = CallFlow(
            book=book,
            link=link,
            agi=agi,
            originator=originator,
            speech=speech,
            clock=clock,
            config=self.config,
            desk=self._desk,
            gate=self._gate,
            live=self._live,
            channels=channels,
            aux=self._aux,
            stats=self.stats,
            marks=self.marks,
            plays=plays,
            leases=leases,
            handoffs=handoffs,
            worker_lease=worker_lease,
        )
        # the `serve` processes alive now (service_state): whose calls are not to be taken
        self._live_instances = live_instances
        # links to other workers' nodes, to ask about a dead worker's calls
        self._peers = peers
        self._next_takeover = 0.0
        self._takeover: asyncio.Task[None] | None = None
        # a dead worker's calls its node did not have at the last look
        self._absent_before: set[int] = set()
        self._prepared: dict[int, asyncio.Task[PrerenderSummary]] = {}
        # each campaign's effective concurrency as last stored (campaign status shows it)
        self._paces: dict[int, Pace] = {}
        # the running campaigns whose scenario offers an operator (they share the free ones)
        self._operator_campaigns: list[int] = []
        self._plans_cache: tuple[float, list[Plan]] | None = None
        self._reconciled = asyncio.Event()

    # ------------------------------------------------------------------ life cycle
    async def run(self) -> None:
        """Reconcile, then pace calls until stopped or cancelled (the driven calls'
        leases renewed meanwhile)."""
        self._aux.spawn(self.leases.run(), name="driven-leases")
        await self._loop.run()

    def campaigns_changed(self, campaign_id: int | None = None) -> None:
        """A campaign was created, started, paused or cancelled in this process: read the
        campaigns again and pass now. A new one's phrases are rendered at once, not at its
        start: the supervisor who starts it later has its first calls go out then, not
        after the synthesis of its amounts."""
        self._plans_cache = None
        self._loop.wake()
        if campaign_id is not None and campaign_id not in self._prepared and not self._stopping:
            self._aux.spawn(self._prepare_new(campaign_id), name=f"prepare-{campaign_id}")

    async def _prepare_new(self, campaign_id: int) -> None:
        plan = await self._book.plan(campaign_id)
        if plan is not None and plan.status == "created" and plan.channel in ("phone", "both"):
            self._ready(plan)

    async def stop(self) -> None:
        """Stop dialing; give calls in progress `drain_timeout` to finish, hang up the rest
        (their attempts are recorded, or left open for the next start to reconcile)."""
        self._loop.stop()
        await self._void_reserve(None, "the dialer stopped before it was dialed")
        tasks = self._live.tasks()
        if tasks and self.config.drain_timeout > 0:
            await asyncio.wait(tasks, timeout=self.config.drain_timeout)
        await self._calls.close()
        await self._aux.close()
        for task in self._prepared.values():
            task.cancel()
        self._desk.close()
        self._channels.close()
        self._plays.close()

    @property
    def _stopping(self) -> bool:
        return self._loop.stopping

    @property
    def gate(self) -> DialGate:
        return self._gate

    async def _pass_once(self) -> bool:
        if not self._reconciled.is_set():
            if not self._link.connected:
                return False  # Asterisk must be asked first
            await self._adopt_open_attempts(start=True)
            self._reconciled.set()
        elif (
            self._live_instances is not None
            and time.monotonic() >= self._next_takeover
            and (self._takeover is None or self._takeover.done())
        ):
            # a worker that died on another node: its calls that are over there are ours
            # to close, and their contacts ours to go on with. Beside the passes, not in
            # them: asking a node whose host is gone waits out a connect time-out
            self._next_takeover = time.monotonic() + self.config.takeover_interval
            self._takeover = self._aux.spawn(
                self._adopt_open_attempts(start=False), name="dead-workers-calls"
            )
        await self._pass()
        self.stats.passes += 1
        return False

    # ------------------------------------------------------------------ after a start
    async def _adopt_open_attempts(self, *, start: bool) -> None:
        """Every attempt a previous run on this node left open becomes a call of this run
        (CallFlow.adopt) before anything is dialed: its number stays busy and it holds its
        campaign's slot for exactly as long as its channel exists. Later, the attempts of
        a worker that died on another node, once their calls must have ended there: those
        are closed (`_close_taken`), not driven."""
        if start:
            released = await self._book.release_stray_calling()
            if released:
                log.warning("%d contacts left calling without an attempt wait again", released)
        now = self._clock.now()
        alive = await self._live_instances() if self._live_instances is not None else ()
        if not start:
            await self._take_over_dead(now, alive)
            return
        taken = await self._book.take_over(now, alive=alive)
        attempts = [a for a in taken if self._live.get(a.id) is None]
        if not attempts:
            return
        # claimed before Asterisk is asked: a call answered meanwhile comes to us, not to
        # the "nobody waits for it" hang-up
        claims = {a.id: self._agi.claim(a.channel_id) for a in attempts}
        log.warning("adopting %d calls left open by a previous run", len(attempts))
        scenarios: dict[int, Scenario] = {}
        for attempt in attempts:
            found = await self._call_of(attempt, scenarios)
            if found is None:
                self._agi.release(attempt.channel_id)
                continue
            plan, scenario, contact = found
            entry = self._live.add(attempt.id, plan.id, contact.id, contact.phone)
            entry.task = self._calls.spawn(
                self._flow.adopt(plan, scenario, contact, attempt, claims[attempt.id]),
                name=f"adopted-{attempt.id}",
            )
            self.stats.reconciled += 1

    async def _call_of(
        self, attempt: OpenAttempt, scenarios: dict[int, Scenario]
    ) -> tuple[Plan, Scenario, DueContact] | None:
        """An open attempt's campaign, scenario (cached in `scenarios`) and contact; None if
        the campaign or the contact was deleted meanwhile."""
        plan = await self._book.plan(attempt.campaign_id)
        contact = await self._book.contact_fields(attempt.contact_id)
        if plan is None or contact is None:
            return None
        if plan.scenario_id not in scenarios:
            scenarios[plan.scenario_id] = await self._scenarios.by_id(plan.scenario_id)
        return plan, scenarios[plan.scenario_id], contact

    async def _take_over_dead(self, now: datetime, alive: Collection[str]) -> None:
        """The calls of a worker that died on another node, each once it is over there:
        as soon as that node's Asterisk has not had its channel at two looks in a row, or,
        if it cannot be asked, once its hard limit must have ended it (the longest ring,
        then answered and cut at CC_CALL_HARD_LIMIT, with a margin). Each is then closed
        with what that Asterisk says of it, and its contact goes on here."""
        candidates = await self._book.dead_workers_calls(alive=alive)
        if not candidates:
            return
        after = self.config.takeover_after
        if after is None:
            after = self.config.ring_timeout_max + self.config.call_hard_limit + 30
        peers = self._peers() if self._peers is not None else None
        try:
            ended = await self._ended_on_their_nodes(candidates, peers)
            self.stats.takeover_looks += 1
            taken = await self._book.take_over(
                now, alive=alive, ended_by=timedelta(seconds=after), ended=ended
            )
            attempts = [a for a in taken if self._live.get(a.id) is None]
            if attempts:
                await self._close_taken(attempts, peers)
        finally:
            if peers is not None:
                await peers.close()

    async def _ended_on_their_nodes(
        self, candidates: list[tuple[int, str, str]], peers: PeerAsterisks | None
    ) -> set[int]:
        """Of a dead worker's calls, those whose node has had no channel of them at this
        look and the one before (a node that cannot be asked says nothing: its calls wait
        for the hard limit). Twice: an Originate the worker wrote just before it died may
        not have made its channel yet at the first look (Asterisk takes up to a few
        hundred ms when a wave of calls ends); a look later it has, or it never will."""
        absent = await self._absent_on_their_nodes(candidates, peers)
        ended, self._absent_before = absent & self._absent_before, absent
        return ended

    @staticmethod
    async def _absent_on_their_nodes(
        candidates: list[tuple[int, str, str]], peers: PeerAsterisks | None
    ) -> set[int]:
        if peers is None:
            return set()
        by_worker: dict[str, list[tuple[int, str]]] = {}
        for attempt_id, channel_id, instance in candidates:
            by_worker.setdefault(instance, []).append((attempt_id, channel_id))
        ended: set[int] = set()
        for instance, calls in by_worker.items():
            link = await peers.link_for(instance)
            if link is None:
                continue
            try:
                live = await live_channel_ids(link)
            except TelephonyError as exc:
                log.warning("a dead worker's node cannot list its channels: %s", exc)
                continue
            ended.update(attempt_id for attempt_id, channel_id in calls if channel_id not in live)
        return ended

    async def _close_taken(self, attempts: list[OpenAttempt], peers: PeerAsterisks | None) -> None:
        log.warning("closing %d calls of a worker that stopped on another node", len(attempts))
        scenarios: dict[int, Scenario] = {}
        for attempt in attempts:
            found = await self._call_of(attempt, scenarios)
            if found is None:
                continue
            peer = await peers.link_for(attempt.placed_by) if peers is not None else None
            await self._flow.close_taken(*found, attempt, peer)
            self.stats.reconciled += 1

    async def owns_call(self, channel: AgiChannel) -> bool:
        """An answered campaign call reached AsyncAGI with no claim waiting for it: is it
        an open attempt of ours (adopted: its task drives it) or a stray (hang it up)?"""
        try:
            async with asyncio.timeout(10):  # not wait_for: it may swallow a cancellation
                await self._reconciled.wait()
        except TimeoutError:
            return False
        return await self._book.is_open(channel.uniqueid)

    # ------------------------------------------------------------------ pacing
    async def _plans(self) -> list[Plan]:
        """Active campaigns, re-read at most once a tick: calls ending together wake
        many passes, and a pause or cancel from the CLI is still seen within a tick."""
        now = time.monotonic()
        if self._plans_cache is None or now - self._plans_cache[0] >= self.config.tick:
            plans = await self._book.active_plans()
            # the registry's outages as they stand now, read with the campaigns
            if await self._fresh.outages(plans, self._clock.now()):
                plans = await self._book.active_plans()
            self._plans_cache = (now, plans)
        return self._plans_cache[1]

    async def _pass(self) -> None:
        now = self._clock.now()
        # nobody can be called while the link is down or Asterisk refuses Originates:
        # hold the list instead of claiming it and handing it back
        dialing = self._link.connected and self._gate.open
        # past its heartbeat lease this worker may be taken for dead: it claims nothing
        # until a heartbeat is written again, and hands back what it had claimed
        leased = self._worker_lease.now_holds
        plans = await self._plans()
        await self._drop_stale_reserve(plans, dialing, leased=leased)
        self._operator_campaigns = [
            plan.id
            for plan in plans
            if plan.status == "running"
            and now >= plan.start_at
            and (plan.end_at is None or now < plan.end_at)
            and (await self._scenarios.by_id(plan.scenario_id)).offers_operator
        ]
        for plan in plans:
            if plan.end_at is not None and now >= plan.end_at:
                closed = await self._book.finish_at_end(plan, now)
                if closed:
                    log.info("campaign %d reached its end: %d contacts closed", plan.id, closed)
                if not self._live.count(plan.id):
                    await self._finish_if_done(plan, now)
                continue
            if plan.status == "running" and now < plan.start_at and not self._stopping:
                # scheduled: its phrases are rendered while it waits, so that its first
                # calls go out at its start, not after the synthesis of its amounts
                self._ready(plan)
                continue
            if plan.status != "running" or self._stopping:
                continue
            if not leased:
                continue
            if not dialing:
                await self._note_pace(
                    plan.id,
                    effective_concurrency(
                        plan.concurrency, link_up=self._link.connected, refusing=True
                    ),
                )
                continue
            if not self._ready(plan):
                continue
            scenario = await self._scenarios.by_id(plan.scenario_id)
            await self._dial_due(plan, scenario, now)
            if not self._live.count(plan.id):
                await self._finish_if_done(plan, now)

    async def _finish_if_done(self, plan: Plan, now: datetime) -> None:
        if await self._book.finish_if_done(plan.id, now):
            log.info("campaign %d finished", plan.id)

    async def _limit(self, plan: Plan, scenario: Scenario) -> tuple[int, int]:
        """(the calls this worker may have in the campaign now, the calls every worker
        together may have): the campaign's concurrency and its free operators hold across
        the workers, this node's trunk channels only for this worker's calls."""
        # keep answered calls in proportion to the operators who could take a transfer,
        # and every campaign's calls within the trunk's channels
        free = await self._desk.free() if scenario.offers_operator else 0
        paced = functools.partial(
            effective_concurrency,
            plan.concurrency,
            offers_operator=scenario.offers_operator,
            # campaigns that offer an operator share the free ones (every worker splits
            # them alike): two such campaigns must not both count on the same operator
            free_operators=operator_share(free, plan.id, self._operator_campaigns),
            operator_campaigns=max(1, len(self._operator_campaigns)),
            free_in_all=free,
            per_operator=scenario.calls_per_free_operator,
        )
        pace = paced(
            channels=self.config.max_channels,
            channels_elsewhere=self._live.total() - self._live.count(plan.id),
        )
        if self._gate.probing:
            # _dial_due sends one call at a time until Asterisk takes one
            await self._note_pace(plan.id, Pace(plan.concurrency, 1, "asterisk_refuses"))
        else:
            await self._note_pace(plan.id, pace)
        # the claim counts every worker's calls against this one (a node's full trunk is
        # no reason for another node's worker to dial less)
        return pace.limit, paced().limit

    async def _note_pace(self, campaign_id: int, pace: Pace) -> None:
        """Store the campaign's pace when it changed (the free operators change it at most
        once a second: QueueSummary is cached that long)."""
        if self._paces.get(campaign_id) == pace:
            return
        self._paces[campaign_id] = pace
        await self._book.set_pace(campaign_id, json.dumps(pace.to_data()))

    async def _dial_due(self, plan: Plan, scenario: Scenario, now: datetime) -> None:
        limit, shared_limit = await self._limit(plan, scenario)
        self._limits[plan.id] = limit
        slots = limit - self._live.count(plan.id)
        if self._gate.probing:
            # Asterisk refused the last Originate: one call to see whether it takes them again
            slots = min(slots, 1 - self._gate.in_flight)
        reserve = self._reserve.setdefault(plan.id, [])
        counted = [c for c in reserve if not c.ahead]
        while counted and slots > 0:
            claimed = counted.pop(0)
            reserve.remove(claimed)
            self._launch(claimed)
            slots -= 1
        wanted = max(0, slots) + max(0, self._reserve_size(plan.id, scenario, limit) - len(reserve))
        if slots < 0 or wanted <= 0:
            return
        # numbers claimed ahead are as good as in a call
        taken = {c.contact.phone for c in reserve}
        fit: list[DueContact] = []
        for contact in await self._book.due(plan.id, now, wanted * 2 + 5):
            if self._live.in_call(contact.phone) or contact.phone in taken:
                continue  # this number is in a call of ours right now
            tz = _zone(contact.timezone, plan.tz)
            if not self._window_open(plan, tz, now):
                opens = next_call_time(now, tz, plan.windows, self._calendar)
                until = opens or (plan.end_at or now + timedelta(days=1))
                await self._book.defer(contact.id, until, "window")
                continue
            if len(fit) >= slots and not self._window_open(
                plan, tz, now + timedelta(seconds=RESERVE_TTL)
            ):
                continue  # claimed ahead, it could be dialed after its window closed
            taken.add(contact.phone)
            fit.append(contact)
        ready = await self._within_caps(plan, fit, now, wanted)
        # the customer base as it stands now: a paid debt is not called
        ready = await self._fresh.debts(plan, scenario, ready, now)
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
        # the epoch before the claim's commit: a stall while it commits is a lapse after it
        epoch = self._worker_lease.epoch
        dial_now, claimed_ahead = await self._book.claim_wave(
            plan, ready, now, limit=shared_limit, ahead=len(ready) - max(0, slots)
        )
        at = time.monotonic()
        for claims, ahead in ((dial_now, False), (claimed_ahead, True)):
            for contact, attempt_id, channel_id in claims:
                reserve.append(
                    _Claimed(plan, scenario, contact, attempt_id, channel_id, at, epoch, ahead)
                )
        if self._stopping:
            # stop() handed the reserve back while this claim was being committed
            await self._void_reserve(plan.id, "the dialer stopped before it was dialed")
            return
        # calls ended while the claim was being committed have left their slots free too
        self._launch_reserved()

    async def _within_caps(
        self, plan: Plan, contacts: list[DueContact], now: datetime, wanted: int
    ) -> list[DueContact]:
        """The first `wanted` of `contacts` the frequency caps let be called now; the ones
        they hold back wait until the caps let them. One query for all of them, not one a
        contact (a pass over 200 capped contacts made 200)."""
        if plan.caps.none:
            return contacts[:wanted]
        answered = await self._book.answered_times_of(
            [c.phone for c in contacts], plan.kind, now - CAP_LOOKBACK
        )
        ready: list[DueContact] = []
        for contact in contacts:
            blocked = cap_release(answered.get(contact.phone, []), now, plan.caps)
            if blocked is not None:
                await self._book.defer(contact.id, blocked[0], f"cap_{blocked[1]}")
            elif len(ready) < wanted:
                ready.append(contact)
        return ready

    def _window_open(self, plan: Plan, tz: ZoneInfo, at: datetime) -> bool:
        """Whether `at` is in the campaign's calling window in `tz`. Windows are whole
        minutes: the answer holds for the minute, and is kept for it (the calendar's look-up
        cost about half a millisecond a contact)."""
        minute = int(at.timestamp()) // 60
        key = (plan.id, plan.windows, tz.key, minute)
        found = self._windows.get(key)
        if found is None:
            if len(self._windows) > 1024:
                self._windows.clear()
            opens = next_call_time(at, tz, plan.windows, self._calendar)
            found = self._windows[key] = opens is not None and opens <= at
        return found

    def _reserve_size(self, campaign_id: int, scenario: Scenario, limit: int) -> int:
        """Contacts to keep claimed ahead: the slots freed over the last one and a half
        typical calls (at least a second, at most a second short of RESERVE_TTL), what the
        next wave of ends will free, taken well within RESERVE_TTL (calls that started
        together end together: a wave of ends is served from it, not by a claim while the
        slots wait); or, if more, the answered calls due to end within RESERVE_TTL - 2 s
        (the first wave, which has no earlier ends to go by). None for a campaign paced
        by its free operators (that pace is asked for on each pass) or while Asterisk is
        being probed."""
        if scenario.offers_operator or self._gate.probing:
            return 0
        # over one and a half calls' time: calls that started together end together, and
        # the last wave of ends, all of it, is what the next wave needs (a second's worth
        # left the reserve empty as each wave began, its slots waiting for a claim the
        # database held up behind the wave's results)
        now = time.monotonic()
        window = min(RESERVE_TTL - 1.0, max(1.0, 1.5 * self._live.typical_hold()))
        freed = sum(1 for _ in takewhile(lambda at: at >= now - window, reversed(self._live.freed)))
        # and the answered calls that will end before a contact claimed now grows stale:
        # the first wave's ends have no past ends to go by (they waited 0.44 s a slot for
        # claims made as they came, at 100 channels)
        ending = self._live.ending(campaign_id, now + RESERVE_TTL - 2.0)
        return min(limit, max(freed, ending))

    def _launch(self, claimed: _Claimed) -> None:
        contact = claimed.contact
        entry = self._live.add(claimed.attempt_id, claimed.plan.id, contact.id, contact.phone)
        entry.task = self._calls.spawn(
            self._flow.start(
                claimed.plan,
                claimed.scenario,
                contact,
                claimed.attempt_id,
                claimed.channel_id,
                epoch=claimed.epoch,
            ),
            name=f"call-{claimed.attempt_id}",
        )
        self.stats.launched += 1

    def _slot_freed(self, freed: LiveCall | None) -> None:
        self._launch_reserved(freed)
        self._loop.wake()

    def _launch_reserved(self, freed: LiveCall | None = None) -> None:
        """Calls claimed ahead take the slots free now (no query: see the docstring). One
        claimed ahead of a free slot on PostgreSQL (`ahead`) takes only the slot of a call
        of this worker's that `freed` now, handed over in the database by the write that
        closes that call (CallBook.hand_over)."""
        if self._stopping or not self._link.connected or not self._gate.open:
            return
        if self._gate.probing:
            return  # one call at a time, by the pass
        now = self._clock.now()
        for campaign_id, reserve in self._reserve.items():
            limit = self._limits.get(campaign_id, 0)
            handing = freed if freed is not None and freed.campaign_id == campaign_id else None
            while reserve and self._live.count(campaign_id) < limit:
                index = next((i for i, c in enumerate(reserve) if not c.ahead), None)
                if index is None:
                    if handing is None:
                        break  # claimed ahead: they wait for a slot of ours
                    index = 0
                claimed = reserve[index]
                end_at = claimed.plan.end_at
                if end_at is not None and now >= end_at:
                    break  # the campaign's end came: the pass closes it
                if not self._worker_lease.holds(claimed.epoch):
                    # a call ending as a stalled worker wakes: the pass hands these back
                    break
                del reserve[index]
                if claimed.ahead and handing is not None:
                    self._book.hand_over(handing.attempt_id, claimed.attempt_id)
                    handing = None
                self._launch(claimed)

    async def _drop_stale_reserve(self, plans: list[Plan], dialing: bool, *, leased: bool) -> None:
        """Contacts claimed ahead that will not be dialed soon are handed back (no retry
        spent): their campaign stopped dialing, they waited too long, or the worker lease
        ran out since their claim (`leased`: it holds now)."""
        if not any(self._reserve.values()):
            return
        dialable = {
            p.id
            for p in plans
            if p.status == "running" and (p.end_at is None or self._clock.now() < p.end_at)
        }
        oldest = time.monotonic() - RESERVE_TTL
        epoch = self._worker_lease.epoch
        for campaign_id, reserve in list(self._reserve.items()):
            if not reserve:
                continue
            if not leased or any(c.epoch != epoch for c in reserve):
                await self._void_reserve(campaign_id, "the worker's heartbeat lease ran out")
            elif not (dialing and campaign_id in dialable and reserve[0].at >= oldest):
                await self._void_reserve(campaign_id, "claimed ahead and not dialed in time")

    async def _void_reserve(self, campaign_id: int | None, reason: str) -> None:
        for cid in [campaign_id] if campaign_id is not None else list(self._reserve):
            dropped, self._reserve[cid] = self._reserve.get(cid, []), []
            for claimed in dropped:
                try:
                    await self._book.void(
                        claimed.attempt_id, self._clock.now(), reason, unclaim=True
                    )
                except SQLAlchemyError:
                    # left open: the next start adopts it (never sent: voided then)
                    log.exception("attempt %d: could not be handed back", claimed.attempt_id)

    # ------------------------------------------------------------------ speech ahead
    def _ready(self, plan: Plan) -> bool:
        """Render the campaign's phrases ahead of dialing (once per run of the service),
        in a task of its own: the other campaigns dial meanwhile."""
        task = self._prepared.get(plan.id)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._prerenderer.prepare(plan))
            task.add_done_callback(lambda _t: self._loop.wake())
            self._prepared[plan.id] = task
        if not task.done():
            return False
        if task.cancelled() or task.exception() is not None:
            if not task.cancelled():
                log.error("campaign %d: pre-rendering failed", plan.id, exc_info=task.exception())
            del self._prepared[plan.id]  # try again on a later pass
            return False
        return True


def _zone(name: str | None, default: ZoneInfo) -> ZoneInfo:
    if not name:
        return default
    try:
        return ZoneInfo(name)
    except Exception:  # validated on import; a zone removed from tzdata since falls back
        return default
