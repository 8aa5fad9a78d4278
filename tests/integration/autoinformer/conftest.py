"""The autoinformer against the session's real Asterisk (tests/integration/conftest.py).

Each test gets a fresh SQLite database and an app from the composition root on the
session's Asterisk with the autoinformer started, as `contact-center serve` would; the clock
comes from the settings (`clock_offset`). Sim-world timings are globals set over AMI and put back.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest

from autoinformer.campaigns.service import CampaignService
from autoinformer.campaigns.status import CampaignStatus
from autoinformer.demo import longest_message
from autoinformer.email.mailer import MailerConfig
from autoinformer.phone.config import DialerConfig
from autoinformer.plugin import Autoinformer, AutoinformerPlugin
from contact_center.app import App, build_app
from contact_center.clock import Clock
from contact_center.settings import Settings
from contact_center.storage import migrate
from tests.conftest import NewDatabase
from tests.integration.conftest import AsteriskFixture
from tests.integration.waiting import wait_for

T = TypeVar("T")

# a short scenario: the tests wait for calls, not for speech
SHORT_SCENARIO = """
name = "test-debt"
kind = "debt"
title = "Короткое уведомление для тестов"
message = "Задолженность {money:debt}."
wait_digit = 2
repeats = 0
calls_per_free_operator = 3

[keys]
"1" = "confirm"
"0" = "operator"
"9" = "opt_out"
other = "ignore"

[replies]
confirmed = ""
operator = ""
operator_busy = "Операторы заняты, вам перезвонят."
opted_out = ""
goodbye = ""
"""

FAST = DialerConfig(tick=0.2, orphan_grace=30.0, drain_timeout=0.0, queue_timeout=15.0)


@dataclass
class World:
    settings: Settings
    service: App
    plugin: Autoinformer
    campaigns: CampaignService
    tmp: Path
    # sim globals this world changed -> the values they had before
    changed: dict[str, str] = field(default_factory=dict)

    async def sim(self, **values: float | str) -> None:
        """Set sim-world globals; the values they had are put back after the test."""
        link = self.service.link
        for name, value in values.items():
            if name not in self.changed:
                reply = await link.action("Getvar", Variable=name)
                self.changed[name] = str(reply.get("Value", ""))
            await link.action("Setvar", Variable=name, Value=str(value))

    async def scenario(self, text: str = SHORT_SCENARIO, name: str = "test-debt") -> str:
        path = self.tmp / f"{name}.toml"
        path.write_text(text, encoding="utf-8")
        await self.campaigns.scenarios.add_file(path)
        return name

    async def listen_through(self, *campaign_ids: int, margin: float = 0.5) -> float:
        """Make sim customers ending in 8 press 9 only after the longest message ended."""
        seconds = await longest_message(self.plugin, self.service.speech, list(campaign_ids))
        await self.sim(SIM_CUSTOMER_LISTEN=f"{seconds + margin:.2f}")
        return seconds

    async def wait_finished(self, campaign_id: int, timeout: float = 60) -> CampaignStatus:
        async def finished() -> CampaignStatus | None:
            st = await self.campaigns.status(campaign_id)
            return st if st.finished else None

        return await wait_for(finished, timeout, f"campaign {campaign_id} to finish")


def db_url(tmp: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp / 'ai.db'}"
    migrate.upgrade(url, [AutoinformerPlugin()])
    return url


@pytest.fixture
def database(new_database: NewDatabase) -> str:
    """A migrated database on the run's backend (`--db`)."""
    url = new_database("ai")
    migrate.upgrade(url, [AutoinformerPlugin()])
    return url


# `world(now=..., config=..., start_plugin=..., settings=..., mailer=...)`
WorldFactory = Callable[..., AbstractAsyncContextManager[World]]


@pytest.fixture
async def world(
    asterisk: AsteriskFixture, database: str, tmp_path: Path
) -> AsyncIterator[WorldFactory]:
    """`async with world(now=datetime, config=DialerConfig) as w:` a running service;
    `settings={...}` changes settings (SMTP...), `mailer=MailerConfig(...)` the mailer's."""
    worlds: list[World] = []

    @asynccontextmanager
    async def make(
        *,
        now: datetime | None = None,
        config: DialerConfig = FAST,
        start_plugin: bool = True,
        settings: dict[str, Any] | None = None,
        mailer: MailerConfig | None = None,
        web: bool = False,
    ) -> AsyncIterator[World]:
        offset = Clock.at(now).offset_s if now is not None else 0.0
        # port 0: the web console never collides with a `serve` on this machine
        # `settings` may name the clock offset itself: a second run of the same service
        changes: dict[str, Any] = {"http_port": 0, "clock_offset": offset, **(settings or {})}
        settings_ = asterisk.settings.replace(database_url=database, **changes)
        plugin = AutoinformerPlugin(config, mailer=mailer)
        app = build_app(settings_, plugins=[plugin])
        async with app.running(parts=start_plugin, web=web) as service:
            ai = service.part(Autoinformer)
            w = World(settings_, service, ai, ai.campaigns, tmp_path)
            worlds.append(w)
            try:
                yield w
            finally:
                await service.stop_parts()
                for name, value in w.changed.items():
                    await service.link.action("Setvar", Variable=name, Value=value)

    yield make
