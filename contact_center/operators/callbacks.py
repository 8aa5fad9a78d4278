"""Call-backs due: who asked an operator to call them back, from every source.

The core lists the hotline's recorded messages itself; a plugin that has call-back requests
of its own (the autoinformer's `callback` contacts) registers a provider on `App.callbacks`
while it is built, so the core never imports it. The desk shows the merged list and rings
the operator's phone, then the customer, for the row the operator picks.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DueCallback:
    """One request to be called back."""

    source: str  # "hotline" (a recorded message), "autoinformer" (a campaign contact)
    ref: str  # the source's own id (appeal number, contact id)
    number: str  # E.164 with '+'
    asked_at: datetime  # when the customer asked (a call-back after it settles the request)
    reason: str  # Russian, for the operator: "сообщение вне рабочего времени", "кампания 7"
    account: str = ""
    name: str = ""


class CallbackProvider(Protocol):
    async def due(self, day: date) -> Sequence[DueCallback]:
        """Requests due by `day` (local date), settled or not: the desk drops the settled."""
        ...


class CallbackRegistry:
    """The providers of call-back requests (the core's and the plugins')."""

    def __init__(self) -> None:
        self._providers: list[tuple[str, CallbackProvider]] = []

    def register(self, name: str, provider: CallbackProvider) -> None:
        self._providers.append((name, provider))

    async def due(self, day: date) -> list[DueCallback]:
        """Every provider's requests; one that fails is logged and left out."""
        out: list[DueCallback] = []
        for name, provider in self._providers:
            try:
                out.extend(await provider.due(day))
            except Exception:
                log.exception("call-back provider %s failed", name)
        return sorted(out, key=lambda c: c.asked_at)
