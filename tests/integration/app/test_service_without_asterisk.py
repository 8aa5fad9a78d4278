"""`serve` without Asterisk: the service starts, runs what needs no Asterisk, tells
`campaign status` it has no link, and picks Asterisk up when it comes, without a restart."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest

from contact_center.app import build_app, serve_forever
from contact_center.devtools.local_asterisk import LocalAsterisk
from contact_center.service_state import read_states, service_status_line
from contact_center.storage import migrate
from contact_center.telephony.exceptions import AmiLoginError
from contact_center.telephony.originate import new_channel_id
from tests.integration.app.test_app_lifecycle import RecordingPlugin
from tests.integration.conftest import AsteriskFixture, asterisk_settings, short_runtime_dir

pytestmark = pytest.mark.integration


@pytest.fixture
def database(tmp_path: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'app.db'}"
    migrate.upgrade(url)
    return url


async def test_service_starts_without_asterisk_and_links_up_when_it_comes(
    tmp_path_factory: pytest.TempPathFactory,
    database: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = asterisk_settings(short_runtime_dir(tmp_path_factory, "late")).replace(
        database_url=database
    )
    log: list[str] = []
    app = build_app(settings, plugins=[RecordingPlugin("mailer", log)])
    app.state.interval = 0.5
    local = LocalAsterisk(settings, sip_port=0)
    caplog.set_level(logging.WARNING, logger="contact_center")
    try:
        async with app:
            started = time.monotonic()
            await app.start(connect_timeout=1.0, wait_for_asterisk=False, report_state=True)
            assert time.monotonic() - started < 5
            assert not app.link.connected
            assert log == ["start mailer"], "the parts that need no Asterisk run meanwhile"
            await asyncio.sleep(1.0)
            line = await service_status_line(app.sessions, app.clock.now(), settings.tz)
            assert line is not None and line.startswith("Сервис: нет связи с Asterisk с ")
            assert "unreachable" in caplog.text

            await asyncio.sleep(4.0)
            await asyncio.to_thread(local.start, 30)
            booted = time.monotonic()
            await app.link.wait_connected(30)
            up_after = time.monotonic() - booted
            print(f"Asterisk booted {booted - started:.1f} s in; link up {up_after:.1f} s later")
            assert up_after <= app.link.config.reconnect_max + 2
            assert app.link.reconnects == 0  # its first login: nothing was restarted

            for _ in range(40):
                if await service_status_line(app.sessions, app.clock.now(), settings.tz) is None:
                    break
                await asyncio.sleep(0.1)
            assert await service_status_line(app.sessions, app.clock.now(), settings.tz) is None
            # the calls work over that link now
            channel_id = new_channel_id()
            call = app.agi.claim(channel_id)
            result = await app.originator.originate(
                number="79130000001", channel_id=channel_id, context="autoinformer", ring_timeout=5
            )
            assert result.answered
            channel = await asyncio.wait_for(call, 10)
            await channel.hangup()
            await app.stop()
            (state,) = await read_states(app.sessions)
            assert state.stopped_at is not None
            line = await service_status_line(app.sessions, app.clock.now(), settings.tz)
            assert line is not None and line.startswith("Сервис: остановлен в ")
        assert log == ["start mailer", "stop mailer"]
    finally:
        await asyncio.to_thread(local.stop, 15)


async def test_refused_login_stops_serve_with_the_reason(
    asterisk: AsteriskFixture, database: str
) -> None:
    settings = asterisk.settings.replace(ami_secret="wrong-secret", database_url=database)
    started = time.monotonic()
    with pytest.raises(AmiLoginError, match="refused AMI login"):
        await serve_forever(build_app(settings, plugins=[]))
    assert time.monotonic() - started < 5


async def test_refused_login_after_the_grace_is_a_failure_too(
    asterisk: AsteriskFixture, database: str
) -> None:
    # Asterisk answering only after `serve` stopped waiting for it: the refusal still ends it
    settings = asterisk.settings.replace(ami_secret="wrong-secret", database_url=database)
    app = build_app(settings, plugins=[])
    async with app:
        await app.start(connect_timeout=0, wait_for_asterisk=False)
        failure = await asyncio.wait_for(app.link.wait_failure(), 10)
        assert "refused AMI login" in str(failure)
        assert not app.link.connected
