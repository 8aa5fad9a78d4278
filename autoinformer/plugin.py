"""The autoinformer as a plugin of the core (wazo's plugin.py role): its tables and
migrations, its CLI groups, and its part of every process.

Found through the `contact_center.plugins` entry point (pyproject.toml); the core never
imports this package. `build` wires the campaign services from the core's objects by
constructor injection (the CLI needs no more) and adds its routes to the web console
(`register_web`); inside `serve`, `start` adds the dialer (phone) and the mailer (e-mail),
and `stop` lets the letter and the calls in progress finish briefly, then cancels.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import click

from autoinformer.callbacks import CampaignCallbacks
from autoinformer.campaigns.follow_ups import FollowUpService
from autoinformer.campaigns.service import CampaignService
from autoinformer.email.book import LetterBook
from autoinformer.email.mailer import Mailer, MailerConfig
from autoinformer.phone.book import CallBook
from autoinformer.phone.config import NODE_TRUNK_DIAL, DialerConfig
from autoinformer.phone.dialer import Dialer
from autoinformer.proof import ProofService
from autoinformer.unsubscribe import Unsubscribes, unsubscribe_paths
from autoinformer.unsubscribe import register_web as register_unsubscribe
from autoinformer.web.forms import Defaults
from autoinformer.web.metrics import CampaignMetrics
from autoinformer.web.progress import CampaignProgress
from contact_center.plugins import Schema
from contact_center.service_state import (
    ami_address_of,
    instance_name,
    live_instances,
    service_status_line,
)
from contact_center.tasks import TaskSet
from contact_center.telephony.agi import AgiChannel
from contact_center.telephony.ami import AmiConfig
from contact_center.telephony.peers import PeerAsterisks

if TYPE_CHECKING:
    from contact_center.app import App
    from contact_center.web.console import WebConsole

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).resolve().parent / "migrations" / "versions"


class AutoinformerPlugin:
    name = "autoinformer"

    def __init__(
        self,
        config: DialerConfig | None = None,
        *,
        mailer: MailerConfig | None = None,
        http: bool = True,
        phone: bool = True,
    ) -> None:
        self._config = config or DialerConfig()
        self._mailer_config = mailer or MailerConfig()
        self._http = http
        self._phone = phone

    def schema(self) -> Schema:
        from autoinformer import models  # noqa: F401  (registers the tables)

        return Schema(versions=MIGRATIONS)

    def register_cli(self, group: click.Group) -> None:
        # imported when used: `serve` needs none of the campaign commands' imports
        from contact_center.cli import add_lazy_command

        add_lazy_command(group, "campaign", "autoinformer.cli:campaign")
        add_lazy_command(group, "scenario", "autoinformer.cli:scenario")

    def build(self, app: App) -> Autoinformer:
        return Autoinformer(
            app,
            dialer=self._config if self._phone else None,
            mailer=self._mailer_config,
            http=self._http,
        )


class Autoinformer:
    """The autoinformer's objects in one process: `campaigns` for every command; the dialer
    (unless `dialer` is None: e-mail only), and the mailer only while
    `serve` runs it."""

    def __init__(
        self, app: App, *, dialer: DialerConfig | None, mailer: MailerConfig, http: bool
    ) -> None:
        settings = app.settings
        self._app = app
        self._dialer_config = dialer
        self._mailer_config = mailer
        self._http = http
        self.campaigns = CampaignService(
            app.sessions,
            clock=app.clock,
            timezone=settings.timezone,
            region=settings.default_region,
            prompts=set(app.speech.prompts),
            calendar=app.calendar,
        )
        self.scenarios = self.campaigns.scenarios
        # one book for both channels: on SQLite their writes take turns in this process
        self.book = CallBook(app.sessions, node=settings.node_name, instance=instance_name())
        self.unsubscribes = Unsubscribes(
            app.sessions,
            secret=settings.unsubscribe_secret,
            clock=app.clock,
            transaction=self.book.transaction,
        )
        # customers who asked a campaign call to be called back, on the operators' desk
        app.callbacks.register("autoinformer", CampaignCallbacks(app.sessions, settings.tz))
        # proof of notification packs (`campaign proof`, the console's download)
        self.proofs = ProofService(
            app.sessions,
            clock=app.clock,
            tz=settings.tz,
            sounds_dir=app.speech.sounds_dir,
            asterisk_prefix=app.speech.asterisk_prefix,
            recordings_dir=settings.recordings_path,
        )
        # whom the phone did not reach: a letter or an operator's call-back
        self.follow_ups = FollowUpService(app.sessions, self.scenarios, app.clock)
        self.dialer: Dialer | None = None
        self.mailer: Mailer | None = None
        self._tasks: TaskSet | None = None
        self._unlisten: Callable[[], None] | None = None
        # the active campaigns' counters for the console's live pages (`serve` only)
        self.progress = CampaignProgress(app.sessions, app.events, app.clock)
        # SMTP results of the mailers this process stopped (the metric counts on across them)
        self._smtp_results: dict[str, int] = {}
        # routed from the first event on: a call answered while `serve` is still starting
        # may be a previous run's, which the dialer is about to adopt
        app.agi.register_flow("autoinformer", self._unclaimed_call)

    async def start(self) -> None:
        app, settings = self._app, self._app.settings
        self._tasks = TaskSet("autoinformer")
        if self._dialer_config is not None:
            self.dialer = Dialer(
                book=self.book,
                scenarios=self.scenarios,
                link=app.link,
                agi=app.agi,
                originator=app.originator,
                speech=app.speech,
                clock=app.clock,
                calendar=app.calendar,
                config=replace(
                    self._dialer_config,
                    call_hard_limit=settings.call_hard_limit,
                    driven_lease=settings.driven_lease,
                    dialplan_message=self._dialer_config.dialplan_message
                    and settings.dialplan_message,
                    max_channels=self._dialer_config.max_channels or settings.dial_channels,
                    operators_trunk=self._dialer_config.operators_trunk
                    or (NODE_TRUNK_DIAL if settings.hotline_node else ""),
                ),
                # the operators on the hotline node: their states in the shared database
                free_operators=(
                    (lambda: app.hotline.appeals.free_operators(app.clock.now()))
                    if settings.hotline_node
                    else None
                ),
                # a transfer to the operators is an appeal like a hotline call
                handoffs=app.handoffs,
                live_instances=lambda: live_instances(app.sessions, app.clock.now()),
                # a dead worker's node, asked about its calls (the nodes share the AMI login)
                peers=lambda: PeerAsterisks(
                    AmiConfig.from_settings(settings),
                    lambda instance: ami_address_of(app.sessions, instance),
                ),
                # renewed by the service's heartbeat (serve): a stalled worker's fence
                worker_lease=app.state.lease,
            )
            self._tasks.spawn(self.dialer.run(), name="autoinformer-dialer")
        self.mailer = Mailer(
            book=LetterBook(app.sessions, self.book),
            scenarios=self.scenarios,
            settings=settings,
            clock=app.clock,
            config=self._mailer_config,
        )
        self.mailer.start()
        self._unlisten = self.campaigns.on_change(self._campaign_changed)
        # a finished outage warning's not_reached_in_time contacts, followed up as it ends
        self._tasks.spawn(self.follow_ups.run(), name="autoinformer-follow-ups")
        if self._http:
            self._tasks.spawn(self.progress.run(), name="autoinformer-progress")
        log.info("autoinformer dialer and mailer started")

    def _campaign_changed(self, campaign_id: int) -> None:
        # created, started, paused, resumed or cancelled on this process's console: act on
        # it now
        if self.dialer is not None:
            self.dialer.campaigns_changed(campaign_id)
        if self.mailer is not None:
            self.mailer.wake()

    async def stop(self) -> None:
        if self._unlisten is not None:
            self._unlisten()
            self._unlisten = None
        # the letter and the calls in progress drain side by side, not one after the other
        stops = [part.stop() for part in (self.mailer, self.dialer) if part is not None]
        for failed in await asyncio.gather(*stops, return_exceptions=True):
            if isinstance(failed, BaseException):
                log.error("autoinformer part failed to stop", exc_info=failed)
        if self._tasks is not None:
            await self._tasks.close()
        started = self.mailer is not None
        if self.mailer is not None:
            for result, n in self.mailer.stats.by_status.items():
                self._smtp_results[result] = self._smtp_results.get(result, 0) + n
        self.dialer = self.mailer = None
        self._tasks = None
        if started:
            log.info("autoinformer dialer and mailer stopped")

    def register_web(self, web: WebConsole) -> None:
        """The autoinformer's routes and pages on the console (`http=False`: none)."""
        if not self._http:
            return
        register_unsubscribe(
            web, self.unsubscribes, unsubscribe_paths(self._app.settings.unsubscribe_base_url)
        )
        from autoinformer.web.http import CampaignWeb, register

        app, settings = self._app, self._app.settings

        async def service_line() -> str | None:
            return await service_status_line(app.sessions, app.clock.now(), settings.tz)

        register(
            web,
            CampaignWeb(
                campaigns=self.campaigns,
                proofs=self.proofs,
                follow_ups=self.follow_ups,
                progress=self.progress,
                speech=app.speech,
                audit=app.users.audit,
                defaults=Defaults(settings.timezone, settings.ring_timeout),
                service_line=service_line,
            ),
        )
        web.metrics.register(
            CampaignMetrics(lambda: self.progress.contacts_by_status, self.smtp_results)
        )

    def smtp_results(self) -> dict[str, int]:
        """Letters by SMTP result since the process started (every mailer it ran)."""
        out = dict(self._smtp_results)
        if self.mailer is not None:
            for result, n in self.mailer.stats.by_status.items():
                out[result] = out.get(result, 0) + n
        return out

    async def _unclaimed_call(self, channel: AgiChannel) -> None:
        """An answered campaign call no call task claimed. An open attempt of ours (a
        previous run's call answered while this one was starting) is left to the dialer,
        which adopts it; anything else is hung up rather than left in silence. A process
        without a dialer (a CLI command whose link is up) leaves every call alone: it is
        the dialer's in `serve`."""
        for _ in range(100):  # `serve` starting: the dialer comes with the plugin's start
            if self.dialer is not None or self._tasks is not None:
                break
            await asyncio.sleep(0.1)
        dialer = self.dialer
        if dialer is None:
            return
        if await dialer.owns_call(channel):
            return
        log.warning(
            "autoinformer call %s has no dialer waiting for it; hanging up", channel.uniqueid
        )
        await channel.hangup()
