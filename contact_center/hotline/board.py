"""The hotline's live board: who waits in the queue, what each operator does, the calls in
progress and today's norms, for the web console (SSE key ``hotline``) and the metrics.

Two halves:

- `BoardState` is pure: AMI queue events, given as plain mappings with the time they
  happened (service-clock epoch seconds), change it, and `seed` replaces it with what a
  QueueStatus answered. No I/O, tested with events stated as data.
- `HotlineBoard` is the small consumer inside `serve`: it enqueues the AMI events it needs,
  applies them in order in one owned task, seeds the state from QueueStatus after every
  (re)login, merges the operators' recorded states (post-call work lives in the database,
  not in Asterisk) and the hotline's own calls, and publishes a snapshot when it changed,
  at most every `PUBLISH_EVERY` seconds (so within a second of the event that caused it).

An operator's state, first match wins: ringing (AgentCalled, until AgentConnect or
AgentRingNoAnswer), talking (AgentConnect until AgentComplete, or the operator service's
on_call), wrap_up (the operator service), offline (logged out or the device unavailable),
paused, free.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from contact_center.clock import Clock
from contact_center.hotline.appeals import AppealService
from contact_center.hotline.flow import HotlineCall
from contact_center.hotline.models import Appeal
from contact_center.hotline.norms import METRICS, NORMS, CallMetrics, group
from contact_center.operators.models import OperatorState
from contact_center.operators.services import QUEUE, OperatorService, OperatorView
from contact_center.privacy import mask_phone
from contact_center.tasks import TaskSet
from contact_center.telephony.ami import AmiLink
from contact_center.telephony.exceptions import TelephonyError

log = logging.getLogger(__name__)

Event = Mapping[str, Any]

EVENTS = (
    "QueueCallerJoin", "QueueCallerLeave", "QueueCallerAbandon",
    "AgentCalled", "AgentRingNoAnswer", "AgentConnect", "AgentComplete", "AgentDump",
    "QueueMemberStatus", "QueueMemberPause", "QueueMemberAdded", "QueueMemberRemoved",
    "QueueMemberPenalty", "QueueMemberRinginuse",
)  # fmt: skip
# calls of the hotline start and end with these (the flows' own state is read at snapshot)
TRIGGERS = ("AsyncAGIStart", "AsyncAGIEnd")
PUBLISH_EVERY = 0.2
POLL_EVERY = 1.0
NORMS_EVERY = 5.0

# device states (Asterisk's AST_DEVICE_*) as QueueMemberStatus' Status gives them
DEVICE_INVALID, DEVICE_UNAVAILABLE, DEVICE_RINGING, DEVICE_RINGINUSE = 4, 5, 6, 7
STATES = ("free", "ringing", "talking", "wrap_up", "paused", "offline")
STATE_RU = {
    "free": "свободен",
    "ringing": "звонит телефон",
    "talking": "разговор",
    "wrap_up": "постобработка",
    "paused": "пауза",
    "offline": "не в системе",
}


def _text(event: Event, name: str) -> str:
    return str(event.get(name, "") or "")


def _int(event: Event, name: str, default: int = 0) -> int:
    raw = _text(event, name)
    try:
        return int(raw)
    except ValueError:
        return default


def _float(event: Event, name: str) -> float | None:
    raw = _text(event, name)
    try:
        return float(raw)
    except ValueError:
        return None


def _flag(event: Event, name: str) -> bool:
    return _text(event, name).lower() in ("1", "true", "yes")


def _interface(event: Event) -> str:
    # QueueMember* events name it Interface; QueueStatus' QueueMember gives Location
    return _text(event, "Interface") or _text(event, "Location") or _text(event, "StateInterface")


@dataclass(frozen=True, slots=True)
class Waiting:
    uniqueid: str
    since: float
    position: int
    caller: str  # masked


@dataclass(frozen=True, slots=True)
class Member:
    interface: str
    name: str = ""
    status: int = 0
    paused: bool = False
    reason: str = ""
    in_call: bool = False
    ringing: str = ""  # Uniqueid of the caller it rings for
    ringing_since: float | None = None
    talking: str = ""  # Uniqueid of the caller it talks to
    talking_since: float | None = None
    since: float | None = None  # last change of its queue state


@dataclass(frozen=True, slots=True)
class Update:
    changed: bool
    # seconds a caller waited, when one left the queue to an operator or hung up
    waited_s: float | None = None


NO_CHANGE = Update(False)


@dataclass
class BoardState:
    """The queue as the AMI events tell it (pure; see the module docstring)."""

    queue: str = QUEUE
    waiting: dict[str, Waiting] = field(default_factory=dict)
    members: dict[str, Member] = field(default_factory=dict)

    # ------------------------------------------------------------------ events
    def apply(self, event: Event, at: float) -> Update:
        name = _text(event, "Event")
        queue = _text(event, "Queue")
        if queue and queue != self.queue:
            return NO_CHANGE
        handler = _HANDLERS.get(name)
        if handler is None:
            return NO_CHANGE
        return handler(self, event, at)

    def _join(self, event: Event, at: float) -> Update:
        uid = _text(event, "Uniqueid")
        if not uid or uid in self.waiting:
            return NO_CHANGE
        caller = _text(event, "CallerIDNum")
        self.waiting[uid] = Waiting(
            uid, at, _int(event, "Position", len(self.waiting) + 1), _masked(caller)
        )
        return Update(True)

    def _leave(self, event: Event, at: float) -> Update:
        left = self.waiting.pop(_text(event, "Uniqueid"), None)
        if left is None:
            return NO_CHANGE
        self._renumber()
        return Update(True)

    def _abandon(self, event: Event, at: float) -> Update:
        left = self.waiting.pop(_text(event, "Uniqueid"), None)
        if left is None:
            return NO_CHANGE
        self._renumber()
        held = _float(event, "HoldTime")
        return Update(True, held if held is not None else max(0.0, at - left.since))

    def _called(self, event: Event, at: float) -> Update:
        member = self._member(event)
        uid = _text(event, "Uniqueid")
        if member.ringing == uid:
            return NO_CHANGE
        self._put(replace(member, ringing=uid, ringing_since=at, since=at))
        return Update(True)

    def _no_answer(self, event: Event, at: float) -> Update:
        member = self._member(event)
        if not member.ringing:
            return NO_CHANGE
        self._put(replace(member, ringing="", ringing_since=None, since=at))
        return Update(True)

    def _connect(self, event: Event, at: float) -> Update:
        member = self._member(event)
        uid = _text(event, "Uniqueid")
        if member.talking == uid:
            return NO_CHANGE
        self._put(
            replace(
                member,
                ringing="",
                ringing_since=None,
                talking=uid,
                talking_since=at,
                in_call=True,
                since=at,
            )
        )
        # the other members rung for the same caller stop ringing (strategy ringall)
        for other in list(self.members.values()):
            if other.interface != member.interface and other.ringing == uid:
                self._put(replace(other, ringing="", ringing_since=None))
        left = self.waiting.pop(uid, None)
        if left is not None:
            self._renumber()
        held = _float(event, "HoldTime")
        if held is None:
            held = max(0.0, at - left.since) if left is not None else None
        return Update(True, held)

    def _complete(self, event: Event, at: float) -> Update:
        member = self._member(event)
        if not member.talking and not member.in_call and not member.ringing:
            return NO_CHANGE
        self._put(
            replace(
                member,
                talking="",
                talking_since=None,
                ringing="",
                ringing_since=None,
                in_call=False,
                since=at,
            )
        )
        return Update(True)

    def _status(self, event: Event, at: float) -> Update:
        member = self._member(event)
        status = _int(event, "Status", member.status)
        in_call = _flag(event, "InCall") if "InCall" in event else member.in_call
        changed = replace(
            member,
            name=_text(event, "MemberName") or member.name,
            status=status,
            paused=_flag(event, "Paused") if "Paused" in event else member.paused,
            reason=_text(event, "PausedReason") if "Paused" in event else member.reason,
            in_call=in_call,
        )
        if status not in (DEVICE_RINGING, DEVICE_RINGINUSE) and changed.ringing and in_call:
            changed = replace(changed, ringing="", ringing_since=None)
        if not in_call and changed.talking:
            # the conversation is over even if its AgentComplete has not come (yet)
            changed = replace(changed, talking="", talking_since=None)
        if changed == member:
            return NO_CHANGE
        self._put(replace(changed, since=at))
        return Update(True)

    def _pause(self, event: Event, at: float) -> Update:
        member = self._member(event)
        paused = _flag(event, "Paused")
        reason = _text(event, "PausedReason") or _text(event, "Reason")
        if (member.paused, member.reason) == (paused, reason if paused else ""):
            return NO_CHANGE
        self._put(replace(member, paused=paused, reason=reason if paused else "", since=at))
        return Update(True)

    def _added(self, event: Event, at: float) -> Update:
        return self._status(event, at)

    def _removed(self, event: Event, at: float) -> Update:
        if self.members.pop(_interface(event), None) is None:
            return NO_CHANGE
        return Update(True)

    # ------------------------------------------------------------------ seeding
    def seed(self, events: Iterable[Event], at: float) -> None:
        """Replace the state with a QueueStatus answer (its QueueMember and QueueEntry
        events), as after a (re)connect: what happened unseen is taken from Asterisk."""
        members: dict[str, Member] = {}
        waiting: dict[str, Waiting] = {}
        for event in events:
            if _text(event, "Queue") not in ("", self.queue):
                continue
            kind = _text(event, "Event")
            if kind == "QueueMember":
                interface = _interface(event)
                old = self.members.get(interface)
                status = _int(event, "Status")
                in_call = _flag(event, "InCall")
                ringing = status in (DEVICE_RINGING, DEVICE_RINGINUSE) and not in_call
                keep = old is not None and old.in_call == in_call
                members[interface] = Member(
                    interface=interface,
                    name=_text(event, "Name") or _text(event, "MemberName"),
                    status=status,
                    paused=_flag(event, "Paused"),
                    reason=_text(event, "PausedReason"),
                    in_call=in_call,
                    ringing=(old.ringing if old and old.ringing else "?") if ringing else "",
                    ringing_since=(old.ringing_since if old and old.ringing else at)
                    if ringing
                    else None,
                    talking=(old.talking if keep and old and old.talking else "?")
                    if in_call
                    else "",
                    talking_since=(old.talking_since if keep and old else at) if in_call else None,
                    since=old.since if old is not None else at,
                )
            elif kind == "QueueEntry":
                uid = _text(event, "Uniqueid")
                if not uid:
                    continue
                wait = _float(event, "Wait") or 0.0
                waiting[uid] = Waiting(
                    uid,
                    at - wait,
                    _int(event, "Position", len(waiting) + 1),
                    _masked(_text(event, "CallerIDNum")),
                )
        self.members = members
        self.waiting = waiting

    # ------------------------------------------------------------------ views
    def ordered_waiting(self) -> list[Waiting]:
        return sorted(self.waiting.values(), key=lambda w: (w.position, w.since))

    def longest_wait_since(self) -> float | None:
        return min((w.since for w in self.waiting.values()), default=None)

    def _member(self, event: Event) -> Member:
        interface = _interface(event)
        return self.members.get(interface) or Member(
            interface, name=_text(event, "MemberName"), since=None
        )

    def _put(self, member: Member) -> None:
        self.members[member.interface] = member

    def _renumber(self) -> None:
        for index, item in enumerate(self.ordered_waiting(), start=1):
            if item.position != index:
                self.waiting[item.uniqueid] = replace(item, position=index)


_HANDLERS: dict[str, Callable[[BoardState, Event, float], Update]] = {
    "QueueCallerJoin": BoardState._join,
    "QueueCallerLeave": BoardState._leave,
    "QueueCallerAbandon": BoardState._abandon,
    "AgentCalled": BoardState._called,
    "AgentRingNoAnswer": BoardState._no_answer,
    "AgentConnect": BoardState._connect,
    "AgentComplete": BoardState._complete,
    "AgentDump": BoardState._complete,
    "QueueMemberStatus": BoardState._status,
    "QueueMemberAdded": BoardState._added,
    "QueueMemberPause": BoardState._pause,
    "QueueMemberRemoved": BoardState._removed,
    "QueueMemberPenalty": BoardState._status,
    "QueueMemberRinginuse": BoardState._status,
}


def _masked(caller: str) -> str:
    return mask_phone(caller) if caller and caller.lower() != "<unknown>" else ""


# ---------------------------------------------------------------------- merging (pure)
@dataclass(frozen=True, slots=True)
class OperatorRecord:
    """What the operator service records about a queue member (by interface)."""

    code: str
    name: str
    state: str
    since: float
    wrapup_deadline: float | None = None
    calls_taken: int = 0

    @classmethod
    def of(cls, view: OperatorView) -> OperatorRecord:
        return cls(
            view.code,
            view.name,
            view.state,
            view.state_since.timestamp(),
            view.wrapup_deadline.timestamp() if view.wrapup_deadline else None,
            view.calls_taken,
        )


def operator_state(
    member: Member | None, record: OperatorRecord | None
) -> tuple[str, float | None]:
    """The board's state of one operator and since when (service-clock epoch seconds)."""
    recorded = OperatorState(record.state) if record is not None else None
    if member is not None and member.ringing:
        return "ringing", member.ringing_since
    if member is not None and (member.talking or member.in_call):
        return "talking", member.talking_since or member.since
    if recorded is OperatorState.ON_CALL:
        assert record is not None
        return "talking", record.since
    if recorded is OperatorState.WRAP_UP:
        assert record is not None
        return "wrap_up", record.since
    if member is None or recorded is OperatorState.LOGGED_OUT:
        return "offline", record.since if record is not None else None
    if member.status in (DEVICE_INVALID, DEVICE_UNAVAILABLE):
        return "offline", member.since
    if member.paused:
        if record is None and member.reason in ("call", "wrap-up"):
            return "wrap_up", member.since
        if member.reason == "logged-out":
            return "offline", member.since
        since = record.since if recorded is OperatorState.PAUSED and record else member.since
        return "paused", since
    since = record.since if recorded is OperatorState.AVAILABLE and record else member.since
    return "free", since


@dataclass(frozen=True, slots=True)
class CallView:
    """A hotline call in progress, as the board shows it."""

    uniqueid: str
    number: str
    state: str
    since: float
    state_since: float
    caller: str  # masked


def call_view(call: HotlineCall) -> CallView:
    transitions = call.machine.transitions
    return CallView(
        call.uniqueid,
        call.number,
        transitions[-1].state.value,
        transitions[0].at.timestamp(),
        transitions[-1].at.timestamp(),
        _masked(call.caller),
    )


def snapshot(
    state: BoardState,
    records: Mapping[str, OperatorRecord],
    calls: Iterable[CallView],
    norms: Mapping[str, Any] | None,
    *,
    link_up: bool,
) -> dict[str, Any]:
    """The board as JSON-able data (without its time: see `HotlineBoard.publish`)."""
    talking_to: dict[str, str] = {}
    operators = []
    for interface in sorted(set(state.members) | set(records)):
        member = state.members.get(interface)
        record = records.get(interface)
        if member is None and (record is None or record.state == OperatorState.LOGGED_OUT):
            continue
        kind, since = operator_state(member, record)
        if member is not None and member.talking and member.talking != "?":
            talking_to[member.talking] = record.code if record else member.name or interface
        operators.append(
            {
                "interface": interface,
                "code": record.code if record else member.name if member else interface,
                "name": record.name if record else "",
                "state": kind,
                "state_ru": STATE_RU[kind],
                "since": since,
                "paused_reason": member.reason if member is not None and member.paused else "",
                "wrapup_deadline": record.wrapup_deadline if record else None,
                "calls_taken": record.calls_taken if record else 0,
            }
        )
    counts = {kind: sum(op["state"] == kind for op in operators) for kind in STATES}
    waiting = state.ordered_waiting()
    return {
        "link": link_up,
        "queue": {
            "waiting": len(waiting),
            "longest_since": state.longest_wait_since(),
            "callers": [
                {"id": w.uniqueid, "position": w.position, "since": w.since, "caller": w.caller}
                for w in waiting
            ],
        },
        "operators": operators,
        "counts": counts,
        "calls": [
            {
                "id": c.uniqueid,
                "number": c.number,
                "state": c.state,
                "since": c.since,
                "state_since": c.state_since,
                "caller": c.caller,
                "operator": talking_to.get(c.uniqueid, ""),
            }
            for c in sorted(calls, key=lambda c: c.since)
        ],
        "norms": norms,
    }


def hourly(calls: Iterable[tuple[int, CallMetrics]]) -> list[dict[str, Any]]:
    """Today's calls by the hour they arrived in: each metric's count, average, maximum and
    share within its norm (the board's charts against the norm lines)."""
    hours: dict[int, list[CallMetrics]] = {}
    for hour, call in calls:
        hours.setdefault(hour, []).append(call)
    out = []
    for hour in sorted(hours):
        g = group(hours[hour], NORMS)
        out.append(
            {
                "hour": hour,
                "calls": g.calls,
                "answered": g.answered,
                "abandoned": g.abandoned,
                **{m: g.metrics[m].as_dict() for m in METRICS},
            }
        )
    return out


def appeal_metrics(appeal: Appeal) -> CallMetrics:
    return CallMetrics(
        day=appeal.arrived_at.date(),
        queued=appeal.queue_entered_at is not None,
        answered=appeal.operator_answered_at is not None,
        abandoned=appeal.abandoned,
        wait=appeal.wait_s,
        lookup=appeal.lookup_s,
        info=appeal.info_s,
        wrapup=appeal.wrapup_s,
    )


# ---------------------------------------------------------------------- the consumer
class BoardMetrics:
    """Where the board reports what it sees (the web's Prometheus metrics); no-op base."""

    def waited(self, seconds: float) -> None:
        """A caller left the queue to an operator or hung up after `seconds`."""


class HotlineBoard:
    """The live board inside `serve` (see the module docstring)."""

    def __init__(
        self,
        *,
        link: AmiLink,
        clock: Clock,
        operators: OperatorService,
        appeals: AppealService,
        calls: Mapping[str, HotlineCall],
        publish: Callable[[str, str, Any], None],
        on_call_finished: list[Callable[[HotlineCall], Any]],
        metrics: BoardMetrics | None = None,
        queue: str = QUEUE,
    ) -> None:
        self._link = link
        self._clock = clock
        self._operators = operators
        self._appeals = appeals
        self._calls = calls
        self._publish = publish
        self._finished_listeners = on_call_finished
        self.metrics = metrics or BoardMetrics()
        self.state = BoardState(queue)
        self._events: asyncio.Queue[Event | None] = asyncio.Queue()
        self._dirty = asyncio.Event()
        self._norms: dict[str, Any] | None = None
        self._norms_due = asyncio.Event()
        self._unsubscribe: list[Callable[[], None]] = []
        self._tasks: TaskSet | None = None
        self._last: dict[str, Any] | None = None
        self._listening = False
        self.running = False
        self.published = 0
        link.on_connection(self._on_connection)

    @property
    def latest(self) -> dict[str, Any] | None:
        """The last snapshot published (with its time), or None before the first."""
        return self._last

    async def start(self) -> None:
        if self.running:
            return
        self.running = True
        self._tasks = TaskSet("hotline-board")
        for name in (*EVENTS, *TRIGGERS):
            self._unsubscribe.append(self._link.on_event(name, self._enqueue))
        self._finished_listeners.append(self._call_finished)
        self._publish_link(self._link.connected)
        if self._link.connected:
            self._events.put_nowait(None)  # seed first
        self._tasks.spawn(self._consume(), name="hotline-board-events")
        self._tasks.spawn(self._publisher(), name="hotline-board-publish")
        self._tasks.spawn(self._norms_loop(), name="hotline-board-norms")
        self._tasks.spawn(self._poll(), name="hotline-board-poll")

    async def stop(self) -> None:
        if not self.running:
            return
        self.running = False
        for remove in self._unsubscribe:
            remove()
        self._unsubscribe.clear()
        with contextlib.suppress(ValueError):
            self._finished_listeners.remove(self._call_finished)
        if self._tasks is not None:
            await self._tasks.close()
            self._tasks = None

    # ------------------------------------------------------------------ inputs
    def _enqueue(self, event: Event) -> None:
        self._events.put_nowait(event)

    def _on_connection(self, up: bool) -> None:
        if not self.running:
            return
        self._publish_link(up)
        if up:
            self._events.put_nowait(None)
        self._dirty.set()

    def _call_finished(self, _call: HotlineCall) -> None:
        self._norms_due.set()
        self._dirty.set()

    def _publish_link(self, up: bool) -> None:
        self._publish("link", "link", {"up": up, "error": "" if up else self._link.last_error})

    def _at(self, event: Event) -> float:
        stamp = _float(event, "Timestamp")
        if stamp is None:
            return self._clock.now().timestamp()
        return stamp + self._clock.offset_s

    async def _consume(self) -> None:
        while True:
            event = await self._events.get()
            try:
                if event is None:
                    await self._seed()
                    continue
                name = _text(event, "Event")
                if name in TRIGGERS:
                    self._dirty.set()
                    continue
                update = self.state.apply(event, self._at(event))
                if update.waited_s is not None:
                    self.metrics.waited(update.waited_s)
                if update.changed or name in ("AgentConnect", "AgentComplete"):
                    # the operator service changes its record on these too
                    self._dirty.set()
            except Exception:
                log.exception("hotline board: an AMI event failed")

    async def _seed(self) -> None:
        try:
            events = await self._link.action_list("QueueStatus", Queue=self.state.queue)
        except TelephonyError as exc:
            # the link dropped again: the next login seeds
            log.info("hotline board: QueueStatus failed (%s); waiting for the next login", exc)
            return
        self.state.seed(events, self._clock.now().timestamp())
        self._dirty.set()

    # ------------------------------------------------------------------ outputs
    async def _poll(self) -> None:
        # the flows' states and the operators' records change without a queue event too
        while True:
            await asyncio.sleep(POLL_EVERY)
            self._dirty.set()

    async def _norms_loop(self) -> None:
        while True:
            self._norms_due.clear()
            try:
                day = self._clock.local_now().date()
                report = await self._appeals.report(day, day)
                data = report.as_dict()
                data.pop("by_day", None)
                rows = await self._appeals.in_period(day, day)
                tz = self._clock.tz
                data["hourly"] = hourly(
                    (a.arrived_at.astimezone(tz).hour, appeal_metrics(a)) for a in rows
                )
                self._norms = data
                self._dirty.set()
            except Exception:
                log.exception("hotline board: today's norms could not be read")
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow the cancellation
            # that stops the board when the event is set at the same moment (a hung stop)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(NORMS_EVERY):
                    await self._norms_due.wait()

    async def _publisher(self) -> None:
        loop = asyncio.get_running_loop()
        last_sent = 0.0
        while True:
            await self._dirty.wait()
            # coalesce: at most one snapshot every PUBLISH_EVERY seconds
            wait = last_sent + PUBLISH_EVERY - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            self._dirty.clear()
            try:
                await self.publish()
            except Exception:
                log.exception("hotline board: snapshot failed")
            last_sent = loop.time()

    async def build(self) -> dict[str, Any]:
        """The board now, without its time."""
        records = {op.interface: OperatorRecord.of(op) for op in await self._operators.all()}
        calls = [call_view(c) for c in list(self._calls.values())]
        return snapshot(self.state, records, calls, self._norms, link_up=self._link.connected)

    async def publish(self) -> bool:
        """Publish the board if it changed since the last time; True if it did."""
        data = await self.build()
        if self._last is not None and {k: v for k, v in self._last.items() if k != "at"} == data:
            return False
        self._last = {"at": self._clock.now().timestamp(), **data}
        self._publish("hotline", "hotline", self._last)
        self.published += 1
        return True
