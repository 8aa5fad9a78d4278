"""The composition root: every long-lived object of the service is built here, once.

Nothing is global; each piece gets what it needs through its constructor (wazo style).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from types import TracebackType

from contact_center.calendar import ReloadingCalendar
from contact_center.clock import Clock
from contact_center.customers.services import CustomerService
from contact_center.hotline.service import HotlineService
from contact_center.settings import Settings
from contact_center.speech.service import Speech
from contact_center.storage.database import create_engine, session_factory
from contact_center.telephony.agi import AgiServer
from contact_center.telephony.ami import AmiConfig, AmiLink
from contact_center.telephony.originate import Originator

log = logging.getLogger(__name__)


class Service:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine = create_engine(settings.database_url)
        self.sessions = session_factory(self.engine)
        self.customers = CustomerService(self.sessions)
        self.link = AmiLink(AmiConfig.from_settings(settings))
        self.agi = AgiServer(self.link)
        self.originator = Originator(self.link, settings.dial_template)
        self.clock = Clock.from_settings(settings)
        self.speech = Speech.from_settings(settings)
        # the hotline (dialplan context [hotline] -> AGI(agi:async,hotline)) and its operators
        self.hotline = HotlineService(
            settings,
            self.sessions,
            self.customers,
            self.speech,
            self.link,
            self.clock,
            calendar=ReloadingCalendar.from_settings(settings),
        )
        self.operators = self.hotline.operators
        self.agi.register_flow("hotline", self.hotline.handle_call)

    async def start(self, *, connect_timeout: float = 15.0) -> None:
        await self.link.connect(timeout=connect_timeout)
        log.info(
            "connected to Asterisk AMI at %s:%d", self.settings.ami_host, self.settings.ami_port
        )
        await self.hotline.start()

    async def stop(self) -> None:
        await self.agi.close()
        await self.hotline.stop()
        await self.link.close()
        await self.speech.aclose()
        await self.engine.dispose()

    async def __aenter__(self) -> Service:
        try:
            await self.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()


async def serve_forever(settings: Settings) -> None:
    """Run until SIGINT or SIGTERM; the AMI link reconnects by itself meanwhile."""
    from contact_center.plugins import load_plugins

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    plugins = load_plugins()
    async with Service(settings) as service:
        started = []
        try:
            for plugin in plugins:
                await plugin.start(service)
                started.append(plugin)
            log.warning(
                "contact-center service running (plugins: %s); Ctrl+C stops it",
                ", ".join(p.name for p in started) or "none",
            )
            await stop.wait()
        finally:
            for plugin in reversed(started):
                try:
                    await plugin.stop()
                except Exception:
                    log.exception("plugin %s failed to stop", plugin.name)
    log.warning("contact-center service stopped")
