"""A driven call's lease: Asterisk ends a campaign call nobody drives any more.

A call in AsyncAGI waits for the service's next command for as long as it lasts. When the
`serve` that drove it dies and does not come back (a crash loop, a database it cannot
reach), a customer in the wait for a key, or after it, heard silence until the call's hard
limit (`CC_CALL_HARD_LIMIT`, 15 minutes). Now the call's dialplan bounds its AGI part by
`CC_DRIVEN_LEASE` seconds (`TIMEOUT(absolute)` as it enters AGI) and the service renews
that bound for every call it drives, a third of the lease before it runs out (AMI
`Setvar`, no AGI command: nothing the customer hears waits for it). A driver that is gone
renews nothing: within the lease Asterisk takes the call to its `T` extension, which says
goodbye (the `goodbye` prompt) and hangs up, and sends the event `CCDriverless`.

A restarted `serve` adopts the calls still there and renews them again; a transfer drops
the call's lease before the queue lifts the bound (an operator's conversation has none).
A renewal never takes a call past its hard limit. Pure parts (`renewal`) have no I/O.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass

from contact_center.telephony.ami import AmiLink
from contact_center.telephony.exceptions import AmiActionError, TelephonyError

log = logging.getLogger(__name__)

# the dialplan's `T` extension sends it as Asterisk ends a call whose lease ran out
DRIVERLESS_EVENT = "CCDriverless"


def renewal(lease: float, until: float, now: float) -> int:
    """The seconds a renewal at `now` grants: the lease, but never past `until` (the call's
    hard limit, monotonic), and at least 1 (0 would lift the bound altogether)."""
    return max(1, int(min(lease, until - now)))


@dataclass(slots=True)
class _Held:
    channel: str
    # the call's hard limit (monotonic): no renewal reaches past it
    until: float


class DrivenLeases:
    """The calls this service drives in AGI, their bound renewed every `lease / 3` s."""

    def __init__(self, link: AmiLink, lease: float) -> None:
        self._link = link
        self.lease = lease
        self._held: dict[str, _Held] = {}
        self._wake = asyncio.Event()
        self.renewals = 0

    @property
    def on(self) -> bool:
        return self.lease > 0

    def hold(self, channel: str, hard_limit: float) -> None:
        """`channel` (its Asterisk name) is driven by us from now on, at most `hard_limit`
        seconds more."""
        if self.on and channel:
            self._held[channel] = _Held(channel, time.monotonic() + hard_limit)
            # an adopted call's lease may be nearly out: renew it now, not in a while
            self._wake.set()

    def drop(self, channel: str) -> None:
        """Not ours to keep alive any more: it ended, or goes to an operator."""
        self._held.pop(channel, None)

    async def run(self) -> None:
        """Renew every held call's bound a third of the lease before it runs out, until
        cancelled."""
        if not self.on:
            return
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.lease / 3):
                    await self._wake.wait()
            self._wake.clear()
            if self._held and self._link.connected:
                await self.renew_all()

    async def renew_all(self) -> None:
        now = time.monotonic()
        held = list(self._held.values())
        results = await asyncio.gather(
            *(self._renew(entry, now) for entry in held), return_exceptions=True
        )
        for entry, result in zip(held, results, strict=True):
            if result is None:
                self.renewals += 1
            elif isinstance(result, AmiActionError):
                # the channel is gone (its end is seen elsewhere)
                self._held.pop(entry.channel, None)
            elif isinstance(result, TelephonyError):
                # the link is down: the next round renews (a lease outlives a short drop)
                log.debug("lease renewal not sent: %s", result)
            else:
                log.warning("a call's lease was not renewed: %s", result)

    async def _renew(self, entry: _Held, now: float) -> None:
        await self._link.action(
            "Setvar",
            Channel=entry.channel,
            Variable="TIMEOUT(absolute)",
            Value=str(renewal(self.lease, entry.until, now)),
            timeout=max(1.0, self.lease / 3),
        )
