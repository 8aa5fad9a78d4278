"""The autoinformer as a plugin of the core: CLI groups, and inside `serve` the dialer (phone),
the mailer (e-mail) and the one-click unsubscribe endpoint (HTTP).

Found through the `contact_center.plugins` entry point (pyproject.toml); the core never
imports this package. `start` wires everything from the running core Service by
constructor injection and runs the dialer and the mailer as owned tasks; `stop` closes the
endpoint, lets the letter and the calls in progress finish briefly, then cancels.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import click

from autoinformer.campaigns.scenario_store import ScenarioStore
from autoinformer.email.book import LetterBook
from autoinformer.email.mailer import Mailer, MailerConfig
from autoinformer.phone.book import CallBook
from autoinformer.phone.config import DialerConfig
from autoinformer.phone.dialer import Dialer
from autoinformer.scheduling import Clock, ProductionCalendar
from autoinformer.unsubscribe import Unsubscribes, UnsubscribeServer, unsubscribe_paths
from contact_center.speech import Speech
from contact_center.speech.prompts import PromptCatalog
from contact_center.tasks import TaskSet
from contact_center.telephony.agi import AgiChannel

if TYPE_CHECKING:
    from contact_center.service import Service

log = logging.getLogger(__name__)


class AutoinformerPlugin:
    name = "autoinformer"

    def __init__(
        self,
        config: DialerConfig | None = None,
        *,
        mailer: MailerConfig | None = None,
        http: bool = True,
    ) -> None:
        self._config = config
        self._mailer_config = mailer
        self._http = http
        self._tasks: TaskSet | None = None
        self._speech: Speech | None = None
        self.dialer: Dialer | None = None
        self.mailer: Mailer | None = None
        self.web: UnsubscribeServer | None = None

    def register_cli(self, group: click.Group) -> None:
        from autoinformer.cli import campaign, scenario

        group.add_command(campaign)
        group.add_command(scenario)

    async def start(self, service: Service) -> None:
        settings = service.settings
        # the core's speech service when it has one (its worker processes are shared)
        speech = getattr(service, "speech", None)
        if not isinstance(speech, Speech):
            speech = self._speech = Speech.from_settings(settings)
        clock = Clock(settings.clock_offset)
        # one book for both channels: on SQLite their writes take turns in this process
        book = CallBook(service.sessions)
        scenarios = ScenarioStore(service.sessions, set(PromptCatalog.load()))
        self.dialer = Dialer(
            book=book,
            scenarios=scenarios,
            link=service.link,
            agi=service.agi,
            originator=service.originator,
            speech=speech,
            clock=clock,
            calendar=ProductionCalendar.from_file(settings.calendar_file),
            config=self._config or DialerConfig(),
        )
        service.agi.register_flow("autoinformer", _unclaimed_call)
        self._tasks = TaskSet("autoinformer")
        self._tasks.spawn(self.dialer.run(), name="autoinformer-dialer")
        self.mailer = Mailer(
            book=LetterBook(service.sessions, book),
            scenarios=scenarios,
            settings=settings,
            clock=clock,
            config=self._mailer_config or MailerConfig(),
        )
        self.mailer.start()
        if self._http:
            web = UnsubscribeServer(
                Unsubscribes(
                    service.sessions,
                    secret=settings.unsubscribe_secret,
                    clock=clock,
                    transaction=book.transaction,
                ),
                host=settings.http_host,
                port=settings.http_port,
                paths=unsubscribe_paths(settings.unsubscribe_base_url),
            )
            try:
                await web.start()
                self.web = web
            except OSError as exc:
                # calls and letters matter more than the endpoint: run on, but loudly
                log.error(
                    "unsubscribe endpoint NOT running: cannot listen on %s:%d (%s); "
                    "set CC_HTTP_HOST/CC_HTTP_PORT",
                    settings.http_host,
                    settings.http_port,
                    exc,
                )
        log.info("autoinformer dialer and mailer started")

    async def stop(self) -> None:
        if self.web is not None:
            await self.web.close()
        # the letter and the calls in progress drain side by side, not one after the other
        stops = [part.stop() for part in (self.mailer, self.dialer) if part is not None]
        for failed in await asyncio.gather(*stops, return_exceptions=True):
            if isinstance(failed, BaseException):
                log.error("autoinformer part failed to stop", exc_info=failed)
        if self._tasks is not None:
            await self._tasks.close()
        if self._speech is not None:
            await self._speech.aclose()
        started = self.dialer is not None
        self.dialer = self.mailer = self.web = None
        self._tasks = self._speech = None
        if started:
            log.info("autoinformer dialer and mailer stopped")


async def _unclaimed_call(channel: AgiChannel) -> None:
    """An answered campaign call nobody waits for (its dialer gave up on it): hang up
    rather than leave the customer in silence."""
    log.warning("autoinformer call %s has no dialer waiting for it; hanging up", channel.uniqueid)
    await channel.hangup()
