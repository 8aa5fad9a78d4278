"""The operator's desk: what their screen shows and the feed that pops a call up on it.

`DeskService` composes what exists (the operator service, appeals, customers, outages, the
call-back requests) into the desk's views: the operator's state with the current appeal's
timestamps (the browser runs the norm timers from them against the norms the report uses),
the screen-pop of a call ringing the operator, and the call-backs due today.

`DeskFeed` runs inside `serve`: it takes AgentCalled (and the call's later queue events) from
the AMI link, in order, in one owned task, and publishes the pop under the operator's own
EventHub key (`events.desk_prefix(code)`), which only that operator's event stream carries.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import asdict
from datetime import date, datetime
from typing import Any

from contact_center.clock import Clock
from contact_center.customers.services import CustomerService
from contact_center.customers.views import customer_data
from contact_center.events import desk_prefix
from contact_center.hotline.appeals import AppealService
from contact_center.hotline.models import CLASSIFICATION_RU, Appeal, AppealSource
from contact_center.hotline.norms import METRICS, NORMS, Norms
from contact_center.hotline.outage_store import OutageService
from contact_center.operators.callbacks import CallbackRegistry, DueCallback
from contact_center.operators.services import QUEUE, OperatorService, OperatorView
from contact_center.tasks import TaskSet
from contact_center.telephony.ami import AmiLink

log = logging.getLogger(__name__)

STATE_RU = {
    "logged_out": "не в очереди",
    "available": "готов",
    "paused": "пауза",
    "on_call": "разговор",
    "wrap_up": "постобработка",
}
SOURCE_RU = {
    AppealSource.HOTLINE.value: "звонок на горячую линию",
    AppealSource.TRANSFER.value: "перевод из автоинформатора",
    AppealSource.OPERATOR_PHONE.value: "звонок оператора",
    AppealSource.CALLBACK.value: "обратный звонок",
}
LAST_APPEALS = 5
# queue events after AgentCalled that change what the desk shows (the page re-reads its state)
CALL_EVENTS = ("AgentCalled", "AgentConnect", "AgentComplete", "AgentRingNoAnswer", "AgentDump")
# a caller's queue entry, as AMI tells it (the appeal's copy is written by another consumer
# and may not be there yet when the phone rings a few milliseconds later)
JOIN_EVENTS = ("QueueCallerJoin", "QueueCallerLeave", "QueueCallerAbandon")
JOINS_KEPT = 1000


def _epoch(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()


class DeskService:
    def __init__(
        self,
        *,
        operators: OperatorService,
        appeals: AppealService,
        customers: CustomerService,
        outages: OutageService,
        callbacks: CallbackRegistry,
        clock: Clock,
        norms: Norms = NORMS,
    ) -> None:
        self.operators = operators
        self._appeals = appeals
        self._customers = customers
        self._outages = outages
        self._callbacks = callbacks
        self._clock = clock
        self.norms = norms

    def norms_s(self) -> dict[str, float]:
        return {m: self.norms.limit(m) for m in METRICS}

    # ------------------------------------------------------------------ state
    async def state(self, code: str) -> dict[str, Any]:
        """The operator, the current (or last) appeal with its timestamps, the norms."""
        op = await self.operators.get(code)
        appeal = None
        if op.current_appeal_id is not None:
            appeal = await self.appeal_view(await self._appeals.get(op.current_appeal_id))
        return {
            "now": self._clock.now().timestamp(),
            "operator": operator_view(op),
            "appeal": appeal,
            "norms_s": self.norms_s(),
        }

    async def appeal_view(self, a: Appeal) -> dict[str, Any]:
        return {
            "id": a.id,
            "number": a.number,
            "caller": a.caller_number,
            "source": a.source,
            "source_ru": SOURCE_RU.get(a.source, a.source),
            "classification": a.classification,
            "summary": a.summary,
            "context": a.context,
            "customer": await self._customer_of(a),
            "times": {
                "arrived": _epoch(a.arrived_at),
                "queued": _epoch(a.queue_entered_at),
                "answered": _epoch(a.operator_answered_at),
                "ended": _epoch(a.operator_ended_at),
                "lookup_done": _epoch(a.lookup_done_at),
                "info_done": _epoch(a.info_done_at),
                "wrapup_done": _epoch(a.wrapup_done_at),
            },
            "measured": {"wait": a.wait_s, "lookup": a.lookup_s, "info": a.info_s,
                         "wrapup": a.wrapup_s},
        }  # fmt: skip

    async def _customer_of(self, a: Appeal) -> dict[str, Any] | None:
        if a.customer_id is None:
            return None
        described = await self._appeals.describe(a.id)
        found = described.get("customer")
        if not found:
            return None
        return await self.customer_card(str(found["account"]), exclude_appeal=a.id)

    async def customer_card(
        self, account: str, *, exclude_appeal: int | None = None
    ) -> dict[str, Any] | None:
        """A customer with the outages at their address and their last appeals."""
        customer = await self._customers.get(account)
        if customer is None:
            return None
        now = self._clock.now()
        outages = await self._outages.for_caller(customer.address, now)
        recent = await self._appeals.recent_for_customer(
            customer.id, limit=LAST_APPEALS, exclude=exclude_appeal
        )
        card = customer_data(customer)
        card["outages"] = [
            {
                "kind": o.kind,
                "kind_ru": "аварийное" if o.kind == "emergency" else "плановое",
                "addresses": o.addresses,
                "starts_at": o.starts_at.isoformat(timespec="minutes"),
                "ends_at": o.ends_at.isoformat(timespec="minutes"),
                "reason": o.reason,
                "current": o.is_current(now),
            }
            for o in outages
        ]
        card["appeals"] = [
            {
                "number": r.number,
                "arrived_at": r.arrived_at.astimezone(self._clock.tz).isoformat(timespec="minutes"),
                "source_ru": SOURCE_RU.get(r.source, r.source),
                "classification": r.classification,
                "classification_ru": CLASSIFICATION_RU.get(r.classification or "", ""),
                "summary": r.summary,
            }
            for r in recent
        ]
        return card

    async def search(self, query: str, limit: int = 20) -> list[dict[str, Any]]:
        return [customer_data(c) for c in await self._customers.search(query, limit=limit)]

    # ------------------------------------------------------------------ screen-pop
    async def pop(
        self,
        uniqueid: str,
        caller_id: str,
        called_at: datetime,
        *,
        queued_at: datetime | None = None,
    ) -> dict[str, Any]:
        """What the operator's screen shows when their phone rings for caller `uniqueid`
        (who entered the queue at `queued_at`, if the caller knows)."""
        appeal = await self._appeals.by_uniqueid(uniqueid) if uniqueid else None
        data: dict[str, Any] = {
            "kind": "pop",
            "id": uniqueid,
            "at": called_at.timestamp(),
            "caller": caller_id,
            "appeal": None,
            "waited_s": None,
            "queued_at": None,
        }
        if queued_at is not None:
            data["waited_s"] = round(max(0.0, (called_at - queued_at).total_seconds()), 1)
            data["queued_at"] = queued_at.timestamp()
        if appeal is None:
            return data
        view = await self.appeal_view(appeal)
        start = queued_at or appeal.queue_entered_at or appeal.arrived_at
        data.update(
            caller=appeal.caller_number or caller_id,
            appeal=view,
            waited_s=round(max(0.0, (called_at - start).total_seconds()), 1),
            queued_at=start.timestamp(),
        )
        return data

    # ------------------------------------------------------------------ call-backs
    async def callbacks(self) -> list[dict[str, Any]]:
        """Requests due today nobody has called back since they were made."""
        today = self._clock.local_now().date()
        due = await self._callbacks.due(today)
        if not due:
            return []
        reached = await self._appeals.called_back(
            sorted({c.number for c in due}), min(c.asked_at for c in due)
        )
        tz = self._clock.tz
        out = []
        for item in due:
            last = reached.get(item.number)
            if last is not None and last >= item.asked_at:
                continue
            row = asdict(item)
            row["asked_at"] = item.asked_at.astimezone(tz).isoformat(timespec="minutes")
            out.append(row)
        return out


def operator_view(op: OperatorView) -> dict[str, Any]:
    return {
        "code": op.code,
        "name": op.name,
        "interface": op.interface,
        "state": op.state,
        "state_ru": STATE_RU.get(op.state, op.state),
        "since": op.state_since.timestamp(),
        "wrapup_deadline": _epoch(op.wrapup_deadline),
        "calls_taken": op.calls_taken,
        "pause_after_call": op.pause_after_call,
    }


class HotlineMessages:
    """The hotline's recorded messages as call-back requests (a CallbackProvider)."""

    def __init__(self, appeals: AppealService) -> None:
        self._appeals = appeals

    async def due(self, day: date) -> list[DueCallback]:
        out = []
        for a in await self._appeals.messages_due(day):
            if not a.caller_number.startswith("+"):
                continue  # no caller ID: nobody to call back
            out.append(
                DueCallback(
                    source="hotline",
                    ref=a.number,
                    number=a.caller_number,
                    asked_at=a.arrived_at,
                    reason="сообщение вне рабочего времени"
                    if a.out_of_hours
                    else "сообщение: операторы были заняты",
                )
            )
        return out


# ---------------------------------------------------------------------- the feed
Event = Mapping[str, Any]


class DeskFeed:
    """Screen-pops over the event hub (see the module docstring)."""

    def __init__(
        self,
        *,
        link: AmiLink,
        desk: DeskService,
        clock: Clock,
        publish: Callable[[str, str, Any], None],
        queue: str = QUEUE,
    ) -> None:
        self._link = link
        self._desk = desk
        self._clock = clock
        self._publish = publish
        self._queue = queue
        self._events: asyncio.Queue[Event] = asyncio.Queue()
        self._unsubscribe: list[Callable[[], None]] = []
        self._tasks: TaskSet | None = None
        # Uniqueid -> when the caller entered the queue (until they leave it)
        self._joined: dict[str, datetime] = {}
        self.popped = 0

    async def start(self) -> None:
        if self._tasks is not None:
            return
        self._tasks = TaskSet("desk-feed")
        for name in (*JOIN_EVENTS, *CALL_EVENTS):
            self._unsubscribe.append(self._link.on_event(name, self._events.put_nowait))
        self._tasks.spawn(self._consume(), name="desk-feed-events")

    async def stop(self) -> None:
        for remove in self._unsubscribe:
            remove()
        self._unsubscribe.clear()
        if self._tasks is not None:
            await self._tasks.close()
            self._tasks = None

    def _at(self, event: Event) -> datetime:
        with contextlib.suppress(ValueError):
            return self._clock.from_epoch(float(str(event.get("Timestamp", ""))))
        return self._clock.now()

    async def _consume(self) -> None:
        while True:
            event = await self._events.get()
            try:
                await self.handle(event)
            except Exception:
                log.exception("desk feed: %s failed", event.get("Event"))

    async def handle(self, event: Event) -> None:
        if str(event.get("Queue", "")) != self._queue:
            return
        name = str(event.get("Event", ""))
        uniqueid = str(event.get("Uniqueid", ""))
        if name in JOIN_EVENTS:
            if name == "QueueCallerJoin":
                if len(self._joined) >= JOINS_KEPT:  # leaves lost with the link
                    self._joined.pop(next(iter(self._joined)))
                self._joined[uniqueid] = self._at(event)
            else:
                self._joined.pop(uniqueid, None)
            return
        interface = str(event.get("Interface", "") or event.get("Location", ""))
        op = await self._desk.operators.by_interface(interface)
        if op is None:
            return
        at = self._at(event)
        prefix = desk_prefix(op.code)
        if name == "AgentCalled":
            caller = str(event.get("CallerIDNum", "") or "")
            data = await self._desk.pop(
                uniqueid,
                "" if caller == "<unknown>" else caller,
                at,
                queued_at=self._joined.get(uniqueid),
            )
            self._publish(prefix + "pop", "desk-pop", data)
            self.popped += 1
        # the page re-reads its state (the operator service records the call meanwhile)
        self._publish(prefix + "call", "desk-call", {"event": name, "id": uniqueid,
                                                     "at": at.timestamp()})  # fmt: skip
