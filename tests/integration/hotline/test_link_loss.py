"""Nothing lost, nobody cut off: the hotline on a real Asterisk when its flow loses control.

A flow that is cancelled or stopped hands its caller to the dialplan's fallback (queue or
goodbye); a frozen Asterisk (SIGSTOP, as tests/integration/telephony does) or a cut AMI
connection (AmiCut) does not end a conversation; every appeal closes, with the true end
when it is seen and as "lost" when it is not.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import datetime
from pathlib import Path

import pytest

from contact_center.hotline.appeals import AppealService
from contact_center.hotline.flow import HotlineCall
from contact_center.hotline.models import Appeal
from contact_center.operators.models import OperatorState
from contact_center.settings import PROJECT_ROOT
from contact_center.storage import migrate
from contact_center.storage.database import create_engine, session_factory
from contact_center.telephony.ami import AmiConfig, AmiLink
from tests.integration.conftest import AsteriskFixture
from tests.integration.hotline.ami_cut import AmiCut
from tests.integration.hotline.conftest import (
    IN_HOURS,
    OUT_OF_HOURS,
    TZ,
    Hotline,
    MakeHotline,
    offset_to,
    until,
)


def entries(appeal: Appeal, kind: str) -> list[str]:
    return [e[1] for e in appeal.timeline if e[0] == kind]


def queue_log(h: Hotline) -> str:
    return (Path(h.service.settings.asterisk_runtime_dir) / "log" / "queue_log").read_text()


async def in_state(call: HotlineCall, state: str, timeout: float = 40) -> None:
    await until(lambda: call.machine.state == state, timeout=timeout, what=f"state {state}")


@contextmanager
def frozen(asterisk: AsteriskFixture) -> Iterator[None]:
    """Asterisk stopped (SIGSTOP) inside the block, whatever happens in it."""
    pid = asterisk.local.status(with_version=False).pid
    assert pid
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


@pytest.fixture
async def cut(asterisk: AsteriskFixture) -> AsyncIterator[AmiCut]:
    relay = AmiCut(asterisk.settings.ami_port)
    await relay.up()
    try:
        yield relay
    finally:
        await relay.close()


@asynccontextmanager
async def direct_link(asterisk: AsteriskFixture) -> AsyncIterator[AmiLink]:
    """A link of the test's own, straight to Asterisk (the service's may be cut)."""
    link = AmiLink(AmiConfig.from_settings(asterisk.settings))
    await link.connect(timeout=10)
    try:
        yield link
    finally:
        await link.close()


async def test_flow_cancelled_mid_menu_hands_the_caller_to_the_queue(
    hotline: MakeHotline,
) -> None:
    h = await hotline()
    sim = await h.call("silent")  # presses nothing: stays in the menu
    call = await h.started(sim)
    await in_state(call, "ivr")
    assert call.task is not None
    call.task.cancel()  # the flow loses control in the middle of the greeting
    await h.finished(sim)
    assert call.handed_off == "stopped"
    # the dialplan queued the caller, a sim operator answered, talked and hung up, the
    # fallback said goodbye: the service, still running, saw it all and closed the appeal
    appeal = await h.closed(call.appeal_id)
    assert appeal.ended_by == "operator"
    assert appeal.queue_entered_at and appeal.operator_answered_at and appeal.operator_ended_at
    assert appeal.ended_at is not None and appeal.ended_at >= appeal.operator_ended_at
    assert entries(appeal, "handoff") == ["stopped"]
    assert entries(appeal, "fallback") == ["queue", "goodbye"]
    assert entries(appeal, "state")[-1] == "ended"
    assert appeal.ivr_path.endswith("handoff:stopped")
    assert f"|{sim.hotline_uniqueid}|operators|" in queue_log(h)
    assert h.service.hotline.recovery.orphans == {}


async def test_stopped_service_leaves_no_caller_in_silence_and_no_appeal_open(
    hotline: MakeHotline,
) -> None:
    h = await hotline()
    sim = await h.call("silent")
    call = await h.started(sim)
    await in_state(call, "ivr")
    await h.service.stop()
    # closed at the stop: the service will not see this call end
    appeal = await h.service.hotline.appeals.get(call.appeal_id or 0)
    assert appeal.ended_by == "lost" and appeal.ended_at is not None
    assert entries(appeal, "handoff") == ["stopped"]
    assert entries(appeal, "note") == ["service stopped"]
    assert await h.service.hotline.appeals.open_appeals() == []
    # ... and the caller was not left in the menu's silence: the queue took them and a sim
    # operator answered, with no service running at all
    await until(
        lambda: (
            f"|{sim.hotline_uniqueid}|operators|" in queue_log(h)
            and "|CONNECT|" in queue_log(h).split(sim.hotline_uniqueid, 1)[1]
        ),
        timeout=30,
        what="an operator to answer the released caller",
    )


async def test_call_orphaned_while_asterisk_froze_is_released_when_the_link_returns(
    hotline: MakeHotline, asterisk: AsteriskFixture
) -> None:
    h = await hotline(ami_ping_interval=0.5)
    h.service.hotline.recovery.link_grace = 1.0  # the flow gives up quickly
    link = h.service.link
    sim = await h.call("silent")
    call = await h.started(sim)
    await in_state(call, "ivr")
    with frozen(asterisk):
        await until(lambda: not link.connected, timeout=10, what="the link to drop")
        await h.finished(sim, timeout=10)  # the flow let go; the link is still down
        assert call.handed_off == "link down"
        assert h.service.hotline.recovery.orphans[sim.hotline_uniqueid].released is False
    # once the link is back the reconciliation finds the call in AsyncAGI, driven by
    # nobody, and releases it: queue, operator, goodbye
    appeal = await h.closed(call.appeal_id)
    assert appeal.ended_by == "operator" and appeal.operator_answered_at is not None
    assert entries(appeal, "handoff") == ["link down"]
    assert entries(appeal, "link") == ["down"]
    assert entries(appeal, "fallback") == ["queue", "goodbye"]
    assert h.service.hotline.recovery.released >= 1


async def test_conversation_survives_a_frozen_asterisk_and_its_end_is_learned(
    hotline: MakeHotline, asterisk: AsteriskFixture
) -> None:
    # a missed Ping drops the link after 0.5 + 2 s; the freeze lasts longer than that
    h = await hotline(ami_ping_interval=0.5, sim_operator_wrapup_time=0.2)
    talk = 6.0
    await h.service.link.action("Setvar", Variable="SIM_OPERATOR_TALK_TIME", Value=f"{talk:g}")
    link = h.service.link
    sim = await h.call("d0")
    call = await h.started(sim)
    await in_state(call, "connected")
    await asyncio.sleep(0.5)
    started = time.monotonic()
    with frozen(asterisk):
        await until(lambda: not link.connected, timeout=10, what="the link to drop")
        dropped = time.monotonic()
        await asyncio.sleep(0.5)
    resumed = time.monotonic()
    await link.wait_connected(20)
    back = time.monotonic()
    await h.finished(sim, timeout=30)
    assert call.handed_off is None
    appeal = await h.closed(call.appeal_id)
    # the operator ended the conversation after its full length: nobody cut the caller off
    assert appeal.ended_by == "operator"
    assert appeal.talk_s is not None and talk - 0.5 < appeal.talk_s < talk + 3
    assert appeal.operator_ended_at is not None and appeal.ended_at is not None
    assert 0 <= (appeal.ended_at - appeal.operator_ended_at).total_seconds() < 3
    assert entries(appeal, "link") == ["down", "back"]
    assert appeal.ivr_path == "main:0=operator queue:continue"
    after = queue_log(h).split(sim.hotline_uniqueid, 1)[1]
    assert "|COMPLETEAGENT|" in after and "|COMPLETECALLER|" not in after
    print(
        f"\nfrozen {resumed - started:.1f} s (link dropped after {dropped - started:.1f} s, "
        f"back {back - resumed:.2f} s after SIGCONT); talk {appeal.talk_s:.1f} s of {talk:g}; "
        f"appeal closed {(appeal.ended_at - appeal.operator_ended_at).total_seconds():.2f} s "
        "after the operator hung up"
    )


async def test_queue_ending_while_the_link_is_cut_is_learned_and_rebuilt(
    hotline: MakeHotline, cut: AmiCut
) -> None:
    h = await hotline(ami_port=cut.port, sim_operator_wrapup_time=0.2)
    await h.service.link.action("Setvar", Variable="SIM_OPERATOR_TALK_TIME", Value="2")
    link = h.service.link
    sim = await h.call("d0")
    call = await h.started(sim)
    await in_state(call, "connected")
    await cut.down()
    # the operator hangs up (2 s) while nobody listens: AgentComplete and the EXEC's
    # AsyncAGIExec are lost, the caller waits in AsyncAGI for the service to come back
    await asyncio.sleep(4)
    await cut.up()
    await link.wait_connected(20)
    await h.finished(sim, timeout=30)
    appeal = await h.closed(call.appeal_id)
    assert appeal.ended_by == "operator"
    assert appeal.operator_answered_at is not None and appeal.operator_ended_at is not None
    # learned after the link came back: not before the true end
    assert (appeal.operator_ended_at - appeal.operator_answered_at).total_seconds() >= 2
    assert entries(appeal, "rebuilt") == [
        "operator end (queue end learned after the link came back)"
    ]
    late = (appeal.operator_ended_at - appeal.operator_answered_at).total_seconds() - 2
    print(f"\nqueue end learned {late:.1f} s after the operator hung up (link cut 4 s)")
    # the operator is not stuck on a call that ended unseen: post-call work, then available
    assert appeal.operator_id is not None

    async def all_available() -> bool:
        # the database turns available first, the QueuePause that unpauses follows it
        views = await h.service.operators.all()
        members = (await h.members()).values()
        return all(v.state == OperatorState.AVAILABLE for v in views) and not any(
            m.paused for m in members
        )

    await until(all_available, timeout=15, what="every operator to be available and unpaused")


@pytest.mark.parametrize("grace", [30.0, 0.5], ids=["flow-finds-out", "reconcile-finds-out"])
async def test_caller_hanging_up_while_the_link_is_cut_closes_the_appeal_as_lost(
    hotline: MakeHotline, asterisk: AsteriskFixture, cut: AmiCut, grace: float
) -> None:
    h = await hotline(ami_port=cut.port)
    h.service.hotline.recovery.link_grace = grace
    sim = await h.call("silent")
    call = await h.started(sim)
    await in_state(call, "ivr")
    await cut.down()
    await asyncio.sleep(1.0)  # with the short grace the flow lets go meanwhile
    async with direct_link(asterisk) as direct:
        await direct.action("Hangup", Channel=sim.channel_id)  # the caller's side
        hung_up = h.service.clock.now()
    await asyncio.sleep(0.5)
    await cut.up()
    appeal = await h.closed(call.appeal_id, timeout=30)
    assert appeal.ended_by == "lost"
    # the end is when the service found out, never before the caller left
    assert appeal.ended_at is not None and appeal.ended_at >= hung_up
    # "lost", not "caller": the Hangup went to nobody, and a channel found gone after the
    # reconnect (by the AGI reconciliation, or by the hotline's) says neither who ended the
    # call nor when; only a hang-up seen live is the caller's
    if grace < 1:
        assert call.handed_off == "link down"
        assert entries(appeal, "note") == ["gone when checked"]
        assert entries(appeal, "link") == ["down"]  # let go before the link came back
    else:
        # the flow kept the call across the drop; its command failed with ChannelGone
        assert call.handed_off is None and entries(appeal, "link") == ["down", "back"]
        assert entries(appeal, "note") == ["ended while the AMI link was down"]
        assert entries(appeal, "state")[-1] == "ended"


async def test_restarted_service_releases_the_call_a_dead_run_left_in_asyncagi(
    hotline: MakeHotline, cut: AmiCut
) -> None:
    # run A loses its link for good (as if it died) while a caller is in the menu
    a = await hotline(ami_port=cut.port)
    a.service.hotline.recovery.link_grace = 0.5
    sim = await a.call("silent")
    call = await a.started(sim)
    await in_state(call, "ivr")
    await cut.down()
    await a.finished(sim, timeout=10)
    assert call.handed_off == "link down"
    # run B starts on the same database: the appeal A left open, the call still in the
    # hotline's AsyncAGI -> released, watched, closed when it ends
    b = await hotline(database_url=a.service.settings.database_url)
    appeal = await b.closed(call.appeal_id)
    assert appeal.ended_by == "operator" and appeal.operator_answered_at is not None
    assert entries(appeal, "handoff") == ["link down"]
    assert entries(appeal, "fallback") == ["queue", "goodbye"]
    assert isinstance(appeal.ended_at, datetime)


async def test_caller_arriving_while_the_link_is_cut_gets_an_appeal_and_the_queue(
    hotline: MakeHotline, asterisk: AsteriskFixture, cut: AmiCut, tmp_path: Path
) -> None:
    """Its AsyncAGIStart reaches nobody; at the reconnect the AGI server finds the call in
    AsyncAGI (CoreShowChannels) and routes it to the hotline flow like any other: the caller
    gets the whole hotline (recording warning first, the menu, then the queue), not just the
    dialplan's fallback, and the appeal keeps the true arrival."""
    # the silent caller waits for the menu's timeout once, not three times 5 s
    ivr = tmp_path / "quick-menu"
    shutil.copytree(PROJECT_ROOT / "ivr_scripts", ivr)
    menu = (ivr / "main.toml").read_text(encoding="utf-8")
    assert "timeout = 5\nretries = 2\n" in menu
    (ivr / "main.toml").write_text(
        menu.replace("timeout = 5\nretries = 2\n", "timeout = 1\nretries = 0\n"), encoding="utf-8"
    )
    h = await hotline(ami_port=cut.port, ivr_scripts_dir=ivr)
    await cut.down()
    async with direct_link(asterisk) as direct:
        # its AsyncAGIStart reaches nobody: the caller waits in AsyncAGI, in silence
        channel_id = f"unseen-{uuid.uuid4().hex[:12]}"
        arrived = h.service.clock.now()
        await direct.action_raw(
            "Originate", timeout=20, Channel="Local/s@hotline", Context="sim-callers",
            Exten="silent", Priority="1", Async="true", Timeout="10000",
            CallerID="+73914400000", ChannelId=channel_id, OtherChannelId=f"{channel_id}-b",
        )  # fmt: skip
        await asyncio.sleep(2)
        await cut.up()
        appeals = h.service.hotline.appeals

        async def registered() -> Appeal | None:
            return await appeals.by_uniqueid(f"{channel_id}-b")

        appeal = await until(registered, timeout=30, what="the unseen call's appeal")
        # the silent caller goes through the menu's retries to the operator
        appeal = await h.closed(appeal.id, timeout=120)
        try:
            assert appeal.ended_by == "operator" and appeal.operator_answered_at is not None
            assert appeal.ivr_path == "main:timeout=operator queue:continue"
            plays = entries(appeal, "play")
            assert plays and plays[0].endswith("recording_warning")
            # served by a flow: nothing was handed to the fallback, nothing released
            assert entries(appeal, "handoff") == [] and entries(appeal, "fallback") == []
            assert h.service.hotline.recovery.released == 0
            assert h.service.agi.adopted_calls == 1
            assert abs((appeal.arrived_at - arrived).total_seconds()) < 2.5
            assert appeal.caller_number == "+73914400000"
        finally:
            with contextlib.suppress(Exception):
                await direct.action("Hangup", Channel=channel_id)


async def test_caller_whose_business_is_done_hears_goodbye_not_the_queue(
    hotline: MakeHotline,
) -> None:
    # out of hours the caller leaves a message: a flow lost then must not queue them
    h = await hotline(clock_offset=offset_to(OUT_OF_HOURS))
    sim = await h.call("silent")
    call = await h.started(sim)
    await until(lambda: call.message_stage == "recording", timeout=60, what="the recording")
    assert call.task is not None
    call.task.cancel()
    await h.finished(sim)
    # CC_HOTLINE_DONE=1 went with the release: the recording ends (5 s of silence), then
    # the fallback says goodbye and hangs up
    appeal = await h.closed(call.appeal_id)
    assert appeal.ended_by == "system" and appeal.kind == "message"
    assert entries(appeal, "fallback") == ["goodbye"]
    assert appeal.queue_entered_at is None
    assert f"|{sim.hotline_uniqueid}|operators|" not in queue_log(h)


@pytest.mark.parametrize("appeal", ["closed", "none"])
async def test_start_releases_a_caller_stuck_in_asyncagi_after_an_exec(
    hotline: MakeHotline, asterisk: AsteriskFixture, tmp_path: Path, appeal: str
) -> None:
    """A caller a dead run left in AsyncAGI, after an AGI EXEC (MixMonitor: CoreShowChannels
    then lists MixMonitor, not AGI). A closed appeal means its flow had ended the call: the
    fallback says goodbye; no appeal at all: one is registered and the caller queued."""
    db = f"sqlite+aiosqlite:///{tmp_path}/restart.db"
    await asyncio.to_thread(migrate.upgrade, db)
    channel_id = f"stuck-{uuid.uuid4().hex[:12]}"
    uid = f"{channel_id}-b"
    if appeal == "closed":
        engine = create_engine(db)
        try:
            appeals = AppealService(session_factory(engine), TZ)
            ref = await appeals.register(
                uniqueid=uid, channel="", caller_number="", customer_id=None, arrived_at=IN_HOURS
            )
            await appeals.close(ref.id, ended_at=IN_HOURS, ended_by="system")
        finally:
            await engine.dispose()
    async with direct_link(asterisk) as direct:
        await direct.action_raw(
            "Originate", timeout=20, Channel="Local/s@hotline", Context="sim-callers",
            Exten="silent", Priority="1", Async="true", Timeout="10000",
            CallerID="+73914400000", ChannelId=channel_id, OtherChannelId=uid,
        )  # fmt: skip
        await asyncio.sleep(0.5)
        await direct.action("AGI", Channel=uid, Command='EXEC MixMonitor "stuck.wav"',
                            CommandID=uuid.uuid4().hex)  # fmt: skip

        async def listed_as_mixmonitor() -> bool:
            return any(
                e.get("Uniqueid") == uid and e.get("Application") == "MixMonitor"
                for e in await direct.action_list("CoreShowChannels")
            )

        await until(listed_as_mixmonitor, timeout=5, what="the snapshot to name MixMonitor")
        h = await hotline(database_url=db)
        assert h.service.hotline.recovery.released == 1
        try:
            if appeal == "closed":
                # goodbye, then the fallback hangs up: never the queue
                await until(
                    lambda: h.service.hotline.recovery.orphans == {}, timeout=20,
                    what="the released caller to hang up",
                )  # fmt: skip
                assert f"|{uid}|operators|" not in queue_log(h)
            else:
                registered = await h.service.hotline.appeals.by_uniqueid(uid)
                assert registered is not None and registered.ivr_path == "handoff:unseen"
                closed = await h.closed(registered.id)
                assert closed.ended_by == "operator"
                assert entries(closed, "fallback") == ["queue", "goodbye"]
        finally:
            with contextlib.suppress(Exception):
                await direct.action("Hangup", Channel=channel_id)


async def test_link_down_past_the_grace_lets_go_even_of_a_command_still_waiting(
    hotline: MakeHotline, asterisk: AsteriskFixture
) -> None:
    h = await hotline(ami_ping_interval=0.5)
    h.service.hotline.recovery.link_grace = 1.0
    link = h.service.link
    sim = await h.call("silent")
    call = await h.started(sim)
    await in_state(call, "ivr")
    with frozen(asterisk):
        await until(lambda: not link.connected, timeout=10, what="the link to drop")
        # no command failed: the watchdog lets go once the grace period is over
        await h.finished(sim, timeout=10)
        assert call.handed_off == "link down"
    appeal = await h.closed(call.appeal_id)
    assert appeal.ended_by == "operator"
    assert entries(appeal, "fallback") == ["queue", "goodbye"]


async def test_conversation_across_a_drop_with_commands_that_survive_it(
    hotline: MakeHotline, cut: AmiCut
) -> None:
    # the operator hangs up while the link is cut: the EXEC's own result is lost, the
    # witness asked after the reconnect answers
    h = await hotline(ami_port=cut.port, sim_operator_wrapup_time=0.2)
    await h.service.link.action("Setvar", Variable="SIM_OPERATOR_TALK_TIME", Value="2")
    sim = await h.call("d0")
    call = await h.started(sim)
    await in_state(call, "connected")
    await cut.down()
    await asyncio.sleep(4)
    await cut.up()
    await h.finished(sim, timeout=40)
    assert call.handed_off is None
    appeal = await h.closed(call.appeal_id)
    assert appeal.ended_by == "operator" and appeal.operator_ended_at is not None
    # the timeline has the link's own drop and return (from its connection events, once
    # each), and the witness the flow asked because the link came back under Queue()
    assert entries(appeal, "link") == ["down", "back"]
    assert entries(appeal, "witness") == ["QUEUESTATUS asked again after the link came back"]
    assert appeal.ivr_path == "main:0=operator queue:continue"
