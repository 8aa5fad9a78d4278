"""Twisted's asyncio reactor on the service's own event loop.

The web site shares the loop with the AMI link: one thread, no locks between the two. The
reactor must be installed before anything imports `twisted.internet.reactor` (klein does on
import), so the Twisted edge is imported only after `install_reactor` ran, from `serve` or
a test, on the running loop.
"""

from __future__ import annotations

import asyncio
import sys


class ReactorError(RuntimeError):
    error_id = "web-reactor"


def install_reactor() -> None:
    """Install AsyncioSelectorReactor on the running loop; a second call on the same loop is
    a no-op. A reactor already bound elsewhere (another loop, or the default reactor
    imported too early) is refused: the site would never be served."""
    loop = asyncio.get_running_loop()
    if "twisted.internet.reactor" in sys.modules:
        from twisted.internet import reactor
        from twisted.internet.asyncioreactor import AsyncioSelectorReactor

        if not isinstance(reactor, AsyncioSelectorReactor):
            raise ReactorError(
                f"twisted.internet.reactor was imported before the asyncio reactor was "
                f"installed ({type(reactor).__name__})"
            )
        if reactor._asyncioEventloop is not loop:
            raise ReactorError("the asyncio reactor is bound to another event loop")
        return
    from twisted.internet import asyncioreactor

    asyncioreactor.install(loop)
