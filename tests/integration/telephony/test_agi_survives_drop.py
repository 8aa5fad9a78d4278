"""AsyncAGI commands in flight survive the AMI link dropping (DESIGN.md: a channel in
AGI(agi:async) keeps waiting while the manager is away), against the real Asterisk."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator

import pytest

from contact_center.telephony.agi import AgiChannel, AgiServer
from contact_center.telephony.ami import AmiConfig, AmiLink
from contact_center.telephony.exceptions import ChannelGone
from contact_center.telephony.originate import Originator, new_channel_id
from tests.integration.conftest import AsteriskFixture

pytestmark = pytest.mark.integration

STAYS = "79130000001"  # answers and stays an hour
HANGS_UP = "79130000006"  # answers and hangs up after a second


async def _answered(originator: Originator, agi: AgiServer, number: str = STAYS) -> AgiChannel:
    channel_id = new_channel_id()
    call = agi.claim(channel_id)
    result = await originator.originate(
        number=number, channel_id=channel_id, context="autoinformer", ring_timeout=5
    )
    assert result.answered
    channel = await asyncio.wait_for(call, 10)
    assert channel.entered_at is None  # seen arriving: its start event is its arrival
    return channel


async def _until_down(link: AmiLink, within: float = 10) -> None:
    deadline = time.monotonic() + within
    while link.connected:
        assert time.monotonic() < deadline, "the link did not drop"
        await asyncio.sleep(0.02)


async def _flow_goes_on(channel: AgiChannel) -> None:
    await channel.set_variable("CC_AFTER", "связь вернулась")
    assert await channel.get_variable("CC_AFTER") == "связь вернулась"
    assert await channel.stream_file("beep") is None
    await channel.hangup()


async def test_long_command_survives_a_drop_and_the_flow_goes_on(
    link: AmiLink, originator: Originator, agi: AgiServer
) -> None:
    channel = await _answered(originator, agi)
    started = time.monotonic()
    waiting = asyncio.ensure_future(channel.command('EXEC Wait "3"'))
    await asyncio.sleep(0.5)
    link.drop(reconnect_in=0.3)
    assert not link.connected
    result = await asyncio.wait_for(waiting, 15)
    # it ended after the reconnect: its own result arrived
    assert (result.code, result.recovered) == (200, False)
    assert 2.8 <= time.monotonic() - started < 6
    assert link.reconnects == 1
    await _flow_goes_on(channel)


async def test_command_that_ended_while_the_link_was_down_resolves_as_recovered(
    link: AmiLink, originator: Originator, agi: AgiServer
) -> None:
    channel = await _answered(originator, agi)
    waiting = asyncio.ensure_future(channel.command('EXEC Wait "1"'))
    await asyncio.sleep(0.3)
    link.drop(reconnect_in=3)  # the Wait ends at 1 s, with nobody listening
    result = await asyncio.wait_for(waiting, 15)
    assert result.code == 200 and result.recovered
    assert agi.recovered_commands == 1
    assert not channel.gone
    await _flow_goes_on(channel)


async def test_command_issued_while_the_link_is_down_is_sent_when_it_is_back(
    link: AmiLink, originator: Originator, agi: AgiServer
) -> None:
    channel = await _answered(originator, agi)
    await channel.set_variable("CC_BEFORE", "1")
    link.drop(reconnect_in=2)
    started = time.monotonic()
    # a 1 s timeout: the time without a link does not count against it
    assert await channel.command("GET VARIABLE CC_BEFORE", timeout=1.0) is not None
    assert await channel.get_variable("CC_BEFORE") == "1"
    assert time.monotonic() - started >= 1.5
    await _flow_goes_on(channel)


async def test_a_call_that_hung_up_while_the_link_was_down_fails_with_channel_gone(
    link: AmiLink, originator: Originator, agi: AgiServer
) -> None:
    channel = await _answered(originator, agi, HANGS_UP)
    waiting = asyncio.ensure_future(channel.command('EXEC Wait "30"'))
    await asyncio.sleep(0.2)
    link.drop(reconnect_in=2.5)
    started = time.monotonic()
    with pytest.raises(ChannelGone, match="while the AMI link was down"):
        await asyncio.wait_for(waiting, 15)
    # told at the reconnect, not after the 30 s Wait's own timeout
    assert time.monotonic() - started < 8
    assert channel.gone


async def test_a_call_entering_agi_while_the_link_is_down_is_picked_up(
    asterisk: AsteriskFixture, link: AmiLink, agi: AgiServer
) -> None:
    await asyncio.sleep(1.1)  # Duration has whole seconds: this call is clearly newer
    other = AmiLink(AmiConfig.from_settings(asterisk.settings))
    await other.connect(timeout=10)
    try:
        link.drop(reconnect_in=4)
        channel_id = new_channel_id()
        call = agi.claim(channel_id)
        dialled = time.time()
        # dialled by someone else while our link is down: its AsyncAGIStart goes to nobody
        result = await Originator(other, "Local/{number}@sim-customers").originate(
            number=STAYS, channel_id=channel_id, context="autoinformer", ring_timeout=5
        )
        assert result.answered and not link.connected
        channel = await asyncio.wait_for(call, 15)
        assert channel.uniqueid == channel_id and channel.flow == "autoinformer"
        assert agi.adopted_calls == 1
        # picked up about 4 s later, it keeps the time it came to be (Duration: whole
        # seconds), so a flow does not take the pickup for the arrival
        assert channel.entered_at is not None
        assert dialled - 1.5 <= channel.entered_at <= dialled + 1.5
        assert time.time() - channel.entered_at >= 2
        await _flow_goes_on(channel)
    finally:
        await other.close()


@pytest.fixture
async def fast_link(asterisk: AsteriskFixture) -> AsyncIterator[AmiLink]:
    link = AmiLink(AmiConfig.from_settings(asterisk.settings.replace(ami_ping_interval=0.5)))
    await link.connect(timeout=10)
    try:
        yield link
    finally:
        await link.close()


async def test_stream_and_wait_survive_asterisk_frozen_past_the_keepalive(
    asterisk: AsteriskFixture, fast_link: AmiLink
) -> None:
    agi = AgiServer(fast_link)
    originator = Originator(fast_link, "Local/{number}@sim-customers")
    try:
        channel = await _answered(originator, agi)
        waiting = asyncio.ensure_future(channel.command('EXEC Wait "2"'))
        playing = asyncio.ensure_future(channel.stream_file("beep"))  # queued behind it
        await asyncio.sleep(0.3)
        pid = asterisk.local.status().pid
        assert pid
        os.kill(pid, signal.SIGSTOP)
        try:
            await _until_down(fast_link, within=8)  # two missed Pings
        finally:
            os.kill(pid, signal.SIGCONT)
        await fast_link.wait_connected(30)
        assert (await asyncio.wait_for(waiting, 15)).code == 200
        assert await asyncio.wait_for(playing, 15) is None
        await _flow_goes_on(channel)
    finally:
        await agi.close()
