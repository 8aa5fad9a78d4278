"""Calls and campaigns survive a killed service, a lost AMI link and an Asterisk restart.

Against real Asterisk processes: `serve` killed with SIGKILL in a subprocess, the session's
Asterisk for the kill and orphan tests, an Asterisk of the test's own for freezing
(SIGSTOP) and restarting. An observer AMI session of the test's own (not an App: an App
would take the autoinformer's calls too) records the events each call gets, with times.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from autoinformer.models import Attempt, Campaign, CampaignContact, OptOut
from autoinformer.phone.book import CallBook
from autoinformer.phone.call import RING_MARGIN
from autoinformer.phone.config import DialerConfig
from autoinformer.scheduling import retry_policy
from contact_center.devtools.local_asterisk import LocalAsterisk
from contact_center.service_state import ServiceStateRow
from contact_center.settings import Settings
from contact_center.storage.database import create_engine, session_factory
from contact_center.telephony._panoramisk import Message
from contact_center.telephony.ami import AmiConfig, AmiLink
from contact_center.telephony.exceptions import AmiActionError
from tests.integration.autoinformer.conftest import SHORT_SCENARIO, World, WorldFactory
from tests.integration.autoinformer.test_campaign_calls import (
    TUESDAY_11,
    attempts_of,
    csv_of,
    fast_sim,
    spec,
)
from tests.integration.autoinformer.test_outage_and_restart import overlapping
from tests.integration.conftest import AsteriskFixture, asterisk_settings, short_runtime_dir
from tests.integration.waiting import wait_for

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]

# long enough that listeners are mid-message when the service is killed
LONG_MESSAGE = (
    "Задолженность по лицевому счёту {number:account} составляет {money:debt}. "
    "Повторяем: задолженность по лицевому счёту {number:account} составляет {money:debt}."
)
LONG_SCENARIO = """
name = "test-long"
kind = "debt"
message = "MESSAGE"
wait_digit = 2
repeats = 0
calls_per_free_operator = 10

[keys]
"1" = "confirm"
"0" = "operator"
"9" = "opt_out"
other = "ignore"

[replies]
confirmed = ""
operator = ""
operator_busy = "Операторы заняты, вам перезвонят."
opted_out = ""
goodbye = ""
""".replace("MESSAGE", LONG_MESSAGE)


# --------------------------------------------------------------------------- helpers
@dataclass
class Observer:
    """An AMI session of the test's own: events per Uniqueid with monotonic times, and the
    sim world's globals (set here, put back at the end)."""

    link: AmiLink
    execs: dict[str, list[tuple[float, str]]] = field(default_factory=lambda: defaultdict(list))
    starts: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    hangups: dict[str, float] = field(default_factory=dict)
    agent_complete: dict[str, float] = field(default_factory=dict)
    changed: dict[str, str] = field(default_factory=dict)

    def on(self, event: Any) -> None:
        name = str(event.get("Event", ""))
        uid = str(event.get("Uniqueid", ""))
        now = time.monotonic()
        if name == "AsyncAGIExec":
            self.execs[uid].append((now, str(event.get("Result", ""))))
        elif name == "AsyncAGIStart":
            self.starts[uid].append(now)
        elif name == "Hangup":
            self.hangups.setdefault(uid, now)
        elif name == "AgentComplete":
            self.agent_complete.setdefault(uid, now)

    async def sim(self, **values: float | str) -> None:
        for name, value in values.items():
            if name not in self.changed:
                reply = await self.link.action("Getvar", Variable=name)
                self.changed[name] = str(reply.get("Value", ""))
            await self.link.action("Setvar", Variable=name, Value=str(value))

    def silence_after(self, uid: str, killed: float) -> float:
        """The longest the customer heard nothing because the driver was lost: from the
        kill (or the end of the prompt then playing, or of the message its dialplan was
        playing: its AsyncAGIStart) to the next run's first command. A prompt's result
        says `endpos=`; the next run's first command (its NOOP) does not."""
        after = [(t, r) for t, r in self.execs[uid] if t >= killed]
        entered = [t for t in self.starts[uid] if t >= killed]
        quiet_from = max([killed, *entered[:1]])
        for t, result in after:
            if "endpos" in result:
                quiet_from = t  # the lost driver's prompt ended here: silence from now
                continue
            return t - quiet_from
        raise AssertionError(f"no command reached {uid} after the kill")


@asynccontextmanager
async def observer(settings: Settings) -> AsyncIterator[Observer]:
    link = AmiLink(AmiConfig.from_settings(settings))
    await link.connect(timeout=10)
    obs = Observer(link)
    link.on_event("*", obs.on)
    try:
        yield obs
    finally:
        for name, value in obs.changed.items():
            try:
                await link.action("Setvar", Variable=name, Value=value)
            except Exception:
                pass  # an Asterisk of the test's own may be gone already
        await link.close()


@dataclass
class AgiCommands:
    """The AGI commands Asterisk starts (AGIExecStart), as an observer sees them: the
    sounds streamed and the last parts' AstDB marks, by Uniqueid."""

    streams: list[tuple[str, str]] = field(default_factory=list)
    marks: list[str] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)

    def on_exec(self, event: Message) -> None:
        command = str(event.get("Command", ""))
        uid = str(event.get("Uniqueid"))
        self.names[uid] = str(event.get("Channel"))
        if command.startswith(("STREAM FILE", "CONTROL STREAM FILE")):
            self.streams.append((uid, command))
        elif command.startswith("DATABASE PUT cc-heard"):
            self.marks.append(uid)

    def last_part_started(self, attempts: list[Attempt]) -> bool:
        """The (only) attempt's message is at its last part: every other part stored as
        played, and that many sounds and one more streamed on its call."""
        if not attempts or attempts[0].parts_total < 2:
            return False
        a = attempts[0]
        return a.parts_played == a.parts_total - 1 and any(
            uid == a.channel_id for uid, _ in self.streams[a.parts_total - 1 :]
        )


def serve_env(settings: Settings) -> dict[str, str]:
    """`contact-center serve` in a subprocess with these settings."""
    env = dict(os.environ)
    for name in (
        "database_url",
        "ami_host",
        "ami_port",
        "ami_user",
        "ami_secret",
        "dial_template",
        "clock_offset",
        "asterisk_runtime_dir",
        "sounds_dir",
        "timezone",
    ):
        env[f"CC_{name.upper()}"] = str(getattr(settings, name))
    env["CC_HTTP_PORT"] = "0"
    return env


def start_serve(
    settings: Settings, log: Path, extra: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-c", "from contact_center.cli import main; main()", "serve"],
            env=serve_env(settings) | (extra or {}),
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            # its own process group: SIGKILL reaches its speech workers too, as a crash would
            start_new_session=True,
        )


async def kill_as_last_part_starts(
    settings: Settings,
    log: Path,
    agi: AgiCommands,
    attempts: Callable[[], Awaitable[list[Attempt]]],
    extra: dict[str, str] | None = None,
) -> Attempt:
    """A `serve` started and SIGKILLed the moment its one call's last part starts (`agi`
    listening to that node); that call's attempt as the kill left it. Its message is
    played by AGI commands (CC_DIALPLAN_MESSAGE=no), as for a repeat or an adopted call: a
    driver lost mid-part (a message its dialplan plays has none: test_dialplan_message)."""
    serve = start_serve(settings, log, AGI_PARTS | (extra or {}))
    try:

        async def last_part_started() -> bool:
            return agi.last_part_started(await attempts())

        await wait_for(last_part_started, 60, "the last part to start", every=0.005)
    finally:
        kill_9(serve)
    [killed] = await attempts()
    return killed


# every part of a new call's message an AGI command, as before the dialplan played it
AGI_PARTS = {"CC_DIALPLAN_MESSAGE": "no"}


def kill_9(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


async def serve_until_finished(
    settings: Settings,
    log: Path,
    sessions: async_sessionmaker[AsyncSession],
    campaign_id: int,
    timeout: float = 60,
) -> None:
    """`serve` started again and run until the campaign is finished, then stopped."""
    serve = start_serve(settings, log)
    try:

        async def finished() -> bool:
            async with sessions() as session:
                campaign = await session.get(Campaign, campaign_id)
                return campaign is not None and campaign.status == "finished"

        await wait_for(finished, timeout, "the campaign to finish", every=0.2)
    finally:
        serve.send_signal(signal.SIGTERM)
        try:
            serve.wait(timeout=20)
        finally:
            kill_9(serve)


def by_phone(attempts: list[Attempt]) -> dict[str, list[Attempt]]:
    grouped: dict[str, list[Attempt]] = defaultdict(list)
    for a in attempts:
        grouped[a.phone[-4:]].append(a)
    return grouped


@pytest.fixture
def own_asterisk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AsteriskFixture]:
    """An Asterisk of this test's own: it is frozen or restarted."""
    settings = asterisk_settings(short_runtime_dir(tmp_path_factory, "own"))
    local = LocalAsterisk(settings, sip_port=0)
    local.start(timeout=30)
    try:
        yield AsteriskFixture(settings=settings, local=local)
    finally:
        local.stop(timeout=15)


def on_own(ast: AsteriskFixture, **changes: Any) -> dict[str, Any]:
    s = ast.settings
    return {
        "ami_port": s.ami_port,
        "ami_secret": s.ami_secret,
        "asterisk_runtime_dir": s.asterisk_runtime_dir,
        **changes,
    }


# --------------------------------------------------------------------------- A + B
async def test_serve_killed_mid_campaign_loses_nothing_and_nobody_waits_in_silence(
    world: WorldFactory, database: str, tmp_path: Path
) -> None:
    listeners = ["1101", "1201", "1301", "1401"]
    w0: World
    async with world(now=TUESDAY_11, start_plugin=False) as w0:
        await w0.scenario(LONG_SCENARIO, "test-long")
        created = await w0.campaigns.create(
            spec("убит", scenario="test-long"),
            list_data=csv_of(*listeners, "1004", "1008", "1005"),
        )
        cid = created.campaign_id
        await w0.campaigns.start(cid)
        settings = w0.settings
    engine = create_engine(database)
    sessions = session_factory(engine)

    async def attempts() -> dict[str, list[Attempt]]:
        async with sessions() as session:
            rows = await session.scalars(
                select(Attempt).where(Attempt.campaign_id == cid).order_by(Attempt.id)
            )
            return by_phone(list(rows))

    async with observer(settings) as obs:
        await obs.sim(
            SIM_CUSTOMER_PRESS_DELAY=1.0,
            SIM_CUSTOMER_LISTEN=1.0,
            SIM_OPERATOR_ANSWER_DELAY=0.3,
            SIM_OPERATOR_TALK_TIME=10,
        )
        serve = start_serve(settings, tmp_path / "serve.log")
        try:

            async def ready_to_kill() -> dict[str, list[Attempt]] | None:
                got = await attempts()
                firsts = {k: v[0] for k, v in got.items()}
                if len(firsts) < 7:
                    return None
                mid_message = all(
                    firsts[k].answered_at is not None and not firsts[k].played_to_end
                    for k in listeners
                )
                decided = (
                    firsts["1004"].transferred
                    and firsts["1008"].opted_out
                    and firsts["1005"].confirmed
                )
                return got if mid_message and decided else None

            # stored as it happened, before anything ended: the operator, the 9, the 1
            before = await wait_for(ready_to_kill, 60, "calls mid-message, an operator, a 9")
            killed = time.monotonic()
            kill_9(serve)
        finally:
            kill_9(serve)
        # the contacts whose fate was decided are final already, with the call going on
        async with sessions() as session:
            contacts = {
                c.phone[-4:]: c
                for c in await session.scalars(
                    select(CampaignContact).where(CampaignContact.campaign_id == cid)
                )
            }
            opt_outs = list(await session.scalars(select(OptOut.phone)))
        assert (contacts["1004"].state, contacts["1004"].status) == ("done", "transferred")
        assert (contacts["1008"].state, contacts["1008"].status) == ("done", "opted_out")
        assert contacts["1005"].status == "notified"
        assert "79130001008" in opt_outs
        # the operator was stored when they answered (before the kill)
        assert "sim-operators" in before["1004"][0].operator

        # the next run is a fresh `serve` process: its start-up is part of the silence
        restart = time.monotonic()
        await serve_until_finished(settings, tmp_path / "serve2.log", sessions, cid)
    await engine.dispose()
    async with world(start_plugin=False, settings={"clock_offset": settings.clock_offset}) as w:
        after = by_phone(await attempts_of(w, cid, counted_only=False))
        report = await w.campaigns.report(cid)
    adopted = (tmp_path / "serve2.log").read_text(encoding="utf-8", errors="replace")
    assert "adopting 5 calls left open by a previous run" in adopted

    statuses = {r.phone[-4:]: (r.status, r.attempts) for r in report.rows}
    assert statuses == {
        **{k: ("notified", 1) for k in listeners},
        "1004": ("transferred", 1),
        "1008": ("opted_out", 1),
        "1005": ("notified", 1),
    }
    assert all(len(v) == 1 and v[0].counted for v in after.values())
    assert overlapping([a for v in after.values() for a in v]) == []
    for k in listeners:
        (a,) = after[k]
        # picked up where it was, and played to its end
        assert a.played_to_end and a.parts_played == a.parts_total
    operator_call = after["1004"][0]
    assert operator_call.transferred and "sim-operators" in operator_call.operator
    # nobody hung up the customer while the operator talked: it ended after the operator
    uid = operator_call.channel_id
    assert uid in obs.agent_complete and uid in obs.hangups
    assert obs.hangups[uid] >= obs.agent_complete[uid] - 0.05
    silences = {k: obs.silence_after(after[k][0].channel_id, killed) for k in listeners}
    first_command = min(
        t
        for k in listeners
        for t, r in obs.execs[after[k][0].channel_id]
        if t > restart and "endpos" not in r
    )
    print(
        f"next run's first command {first_command - restart:.2f} s after its start; "
        "silence per listener (s): " + ", ".join(f"{k}: {v:.2f}" for k, v in silences.items())
    )
    assert max(silences.values()) < 5.0


# --------------------------------------------------------------------------- B: deadline
async def test_an_orphan_nobody_can_drive_is_hung_up_at_its_stored_deadline(
    world: WorldFactory, asterisk: AsteriskFixture
) -> None:
    """A previous run's answered call that is not in AsyncAGI (nothing can drive it) is
    hung up at the deadline stored when a run first saw it: a later start does not push it
    back by another grace period. It holds only its own channel: the campaign's other
    contact is called meanwhile."""
    config = DialerConfig(tick=0.2, orphan_grace=30.0, drain_timeout=0.0)
    w0: World
    async with world(now=TUESDAY_11, start_plugin=False) as w0:
        await w0.scenario()
        created = await w0.campaigns.create(
            spec("сирота", concurrency=2), list_data=csv_of("2101", "2201")
        )
        cid = created.campaign_id
        await w0.campaigns.start(cid)
        book = CallBook(w0.campaigns.sessions)
        plan = next(p for p in await book.active_plans() if p.id == cid)
        contacts = await book.due(cid, w0.campaigns.clock.now(), 10)
        [(_c, attempt_id, orphan_id)] = await book.claim_many(
            plan, contacts[:1], w0.campaigns.clock.now()
        )
        # a run saw it 28 s ago and stored its deadline 2 s from now
        deadline = w0.campaigns.clock.now() + timedelta(seconds=2)
        async with w0.campaigns.sessions() as session, session.begin():
            await session.execute(
                update(Attempt).where(Attempt.id == attempt_id).values(orphan_deadline=deadline)
            )
    async with observer(asterisk.settings) as obs:
        # listening before the Originate: its answer can come in the same read as the reply
        answered = asyncio.ensure_future(
            obs.link.wait_event("Newstate", lambda e: e.get("Uniqueid") == orphan_id, timeout=10)
        )
        # answered, and parked in the dialplan (Wait), not in AsyncAGI
        await obs.link.action(
            "Originate",
            Channel=f"Local/{contacts[0].phone}@sim-customers",
            Context="sim-customer-kind",
            Exten="1",
            Priority="1",
            Async="true",
            ChannelId=orphan_id,
            OtherChannelId=f"{orphan_id}-b",
            Timeout="4000",
        )
        await answered
        w: World
        async with world(now=TUESDAY_11, config=config) as w:
            started = time.monotonic()
            await w.wait_finished(cid, timeout=40)
            attempts = await attempts_of(w, cid)
            hung_up = obs.hangups.get(orphan_id)
            async with w.campaigns.sessions() as session:
                stored = await session.get(Attempt, attempt_id)
    assert hung_up is not None
    # at the stored deadline (about 2 s), not a fresh grace period (30 s)
    assert hung_up - started < 8
    assert stored is not None and stored.orphan_deadline == deadline
    # cut off by our side while nobody could drive it: no retry spent on it
    assert stored.error.startswith("interrupted") and not stored.counted
    other = [a for a in attempts if a.contact_id == contacts[1].id]
    # the other contact did not wait for the orphan's channel to go
    assert other[0].started_at < deadline
    again = [a for a in attempts if a.contact_id == contacts[0].id and a.id != attempt_id]
    assert again and again[0].started_at >= deadline - timedelta(seconds=0.5)
    assert overlapping(attempts) == []


# --------------------------------------------------------------------------- D
async def test_an_ami_link_lost_while_the_customer_talks_to_an_operator(
    world: WorldFactory, own_asterisk: AsteriskFixture
) -> None:
    """Asterisk frozen 8 s (SIGSTOP) during a transfer: the link drops and comes back;
    the customer is never hung up by the service and the attempt is `transferred`."""
    pid = own_asterisk.local.status(with_version=False).pid
    assert pid is not None
    w: World
    async with world(now=TUESDAY_11, settings=on_own(own_asterisk, ami_ping_interval=1.0)) as w:
        await fast_sim(w)
        await w.sim(SIM_OPERATOR_TALK_TIME=12)
        await w.scenario()
        created = await w.campaigns.create(spec("заморозка"), list_data=csv_of("4"))
        link = w.service.link
        events: dict[str, float] = {}
        link.on_event(
            "AgentComplete",
            lambda e: events.setdefault(f"complete {e.get('Uniqueid')}", time.monotonic()),
        )
        link.on_event(
            "Hangup", lambda e: events.setdefault(f"hangup {e.get('Uniqueid')}", time.monotonic())
        )
        connect = asyncio.ensure_future(link.wait_event("AgentConnect", timeout=30))
        await w.campaigns.start(created.campaign_id)
        await connect
        os.kill(pid, signal.SIGSTOP)
        try:
            await asyncio.sleep(8)
        finally:
            os.kill(pid, signal.SIGCONT)
        await wait_for(lambda: _true(link.connected), 20, "the AMI link to come back")
        await w.wait_finished(created.campaign_id, timeout=40)
        reconnects = link.reconnects
        recovered = w.plugin.dialer.stats.recovered if w.plugin.dialer else 0
        attempts = await attempts_of(w, created.campaign_id)
        report = await w.campaigns.report(created.campaign_id)
    assert reconnects >= 1, "the link never dropped: the test froze nothing"
    # the call's own task either never noticed (its AGI command survived the drop) or took
    # the call up again once the link was back; never twice, never by hanging up
    assert recovered in (0, 1)
    (attempt,) = attempts
    assert (attempt.status, attempt.transferred, attempt.error) == ("transferred", True, "")
    assert "sim-operators" in attempt.operator
    assert report.rows[0].status == "transferred"
    uid = attempt.channel_id
    # the customer's leg ended after the operator's conversation, not before
    assert events[f"hangup {uid}"] >= events[f"complete {uid}"] - 0.05


async def _true(value: bool) -> bool:
    return value


def _rx_quietly(local: LocalAsterisk, command: str) -> None:
    """A CLI command whose console may be cut off by what it does (a stop)."""
    with contextlib.suppress(Exception):
        local.rx(command, timeout=20)


# --------------------------------------------------------------------------- C
async def test_asterisk_restart_mid_campaign_spends_no_retry(
    world: WorldFactory, own_asterisk: AsteriskFixture
) -> None:
    """`core stop gracefully` mid-campaign (Originates refused with "Asterisk is shutting
    down"), then `core stop now`, Asterisk away a few seconds, then started again:
    the refused Originates and the calls cut off mid-message are not attempts, dialing
    waits for Asterisk, and every contact ends as the sim world says with exactly the
    attempts its own answers called for."""
    digits = [f"{n}{d}" for n in range(3) for d in "1235678"]
    local = own_asterisk.local
    w: World
    async with world(now=TUESDAY_11, settings=on_own(own_asterisk)) as w:
        await fast_sim(w)
        # no operator key: the calls are paced by the channels alone
        await w.scenario(SHORT_SCENARIO.replace('"0" = "operator"\n', ""))
        created = await w.campaigns.create(
            spec("перезапуск", concurrency=4), list_data=csv_of(*digits)
        )
        cid = created.campaign_id
        await w.listen_through(cid)
        await w.campaigns.start(cid)
        dialer = w.plugin.dialer
        assert dialer is not None

        async def some_done() -> bool:
            return (await w.campaigns.status(cid)).done >= 5

        await wait_for(some_done, 60, "a few contacts done")
        # slots free when Asterisk starts refusing: a pause lets calls in progress end
        await w.campaigns.pause(cid)

        async def slots_free() -> bool:
            return (await w.campaigns.status(cid)).calling <= 2

        await wait_for(slots_free, 30, "slots to come free")
        # what a service manager does: a graceful stop (Asterisk refuses every AMI action
        # and console command from then on, and waits for calls nobody can drive or hang
        # up any more), then the kill
        graceful = asyncio.ensure_future(
            asyncio.to_thread(_rx_quietly, local, "core stop gracefully")
        )
        down_from = time.monotonic()
        try:

            async def shutting_down() -> bool:
                try:
                    await w.service.link.action("Ping")
                except AmiActionError as exc:
                    return "shutting down" in exc.message
                return False

            await wait_for(shutting_down, 10, "Asterisk to refuse AMI actions")
            await w.campaigns.resume(cid)

            async def any_refused() -> bool:
                return dialer.gate.refused > 0

            # the free slots are offered to Asterisk, which refuses them
            await wait_for(any_refused, 10, "an Originate refused by Asterisk shutting down")
            await asyncio.sleep(2)
            # held again until the sim world's timings are set on the new Asterisk
            await w.campaigns.pause(cid)
            await asyncio.to_thread(local.stop, 15)
        finally:
            await graceful
        await wait_for(lambda: _true(not w.service.link.connected), 30, "Asterisk to stop")
        await asyncio.sleep(3)
        starting_at = w.campaigns.clock.now()
        await asyncio.to_thread(local.start, 30)
        down_for = time.monotonic() - down_from
        # a restarted Asterisk has its configured globals again: the sim timings are reset
        await wait_for(lambda: _true(w.service.link.connected), 30, "the link to come back")
        await fast_sim(w)
        await w.listen_through(cid)
        await w.campaigns.resume(cid)
        await w.wait_finished(cid, timeout=120)
        report = await w.campaigns.report(cid)
        every = await attempts_of(w, cid, counted_only=False)
        stats = w.plugin.dialer.stats if w.plugin.dialer else None
    voided = [a for a in every if not a.counted]
    counted = [a for a in every if a.counted]
    expected = {
        "1": ("notified", 1),
        "2": ("busy", 2),
        "3": ("no_answer", 2),
        "5": ("notified", 1),
        "6": ("hung_up", 2),
        "7": ("failed", 2),
        "8": ("opted_out", 1),
    }
    got = {r.phone[-2:]: (r.status, r.attempts) for r in report.rows}
    for d, (status, attempts) in got.items():
        if d.endswith("8") and status == "notified":
            # heard the whole message before Asterisk stopped; the 9 came when nobody
            # could read it any more: notified, once, is right
            expected_here = ("notified", 1)
        else:
            expected_here = expected[d[-1]]
        assert (d, status, attempts) == (d, *expected_here)
    assert report.totals.attempts == len(counted)
    # Asterisk refused Originates while it shut down, and calls were cut off mid-message:
    # none of them counted; the dialer held instead of claiming the list
    refused = [a for a in voided if "not sent" in a.error]
    cut_off = [a for a in voided if a.error.startswith("interrupted")]
    print(
        f"Asterisk away {down_for:.1f} s; not counted: {len(refused)} refused Originates, "
        f"{len(cut_off)} calls cut off; counted attempts {len(counted)}; "
        f"dialer voided {stats.voided if stats else '?'}"
    )
    assert len(refused) + len(cut_off) == len(voided)
    assert refused and len(refused) <= 8
    # nothing counted was started from Asterisk's first refusal until it was started again
    refusing_from = min(a.started_at for a in refused)
    assert not [a for a in counted if refusing_from <= a.started_at <= starting_at]
    assert overlapping(counted) == []


# --------------------------------------------------------------------------- E
async def test_a_call_that_rang_out_unwatched_before_asterisk_restarted_is_an_attempt(
    world: WorldFactory, database: str, own_asterisk: AsteriskFixture, tmp_path: Path
) -> None:
    """`serve` killed while a customer's phone rings (nobody answers); the call rings out
    with no service running; a `serve` then sees that Asterisk up (its heartbeat) and is
    killed before it closes the attempt; Asterisk is restarted. The next run cannot see
    the call any more, but the heartbeat says its Asterisk was up past the ring time: it
    rang out there, one attempt spent. (Without such a heartbeat nothing says the restart
    did not cut its ringing: it was voided and dialled again, and a chaos run called a
    customer once more than the policy allows this way.)"""
    one_try = retry_policy(["busy=1/1s", "no_answer=1/1s", "failed=1/1s", "hung_up=1/1s"])
    w0: World
    async with world(now=TUESDAY_11, start_plugin=False, settings=on_own(own_asterisk)) as w0:
        await w0.scenario(LONG_SCENARIO, "test-long")
        created = await w0.campaigns.create(
            spec("до перезапуска", scenario="test-long", retry=one_try),
            list_data=csv_of("1703"),
        )
        cid = created.campaign_id
        await w0.campaigns.start(cid)
        settings = w0.settings
        clock = w0.campaigns.clock
    engine = create_engine(database)
    sessions = session_factory(engine)

    async def attempts() -> list[Attempt]:
        async with sessions() as session:
            rows = await session.scalars(
                select(Attempt).where(Attempt.campaign_id == cid).order_by(Attempt.id)
            )
            return list(rows)

    try:
        async with observer(settings) as obs:
            serve = start_serve(settings, tmp_path / "serve.log")
            try:

                async def placed() -> Attempt | None:
                    got = await attempts()
                    return got[0] if got and got[0].asterisk_boot else None

                first = await wait_for(placed, 60, "the call to ring", every=0.05)
            finally:
                kill_9(serve)

            async def rang_out() -> bool:
                return first.channel_id in obs.hangups

            await wait_for(rang_out, 20, "the call to ring out with no service running")
        # what a `serve` killed before it closed the attempt leaves behind, once the ring
        # time (with the margin for the Originate's own way) is over
        assert first.started_at is not None
        over = first.started_at + timedelta(seconds=3 + RING_MARGIN + 0.2)
        await asyncio.sleep(max(0.0, (over - clock.now()).total_seconds()))
        now = clock.now()
        async with sessions() as session, session.begin():
            session.add(
                ServiceStateRow(
                    instance="killed-serve:1",
                    started_at=now,
                    heartbeat_at=now,
                    ami_up=True,
                    ami_since=now,
                    asterisk_boot=first.asterisk_boot,
                )
            )
        local = own_asterisk.local
        await asyncio.to_thread(local.stop, 15)
        await asyncio.sleep(1.1)  # the boot time has whole seconds: a new run is another
        await asyncio.to_thread(local.start, 30)
        await serve_until_finished(settings, tmp_path / "serve2.log", sessions, cid)
        after = await attempts()
    finally:
        await engine.dispose()
    assert [(a.status, a.counted) for a in after] == [("no_answer", True)]
    assert after[0].error == "rang out while nobody watched, before Asterisk restarted"


async def test_calls_that_end_while_serve_is_dead_are_attempts_when_asterisk_stayed_up(
    world: WorldFactory, database: str, tmp_path: Path
) -> None:
    """`serve` killed while one customer's phone rings (nobody answers) and another
    listens: both calls end while no service runs, in an Asterisk that stays up. The next
    run takes them as what they were (rang out, hung up mid-message), each one attempt
    spent; it does not void them and call the customers again."""
    one_try = retry_policy(["busy=1/1s", "no_answer=1/1s", "failed=1/1s", "hung_up=1/1s"])
    w0: World
    async with world(now=TUESDAY_11, start_plugin=False) as w0:
        await w0.scenario(LONG_SCENARIO, "test-long")
        created = await w0.campaigns.create(
            spec("без присмотра", scenario="test-long", retry=one_try),
            list_data=csv_of("1503", "1506"),
        )
        cid = created.campaign_id
        await w0.campaigns.start(cid)
        settings = w0.settings
    engine = create_engine(database)
    sessions = session_factory(engine)

    async def attempts() -> dict[str, list[Attempt]]:
        async with sessions() as session:
            rows = await session.scalars(
                select(Attempt).where(Attempt.campaign_id == cid).order_by(Attempt.id)
            )
            return by_phone(list(rows))

    async with observer(settings) as obs:
        # the listener hangs up mid-message, seconds after the kill; the ring lasts 3 s
        await obs.sim(SIM_CUSTOMER_HANGUP_AFTER=4)
        serve = start_serve(settings, tmp_path / "serve.log")
        try:

            async def both_placed() -> dict[str, list[Attempt]] | None:
                got = await attempts()
                if set(got) != {"1503", "1506"} or got["1506"][0].answered_at is None:
                    return None
                placed = all(v[0].asterisk_boot for v in got.values())
                return got if placed else None

            first = await wait_for(both_placed, 60, "a call ringing, one answered", every=0.05)
        finally:
            kill_9(serve)
        uids = [first[k][0].channel_id for k in ("1503", "1506")]
        assert all(uid not in obs.hangups for uid in uids), "ended before the kill"

        async def both_ended() -> bool:
            return all(uid in obs.hangups for uid in uids)

        await wait_for(both_ended, 20, "both calls to end with no service running")
        await serve_until_finished(settings, tmp_path / "serve2.log", sessions, cid)
    after = await attempts()
    await engine.dispose()
    got = {k: [(a.status, a.counted) for a in v] for k, v in after.items()}
    assert got == {"1503": [("no_answer", True)], "1506": [("hung_up", True)]}
