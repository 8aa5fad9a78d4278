"""Our calls as Asterisk has them: what the dialer checks after a start or a lost AMI link
before it trusts anything it believed about a call.

An Originate with ChannelId X gives its two legs the Uniqueids X (ours: it runs the
[autoinformer] dialplan and AsyncAGI once answered) and X-b (the called side). Asterisk
takes a Uniqueid wherever AMI wants a channel name.

What CoreShowChannels says, as verified on Asterisk 16 with Local channels:
- ringing: our leg is in state 5 (Ringing), application AppDial2;
- answered: state 6 (Up); `Application` is AGI while it waits for AsyncAGI commands, Queue
  while an `EXEC Queue` runs, but it is a cached snapshot and still says Queue after the
  queue returned: only BridgeId (set while bridged to an operator) can be trusted there;
- an operator who answered our queued call leaves MEMBERINTERFACE on our channel
  (queues.conf `setinterfacevar`), which outlives the bridge;
- Hangup causes of an unanswered call are on the far leg (X-b): 17 busy, 34 congestion;
  Local channels that ring out give 0 on both.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from contact_center.telephony.ami import AmiLink
from contact_center.telephony.channels import show_channels
from contact_center.telephony.exceptions import AmiActionError, TelephonyError

UP = 6


def legs(channel_id: str) -> tuple[str, str]:
    """The Uniqueids an Originate with this ChannelId gives its two channels."""
    return channel_id, f"{channel_id}-b"


@dataclass(frozen=True, slots=True)
class ChannelInfo:
    name: str
    uniqueid: str
    state: int
    bridge_id: str

    @property
    def up(self) -> bool:
        return self.state == UP


class AsteriskChannels:
    """Our calls' channels in Asterisk, by the ChannelIds we gave them.

    Listings are shared: every call being watched asks at most once per `max_age`, and
    callers asking while a listing is on its way wait for that one (fifty adopted calls
    polling each second cost two CoreShowChannels a second, not fifty). Hang-ups seen on
    the link wake whoever waits for that call, and their causes are remembered for the
    calls whose OriginateResponse was lost.
    """

    def __init__(self, link: AmiLink, *, max_age: float = 0.5, memory: int = 4096) -> None:
        self._link = link
        self._max_age = max_age
        self._memory = memory
        self._cached: tuple[float, dict[str, ChannelInfo]] | None = None
        self._listing: asyncio.Future[dict[str, ChannelInfo]] | None = None
        self._causes: OrderedDict[str, int] = OrderedDict()
        self._ended: dict[str, asyncio.Event] = {}
        self._unsubscribe = [link.on_event("Hangup", self._on_hangup)]

    def close(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()

    # ------------------------------------------------------------------ listing
    async def snapshot(self, *, fresh: bool = False) -> dict[str, ChannelInfo]:
        """Every channel Asterisk has, by Uniqueid (TelephonyError: Asterisk not reachable)."""
        now = time.monotonic()
        if not fresh and self._cached is not None and now - self._cached[0] < self._max_age:
            return self._cached[1]
        if self._listing is None or self._listing.done():
            self._listing = asyncio.ensure_future(self._list())
        return await asyncio.shield(self._listing)

    async def _list(self) -> dict[str, ChannelInfo]:
        started = time.monotonic()
        channels = {
            shown.uniqueid: ChannelInfo(
                name=shown.name,
                uniqueid=shown.uniqueid,
                state=shown.state,
                bridge_id=shown.bridge_id,
            )
            for shown in await show_channels(self._link)
        }
        self._cached = (started, channels)
        return channels

    async def legs(self, channel_id: str, *, fresh: bool = False) -> dict[str, ChannelInfo]:
        """Which legs of `channel_id` Asterisk still has."""
        snapshot = await self.snapshot(fresh=fresh)
        return {uid: snapshot[uid] for uid in legs(channel_id) if uid in snapshot}

    async def live(self, channel_id: str) -> set[str]:
        return set(await self.legs(channel_id, fresh=True))

    async def variable(self, channel: str, name: str) -> str:
        """A channel variable ("" when unset or the channel is gone)."""
        try:
            reply = await self._link.action("Getvar", Channel=channel, Variable=name)
        except AmiActionError:
            return ""
        value = str(reply.get("Value", "") or "")
        return "" if value == "(null)" else value

    # ------------------------------------------------------------------ hanging up
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

    # ------------------------------------------------------------------ hang-up events
    def cause(self, channel_id: str) -> int | None:
        """The hang-up cause seen for the call (its far leg's first), None if unseen."""
        far, own = legs(channel_id)[1], channel_id
        return self._causes.get(far, self._causes.get(own))

    def hung_up(self, channel_id: str) -> bool:
        """Our leg's Hangup was seen: the call is over whatever a listing would say."""
        return channel_id in self._causes

    def seen_end(self, channel_id: str) -> bool:
        return any(uid in self._causes for uid in legs(channel_id))

    async def wait_end(self, channel_id: str, timeout: float) -> bool:
        """Wait up to `timeout` for our leg's Hangup; True if it came."""
        if channel_id in self._causes:
            return True
        event = self._ended.setdefault(channel_id, asyncio.Event())
        try:
            # not wait_for: on 3.11 it swallows a cancellation that comes with the Hangup,
            # and the call's task (polling in a loop) would go on after a stop
            async with asyncio.timeout(timeout):
                await event.wait()
            return True
        except TimeoutError:
            return False
        finally:
            if self._ended.get(channel_id) is event and not event.is_set():
                del self._ended[channel_id]

    def _on_hangup(self, event: Any) -> None:
        uid = str(event.get("Uniqueid", "") or "")
        if not uid.startswith("cc-"):
            return  # not a call of ours (operators, hotline callers)
        cause = str(event.get("Cause", "") or "")
        self._causes[uid] = int(cause) if cause.isdigit() else 0
        while len(self._causes) > self._memory:
            self._causes.popitem(last=False)
        waiter = self._ended.pop(uid, None)
        if waiter is not None:
            waiter.set()
        if self._cached is not None:
            self._cached[1].pop(uid, None)
