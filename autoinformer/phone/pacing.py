"""Pacing: by the operators (how many are free to take a transfer, and who took ours) and
by Asterisk itself (no dialing while it refuses Originates or the link is down)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from contact_center.telephony.ami import AmiLink
from contact_center.telephony.exceptions import TelephonyError

log = logging.getLogger(__name__)


class OperatorDesk:
    """Free operators of the queue, from AMI QueueSummary (Available minus callers already
    waiting), cached for a second; transfers in flight are counted as taken.

    It also notes which operator answered each of the dialer's transfers (AMI AgentConnect).
    Only calls announced with `expect` are noted, and each is dropped by `answered_by` when
    its transfer ends: the hotline's own calls connect operators all day long.
    """

    def __init__(self, link: AmiLink, queue: str, *, ttl: float = 1.0) -> None:
        self._link = link
        self._queue = queue
        self._ttl = ttl
        self._cached: tuple[float, int] | None = None
        self._failing = False
        self.in_flight = 0
        self._transfers: dict[str, str] = {}  # our call's uniqueid -> operator interface
        self._on_connect: dict[str, Callable[[str], None]] = {}
        self._unsubscribe = link.on_event("AgentConnect", self._on_agent_connect)

    def close(self) -> None:
        self._unsubscribe()

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
                # once per outage, not once per pass
                if not self._failing:
                    log.warning("QueueSummary failed: %s", exc)
                self._failing = True
            else:
                self._failing = False
            self._cached = (now, max(0, available))
        return max(0, self._cached[1] - self.in_flight)

    def expect(self, uniqueid: str, on_connect: Callable[[str], None] | None = None) -> None:
        """A call of ours is about to enter the queue (or is there already, after a
        restart): note the operator who answers it, and tell `on_connect` at once (the
        call stores it as it happens)."""
        self._transfers.setdefault(uniqueid, "")
        if on_connect is not None:
            self._on_connect[uniqueid] = on_connect

    def answered_by(self, uniqueid: str) -> str:
        """The operator who answered the call ("" nobody); the call is no longer watched."""
        self._on_connect.pop(uniqueid, None)
        return self._transfers.pop(uniqueid, "")

    @property
    def watched(self) -> int:
        return len(self._transfers)

    def _on_agent_connect(self, event: Any) -> None:
        interface = str(event.get("Interface", "") or event.get("MemberName", ""))
        # the queue's caller is our channel, or a channel linked to it
        for key in ("Uniqueid", "Linkedid"):
            uid = str(event.get(key, ""))
            if uid and uid in self._transfers:
                self._transfers[uid] = interface
                callback = self._on_connect.get(uid)
                if callback is not None:
                    callback(interface)
                return


class DialGate:
    """Whether the dialer may place calls now. Asterisk refusing an Originate (shutting
    down, overloaded) or the link being down means nobody can be called: the dialer
    holds, then sends one call to see if Asterisk takes it again, and only then a full
    batch, instead of claiming the whole list and handing every contact back."""

    def __init__(self, *, first_hold: float = 0.5, longest_hold: float = 8.0) -> None:
        self._first = first_hold
        self._longest = longest_hold
        self._hold = 0.0
        self._until = 0.0
        self.refused = 0
        # Originates sent and not answered yet (refused or taken)
        self.in_flight = 0

    @property
    def open(self) -> bool:
        return time.monotonic() >= self._until

    @property
    def probing(self) -> bool:
        """The last Originate was refused: one call at a time until one is taken."""
        return self._hold > 0

    def not_sent(self) -> None:
        self.refused += 1
        self._hold = min(self._longest, self._hold * 2) if self._hold else self._first
        self._until = time.monotonic() + self._hold

    def sent(self) -> None:
        self._hold = 0.0
        self._until = 0.0


def _int(value: Any) -> int:
    text = str(value or "0")
    return int(text) if text.lstrip("-").isdigit() else 0
