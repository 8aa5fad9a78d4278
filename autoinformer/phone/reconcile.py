"""After a start or a lost AMI reply: attempts left open are checked against Asterisk.

A call still live is waited for, nobody dials its contact until it ends, and since nobody
drives it any more (its AsyncAGI session died with the run that made it) it is hung up
after a grace period rather than left as dead air. An attempt whose call is not live is
closed as failed and retried by the campaign's policy.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Collection

from autoinformer.phone.book import CallBook, OpenAttempt
from autoinformer.phone.config import DialerConfig, DialerStats
from autoinformer.phone.live import LiveCalls
from autoinformer.scheduling import CallFacts
from contact_center.clock import Clock
from contact_center.tasks import TaskSet
from contact_center.telephony.ami import AmiLink
from contact_center.telephony.exceptions import AmiActionError, TelephonyError
from contact_center.telephony.originate import Originator

log = logging.getLogger(__name__)


def legs(channel_id: str) -> tuple[str, str]:
    """The Uniqueids an Originate with this ChannelId gives its two channels."""
    return channel_id, f"{channel_id}-b"


class AsteriskChannels:
    """Our calls' channels in Asterisk, found and hung up by the ChannelIds we gave them
    (Asterisk takes a Uniqueid wherever AMI Hangup wants a channel name)."""

    def __init__(self, link: AmiLink, originator: Originator) -> None:
        self._link = link
        self._originator = originator

    async def live(self, channel_id: str) -> set[str]:
        """Which legs of `channel_id` Asterisk still has."""
        return set(legs(channel_id)) & await self._originator.live_channel_ids()

    async def hang_up(self, ids: Collection[str]) -> None:
        for uid in ids:
            with contextlib.suppress(AmiActionError):  # gone meanwhile
                await self._link.action("Hangup", Channel=uid)

    async def hang_up_all(self, channel_id: str) -> bool:
        """Hang up whatever is left of `channel_id`; True when nothing is (False: Asterisk
        could not be asked)."""
        try:
            await self.hang_up(await self.live(channel_id))
            return True
        except TelephonyError:
            return False


class Reconciler:
    def __init__(
        self,
        *,
        book: CallBook,
        channels: AsteriskChannels,
        originator: Originator,
        link: AmiLink,
        clock: Clock,
        live: LiveCalls,
        aux: TaskSet,
        stats: DialerStats,
        config: DialerConfig,
    ) -> None:
        self._book = book
        self._channels = channels
        self._originator = originator
        self._link = link
        self._clock = clock
        self._live = live
        self._aux = aux
        self._stats = stats
        self._config = config

    async def reconcile(self) -> None:
        """Before the first call: every attempt a previous run left open is checked."""
        await self._book.release_stray_calling()
        open_attempts = await self._book.open_attempts()
        if not open_attempts:
            return
        log.warning("reconciling %d attempts left open by a previous run", len(open_attempts))
        await self.check(open_attempts)

    async def check_suspects(self) -> None:
        """Attempts whose Originate or AGI reply was lost with the link: check them."""
        if not self._link.connected:
            return
        attempts = self._live.take_suspects()
        if attempts:
            await self.check(attempts)

    async def check(self, attempts: list[OpenAttempt]) -> None:
        live = await self._originator.live_channel_ids()
        for attempt in attempts:
            existing = self._live.get(attempt.id)
            if existing is not None and existing.task is not None:
                continue  # its call task is still running here
            if live.intersection(legs(attempt.channel_id)):
                if existing is None:
                    contact = await self._book.contact_fields(attempt.contact_id)
                    phone = contact.phone if contact else ""
                    self._live.add(attempt.id, attempt.campaign_id, attempt.contact_id, phone)
                self._aux.spawn(self._wait_orphan(attempt), name=f"orphan-{attempt.id}")
            else:
                await self._book.record(
                    attempt.id,
                    CallFacts("failed"),
                    self._clock.now(),
                    error="interrupted: the call was not live when checked",
                )
                self._stats.reconciled += 1
                if existing is not None:
                    self._live.forget(attempt.id)

    async def _wait_orphan(self, attempt: OpenAttempt) -> None:
        """A call of a previous run is still live: its contact waits until it ends."""
        started = time.monotonic()
        hung_up = False
        try:
            while True:
                ids = await self._channels.live(attempt.channel_id)
                if not ids:
                    break
                if not hung_up and time.monotonic() - started >= self._config.orphan_grace:
                    await self._channels.hang_up(ids)
                    hung_up = True
                    self._stats.orphans_hung_up += 1
                await asyncio.sleep(1.0)
            await self._book.record(
                attempt.id,
                CallFacts("failed"),
                self._clock.now(),
                error="interrupted: a previous run's call, waited for until it ended",
            )
            self._stats.reconciled += 1
        finally:
            self._live.forget(attempt.id)
