"""The AMI link against the real Asterisk from asterisk_conf/ (no fake AMI server)."""

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Iterator

import pytest

from contact_center.devtools.local_asterisk import LocalAsterisk
from contact_center.telephony.agi import AgiServer
from contact_center.telephony.ami import AmiConfig, AmiLink
from contact_center.telephony.exceptions import (
    AmiActionError,
    AmiConnectionError,
    AmiLoginError,
    OriginateNotSent,
)
from contact_center.telephony.originate import Originator, Outcome, new_channel_id
from tests.integration.conftest import AsteriskFixture, asterisk_settings, short_runtime_dir

pytestmark = pytest.mark.integration


async def test_bad_ami_secret_gives_a_clear_login_error(asterisk: AsteriskFixture) -> None:
    config = AmiConfig.from_settings(asterisk.settings.replace(ami_secret="wrong-secret"))
    link = AmiLink(config)
    with pytest.raises(AmiLoginError, match="refused AMI login"):
        await link.connect(timeout=10)
    assert not link.connected


async def test_unreachable_ami_gives_a_connection_error(unused_tcp_port: int) -> None:
    link = AmiLink(AmiConfig(host="127.0.0.1", port=unused_tcp_port, username="u", secret="s"))
    started = time.monotonic()
    with pytest.raises(AmiConnectionError, match="not reachable"):
        await link.connect(timeout=2)
    assert time.monotonic() - started < 5


async def test_action_error_raises_with_asterisk_message(link: AmiLink) -> None:
    with pytest.raises(AmiActionError, match="QueueAdd"):
        await link.action("QueueAdd", Queue="no-such-queue", Interface="Local/9@sim-operators/n")


async def test_least_privilege_user_cannot_run_cli_commands(link: AmiLink) -> None:
    with pytest.raises(AmiActionError):
        await link.action("Command", Command="core show version")


@pytest.mark.parametrize(
    ("number", "outcome"),
    [
        ("79130000001", Outcome.ANSWERED),
        ("79130000002", Outcome.BUSY),
        ("79130000003", Outcome.NO_ANSWER),
        ("79130000007", Outcome.CONGESTION),
    ],
)
async def test_originate_outcome_of_sim_customers(
    originator: Originator, agi: AgiServer, number: str, outcome: Outcome
) -> None:
    channel_id = new_channel_id()
    call = agi.claim(channel_id)
    result = await originator.originate(
        number=number, channel_id=channel_id, context="autoinformer", ring_timeout=4
    )
    assert result.outcome is outcome, result
    assert result.channel_id == channel_id
    if outcome is Outcome.ANSWERED:
        channel = await asyncio.wait_for(call, 10)
        assert channel.uniqueid == channel_id
        await channel.hangup()
    else:
        agi.release(channel_id)


async def test_agi_play_then_dtmf_round_trip(originator: Originator, agi: AgiServer) -> None:
    # sim customer ending in 5 answers, listens a moment and presses 1
    channel_id = new_channel_id()
    call = agi.claim(channel_id)
    result = await originator.originate(
        number="79130000005", channel_id=channel_id, context="autoinformer", ring_timeout=5
    )
    assert result.answered
    channel = await asyncio.wait_for(call, 10)
    assert channel.flow == "autoinformer"
    digit = await channel.stream_file("beep", escape_digits="0123456789")
    if digit is None:
        digit = await channel.wait_for_digit(10)
    assert digit == "1"
    await channel.set_variable("CC_TEST", "проверка")
    assert await channel.get_variable("CC_TEST") == "проверка"
    await channel.hangup()


async def test_caller_id_name_in_cyrillic_survives(
    link: AmiLink, originator: Originator, agi: AgiServer
) -> None:
    channel_id = new_channel_id()
    call = agi.claim(channel_id)
    names: list[str] = []
    remove = link.on_event(
        "*",
        lambda e: (
            names.append(str(e["CallerIDName"]))
            if e.get("Uniqueid") == channel_id and e.get("CallerIDName")
            else None
        ),
    )
    await originator.originate(
        number="79130000001",
        channel_id=channel_id,
        context="autoinformer",
        ring_timeout=5,
        caller_id='"Электросеть Дивногорск" <3914400000>',
    )
    channel = await asyncio.wait_for(call, 10)
    remove()
    assert "Электросеть Дивногорск" in names
    assert channel.env["agi_calleridname"] == "Электросеть Дивногорск"
    await channel.hangup()


async def test_live_channels_include_a_call_in_progress(
    originator: Originator, agi: AgiServer
) -> None:
    channel_id = new_channel_id()
    call = agi.claim(channel_id)
    await originator.originate(
        number="79130000001", channel_id=channel_id, context="autoinformer", ring_timeout=5
    )
    channel = await asyncio.wait_for(call, 10)
    assert channel_id in await originator.live_channel_ids()
    await channel.hangup()
    for _ in range(50):
        if channel_id not in await originator.live_channel_ids():
            break
        await asyncio.sleep(0.1)
    assert channel_id not in await originator.live_channel_ids()


async def test_originate_now_writes_the_action_before_the_loop_runs_again(
    originator: Originator, agi: AgiServer, asterisk: AsteriskFixture
) -> None:
    """The dialer starts a freed slot's next call in the step that freed it: the
    Originate is on its way before anything else runs (the loop is held here, blocked,
    while Asterisk is asked over its CLI), and its outcome comes as `originate`'s."""
    channel_id = new_channel_id()
    call = agi.claim(channel_id)
    outcome = originator.originate_now(
        number="79130000001", channel_id=channel_id, context="autoinformer", ring_timeout=5
    )
    deadline = time.monotonic() + 10
    while channel_id not in asterisk.local.rx("core show channels concise"):
        assert time.monotonic() < deadline, "the Originate waited for the loop"
        time.sleep(0.05)  # noqa: ASYNC251 - blocking on purpose: the loop must not run
    result = await outcome
    assert result.outcome is Outcome.ANSWERED and result.channel_id == channel_id
    channel = await asyncio.wait_for(call, 10)
    await channel.hangup()


async def test_hangup_fails_pending_agi_command(originator: Originator, agi: AgiServer) -> None:
    # ending 6: answers and hangs up after a second, while we wait for a digit
    channel_id = new_channel_id()
    call = agi.claim(channel_id)
    await originator.originate(
        number="79130000006", channel_id=channel_id, context="autoinformer", ring_timeout=5
    )
    channel = await asyncio.wait_for(call, 10)
    from contact_center.telephony.exceptions import ChannelGone

    with pytest.raises(ChannelGone):
        await channel.wait_for_digit(20)


async def test_keepalive_notices_a_frozen_asterisk(asterisk: AsteriskFixture) -> None:
    config = AmiConfig.from_settings(asterisk.settings.replace(ami_ping_interval=0.5))
    link = AmiLink(config)
    await link.connect(timeout=10)
    pid = asterisk.local.status().pid
    assert pid
    downs: list[bool] = []
    link.on_connection(downs.append)
    os.kill(pid, signal.SIGSTOP)
    try:
        for _ in range(100):
            if not link.connected:
                break
            await asyncio.sleep(0.1)
        assert not link.connected, "a half-open link went unnoticed"
    finally:
        os.kill(pid, signal.SIGCONT)
    await link.wait_connected(30)
    assert downs[:2] == [False, True]
    await link.close()


async def _until_boot_known(link: AmiLink, timeout: float = 5.0) -> str:
    deadline = time.monotonic() + timeout
    while not link.known_boot:
        assert time.monotonic() < deadline, "the run of Asterisk was not asked at connect"
        await asyncio.sleep(0.02)
    return link.known_boot


async def test_link_comes_back_after_asterisk_restart(asterisk: AsteriskFixture) -> None:
    link = AmiLink(AmiConfig.from_settings(asterisk.settings))
    await link.connect(timeout=10)
    originator = Originator(link, "Local/{number}@sim-customers")
    agi = AgiServer(link)
    try:
        # asked by the link itself as it connects: the first call's Originate need not
        # wait for it (nobody here asked)
        await _until_boot_known(link)
        await asyncio.to_thread(asterisk.local.stop)
        for _ in range(100):
            if not link.connected:
                break
            await asyncio.sleep(0.1)
        assert not link.connected
        await asyncio.to_thread(asterisk.local.start)
        await link.wait_connected(30)
        assert link.reconnects >= 1
        # forgotten with the old connection, asked again on the new one
        assert await _until_boot_known(link, 10)
        # events flow again: a new call is seen and controlled over the same link
        channel_id = new_channel_id()
        call = agi.claim(channel_id)
        result = await originator.originate(
            number="79130000001", channel_id=channel_id, context="autoinformer", ring_timeout=5
        )
        assert result.answered
        channel = await asyncio.wait_for(call, 10)
        await channel.hangup()
    finally:
        await agi.close()
        await link.close()


async def test_originate_refused_by_asterisk_is_not_sent(originator: Originator) -> None:
    # "Extension does not exist." is answered before anything is dialled
    with pytest.raises(OriginateNotSent, match="refused") as info:
        await originator.originate(
            number="79130000001", channel_id=new_channel_id(), context="no-such-context"
        )
    assert info.value.refused


async def test_originate_on_a_dropping_link_is_not_sent(
    link: AmiLink, originator: Originator
) -> None:
    link._abort_transport()  # the link is going down; connection_lost has not run yet
    with pytest.raises(OriginateNotSent, match="not sent"):
        await originator.originate(
            number="79130000001", channel_id=new_channel_id(), context="autoinformer"
        )
    await link.wait_connected(15)
    # a call's outcome is still a result, not an exception
    result = await originator.originate(
        number="79130000002", channel_id=new_channel_id(), context="autoinformer", ring_timeout=4
    )
    assert result.outcome is Outcome.BUSY


async def _frozen(asterisk: AsteriskFixture, seconds: float, link: AmiLink) -> list[float]:
    """SIGSTOP Asterisk for `seconds`; the moments (from the stop) when the link was seen down."""
    pid = asterisk.local.status().pid
    assert pid
    down_at: list[float] = []
    started = time.monotonic()
    os.kill(pid, signal.SIGSTOP)
    try:
        while time.monotonic() - started < seconds:
            if not link.connected and not down_at:
                down_at.append(time.monotonic() - started)
            await asyncio.sleep(0.05)
    finally:
        os.kill(pid, signal.SIGCONT)
    return down_at


async def test_one_missed_ping_gets_a_second_chance(asterisk: AsteriskFixture) -> None:
    # interval 1 s, ping timeout 2 s: a 3.5 s stall always costs one Ping (sent at most 1 s
    # after the stop, unanswered 2 s later) and never two (the second is answered at 3.5 s)
    link = AmiLink(AmiConfig.from_settings(asterisk.settings.replace(ami_ping_interval=1.0)))
    await link.connect(timeout=10)
    try:
        changes: list[bool] = []
        link.on_connection(changes.append)
        await asyncio.sleep(1.2)  # a Ping cycle under way
        assert await _frozen(asterisk, 3.5, link) == []
        await asyncio.sleep(0.5)
        assert link.connected and changes == []
        assert link.pings_missed >= 1, "the stall was too short to test the second chance"
        assert (await link.action("Ping")).get("Response") == "Success"
    finally:
        await link.close()


async def test_two_missed_pings_drop_the_link_and_sigcont_brings_it_back(
    asterisk: AsteriskFixture,
) -> None:
    link = AmiLink(AmiConfig.from_settings(asterisk.settings.replace(ami_ping_interval=1.0)))
    await link.connect(timeout=10)
    try:
        changes: list[bool] = []
        link.on_connection(changes.append)
        down_at = await _frozen(asterisk, 8.0, link)
        # noticed within interval + 2 x ping timeout (plus slack for a busy machine)
        assert down_at and 3.5 <= down_at[0] <= 7.5, down_at
        resumed = time.monotonic()
        await link.wait_connected(30)
        print(f"down after {down_at[0]:.2f} s; up {time.monotonic() - resumed:.2f} s after SIGCONT")
        assert changes == [False, True]
        assert link.pings_missed >= 2
    finally:
        await link.close()


@pytest.fixture
def own_asterisk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AsteriskFixture]:
    """An Asterisk of this test's own: it is told to shut down."""
    settings = asterisk_settings(short_runtime_dir(tmp_path_factory, "own"))
    local = LocalAsterisk(settings, sip_port=0)
    local.start(timeout=30)
    try:
        yield AsteriskFixture(settings=settings, local=local)
    finally:
        local.stop(timeout=15)


def _rx_quietly(local: LocalAsterisk, command: str) -> None:
    """A CLI command whose console may be cut off by what it does (a stop)."""
    with contextlib.suppress(Exception):
        local.rx(command, timeout=20)


async def test_keepalive_survives_pings_refused_while_asterisk_shuts_down(
    own_asterisk: AsteriskFixture,
) -> None:
    """`core stop gracefully` with a call up: Asterisk answers every Ping with "Asterisk is
    shutting down" and waits for the call. The keepalive goes on pinging, so a freeze of that
    Asterisk (a half-open link) is still noticed."""
    link = AmiLink(AmiConfig.from_settings(own_asterisk.settings.replace(ami_ping_interval=0.5)))
    await link.connect(timeout=10)
    local = own_asterisk.local
    graceful: asyncio.Future[None] | None = None
    try:
        # a customer who listens until hung up: the graceful stop waits for this call
        await link.action(
            "Originate",
            Channel="Local/79130000001@sim-customers",
            Application="Wait",
            Data="60",
            Async="false",
            timeout=15,
        )
        graceful = asyncio.ensure_future(
            asyncio.to_thread(_rx_quietly, local, "core stop gracefully")
        )

        async def refused() -> bool:
            try:
                await link.action("Ping")
            except AmiActionError as exc:
                return "shutting down" in exc.message
            return False

        for _ in range(100):
            if await refused():
                break
            await asyncio.sleep(0.1)
        else:
            pytest.fail("Asterisk never refused a Ping: nothing was tested")
        # a few keepalive rounds (interval 0.5 s) meet the refusal
        await asyncio.sleep(2.0)
        assert link.connected
        pid = local.status(with_version=False).pid
        assert pid
        os.kill(pid, signal.SIGSTOP)
        try:
            for _ in range(150):
                if not link.connected:
                    break
                await asyncio.sleep(0.1)
            assert not link.connected, "the keepalive died on a refused Ping"
        finally:
            os.kill(pid, signal.SIGCONT)
    finally:
        await link.close()
        await asyncio.to_thread(local.stop, 15)
        if graceful is not None:
            await graceful
