"""How close a phone campaign comes to the limit its channels set.

    .venv/bin/python bench/campaign_efficiency.py [--contacts 1000] [--concurrency 50]
        [--no-recording]

Starts a private Asterisk (asterisk_conf/ with the sim profile, its own runtime folder
under /tmp, a free AMI port, no SIP), a fresh SQLite database and the service with the
autoinformer dialer in this process, then runs one campaign: N sim customers (numbers
ending in 1) who each listen to a message of about 2 s until the service hangs up (the
message played to its end: a положительный звонок). The call time is that message's
measured length; the channel-bound limit is contacts x call time / concurrency, and
efficiency = limit / elapsed.
Prints elapsed, the limit, the service's CPU time and peak memory, Asterisk's CPU time,
each per call, and the line `efficiency: X`. The bench's own wait for the end (a look at
the campaign's status column every 20 ms, as often as the call-file script looks at its
spool) is measured apart and left out of the service's CPU (it used to read every contact
each time: about a sixth of the CPU it reported); the running service's own cost with
no campaign (its idle CPU a second, measured before the campaign starts) is printed too,
with the CPU beyond it.

The anchor, in the same run on the same Asterisk: the admin's way without this product.
A small script (``callfile_baseline``) writes one call file a contact (``Channel:
Local/{number}@sim-customers``, ``Application: Playback`` of the same rendered message)
and renames it into Asterisk's ``spool/outgoing`` (pbx_spool, loaded for this), keeping at
most ``--concurrency`` calls in flight: pbx_spool keeps a call's file in ``outgoing`` until
the call is over, so the script counts the files there every 20 ms. Then the line
``vs_callfiles: X`` (the project's contacts a minute / the call files' contacts a minute).

The calls are recorded (MixMonitor), as the product's scenarios are by default; the call
files record nothing. ``--no-recording`` runs the campaign with a scenario of ``record =
false`` (a mass warning's choice): what the recording costs, and the anchor with like for
like.

BENCH_PHASES=1 also prints where each call's channel time went, from Asterisk's own event
timestamps (dial to answer; a message the dialplan played: answer to its end (CCPlayed)
and to the Hangup; AGI: answer to AsyncAGI, to the first command, the gaps between
commands, the last command to the Hangup), how the channels fill (the first calls' start,
each end to the next start, the last calls' tail), the run's two edges (its start to the
first Newchannel, the last Hangup to the end the runner saw) and the events the service
received; then the same for the call files (an AMI session of the bench's own watches
them). The first wave's spread is mostly Asterisk's own: bench/originate_burst.py.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import resource
import secrets
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from originate_burst import login, read
from sqlalchemy import select

from autoinformer.campaigns.service import CampaignSpec
from autoinformer.demo import longest_message
from autoinformer.models import Attempt, Campaign
from autoinformer.phone.config import DialerConfig
from autoinformer.phone.prerender import contact_values
from autoinformer.plugin import Autoinformer, AutoinformerPlugin
from autoinformer.scheduling import Caps, retry_policy
from contact_center.app import App, build_app
from contact_center.clock import Clock
from contact_center.devtools.local_asterisk import LocalAsterisk
from contact_center.settings import Settings
from contact_center.speech import Speech
from contact_center.storage import migrate

SCENARIO = """
name = "bench-notice"
kind = "debt"
message = "У вас задолженность за свет."
wait_digit = 0
repeats = 0
[keys]
"1" = "confirm"
[replies]
confirmed = ""
goodbye = ""
"""
# a working Tuesday morning: the calling window is open whatever the real hour
CLOCK_AT = datetime(2026, 12, 1, 11, 0, tzinfo=ZoneInfo("Asia/Krasnoyarsk"))
# seconds the running service is watched idle before the campaign (its own cost)
IDLE_S = 3.0
# seconds for the dialer to have rendered the new campaign's phrases before that (1,000
# contacts' cache look-ups take about 40 ms)
PREPARED_S = 1.0
# how often the bench looks whether the campaign is over (the call-file script's 20 ms)
POLL_S = 0.02


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process from /proc (clock ticks to seconds)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def callfile_baseline(
    local: LocalAsterisk,
    numbers: list[str],
    sounds: list[str],
    concurrency: int,
    phases: CallPhases | None = None,
) -> float:
    """Seconds for call files to reach every number with at most `concurrency` calls at once."""
    local.rx("module load pbx_spool.so")
    outgoing = local.spool_dir / "outgoing"
    staging = local.spool_dir / "callfiles"
    for folder in (outgoing, staging):
        folder.mkdir(parents=True, exist_ok=True)

    wall0 = time.time()
    started = time.monotonic()
    sent = 0
    while True:
        # pbx_spool keeps a call's file in outgoing/ until the call is over: the files there
        # are the calls in flight
        busy = len(os.listdir(outgoing))
        if sent == len(numbers) and busy == 0:
            break
        while sent < len(numbers) and busy < concurrency:
            name = f"bench-{sent}.call"
            # written elsewhere, then renamed: Asterisk never reads a half-written file
            (staging / name).write_text(
                f"Channel: Local/{numbers[sent]}@sim-customers\n"
                "MaxRetries: 0\nWaitTime: 10\n"
                f"Application: Playback\nData: {'&'.join(sounds)}\n"
            )
            os.rename(staging / name, outgoing / name)
            sent += 1
            busy += 1
        time.sleep(0.02)
    if phases is not None:
        phases.edges = (wall0, time.time())
    return time.monotonic() - started


def dialer_leg(event: Any) -> bool:
    """The dialer's own leg of a call: the ChannelId it assigned (cc-..., not the -b side)."""
    uid = str(event.get("Uniqueid", ""))
    return uid.startswith("cc-") and not uid.endswith("-b")


def callfile_leg(event: Any) -> bool:
    """A call file's own leg: the Local channel's ;1 side (it has no id of ours)."""
    return str(event.get("Channel", "")).endswith(";1")


def watch_ami(settings: Settings, phases: CallPhases, stop: threading.Event) -> None:
    """Feed Asterisk's events to `phases` over a plain AMI socket (a thread beside the
    call-file script, which has no AMI link of its own)."""
    with login(settings, "call,user") as sock:
        read(sock, stop, lambda message: phases.see(message) if "Event" in message else None)


class CallPhases:
    """Where each call's channel time goes, by Asterisk's own event timestamps
    (manager.conf timestampevents): our leg's Newchannel, its answer, AsyncAGI start, each
    AGI command's start and end, the end of the message its dialplan played (CCPlayed),
    and its Hangup (BENCH_PHASES=1)."""

    def __init__(self, own: Callable[[Any], bool] | None = None) -> None:
        # which channels are the calls' own legs: ours by default (see `dialer_leg`)
        self._own = own or dialer_leg
        self.calls: dict[str, dict[str, float]] = {}
        self.commands: dict[str, list[tuple[str, float, float]]] = {}
        self._open: dict[tuple[str, str], tuple[str, float]] = {}
        self.names: Counter[str] = Counter()
        # wall-clock start and end as the runner saw them (time.time(), as the stamps)
        self.edges: tuple[float, float] | None = None

    def see(self, event: Any) -> None:
        name, stamp = event.get("Event"), event.get("Timestamp")
        self.names[name] += 1
        uid = event.get("Uniqueid", "")
        if stamp is None or not self._own(event):
            return
        at = float(stamp)
        marks = self.calls.setdefault(uid, {})
        if name == "Newchannel":
            marks["new"] = at
        elif name == "Newstate" and event.get("ChannelState") == "6":
            marks.setdefault("up", at)
        elif name == "AsyncAGIStart":
            marks["agi"] = at
        elif name == "UserEvent" and event.get("UserEvent") == "CCPlayed":
            marks["played"] = at
        elif name == "AGIExecStart":
            self._open[(uid, event.get("CommandId", ""))] = (event.get("Command", ""), at)
        elif name == "AGIExecEnd":
            opened = self._open.pop((uid, event.get("CommandId", "")), None)
            if opened:
                self.commands.setdefault(uid, []).append((opened[0], opened[1], at))
        elif name == "Hangup":
            marks["end"] = at

    def report(self, concurrency: int) -> None:
        whole = [m for m in self.calls.values() if {"new", "up", "end"} <= m.keys()]
        if not whole:
            print("phases: no complete call seen")
            return
        t0 = min(m["new"] for m in whole)
        t1 = max(m["end"] for m in whole)
        busy = sum(m["end"] - m["new"] for m in whole)
        print(
            f"phases over {len(whole)} calls: channels held {busy / ((t1 - t0) * concurrency):.1%}"
            f" of {concurrency} x {t1 - t0:.2f} s (first Newchannel to last Hangup)"
        )
        if self.edges:
            print(
                f"  start to the first Newchannel {(t0 - self.edges[0]) * 1000:.0f} ms; the last"
                f" Hangup to the end seen {(self.edges[1] - t1) * 1000:.0f} ms"
            )

        def show(label: str, values: list[float]) -> None:
            if values:
                values = sorted(values)
                p95 = values[int(len(values) * 0.95) - 1]
                mean = statistics.mean(values)
                print(f"  {label}: mean {mean * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms")

        starts = sorted(m["new"] for m in whole)
        ends = sorted(m["end"] for m in whole)
        if len(starts) > concurrency:
            # how the channels fill: the first `concurrency` calls' start, each later
            # call's start after the end that freed its channel, the last calls' tail
            print(
                f"  the first {concurrency} calls started within "
                f"{(starts[concurrency - 1] - starts[0]) * 1000:.0f} ms; "
                f"the last call ended {(ends[-1] - starts[-1]) * 1000:.0f} ms after the "
                f"last start, {(ends[-1] - ends[-concurrency]) * 1000:.0f} ms after the "
                f"{concurrency}th-last end"
            )
            show(
                "an end to the next start",
                [b - a for a, b in zip(ends, starts[concurrency:], strict=False) if b >= a],
            )
        show("dial to answer", [m["up"] - m["new"] for m in whole])
        show("answer to AsyncAGI", [m["agi"] - m["up"] for m in whole if "agi" in m])
        # the dialplan played the message itself (autoinformer/phone/played.py)
        by_dialplan = [m for m in whole if "played" in m]
        show("answer to the dialplan's end", [m["played"] - m["up"] for m in by_dialplan])
        show("the dialplan's end to Hangup", [m["end"] - m["played"] for m in by_dialplan])
        show("answer to Hangup", [m["end"] - m["up"] for m in whole])
        firsts, lasts, gaps = [], [], []
        for uid, m in self.calls.items():
            runs = sorted(self.commands.get(uid, []), key=lambda c: c[1])
            if not runs or "agi" not in m or "end" not in m:
                continue
            firsts.append(runs[0][1] - m["agi"])
            lasts.append(m["end"] - runs[-1][2])
            gaps += [b[1] - a[2] for a, b in itertools.pairwise(runs)]
        show("AsyncAGI to first command", firsts)
        show("between commands", gaps)
        show("last command to Hangup", lasts)
        print("  events:", ", ".join(f"{n} {c}" for n, c in self.names.most_common()))


async def message_sounds(ai: Autoinformer, speech: Speech, campaign_id: int) -> list[str]:
    """The sound names of the message the campaign's first contact hears (all hear the same)."""
    campaign = await ai.campaigns.get(campaign_id)
    scenario = await ai.campaigns.scenarios.by_id(campaign.scenario_id)
    async for contact in ai.book.waiting(campaign_id):
        values = contact_values(contact)
        return list(await speech.render(scenario.message_for(values), values))
    raise RuntimeError("the campaign has no contacts")


async def finished(app: App, campaign_id: int) -> bool:
    """Whether the campaign is over: its status column, nothing more."""
    async with app.sessions() as session:
        status = await session.scalar(select(Campaign.status).where(Campaign.id == campaign_id))
    return status == "finished"


async def run(
    settings: Settings, args: argparse.Namespace, workdir: Path, ast_pid: int
) -> tuple[float, float, list[str], list[str], float]:
    settings = settings.replace(clock_offset=Clock.at(CLOCK_AT).offset_s)
    plugin = AutoinformerPlugin(DialerConfig(tick=0.2, drain_timeout=0.0), http=False)
    async with build_app(settings, plugins=[plugin]).running(parts=False) as app:
        ai = app.part(Autoinformer)
        campaigns = ai.campaigns
        # the service runs when the supervisor creates the campaign (its dialer renders a
        # new campaign's phrases as it is created, the call files' are rendered below too)
        await app.start_parts()
        scenario = workdir / "bench.toml"
        # a top-level key: before the [keys] table
        text = SCENARIO.replace("repeats = 0\n", "repeats = 0\nrecord = false\n", 1)
        scenario.write_text(text if args.no_recording else SCENARIO, encoding="utf-8")
        await campaigns.scenarios.add_file(scenario)
        rows = ["phone,account"] + [f"+7913{i:06d}1,{i}" for i in range(args.contacts)]
        created = await campaigns.create(
            CampaignSpec(
                name="bench",
                kind="debt",
                scenario="bench-notice",
                concurrency=args.concurrency,
                ring_timeout=10,
                retry=retry_policy(["failed=3/1s", "hung_up=3/1s", "busy=3/1s", "no_answer=3/1s"]),
                caps=Caps(),
            ),
            list_data=("\n".join(rows) + "\n").encode(),
        )
        call_time = await longest_message(ai, app.speech, [created.campaign_id])
        sounds = await message_sounds(ai, app.speech, created.campaign_id)
        await asyncio.sleep(PREPARED_S)
        phases = CallPhases()
        if os.environ.get("BENCH_PHASES"):
            app.link.on_event("*", phases.see)
        try:
            # what the running service costs with no campaign (the hotline's board and
            # sweeps, the mailer's and the dialer's passes): per second, not per call
            idle0 = self_cpu()
            await asyncio.sleep(IDLE_S)
            idle_rate = (self_cpu() - idle0) / IDLE_S
            cpu0, ast0 = self_cpu(), cpu_seconds(ast_pid)
            wall0 = time.time()
            started = time.monotonic()
            await campaigns.start(created.campaign_id)
            polls = 0
            while True:
                polls += 1
                if await finished(app, created.campaign_id):
                    break
                await asyncio.sleep(POLL_S)
            # the last pass saw the campaign finish: the end is when its last call ended
            elapsed = time.monotonic() - started
            phases.edges = (wall0, time.time())
            cpu, ast_cpu = self_cpu() - cpu0, cpu_seconds(ast_pid) - ast0
        finally:
            await app.stop_parts()
        # the bench's own cost, measured apart with the service's parts stopped (nothing
        # else runs on the loop meanwhile) and left out
        cpu_poll = self_cpu()
        for _ in range(200):
            await finished(app, created.campaign_id)
        poll_cpu = (self_cpu() - cpu_poll) / 200 * polls
        cpu -= poll_cpu
        report = await campaigns.report(created.campaign_id)
        async with app.sessions() as session:
            attempts = list(await session.scalars(select(Attempt)))
    t = report.totals
    limit = args.contacts * call_time / args.concurrency
    print(f"contacts: {t.contacts}, notified: {t.notified}, attempts: {t.attempts}")
    print(f"statuses: {dict(t.by_status)}")
    print(f"concurrency: {args.concurrency}, call time (message length): {call_time:.2f} s")
    print(f"recording: {'off (record = false)' if args.no_recording else 'on (MixMonitor)'}")
    print(f"elapsed: {elapsed:.2f} s, channel-bound limit: {limit:.2f} s")
    n = max(1, t.attempts)
    print(
        f"service CPU time: {cpu:.2f} s ({cpu / elapsed:.0%} of one core), "
        f"{cpu / n * 1000:.1f} ms a call (the bench's status poll apart: {poll_cpu:.2f} s)"
    )
    beyond = cpu - idle_rate * elapsed
    print(
        f"service idle: {idle_rate:.1%} of one core; CPU beyond idle: {beyond:.2f} s, "
        f"{beyond / n * 1000:.1f} ms a call"
    )
    print(f"Asterisk CPU time: {ast_cpu:.2f} s, {ast_cpu / n * 1000:.1f} ms a call")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"service peak memory: {peak_mb:.0f} MB")
    ringing = [(a.answered_at - a.started_at).total_seconds() for a in attempts if a.answered_at]
    talking = [
        (a.ended_at - a.answered_at).total_seconds()
        for a in attempts
        if a.answered_at and a.ended_at
    ]
    busy = sum(a.duration for a in attempts)
    print(
        f"per call: dial to answer {statistics.mean(ringing):.3f} s, answer to end "
        f"{statistics.mean(talking):.3f} s; channels busy {busy / (elapsed * args.concurrency):.0%}"
        " of the time"
    )
    if os.environ.get("BENCH_TIMELINE"):  # dial, answer and end of every 25th call
        t0 = min(a.started_at for a in attempts)
        for a in sorted(attempts, key=lambda a: a.started_at)[:: max(1, len(attempts) // 40)]:
            assert a.answered_at is not None and a.ended_at is not None
            marks = (a.started_at, a.answered_at, a.ended_at)
            print("  " + " ".join(f"{(m - t0).total_seconds():7.3f}" for m in marks))
    if os.environ.get("BENCH_PHASES"):
        phases.report(args.concurrency)
    if t.notified != t.contacts:
        print("WARNING: not every contact was notified", file=sys.stderr)
    # the numbers the project dialled (digits, as its dial strings carry them)
    numbers = sorted({a.phone for a in attempts})
    return limit / elapsed, elapsed, numbers, sounds, call_time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument(
        "--no-recording",
        action="store_true",
        help="the campaign's scenario says record = false (the call files record nothing)",
    )
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="cc-bench-", dir="/tmp"))
    settings = Settings().replace(
        asterisk_runtime_dir=workdir / "ast",
        ami_port=free_port(),
        ami_secret=secrets.token_hex(16),
        dial_template="Local/{number}@sim-customers",
        database_url=f"sqlite+aiosqlite:///{workdir / 'bench.db'}",
    )
    local = LocalAsterisk(settings, sip_port=0)
    local.start(timeout=30)
    try:
        migrate.upgrade(settings.database_url, [AutoinformerPlugin()])
        pid = local.status(with_version=False).pid
        assert pid is not None
        efficiency, elapsed, numbers, sounds, call_time = asyncio.run(
            run(settings, args, workdir, pid)
        )
        watching = threading.Event()
        phases = CallPhases(own=callfile_leg)
        watcher = threading.Thread(target=watch_ami, args=(settings, phases, watching))
        if os.environ.get("BENCH_PHASES"):
            watcher.start()
            time.sleep(0.5)  # logged in before the first call file
        ast0 = cpu_seconds(pid)
        baseline = callfile_baseline(local, numbers, sounds, args.concurrency, phases)
        baseline_cpu = cpu_seconds(pid) - ast0
        if watcher.is_alive():
            time.sleep(0.2)  # the last Hangups read
            watching.set()
            watcher.join()
            print("call files:")
            phases.report(args.concurrency)
    finally:
        local.stop(timeout=15)
        shutil.rmtree(workdir, ignore_errors=True)
    limit = args.contacts * call_time / args.concurrency
    print(
        f"call files (same Asterisk, contacts and message, at most {args.concurrency} in "
        f"flight): elapsed {baseline:.2f} s, efficiency {limit / baseline:.3f}, "
        f"Asterisk CPU {baseline_cpu:.2f} s, {baseline_cpu / len(numbers) * 1000:.1f} ms a call"
    )
    ours_rate, base_rate = args.contacts / elapsed * 60, args.contacts / baseline * 60
    print(f"contacts/min: project {ours_rate:.0f}, call files {base_rate:.0f}")
    print(f"efficiency: {efficiency:.3f}")
    print(f"vs_callfiles: {ours_rate / base_rate:.3f}")


if __name__ == "__main__":
    main()
