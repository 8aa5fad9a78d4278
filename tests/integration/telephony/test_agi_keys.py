"""A customer's key is never lost with an AGI result nobody read: sounds and waits that take
keys are CONTROL STREAM FILE, and Asterisk keeps the key that stopped one in the channel
(CPLAYBACKSTOPKEY), so it is read back after a dropped AMI link, and by a new driver of
the call (AgiChannel.last_key)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from contact_center.speech.cache import asterisk_name
from contact_center.speech.silence import ensure_silence
from contact_center.telephony.agi import AgiChannel, AgiServer
from contact_center.telephony.ami import AmiConfig, AmiLink
from contact_center.telephony.originate import Originator
from tests.integration.conftest import AsteriskFixture
from tests.integration.telephony.test_agi_survives_drop import _answered

pytestmark = pytest.mark.integration

# a stock prompt of several seconds (the project's own are built by `sounds build`)
LONG_SOUND = "demo-congrats"
PAD = "0123456789*#"


@pytest.fixture
async def customer(asterisk: AsteriskFixture) -> AsyncIterator[AmiLink]:
    """An AMI session of the customer's side: it presses keys while ours may be down."""
    other = AmiLink(AmiConfig.from_settings(asterisk.settings))
    await other.connect(timeout=10)
    try:
        yield other
    finally:
        await other.close()


async def _press(customer: AmiLink, channel: AgiChannel, key: str, after: float) -> None:
    await asyncio.sleep(after)
    # played on the customer's half of the Local channel, the key comes towards ours
    far = channel.channel[:-1] + ("2" if channel.channel.endswith("1") else "1")
    await customer.action("PlayDTMF", Channel=far, Digit=key, Duration="120")


async def test_hash_and_star_stop_a_sound_like_any_key(
    link: AmiLink, originator: Originator, agi: AgiServer, customer: AmiLink
) -> None:
    channel = await _answered(originator, agi)
    for key in "*#7":
        pressing = asyncio.ensure_future(_press(customer, channel, key, 0.5))
        assert await channel.stream_file(LONG_SOUND, escape_digits=PAD) == key
        await pressing
    assert await channel.last_key() == "7"
    await channel.hangup()


async def test_a_wait_gives_the_key_or_none(
    link: AmiLink, originator: Originator, agi: AgiServer, customer: AmiLink
) -> None:
    channel = await _answered(originator, agi)
    started = time.monotonic()
    assert await channel.wait_for_digit(0.5) is None
    assert 0.45 <= time.monotonic() - started < 1.5
    assert await channel.last_key() is None
    pressing = asyncio.ensure_future(_press(customer, channel, "#", 0.3))
    assert await channel.wait_for_digit(5) == "#"
    await pressing
    assert await channel.last_key() == "#"
    # a wait longer than the stock silence goes on past it, and still takes a key
    pressing = asyncio.ensure_future(_press(customer, channel, "4", 10.5))
    started = time.monotonic()
    assert await channel.wait_for_digit(12) == "4"
    assert 10.3 <= time.monotonic() - started < 11.5
    await pressing
    assert channel.digits_heard == ["#", "4"]
    await channel.hangup()


async def test_a_key_that_stopped_a_sound_while_the_link_was_down_is_read_back(
    link: AmiLink, originator: Originator, agi: AgiServer, customer: AmiLink
) -> None:
    channel = await _answered(originator, agi)
    playing = asyncio.ensure_future(channel.stream_file(LONG_SOUND, escape_digits=PAD))
    await asyncio.sleep(0.3)
    link.drop(reconnect_in=2)
    # the sound stops at once, and its result goes to nobody
    await _press(customer, channel, "9", 0.3)
    assert await asyncio.wait_for(playing, 15) == "9"
    assert agi.recovered_commands == 1
    await channel.hangup()


async def test_a_sound_that_played_out_while_the_link_was_down_gives_no_key(
    link: AmiLink, originator: Originator, agi: AgiServer, customer: AmiLink
) -> None:
    channel = await _answered(originator, agi)
    # a key stopped the sound before: how that one ended is no answer for the next
    pressing = asyncio.ensure_future(_press(customer, channel, "5", 0.3))
    assert await channel.stream_file(LONG_SOUND, escape_digits=PAD) == "5"
    await pressing
    playing = asyncio.ensure_future(channel.stream_file("beep", escape_digits=PAD))
    await asyncio.sleep(0.05)  # queued in Asterisk, not yet played out
    link.drop(reconnect_in=2)
    assert await asyncio.wait_for(playing, 15) is None
    assert agi.recovered_commands == 1
    await channel.hangup()


async def test_a_key_pressed_in_a_wait_while_the_link_was_down_comes_back(
    link: AmiLink, originator: Originator, agi: AgiServer, customer: AmiLink
) -> None:
    channel = await _answered(originator, agi)
    waiting = asyncio.ensure_future(channel.wait_for_digit(10))
    await asyncio.sleep(0.3)
    link.drop(reconnect_in=2)
    await _press(customer, channel, "1", 0.3)
    assert await asyncio.wait_for(waiting, 15) == "1"
    await channel.hangup()


async def test_a_new_driver_of_the_call_learns_the_key_nobody_read(
    link: AmiLink, originator: Originator, agi: AgiServer, customer: AmiLink
) -> None:
    channel = await _answered(originator, agi)
    # the lost driver's sound, stopped by a key whose result reaches nobody
    await customer.action(
        "AGI", Channel=channel.channel, Command=f'CONTROL STREAM FILE {LONG_SOUND} "{PAD}" 0 A B'
    )
    await _press(customer, channel, "0", 0.5)
    await asyncio.sleep(0.3)
    # the next driver's view of the same channel
    taken = AgiChannel(agi, channel.channel, dict(channel.env))
    assert await taken.last_key() == "0"
    await taken.hangup()


async def test_a_wait_plays_the_services_own_silence(
    asterisk: AsteriskFixture,
    link: AmiLink,
    originator: Originator,
    agi: AgiServer,
    customer: AmiLink,
) -> None:
    """What `serve` gives its AGI server (App start): its own silence, in the sounds folder
    Asterisk sees as `cc/`; a missing file would end the call at once."""
    sounds = asterisk.settings.sounds_dir
    path, _ = ensure_silence(sounds)
    agi.silence = asterisk_name(path, sounds)
    assert agi.silence == "cc/silence/10s"
    channel = await _answered(originator, agi)
    started = time.monotonic()
    assert await channel.wait_for_digit(0.8) is None
    assert 0.75 <= time.monotonic() - started < 1.8
    pressing = asyncio.ensure_future(_press(customer, channel, "3", 0.3))
    assert await channel.wait_for_digit(5) == "3"
    await pressing
    await channel.hangup()
