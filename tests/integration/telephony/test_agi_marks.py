"""A sound's AstDB mark (AgiChannel.stream_file(mark=...)): set by Asterisk itself when
the sound ended with the caller still there, never when they hung up during it."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from contact_center.telephony.agi import AgiServer, DbKey
from contact_center.telephony.ami import AmiLink
from contact_center.telephony.exceptions import ChannelGone
from contact_center.telephony.originate import Originator
from tests.integration.telephony.test_agi_survives_drop import _answered
from tests.integration.waiting import wait_for

pytestmark = pytest.mark.integration


def _key() -> DbKey:
    return DbKey("cc-test", uuid.uuid4().hex)


async def test_a_sound_played_out_leaves_its_mark_without_anyone_reading_the_result(
    link: AmiLink, originator: Originator, agi: AgiServer
) -> None:
    channel = await _answered(originator, agi)
    key = _key()
    assert not await key.exists(link)
    # nobody waits for the result: Asterisk writes the mark on its own
    playing = asyncio.ensure_future(channel.stream_file("beep", mark=key))

    async def marked() -> bool:
        return await key.exists(link)

    await wait_for(marked, 10, "the mark")
    assert await playing is None
    # what the dialer waits for before it hangs up a call whose message is over
    assert await channel.marked()
    await channel.hangup()


async def test_a_caller_who_hangs_up_during_the_sound_leaves_no_mark(
    link: AmiLink, originator: Originator, agi: AgiServer
) -> None:
    channel = await _answered(originator, agi)
    key = _key()
    # a long stock prompt (the project's own are built by `sounds build`, not in a fresh clone)
    playing = asyncio.ensure_future(channel.stream_file("demo-congrats", mark=key))
    await asyncio.sleep(0.3)
    await link.action("Hangup", Channel=channel.channel)
    with pytest.raises(ChannelGone):
        await asyncio.wait_for(playing, 10)
    # the mark was queued behind the sound; a call that ended takes its queue with it
    await asyncio.sleep(0.5)
    assert not await key.exists(link)
    assert not await channel.marked(timeout=1)


def test_a_mark_key_that_could_break_the_agi_command_is_refused() -> None:
    for family, key in (("cc heard", "1"), ("cc", "a b"), ("cc", ""), ("cc", "x\n1")):
        with pytest.raises(ValueError, match="AstDB key"):
            DbKey(family, key)


async def test_a_sound_sent_while_the_link_is_down_still_gets_its_mark_behind_it(
    link: AmiLink, originator: Originator, agi: AgiServer
) -> None:
    """The last part asked for while the AMI link is down goes out once it is back, and
    its mark is queued right behind it then (not left out)."""
    channel = await _answered(originator, agi)
    key = _key()
    link.drop(reconnect_in=1.0)
    assert not link.connected
    assert await asyncio.wait_for(channel.stream_file("beep", mark=key), 15) is None
    assert await channel.marked()
    assert await key.exists(link)
    await channel.hangup()
