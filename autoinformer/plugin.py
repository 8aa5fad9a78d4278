"""The autoinformer as a plugin of the core: CLI groups, and the dialer inside `serve`.

Found through the `contact_center.plugins` entry point (pyproject.toml); the core never
imports this package. `start` wires the dialer from the running core Service by
constructor injection and runs it as an owned task; `stop` drains, cancels and awaits it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import click

from autoinformer.dialer import Dialer, DialerConfig
from autoinformer.scheduling import Clock, ProductionCalendar
from autoinformer.services import CallBook, ScenarioStore
from contact_center.speech import Speech
from contact_center.speech.prompts import PromptCatalog
from contact_center.tasks import TaskSet
from contact_center.telephony.agi import AgiChannel

if TYPE_CHECKING:
    from contact_center.service import Service

log = logging.getLogger(__name__)


class AutoinformerPlugin:
    name = "autoinformer"

    def __init__(self, config: DialerConfig | None = None) -> None:
        self._config = config
        self._tasks: TaskSet | None = None
        self._speech: Speech | None = None
        self.dialer: Dialer | None = None

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
        self.dialer = Dialer(
            book=CallBook(service.sessions),
            scenarios=ScenarioStore(service.sessions, set(PromptCatalog.load())),
            link=service.link,
            agi=service.agi,
            originator=service.originator,
            speech=speech,
            clock=Clock(settings.clock_offset),
            calendar=ProductionCalendar.from_file(settings.calendar_file),
            config=self._config or DialerConfig(),
        )
        service.agi.register_flow("autoinformer", _unclaimed_call)
        self._tasks = TaskSet("autoinformer")
        self._tasks.spawn(self.dialer.run(), name="autoinformer-dialer")
        log.info("autoinformer dialer started")

    async def stop(self) -> None:
        if self.dialer is None:
            return
        await self.dialer.stop()
        if self._tasks is not None:
            await self._tasks.close()
        if self._speech is not None:
            await self._speech.aclose()
        self.dialer = self._tasks = self._speech = None
        log.info("autoinformer dialer stopped")


async def _unclaimed_call(channel: AgiChannel) -> None:
    """An answered campaign call nobody waits for (its dialer gave up on it): hang up
    rather than leave the customer in silence."""
    log.warning("autoinformer call %s has no dialer waiting for it; hanging up", channel.uniqueid)
    await channel.hangup()
