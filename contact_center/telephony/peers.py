"""Other workers' Asterisk nodes, reached on demand.

A `serve` that takes over a dead worker's calls (several dialer workers, each driving its
own node) asks that worker's Asterisk what became of them: whether it is still the run the
calls were placed on, and what marks its dialplan left (AstDB). The address comes from the
dead worker's row in `service_state`; the nodes share one AMI login (README, "Several
dialer workers").
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace

from contact_center.telephony.ami import AmiConfig, AmiLink
from contact_center.telephony.exceptions import TelephonyError

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 5.0


class PeerAsterisks:
    """AMI links to other nodes for one piece of work; `close` when it is done."""

    def __init__(self, config: AmiConfig, address_of: Callable[[str], Awaitable[str]]) -> None:
        self._config = config
        self._address_of = address_of
        self._links: dict[str, AmiLink | None] = {}

    async def link_for(self, instance: str) -> AmiLink | None:
        """A link to the Asterisk the `serve` process `instance` drove; None if that is not
        known or cannot be reached now (asked once per address)."""
        address = await self._address_of(instance) if instance else ""
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit():
            return None
        if address in self._links:
            return self._links[address]
        link = AmiLink(replace(self._config, host=host, port=int(port)))
        try:
            await link.connect(timeout=CONNECT_TIMEOUT)
        except TelephonyError as exc:
            log.warning("the Asterisk at %s cannot be asked about its calls: %s", address, exc)
            self._links[address] = None
            return None
        self._links[address] = link
        return link

    async def close(self) -> None:
        for link in self._links.values():
            if link is not None:
                await link.close()
        self._links.clear()
