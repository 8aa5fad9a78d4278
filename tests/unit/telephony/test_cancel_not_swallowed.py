"""A flow cancelled just as its AGI result arrives is cancelled (Python 3.11's wait_for
would return the result and swallow the cancellation: a stopped flow drove its call on)."""

import asyncio

import pytest

from contact_center.telephony.agi import AgiChannel, AgiResult, AgiServer, _Command
from contact_center.telephony.ami import AmiConfig, AmiLink
from contact_center.telephony.exceptions import AmiTimeout


async def test_a_command_cancelled_as_its_result_arrives_raises_cancelled() -> None:
    link = AmiLink(AmiConfig(host="127.0.0.1", port=1, username="u", secret="s"))
    server = AgiServer(link)
    channel = AgiChannel(server, "Local/s@hotline-0001;2", {"agi_uniqueid": "1.1"})
    future: asyncio.Future[AgiResult] = asyncio.get_running_loop().create_future()
    command = _Command("c1", channel, "STREAM FILE x", future)
    waiting = asyncio.ensure_future(server._result(command, 10))
    await asyncio.sleep(0)  # it waits for the result now
    future.set_result(AgiResult(200, "0", ""))
    waiting.cancel()  # in the same turn of the loop
    with pytest.raises(asyncio.CancelledError):
        await waiting
    await server.close()


class _UpLink(AmiLink):
    """Says it is up: a command's timeout then counts (no Asterisk is reached here)."""

    @property
    def connected(self) -> bool:
        return True


async def test_a_command_without_a_result_still_times_out() -> None:
    link = _UpLink(AmiConfig(host="127.0.0.1", port=1, username="u", secret="s"))
    server = AgiServer(link)
    channel = AgiChannel(server, "Local/s@hotline-0001;2", {"agi_uniqueid": "1.1"})
    future: asyncio.Future[AgiResult] = asyncio.get_running_loop().create_future()
    with pytest.raises(AmiTimeout):
        await server._result(_Command("c2", channel, "NOOP", future), 0.05)
    await server.close()
