"""Asterisk ends an answered campaign call by itself at CC_CALL_LIMIT (TIMEOUT(absolute) in
[autoinformer]): a call whose worker died ends by a known time, so another worker may
close its attempt without the customer still on the line."""

from __future__ import annotations

import asyncio
import time

import pytest

from contact_center.telephony.agi import AgiServer
from contact_center.telephony.originate import Originator, new_channel_id
from tests.integration.waiting import wait_for

pytestmark = pytest.mark.integration


async def test_a_call_nobody_drives_is_ended_by_asterisk_at_its_limit(
    originator: Originator, agi: AgiServer
) -> None:
    channel_id = new_channel_id()
    call = agi.claim(channel_id)
    # a sim customer who answers and stays on the line; nobody sends it a command
    result = await originator.originate(
        number="79130000001",
        channel_id=channel_id,
        context="autoinformer",
        ring_timeout=5,
        variables={"CC_CALL_LIMIT": "2"},
    )
    assert result.answered
    channel = await asyncio.wait_for(call, 10)
    answered = time.monotonic()

    async def ended() -> bool | None:
        return channel.gone or None

    await wait_for(ended, timeout=10, what="Asterisk to end the call")
    lasted = time.monotonic() - answered
    print(f"\ncall with CC_CALL_LIMIT=2 ended {lasted:.2f} s after its AGI start")
    assert 1.5 <= lasted <= 4.0


async def test_without_a_limit_the_call_stays_until_hung_up(
    originator: Originator, agi: AgiServer
) -> None:
    channel_id = new_channel_id()
    call = agi.claim(channel_id)
    await originator.originate(
        number="79130000001", channel_id=channel_id, context="autoinformer", ring_timeout=5
    )
    channel = await asyncio.wait_for(call, 10)
    await asyncio.sleep(3)  # longer than the limit above: nothing may end it meanwhile
    assert not channel.gone
    await channel.hangup()


async def test_a_call_put_through_to_an_operator_has_its_limit_lifted(
    originator: Originator, agi: AgiServer
) -> None:
    """What the dialer does before it queues a customer (CallFlow._transfer): a talk with an
    operator is not cut at the campaign call's limit."""
    channel_id = new_channel_id()
    call = agi.claim(channel_id)
    await originator.originate(
        number="79130000001",
        channel_id=channel_id,
        context="autoinformer",
        ring_timeout=5,
        variables={"CC_CALL_LIMIT": "2"},
    )
    channel = await asyncio.wait_for(call, 10)
    await channel.set_variable("TIMEOUT(absolute)", "0")
    await asyncio.sleep(3)  # past the limit: nothing may end the call meanwhile
    assert not channel.gone
    await channel.hangup()
