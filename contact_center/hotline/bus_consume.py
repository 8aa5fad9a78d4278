"""AMI queue events -> appeals and operators (the measured queue times come from here).

Events are consumed in arrival order by one owned task (a plain callback only enqueues:
panoramisk would run coroutine callbacks unordered). Each event is handled on its own; one
that fails is logged and the next one is handled.

    QueueCallerJoin     the caller entered the queue            -> appeal.queue_entered_at
    AgentConnect        an operator answered                     -> wait, operator on call
    AgentComplete       the conversation ended                   -> talk time, post-call work
    QueueCallerAbandon  the caller hung up while waiting         -> abandoned, how long
    QueueCallerLeave    left the queue (answered, timeout ...)   -> queue_left_at
    Hangup, UserEvent   of calls the flows let go of (CallRecovery) -> their appeals' end

Hangup and UserEvent of every other channel are dropped in the callback, before the queue:
an autoinformer campaign makes many.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from datetime import datetime

from panoramisk.message import Message

from contact_center.clock import Clock
from contact_center.hotline.appeals import AppealService
from contact_center.hotline.flow import HotlineCall
from contact_center.hotline.recovery import CallRecovery
from contact_center.operators.services import QUEUE, OperatorService
from contact_center.tasks import TaskSet
from contact_center.telephony.ami import AmiLink

log = logging.getLogger(__name__)

EVENTS = ("QueueCallerJoin", "AgentConnect", "AgentComplete", "QueueCallerAbandon",
          "QueueCallerLeave")  # fmt: skip
RECOVERY_EVENTS = ("Hangup", "UserEvent")


class QueueEventConsumer:
    def __init__(
        self,
        link: AmiLink,
        appeals: AppealService,
        operators: OperatorService,
        clock: Clock,
        calls: Mapping[str, HotlineCall],
        *,
        queue: str = QUEUE,
        recovery: CallRecovery | None = None,
    ) -> None:
        self._link = link
        self._appeals = appeals
        self._operators = operators
        self._clock = clock
        self._calls = calls
        self._queue_name = queue
        self._recovery = recovery
        self._events: asyncio.Queue[Message] = asyncio.Queue()
        self._unsubscribe: list[Callable[[], None]] = []
        self.handled = 0

    def start(self, tasks: TaskSet) -> None:
        for name in EVENTS:
            self._unsubscribe.append(self._link.on_event(name, self._events.put_nowait))
        if self._recovery is not None:
            for name in RECOVERY_EVENTS:
                self._unsubscribe.append(self._link.on_event(name, self._orphans_only))
        tasks.spawn(self._consume(), name="hotline-queue-events")

    def stop(self) -> None:
        for remove in self._unsubscribe:
            remove()
        self._unsubscribe.clear()

    def _orphans_only(self, event: Message) -> None:
        if self._recovery is not None and self._recovery.wants(event):
            self._events.put_nowait(event)

    async def settled(self, timeout: float = 5.0) -> None:
        """Return once every event received so far has been handled (at most `timeout`)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):  # not wait_for: it may swallow a cancellation
                await self._events.join()

    async def _consume(self) -> None:
        while True:
            event = await self._events.get()
            try:
                await self.handle(event)
            except Exception:
                log.exception("queue event %s failed", event.get("Event"))
            finally:
                self._events.task_done()
            self.handled += 1

    def _at(self, event: Message) -> datetime:
        raw = str(event.get("Timestamp", ""))
        try:
            return self._clock.from_epoch(float(raw))
        except ValueError:
            return self._clock.now()

    async def handle(self, event: Message) -> None:
        name = str(event.get("Event", ""))
        if name in RECOVERY_EVENTS:
            if self._recovery is not None:
                await self._recovery.handle(event, self._at(event))
            return
        if str(event.get("Queue", "")) != self._queue_name:
            return
        uniqueid = str(event.get("Uniqueid", ""))
        interface = str(event.get("Interface", ""))
        at = self._at(event)
        if name == "QueueCallerJoin":
            position = str(event.get("Position", ""))
            await self._appeals.queue_joined(
                uniqueid, at, int(position) if position.isdigit() else None
            )
        elif name == "AgentConnect":
            appeal = await self._appeals.by_uniqueid(uniqueid)
            operator = await self._operators.call_connected(
                interface, appeal.id if appeal else None, at
            )
            await self._appeals.operator_answered(uniqueid, operator.id if operator else None, at)
            call = self._calls.get(uniqueid)
            if call is not None:
                call.connected(at)
        elif name == "AgentComplete":
            await self._appeals.operator_ended(uniqueid, at)
            await self._operators.call_completed(interface, at)
        elif name == "QueueCallerAbandon":
            await self._appeals.abandoned(uniqueid, at)
        elif name == "QueueCallerLeave":
            await self._appeals.queue_left(uniqueid, at)
