"""The dialer's waits end on a stop that comes at the moment they are woken (Python 3.11's
asyncio.wait_for returned the result then and swallowed the cancellation: a stopped loop
ran on and the service's stop waited for ever)."""

from __future__ import annotations

import asyncio

import pytest

from autoinformer.loop import PassLoop
from autoinformer.phone.reconcile import AsteriskChannels
from contact_center.telephony.ami import AmiConfig, AmiLink


async def _napping() -> None:
    # a few turns of the loop: the task under test is in its wait now
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_pass_loop_cancelled_as_it_is_woken_ends() -> None:
    passes = 0

    async def one_pass() -> bool:
        nonlocal passes
        passes += 1
        return False

    loop = PassLoop("test", one_pass, tick=30.0)
    task = asyncio.ensure_future(loop.run())
    await _napping()
    assert passes == 1
    loop.wake()
    task.cancel()  # in the same turn of the loop
    with pytest.raises(asyncio.CancelledError):
        async with asyncio.timeout(2):
            await task


async def test_waiting_for_a_hangup_cancelled_as_it_comes_raises_cancelled() -> None:
    link = AmiLink(AmiConfig(host="127.0.0.1", port=1, username="u", secret="s"))
    channels = AsteriskChannels(link)
    waiting = asyncio.ensure_future(channels.wait_end("cc-1", 30.0))
    await _napping()
    channels._on_hangup({"Uniqueid": "cc-1", "Cause": "16"})
    waiting.cancel()  # in the same turn of the loop
    with pytest.raises(asyncio.CancelledError):
        await waiting
    channels.close()
    await link.close()


async def test_a_hangup_that_comes_still_ends_the_wait() -> None:
    link = AmiLink(AmiConfig(host="127.0.0.1", port=1, username="u", secret="s"))
    channels = AsteriskChannels(link)
    waiting = asyncio.ensure_future(channels.wait_end("cc-2", 30.0))
    await _napping()
    channels._on_hangup({"Uniqueid": "cc-2", "Cause": "16"})
    assert await waiting is True
    assert await channels.wait_end("cc-3", 0.01) is False
    channels.close()
    await link.close()
