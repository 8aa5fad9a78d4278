"""The dialer's calls in progress in this process, a previous run's calls it adopted
included: which numbers are in a call right now and how many calls each campaign has.

An entry lives exactly as long as its call's task: an adopted call holds its campaign's
slot while its channel really exists, and frees it the moment the channel is gone.

A call whose customer will hear nothing more (the message over, nothing left but storing
that and hanging up) is `closing`: it hands its campaign's slot to the next call at once,
so that call's Originate goes out while this one is being hung up (issue 14: a slot sat
idle for the flush, the hang-up and the next claim). Its number stays in a call, and its
channel still counts against the trunk's channels (`total`) until it is released. A
campaign has at most a tenth of its calls closing (at least one): a database too slow to
store what they heard keeps their slots, rather than let channels pile up behind it.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class LiveCall:
    campaign_id: int
    contact_id: int
    phone: str
    task: asyncio.Task[Any] | None = None
    released: bool = False
    closing: bool = False
    # when it took its slot (monotonic)
    started: float = 0.0
    # when it is expected to end (monotonic): answered, its message's length from then
    ends: float | None = None
    attempt_id: int = 0


class LiveCalls:
    def __init__(self, on_release: Callable[[LiveCall | None], None]) -> None:
        self._calls: dict[int, LiveCall] = {}  # attempt id -> call
        self._phones: set[str] = set()
        self._per_campaign: dict[int, int] = defaultdict(int)
        # calls closing (see the module docstring): their channels, no campaign's slot
        self._closing = 0
        self._closing_per_campaign: dict[int, int] = defaultdict(int)
        # when campaign slots were freed (monotonic), newest last: the dialer's pace of ends
        self.freed: deque[float] = deque(maxlen=1024)
        # how long recent calls held their campaign's slot (seconds), newest last
        self.held: deque[float] = deque(maxlen=64)
        # a freed slot is a reason for the dialer's next pass now; it is told which call's
        # slot it is (None: only a number and a channel were freed)
        self._on_release = on_release

    def add(self, attempt_id: int, campaign_id: int, contact_id: int, phone: str) -> LiveCall:
        call = LiveCall(
            campaign_id, contact_id, phone, started=time.monotonic(), attempt_id=attempt_id
        )
        self._calls[attempt_id] = call
        self._phones.add(phone)
        self._per_campaign[campaign_id] += 1
        return call

    def get(self, attempt_id: int) -> LiveCall | None:
        return self._calls.get(attempt_id)

    def in_call(self, phone: str) -> bool:
        return phone in self._phones

    def count(self, campaign_id: int) -> int:
        return self._per_campaign.get(campaign_id, 0)

    def total(self) -> int:
        """Calls of every campaign, closing ones included (the trunk's channels they hold)."""
        return sum(self._per_campaign.values()) + self._closing

    def closing(self, attempt_id: int) -> None:
        """The customer will hear nothing more on this call: its campaign's slot is free
        for the next call now, its number and its channel stay taken until `release`."""
        call = self._calls.get(attempt_id)
        if call is None or call.released or call.closing:
            return
        cid = call.campaign_id
        closing = self._closing_per_campaign[cid]
        if closing >= max(1, (self._per_campaign[cid] + closing) // 10):
            return  # it keeps its slot until it is released
        call.closing = True
        self._closing_per_campaign[cid] += 1
        self._per_campaign[cid] -= 1
        self._freed_now(call)
        self._closing += 1
        self._on_release(call)

    def tasks(self) -> list[asyncio.Task[Any]]:
        return [call.task for call in self._calls.values() if call.task is not None]

    def release(self, attempt_id: int) -> None:
        """The call is over: its slot and its number are free for the next pass (the
        contact itself stays `calling` in the database until its result is stored)."""
        call = self._calls.get(attempt_id)
        freed: LiveCall | None = None
        if call is not None and not call.released:
            call.released = True
            self._phones.discard(call.phone)
            if call.closing:
                self._closing -= 1
                self._closing_per_campaign[call.campaign_id] -= 1
            else:
                self._per_campaign[call.campaign_id] -= 1
                self._freed_now(call)
                freed = call
        self._on_release(freed)

    def expect_end(self, attempt_id: int, at: float) -> None:
        """The call is expected to end at `at` (monotonic): answered, nothing to wait for
        but its message."""
        call = self._calls.get(attempt_id)
        if call is not None:
            call.ends = at

    def ending(self, campaign_id: int, by: float) -> int:
        """The campaign's calls holding a slot that are expected to end by `by`."""
        return sum(
            1
            for call in self._calls.values()
            if call.campaign_id == campaign_id
            and not (call.released or call.closing)
            and call.ends is not None
            and call.ends <= by
        )

    def typical_hold(self) -> float:
        """The median time recent calls held their slot (0 before any ended)."""
        if not self.held:
            return 0.0
        return sorted(self.held)[len(self.held) // 2]

    def _freed_now(self, call: LiveCall) -> None:
        now = time.monotonic()
        self.freed.append(now)
        self.held.append(now - call.started)

    def forget(self, attempt_id: int) -> None:
        self.release(attempt_id)
        self._calls.pop(attempt_id, None)
