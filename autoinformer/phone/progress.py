"""What has happened on one call so far, and its journal: every change is written to the
attempt's row as it happens, so a service killed at any moment loses none of it.

The call never waits for an ordinary write (the customer is listening): parts played are
written behind the playback, the latest state each time, one write at a time. A key that
decides the contact's fate (1, 9, 0 to an operator) is flushed before the call goes on.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

from autoinformer.scheduling import CallFacts

if TYPE_CHECKING:
    from autoinformer.phone.book import CallBook
    from contact_center.clock import Clock

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CallRef:
    """Which call a journal writes for: enough to update its rows without reading them."""

    attempt_id: int
    contact_id: int
    campaign_id: int
    phone: str
    kind: str


@dataclass(slots=True)
class CallProgress:
    parts_total: int = 0
    parts_played: int = 0
    played_to_end: bool = False
    confirmed: bool = False
    # sent to the operators' queue; `transferred` once an operator answered
    queued: bool = False
    transferred: bool = False
    callback: bool = False
    opted_out: bool = False
    digits: str = ""
    operator: str = ""
    # the run of Asterisk the Originate went to (AmiLink.asterisk_boot), "" unknown
    asterisk_boot: str = ""
    # when the Originate went out: the attempt's start from then on (it was claimed up to
    # RESERVE_TTL earlier, ahead of a slot's freeing), None until it is sent
    dialed_at: datetime | None = None
    # proof of notification: the call's recording (MIXMONITOR_FILENAME) and the message
    # rendered for it, JSON [{"text", "sound"}, ...] (Attempt.recording_path, .message)
    recording: str = ""
    message: str = ""

    @property
    def heard(self) -> bool:
        """The whole message was played: the flag, or every part stored as played (a call
        cut off by our side, a restart or Asterisk stopping, right after its last part, by
        a driver that had stored the part and not yet the flag)."""
        return self.played_to_end or 0 < self.parts_total <= self.parts_played

    @property
    def received(self) -> bool:
        """A положительный звонок: the message played to its end, or 1 confirmed it."""
        return self.heard or self.confirmed

    @property
    def decided(self) -> bool:
        """The customer chose something that ends the campaign for them (1, 9, 0)."""
        return self.confirmed or self.opted_out or self.queued or self.callback

    def facts(self, outcome: str = "answered") -> CallFacts:
        return CallFacts(
            outcome=outcome,
            played_to_end=self.heard,
            confirmed=self.confirmed,
            transferred=self.transferred,
            # a customer who asked for an operator is an operator's from then on: put
            # through, or called back by one if nobody answers (never by the robot again)
            callback=self.callback or (self.queued and not self.transferred),
            opted_out=self.opted_out,
            digits=self.digits,
            extra={
                "parts_played": self.parts_played,
                "parts_total": self.parts_total,
                "operator": self.operator,
                # stored with the close too: a call its dialplan played and ended tells its
                # recording only at the end (autoinformer/phone/played.py)
                "recording": self.recording,
            },
        )

    def copy(self) -> CallProgress:
        return replace(self)


class CallJournal:
    """Writes one call's progress to its attempt as it changes (see the module docstring)."""

    def __init__(self, book: CallBook, ref: CallRef, progress: CallProgress, clock: Clock) -> None:
        self._book = book
        self._ref = ref
        self.progress = progress
        self._clock = clock
        self.answered_at: datetime | None = None
        self._dirty = False
        # the next write is one a call waits for (`flush`): ahead of the queued writes
        self._urgent = False
        self._task: asyncio.Task[None] | None = None

    def answered(self, at: datetime | None = None) -> None:
        if self.answered_at is None:
            self.answered_at = at or self._clock.now()
        self.changed()

    def changed(self, *, urgent: bool = False) -> None:
        """Something happened: write the latest state soon, without holding the call
        (`urgent`: ahead of the queued writes, for what a kill must not lose)."""
        self._dirty = True
        self._urgent = self._urgent or urgent
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(
                self._write(), name=f"journal-{self._ref.attempt_id}"
            )

    async def flush(self) -> None:
        """Everything noted so far is committed (a decisive key: before the call goes on).
        Shielded: a stop cancelling the call does not cancel the write under way."""
        self.changed(urgent=True)
        task = self._task
        if task is not None:
            await asyncio.shield(task)

    async def settle(self) -> None:
        """The call is about to be closed with all of it: a write not started yet is not
        needed any more; one under way is waited for (it must not land after the close)."""
        self._dirty = False
        task = self._task
        if task is not None:
            await asyncio.shield(task)

    async def _write(self) -> None:
        while self._dirty:
            self._dirty = False
            urgent, self._urgent = self._urgent, False
            snapshot = self.progress.copy()
            try:
                await self._book.note(
                    self._ref,
                    snapshot,
                    self._clock.now(),
                    answered_at=self.answered_at,
                    urgent=urgent,
                )
            except Exception:
                # the end of the call writes all of it again; a start after a crash reads
                # whatever did get written
                log.exception("attempt %d: progress could not be stored", self._ref.attempt_id)
                return
