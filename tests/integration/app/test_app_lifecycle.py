"""The composition root's lifecycle against the session's real Asterisk: plugins' parts start
after the core and stop before it, and a part that fails half-way leaves nothing running."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click
import pytest

from contact_center.app import App, build_app
from contact_center.calendar import WorkingDays
from contact_center.plugins import Part, Schema
from contact_center.storage import migrate
from tests.integration.conftest import AsteriskFixture


class RecordingPart:
    """Starts a background task (as the dialer does); `fail` raises after starting it."""

    def __init__(self, name: str, log: list[str], *, fail: bool = False) -> None:
        self.name, self.log, self.fail = name, log, fail
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(asyncio.sleep(3600))
        self.log.append(f"start {self.name}")
        if self.fail:
            raise RuntimeError(f"{self.name} cannot listen")

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
        self.log.append(f"stop {self.name}")


class RecordingPlugin:
    def __init__(self, name: str, log: list[str], *, fail: bool = False) -> None:
        self.name, self._log, self._fail = name, log, fail
        self.built: RecordingPart | None = None

    def schema(self) -> Schema | None:
        return None

    def register_cli(self, group: click.Group) -> None:
        pass

    def build(self, app: App) -> Part:
        self.built = RecordingPart(self.name, self._log, fail=self._fail)
        return self.built


@pytest.fixture
def database(tmp_path: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'app.db'}"
    migrate.upgrade(url)
    return url


async def test_a_part_failing_half_way_leaves_nothing_running(
    asterisk: AsteriskFixture, database: str
) -> None:
    log: list[str] = []
    first = RecordingPlugin("first", log)
    broken = RecordingPlugin("broken", log, fail=True)
    never = RecordingPlugin("never", log)
    app = build_app(
        asterisk.settings.replace(database_url=database), plugins=[first, broken, never]
    )
    async with app:
        with pytest.raises(RuntimeError, match="broken cannot listen"):
            await app.start()
        # the broken part was stopped (its task too), then the one started before it;
        # the one after it was never started
        assert log == ["start first", "start broken", "stop broken", "stop first"]
        assert first.built is not None and broken.built is not None
        for part in (first.built, broken.built):
            assert part.task is not None
            await asyncio.sleep(0)
            assert part.task.cancelled()
        assert not app.link.connected
        assert app.hotline.calls == {}


async def test_parts_start_after_the_core_and_stop_before_it(
    asterisk: AsteriskFixture, database: str
) -> None:
    log: list[str] = []
    app = build_app(
        asterisk.settings.replace(database_url=database),
        plugins=[RecordingPlugin("a", log), RecordingPlugin("b", log)],
    )
    async with app.running():
        assert app.link.connected, "the core is up before any part starts"
        assert log == ["start a", "start b"]
        reply = await app.link.action("Ping")
        assert reply.get("Response") == "Success"
    assert log == ["start a", "start b", "stop b", "stop a"]
    assert not app.link.connected


async def test_one_clock_calendar_and_speech_pool_are_shared(
    asterisk: AsteriskFixture, database: str
) -> None:
    from autoinformer.plugin import Autoinformer, AutoinformerPlugin

    app = build_app(
        asterisk.settings.replace(database_url=database), plugins=[AutoinformerPlugin()]
    )
    async with app:
        ai = app.part(Autoinformer)
        assert ai.campaigns.clock is app.clock
        # the autoinformer declares its calendar a ProductionCalendar but is handed the app's
        # ReloadingCalendar: both are WorkingDays, the one type the identity check may see
        campaigns_calendar: WorkingDays = ai.campaigns.calendar
        assert campaigns_calendar is app.calendar
        assert app.hotline.calendar is app.calendar
        assert app.hotline.speech is app.speech
