"""The web console's pieces, built by the composition root with no I/O: the route table,
the pages, the live event hub and the metrics registry. Domains and plugins add routes and
menu entries while the app is built; `serve` starts the Twisted site on top (`start`).
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from prometheus_client import CollectorRegistry

from contact_center.events import EventHub
from contact_center.web.pages import Pages
from contact_center.web.reactor import install_reactor
from contact_center.web.routing import Routes

if TYPE_CHECKING:
    from contact_center.web.site import SessionAuthority, WebSite

log = logging.getLogger(__name__)
STATIC = Path(__file__).resolve().parent / "static"


@runtime_checkable
class WebContributor(Protocol):
    """A plugin part that adds routes, pages and menu entries to the console."""

    def register_web(self, web: WebConsole) -> None: ...


class WebConsole:
    def __init__(
        self,
        *,
        host: str,
        port: int,
        allowed: Callable[[str, str], bool],
        sessions: SessionAuthority,
        events: EventHub,
        behind_proxy: bool = False,
    ) -> None:
        self.host = host
        self.port = port
        self.allowed = allowed
        self.sessions = sessions
        self.events = events
        self.behind_proxy = behind_proxy
        self.routes = Routes()
        self.pages = Pages(allowed)
        self.metrics = CollectorRegistry(auto_describe=True)
        self.site: WebSite | None = None

    @property
    def bound_port(self) -> int:
        if self.site is None:
            raise RuntimeError("the web console is not running")
        return self.site.port

    async def start(self) -> None:
        """Listen on host:port; the asyncio reactor goes onto the running loop first.

        Twisted and klein are imported in a worker thread (the reactor itself is installed
        here, on the loop, in between): about a second of CPU on a loaded machine that, on
        the loop, held up the calls a restarted `serve` was taking up (bench/chaos.py)."""
        await asyncio.to_thread(importlib.import_module, "twisted.internet.asyncioreactor")
        install_reactor()
        # klein imports twisted.internet.reactor: the one just installed
        site_module = await asyncio.to_thread(importlib.import_module, "contact_center.web.site")
        site = site_module.WebSite(
            self.routes,
            host=self.host,
            port=self.port,
            sessions=self.sessions,
            allowed=self.allowed,
            static_dir=STATIC,
            error_pages=self.pages,
            behind_proxy=self.behind_proxy,
        )
        await site.start()
        self.site = site

    async def stop(self) -> None:
        if self.site is not None:
            site, self.site = self.site, None
            await site.stop()
