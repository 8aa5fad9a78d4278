"""Live state for watchers (the web console's Server-Sent Events): publish and subscribe.

Publishers (the hotline board, the autoinformer's progress, the link) publish a snapshot
under a key (``campaign:7``, ``hotline``). A subscriber gets the latest snapshot of every key
that changed since it last read: a slow client skips intermediate states instead of holding
an ever-growing queue, and a fast one sees each change at once. Nothing here blocks: publish
is synchronous and O(subscribers).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any


def desk_prefix(operator_code: str) -> str:
    """The keys of one operator's desk (screen-pops): only their own event stream carries
    them. Operator codes have no ':', so one code's prefix never matches another's keys."""
    return f"desk:{operator_code}:"


class _Subscriber:
    __slots__ = ("pending", "wake")

    def __init__(self) -> None:
        self.pending: dict[str, tuple[str, Any]] = {}
        self.wake = asyncio.Event()


class EventHub:
    def __init__(self) -> None:
        self._latest: dict[str, tuple[str, Any]] = {}
        self._subscribers: set[_Subscriber] = set()

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def publish(self, key: str, event: str, data: Any) -> None:
        """Make `data` the current state of `key`; `event` names its kind for the client."""
        item = (event, data)
        if self._latest.get(key) == item:
            return
        self._latest[key] = item
        for sub in self._subscribers:
            sub.pending[key] = item
            sub.wake.set()

    def latest(self, key: str) -> Any | None:
        item = self._latest.get(key)
        return None if item is None else item[1]

    def keys(self, prefix: str = "") -> list[str]:
        return [key for key in self._latest if key.startswith(prefix)]

    async def subscribe(
        self, prefixes: tuple[str, ...] = ("",)
    ) -> AsyncGenerator[tuple[str, Any], None]:
        """The current state of every matching key first, then each change as it comes."""
        sub = _Subscriber()
        for key, item in self._latest.items():
            if key.startswith(prefixes):
                sub.pending[key] = item
        if sub.pending:
            sub.wake.set()
        self._subscribers.add(sub)
        try:
            while True:
                await sub.wake.wait()
                sub.wake.clear()
                batch, sub.pending = sub.pending, {}
                for key, item in batch.items():
                    if key.startswith(prefixes):
                        yield item
        finally:
            self._subscribers.discard(sub)
