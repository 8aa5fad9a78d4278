"""Chaos run: does the service keep its promises through an administrator's bad day?

    .venv/bin/python bench/chaos.py [--kills 20] [--contacts 64] [--seed 1] [--short]

A private Asterisk (asterisk_conf/ with the sim profile, its own runtime folder, a free AMI
port) and `contact-center serve` as a real subprocess on a fresh SQLite database run a mixed
debt campaign (sim customers of every kind: listeners, busy, no answer, key 0 to an
operator, key 1, early hang-up, congestion, key 9) and hotline callers who ask for an
operator. Meanwhile:

- `serve` is started `--early` seconds before Asterisk;
- Asterisk is frozen (SIGSTOP, SIGCONT 8 s later) while a customer talks to an operator,
  and again while a hotline caller does;
- `serve` is killed with SIGKILL `--kills` times at random moments and started again;
- Asterisk is stopped and started once, mid-campaign.

An independent observer (its own AMI connection, not the service's database) records every
call: channels, answers, AGI commands, bridges, hang-ups, with Asterisk's timestamps. After
the campaign ends it prints, from the observer's record (the database is read only to match
attempts and appeals to calls):

  redials_after_final       calls to a number after a call that finished its business
                            (message heard to the end, key 1 or 9 taken, operator reached)
  concurrent_same_number    calls to one number that overlapped
  attempts_beyond_policy    calls to a number beyond the retry policy's attempts
  lost_attempts             calls Asterisk placed that the database has no attempt for
  cut_transfers             operator conversations ended before the operator hung up
  silent_answered_over_5s   answered customers left over 5 s with no AGI command running
                            and no bridge (freezes of Asterisk itself excluded)
  unclosed_appeals          hotline appeals without an end after the run
  retries_spent_without_call  attempts counted in the database that no call stands behind

and last `chaos_violations: N` (their sum, plus any exit of `serve` while Asterisk was down).
The target is 0. `--short` is the CI variant: fewer contacts and kills, a shorter early
start. Not a pass/fail test by itself (tests/integration/test_chaos.py runs the short one).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import itertools
import os
import random
import re
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote
from zoneinfo import ZoneInfo

from autoinformer.demo import longest_message
from autoinformer.phone.prerender import contact_values
from autoinformer.plugin import Autoinformer, AutoinformerPlugin
from contact_center.app import build_app
from contact_center.clock import Clock
from contact_center.devtools.local_asterisk import LocalAsterisk
from contact_center.settings import Settings
from contact_center.telephony.ami import AmiConfig, AmiLink

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "contact_center"]
KRS = ZoneInfo("Asia/Krasnoyarsk")
# a working Tuesday morning: the calling window and the hotline are open whatever the hour
CLOCK_AT = datetime(2026, 12, 1, 11, 0, tzinfo=KRS)
RETRIES = ("busy=3/3s", "no_answer=3/3s", "failed=3/3s", "hung_up=3/3s")
MAX_ATTEMPTS = 3
OPERATOR_TALK = 8.0
PRESS_DELAY = 1.5
# the key-9 customer presses after the whole message has been played
LISTEN = 9.0
SILENCE_LIMIT = 5.0
SCENARIO = """
name = "chaos-debt"
kind = "debt"
title = "Уведомление о долге (хаос)"
message = "Уважаемый абонент, у вас задолженность {money:debt}. Оплатите, пожалуйста."
wait_digit = 3
repeats = 0
calls_per_free_operator = 3

[keys]
"1" = "confirm"
"0" = "operator"
"9" = "opt_out"
other = "ignore"

[replies]
confirmed = "Спасибо."
operator = "Соединяю с оператором."
operator_busy = "Операторы заняты, вам перезвонят."
opted_out = "Вы отписаны."
goodbye = "До свидания."
"""


# --------------------------------------------------------------------------- observer


@dataclass
class Call:
    """One Local channel towards a sim customer, as Asterisk reported it."""

    uniqueid: str
    number: str
    created: float
    answered: float | None = None
    ended: float | None = None
    # intervals of AGI commands and of bridges: the customer hears something (or an operator)
    busy: list[tuple[float, float | None]] = field(default_factory=list)
    bridged_with_operator: list[tuple[float, float | None]] = field(default_factory=list)
    agi_open: float | None = None
    bridge_open: float | None = None
    # sounds streamed to their end (AGI result 0: no key, no hang-up), by name
    heard: set[str] = field(default_factory=set)
    # the sound of the (CONTROL) STREAM FILE that just ended: its result (AsyncAGIExec) comes next,
    # under our CommandID, which AGIExecEnd does not carry (it has Asterisk's own)
    stream_ended: str | None = None
    # AGIExecEnd and AsyncAGIExec are sent by different threads and may cross: a result
    # that comes while its command has not ended yet waits here for the end
    in_command: bool = False
    early_result: str | None = None
    # the message's parts its dialplan played to their end before AGI or its end
    # (autoinformer/phone/played.py), and since when it plays them (its answer): confirmed
    # as heard time by the AsyncAGIStart that says how far it got, or by CCPlayed
    dialplan_played: int = 0
    dialplan_open: float | None = None


@dataclass
class Observer:
    """Every call towards sim customers and every hotline call, from AMI events alone."""

    calls: dict[str, Call] = field(default_factory=dict)
    hotline: dict[str, float] = field(default_factory=dict)
    bridges: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    channel_names: dict[str, str] = field(default_factory=dict)
    freezes: list[tuple[float, float]] = field(default_factory=list)
    # while Asterisk was being stopped: its calls die with it, not by the service's doing
    asterisk_stops: list[tuple[float, float]] = field(default_factory=list)
    operator_bridge_seen: asyncio.Event = field(default_factory=asyncio.Event)
    hotline_bridge_seen: asyncio.Event = field(default_factory=asyncio.Event)
    # hotline callers talking to an operator now
    hotline_with_operator: set[str] = field(default_factory=set)

    def live_operator_bridge(self, kind: str) -> bool:
        """Is a conversation with an operator on now: a campaign transfer ("operator") or
        a hotline call ("hotline")? (Seen begun is not enough: a kill or an Asterisk
        restart may have ended it since.)"""
        if kind == "hotline":
            return bool(self.hotline_with_operator)
        return any(
            c.ended is None and c.bridged_with_operator and c.bridged_with_operator[-1][1] is None
            for c in self.calls.values()
        )

    def attach(self, link: AmiLink) -> None:
        handlers: Mapping[str, Callable[[Any], None]] = {
            "Newchannel": self._new,
            "Newstate": self._state,
            "Hangup": self._hangup,
            "AGIExecStart": self._agi_start,
            "AGIExecEnd": self._agi_end,
            "AsyncAGIExec": self._agi_result,
            "AsyncAGIStart": self._agi_enter,
            "UserEvent": self._user_event,
            "BridgeEnter": self._bridge_enter,
            "BridgeLeave": self._bridge_leave,
        }
        for name, handler in handlers.items():
            link.on_event(name, _guarded(handler))

    @staticmethod
    def _at(event: Any) -> float:
        stamp = event.get("Timestamp")
        return float(stamp) if stamp else time.time()

    def _new(self, e: Any) -> None:
        channel, uid = str(e.get("Channel", "")), str(e.get("Uniqueid", ""))
        self.channel_names[uid] = channel
        # the service's half of an Originate towards a customer: Local/<n>@sim-customers-..;1
        if "@sim-customers-" in channel and channel.endswith(";1"):
            number = channel.split("/", 1)[1].split("@", 1)[0]
            self.calls[uid] = Call(uid, number, self._at(e))
        elif channel.startswith("Local/s@hotline-") and channel.endswith(";2"):
            # the ;2 half runs [hotline]; the ;1 half is the sim caller
            self.hotline[uid] = self._at(e)

    def _state(self, e: Any) -> None:
        call = self.calls.get(str(e.get("Uniqueid", "")))
        if call and str(e.get("ChannelStateDesc")) == "Up" and call.answered is None:
            call.answered = self._at(e)
            # a new call's dialplan plays the message as soon as it is answered
            call.dialplan_open = call.answered

    def _hangup(self, e: Any) -> None:
        at = self._at(e)
        self.hotline_with_operator.discard(str(e.get("Uniqueid", "")))
        call = self.calls.get(str(e.get("Uniqueid", "")))
        if call and call.ended is None:
            call.ended = at
            self._close(call, at)

    def _close(self, call: Call, at: float) -> None:
        if call.dialplan_open is not None:
            # cut mid-message (an Asterisk stop: no `h` extension ran): it was playing
            call.busy.append((call.dialplan_open, at))
            call.dialplan_open = None
        if call.agi_open is not None:
            call.busy.append((call.agi_open, at))
            call.agi_open = None
        if call.bridge_open is not None:
            call.busy.append((call.bridge_open, at))
            call.bridge_open = None
        call.bridged_with_operator = [
            (a, b if b is not None else at) for a, b in call.bridged_with_operator
        ]

    def _agi_enter(self, e: Any) -> None:
        call = self.calls.get(str(e.get("Uniqueid", "")))
        if call is None or call.dialplan_open is None:
            return
        # agi_arg_2: the parts its dialplan played; none: it played nothing (silence)
        found = re.search(r"agi_arg_2: (\d+)", unquote(str(e.get("Env", ""))))
        if found:
            call.busy.append((call.dialplan_open, self._at(e)))
            call.dialplan_played = max(call.dialplan_played, int(found.group(1)))
        call.dialplan_open = None

    def _user_event(self, e: Any) -> None:
        call = self.calls.get(str(e.get("Uniqueid", "")))
        if call is None or str(e.get("UserEvent", "")) != "CCPlayed":
            return
        if call.dialplan_open is not None:
            call.busy.append((call.dialplan_open, self._at(e)))
            call.dialplan_open = None
        played = str(e.get("Played", ""))
        if played.isdigit():
            call.dialplan_played = max(call.dialplan_played, int(played))

    def _agi_start(self, e: Any) -> None:
        call = self.calls.get(str(e.get("Uniqueid", "")))
        if call:
            call.in_command = True
        if call and call.agi_open is None:
            call.agi_open = self._at(e)

    def _agi_result(self, e: Any) -> None:
        call = self.calls.get(str(e.get("Uniqueid", "")))
        if call is None:
            return
        result = unquote(str(e.get("Result", "")))
        if call.in_command:
            call.early_result = result  # its command's AGIExecEnd is still on its way
            return
        self._pair(call, result)

    @staticmethod
    def _pair(call: Call, result: str) -> None:
        name, call.stream_ended = call.stream_ended, None
        if name is not None and re.match(r"200 result=0(\s|$)", result.strip()):
            call.heard.add(name)

    def _agi_end(self, e: Any) -> None:
        call = self.calls.get(str(e.get("Uniqueid", "")))
        if call:
            call.stream_ended = streamed_sound(str(e.get("Command", "")))
            call.in_command = False
            if call.early_result is not None:
                result, call.early_result = call.early_result, None
                self._pair(call, result)
        if call and call.agi_open is not None:
            call.busy.append((call.agi_open, self._at(e)))
            call.agi_open = None

    def _bridge_enter(self, e: Any) -> None:
        bridge, uid, at = str(e.get("BridgeUniqueid")), str(e.get("Uniqueid", "")), self._at(e)
        self.bridges[bridge].add(uid)
        members = self.bridges[bridge]
        operator = any("@sim-operators-" in self.channel_names.get(m, "") for m in members)
        for member in members:
            call = self.calls.get(member)
            if call and call.bridge_open is None:
                call.bridge_open = at
            if call and operator:
                if not call.bridged_with_operator or call.bridged_with_operator[-1][1] is not None:
                    call.bridged_with_operator.append((at, None))
                self.operator_bridge_seen.set()
        if operator and any(m in self.hotline for m in members):
            self.hotline_with_operator.update(m for m in members if m in self.hotline)
            self.hotline_bridge_seen.set()

    def _bridge_leave(self, e: Any) -> None:
        bridge, uid, at = str(e.get("BridgeUniqueid")), str(e.get("Uniqueid", "")), self._at(e)
        members = self.bridges[bridge]
        members.discard(uid)
        self.hotline_with_operator.discard(uid)
        call = self.calls.get(uid)
        if call and call.bridge_open is not None:
            call.busy.append((call.bridge_open, at))
            call.bridge_open = None
        for member in [*members, uid]:
            c = self.calls.get(member)
            if c and c.bridged_with_operator and c.bridged_with_operator[-1][1] is None:
                c.bridged_with_operator[-1] = (c.bridged_with_operator[-1][0], at)


def _guarded(handler: Callable[[Any], None]) -> Callable[[Any], None]:
    def run(event: Any) -> None:
        try:
            handler(event)
        except Exception as exc:  # the observer must never drop its own link
            print(f"observer: {handler.__name__} failed: {exc!r}", file=sys.stderr)

    return run


# --------------------------------------------------------------------------- the run


@dataclass
class Run:
    settings: Settings
    env: dict[str, str]
    workdir: Path
    local: LocalAsterisk
    serve: subprocess.Popen[bytes] | None = None
    serve_starts: int = 0
    serve_exits: int = 0
    verbose: bool = False
    message_seconds: float = 0.0
    message_parts: dict[str, list[str]] = field(default_factory=dict)
    # from each kill -9 to the next start: the supervisor's delay this harness chooses
    # (0.2-2 s), when no service exists to do anything
    serve_down: list[tuple[float, float]] = field(default_factory=list)
    # freezes that found no conversation to freeze (printed: the run tested less)
    freezes_skipped: int = 0
    # the campaign of customers who press 0, started when no transfer was live to freeze
    reserve_id: int = 0
    reserve_started: bool = False
    killed_at: float | None = None
    log: list[str] = field(default_factory=list)

    def cli(self, *args: str, data: bytes | None = None) -> str:
        done = subprocess.run(
            [*CLI, *args], env=self.env, input=data, capture_output=True, timeout=300, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args)}: {done.stderr.decode(errors='replace')}")
        return done.stdout.decode()

    def start_serve(self) -> None:
        if self.killed_at is not None:
            self.serve_down.append((self.killed_at, time.time()))
            self.killed_at = None
        self.serve_starts += 1
        out = (self.workdir / f"serve-{self.serve_starts}.log").open("wb")
        self.serve = subprocess.Popen(
            [*CLI, "serve"], env=self.env, stdout=out, stderr=subprocess.STDOUT
        )

    def serve_alive(self) -> bool:
        if self.serve is None:
            return False
        if self.serve.poll() is None:
            return True
        self.serve_exits += 1
        self.note(f"serve exited by itself with {self.serve.returncode}")
        self.serve = None
        return False

    def kill_serve(self) -> None:
        if self.serve is not None and self.serve.poll() is None:
            self.serve.send_signal(signal.SIGKILL)
            self.serve.wait(timeout=10)
            self.killed_at = time.time()
        self.serve = None

    def stop_serve(self) -> None:
        if self.serve is not None and self.serve.poll() is None:
            self.serve.send_signal(signal.SIGTERM)
            try:
                self.serve.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.serve.kill()
        self.serve = None

    def note(self, text: str) -> None:
        self.log.append(f"{time.strftime('%H:%M:%S')} {text}")
        print(f"  {text}", flush=True)

    def asterisk_pid(self) -> int | None:
        return self.local.status(with_version=False).pid

    async def freeze(self, seconds: float, observer: Observer) -> None:
        pid = self.asterisk_pid()
        if pid is None:
            return
        started = time.time()
        os.kill(pid, signal.SIGSTOP)
        await asyncio.sleep(seconds)
        os.kill(pid, signal.SIGCONT)
        observer.freezes.append((started, time.time()))

    def db(self) -> sqlite3.Connection:
        return sqlite3.connect(f"file:{self.workdir / 'chaos.db'}?mode=ro", uri=True)

    def campaign_finished(self, campaign_id: int) -> bool:
        with self.db() as conn:
            row = conn.execute("SELECT status FROM ai_campaigns WHERE id=?", (campaign_id,))
            status = row.fetchone()
        return bool(status) and status[0] in ("finished", "cancelled")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def contacts_csv(count: int, *, kinds: str = "12345678", first: int = 0) -> bytes:
    rows = ["phone,account,debt"]
    for i in range(first, first + count):
        digit = kinds[i % len(kinds)]
        rows.append(f"+79130{i:05d}{digit},{300000 + i},{1000 + i}.50")
    return ("\n".join(rows) + "\n").encode()


def create_campaign(run: Run, name: str, listing: Path, *, concurrency: int) -> int:
    created = run.cli(
        "campaign",
        "create",
        "--name",
        name,
        "--kind",
        "debt",
        "--scenario",
        "chaos-debt",
        "--list",
        str(listing),
        "--concurrency",
        str(concurrency),
        "--ring-timeout",
        "4",
        "--caps",
        "none",
        *[a for r in RETRIES for a in ("--retry", r)],
    )
    return int(created.strip().splitlines()[0])


async def observe(settings: Settings, observer: Observer) -> AmiLink:
    # back at once after the Asterisk restart: calls the service places before the
    # observer has reconnected are calls it never sees (a 10 s back-off missed whole
    # redials, and with them every message heard through: "cannot judge")
    config = dataclasses.replace(
        AmiConfig.from_settings(settings), reconnect_min=0.1, reconnect_max=0.25
    )
    link = AmiLink(config)
    observer.attach(link)
    await link.connect(timeout=60)
    return link


async def message_parts(settings: Settings, campaign_id: int) -> tuple[float, dict[str, list[str]]]:
    """The longest rendered message's length, and each number's message as the sound names
    the service streams (the service's cache gets them too)."""
    plugin = AutoinformerPlugin()
    async with build_app(settings, plugins=[plugin]) as app:
        ai = app.part(Autoinformer)
        longest = await longest_message(ai, app.speech, [campaign_id])
        campaign = await ai.campaigns.get(campaign_id)
        scenario = await ai.campaigns.scenarios.by_id(campaign.scenario_id)
        parts: dict[str, list[str]] = {}
        async for contact in ai.book.waiting(campaign_id):
            values = contact_values(contact)
            names = await app.speech.render(scenario.message_for(values), values)
            parts[re.sub(r"\D", "", contact.phone)] = names
        return longest, parts


async def hotline_caller(link: AmiLink, n: int) -> None:
    await link.wait_connected(60)
    await link.action(
        "Originate",
        Channel="Local/s@hotline",
        Context="sim-callers",
        Exten="d0",
        Priority="1",
        Async="true",
        Timeout="10000",
        CallerID=f"79130099{n:03d}",
        ChannelId=f"chaos-caller-{n:04d}",
    )


async def chaos(run: Run, args: argparse.Namespace, rng: random.Random) -> dict[str, int]:
    settings = run.settings
    run.cli("db", "upgrade")
    run.cli("sounds", "build")
    scenario = run.workdir / "chaos-debt.toml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    run.cli("scenario", "add", str(scenario))
    listing = run.workdir / "list.csv"
    listing.write_bytes(contacts_csv(args.contacts))
    campaign_id = create_campaign(run, "chaos", listing, concurrency=8)
    # customers who ask for an operator, dialed only if the main campaign's transfers were
    # all over (or cut by kills) before the freeze could find one
    reserve = run.workdir / "transfers.csv"
    reserve.write_bytes(contacts_csv(2, kinds="4", first=90000))
    run.reserve_id = create_campaign(run, "chaos-transfers", reserve, concurrency=1)
    run.message_seconds, run.message_parts = await message_parts(settings, campaign_id)
    run.note(
        f"campaign {campaign_id}: {args.contacts} contacts, message {run.message_seconds:.1f} s"
    )

    # serve first, Asterisk `--early` seconds later: the service must wait, not exit
    run.start_serve()
    run.note(f"serve started; Asterisk in {args.early:g} s")
    await asyncio.sleep(args.early)
    alive_before_asterisk = run.serve_alive()
    run.local.start(timeout=60)
    run.note("Asterisk started")
    if not alive_before_asterisk:
        run.start_serve()
    observer = Observer()
    link = await observe(settings, observer)
    for name, value in {
        "SIM_OPERATOR_TALK_TIME": f"{OPERATOR_TALK:g}",
        "SIM_CUSTOMER_PRESS_DELAY": f"{PRESS_DELAY:g}",
        # the key-9 customer presses after the whole message (about 6 s here)
        "SIM_CUSTOMER_LISTEN": f"{LISTEN:g}",
    }.items():
        await link.action("Setvar", Variable=name, Value=value)
    run.cli("campaign", "start", str(campaign_id))
    started = time.monotonic()

    freezing = asyncio.ensure_future(freezes(run, observer, link))
    restart_at = args.kills // 2
    for k in range(args.kills):
        if run.campaign_finished(campaign_id):
            run.note(f"campaign finished after {k} kills")
            break
        await asyncio.sleep(rng.uniform(args.min_gap, args.max_gap))
        if not run.serve_alive():
            run.start_serve()
            continue
        run.kill_serve()
        run.note(f"kill -9 serve ({k + 1}/{args.kills})")
        if k == restart_at:
            # in a thread: the observer and the freezes go on meanwhile
            stopping = time.time()
            await asyncio.to_thread(run.local.stop, 20)
            observer.asterisk_stops.append((stopping, time.time()))
            run.note("Asterisk stopped")
            await asyncio.sleep(rng.uniform(2, 5))
            await asyncio.to_thread(run.local.start, 60)
            run.note("Asterisk started again")
        await asyncio.sleep(rng.uniform(0.2, 2.0))
        run.start_serve()

    await freezing
    campaigns = [campaign_id, *([run.reserve_id] if run.reserve_started else [])]
    deadline = time.monotonic() + args.timeout

    def all_finished() -> bool:
        return all(run.campaign_finished(c) for c in campaigns)

    while time.monotonic() < deadline and not all_finished():
        if not run.serve_alive():
            run.start_serve()
        await asyncio.sleep(1.0)
    finished = all_finished()
    run.note(
        f"campaign {'finished' if finished else 'NOT finished'} "
        f"{time.monotonic() - started:.0f} s after its start"
    )
    # the hotline callers: the operators hang up after their talk time; then stop serve
    await asyncio.sleep(OPERATOR_TALK + 4)
    run.stop_serve()
    await asyncio.sleep(1.0)
    await link.close()
    return measure(run, observer, campaigns, finished)


async def _seen(event: asyncio.Event, seconds: float) -> bool:
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        return False
    return True


async def freezes(run: Run, observer: Observer, link: AmiLink) -> None:
    """Freeze Asterisk while a customer talks to an operator, then while a hotline caller
    does (concurrently with the kills: a real bad day does not take turns). Each freeze is
    arranged, not left to chance: when no campaign transfer is live within a minute, the
    reserve campaign (customers who press 0) is started; hotline callers are placed until
    one talks to an operator."""
    frozen = False
    for wait in (60.0, 90.0, 60.0):
        if await _seen(observer.operator_bridge_seen, wait):
            await asyncio.sleep(1.0)
            if observer.live_operator_bridge("operator"):
                run.note("freezing Asterisk for 8 s during a transfer to an operator")
                await run.freeze(8.0, observer)
                frozen = True
                break
        observer.operator_bridge_seen.clear()
        if not run.reserve_started:
            run.note("no transfer to an operator live: starting the reserve campaign")
            try:
                await asyncio.to_thread(run.cli, "campaign", "start", str(run.reserve_id))
                run.reserve_started = True
            except RuntimeError as exc:
                run.note(f"reserve campaign not started: {exc}")
    if not frozen:
        run.note("no transfer to an operator to freeze: freeze skipped")
        run.freezes_skipped += 1
    # callers come again while none reached an operator (an Asterisk restart or a kill
    # meanwhile may have ended them): the freeze must find a conversation
    for round_ in range(5):
        for n in range(3 * round_, 3 * round_ + 3):
            try:
                await hotline_caller(link, n)
            except Exception as exc:  # Asterisk may be restarting meanwhile
                run.note(f"hotline caller {n} not placed: {exc}")
        if not await _seen(observer.hotline_bridge_seen, 40):
            continue
        await asyncio.sleep(1.0)
        if not observer.live_operator_bridge("hotline"):
            observer.hotline_bridge_seen.clear()
            continue
        run.note("freezing Asterisk for 8 s during a hotline conversation")
        await run.freeze(8.0, observer)
        return
    run.note("no hotline caller reached an operator in 5 tries: freeze skipped")
    run.freezes_skipped += 1


def _overlap(a: tuple[float, float], freezes: list[tuple[float, float]]) -> bool:
    return any(a[0] < f1 + 1.0 and f0 - 1.0 < a[1] for f0, f1 in freezes)


def silence_gaps(
    call: Call, freezes: list[tuple[float, float]], down: list[tuple[float, float]]
) -> list[float]:
    """Stretches of an answered call with no AGI command running and no bridge, less the
    time no service process existed (the harness's own restart delay; the service's
    start-up and adoption count in full)."""
    if call.answered is None or call.ended is None:
        return []
    spans = sorted((a, b if b is not None else call.ended) for a, b in call.busy)
    gaps, cursor = [], call.answered
    for a, b in [*spans, (call.ended, call.ended)]:
        if a > cursor and not _overlap((cursor, a), freezes):
            absent = sum(max(0.0, min(a, d1) - max(cursor, d0)) for d0, d1 in down)
            gaps.append(a - cursor - absent)
        cursor = max(cursor, b)
    return gaps


def cut_by_asterisk_stop(call: Call, stops: list[tuple[float, float]]) -> bool:
    """Was the call up when Asterisk was stopped (it ended during the stop, or its end
    was never seen)?"""
    return any(
        call.created < b and (call.ended is None or a - 0.5 <= call.ended <= b + 0.5)
        for a, b in stops
    )


def _covered(call: Call, moment: float) -> bool:
    return any(a <= moment <= (b if b is not None else moment) for a, b in call.busy)


def streamed_sound(command: str) -> str | None:
    """The sound an AGI command plays: STREAM FILE, or CONTROL STREAM FILE for a sound
    that takes keys."""
    words = command.split()
    if words[:1] == ["CONTROL"]:
        words = words[1:]
    if [w.upper() for w in words[:2]] == ["STREAM", "FILE"] and len(words) > 2:
        return words[2].strip('"')
    return None


def finished_business(call: Call, kind: str, message: list[str]) -> bool:
    """Did this call do what the customer's kind makes possible, with the service there to
    take it (a key pressed into silence after a kill does not count)?"""
    if call.answered is None or call.ended is None:
        return False
    if kind == "4":
        return any(
            b is not None and b - a >= OPERATOR_TALK - 1 for a, b in call.bridged_with_operator
        )
    if kind == "5":
        return _covered(call, call.answered + PRESS_DELAY + 0.3)
    if kind == "8":
        return _covered(call, call.answered + LISTEN + 0.3)
    if kind in "109":
        # every part of the message streamed to its end on this call (by one driver or
        # by a lost one and the next); time with an AGI command running is no measure:
        # it includes the wait for a key after the message
        return bool(message) and all(
            index < call.dialplan_played or name in call.heard for index, name in enumerate(message)
        )
    return False


def _timeline(call: Call, t0: float) -> str:
    def rel(x: float | None) -> str:
        return "-" if x is None else f"{x - t0:.1f}"

    spans = " ".join(f"[{rel(a)},{rel(b)}]" for a, b in sorted(call.busy, key=lambda s: s[0]))
    ops = " ".join(f"op[{rel(a)},{rel(b)}]" for a, b in call.bridged_with_operator)
    return (
        f"{call.uniqueid} created {rel(call.created)} answered {rel(call.answered)} "
        f"ended {rel(call.ended)} busy {spans} {ops} heard {len(call.heard)} sounds "
        f"(and {call.dialplan_played} parts by its dialplan)"
    )


def measure(run: Run, obs: Observer, campaigns: list[int], finished: bool) -> dict[str, int]:
    """The violations, from the observer's record of the calls (of every campaign run)."""
    with run.db() as conn:
        marks = ",".join("?" * len(campaigns))
        attempts = conn.execute(
            f"SELECT channel_id, counted FROM ai_attempts WHERE campaign_id IN ({marks})",
            campaigns,
        ).fetchall()
        appeals = conn.execute(
            "SELECT count(*) FROM hotline_appeals WHERE ended_at IS NULL"
        ).fetchone()[0]
    db_channels = {row[0] for row in attempts}
    counted_channels = {row[0] for row in attempts if row[1]}
    by_number: dict[str, list[Call]] = defaultdict(list)
    for call in obs.calls.values():
        by_number[call.number].append(call)
    message = run.message_seconds
    parts = run.message_parts

    redials = concurrent = beyond = cut = silent = heard_through = 0
    t0 = min((c.created for c in obs.calls.values()), default=0.0)
    details: list[str] = []
    for number, calls in by_number.items():
        calls.sort(key=lambda c: c.created)
        kind = number[-1]
        done_at = next(
            (c.ended for c in calls if finished_business(c, kind, parts.get(number, []))), None
        )
        heard_through += kind in "109" and done_at is not None
        again = sum(1 for c in calls if done_at is not None and c.created > done_at)
        redials += again
        if again:
            details.append(f"redial after final, kind {kind}:")
            details.extend("    " + _timeline(c, t0) for c in calls)
        for a, b in itertools.pairwise(calls):
            if a.ended is None or b.created < a.ended:
                concurrent += 1
        # a call Asterisk took down as it was stopped is none of the customer's doing: by
        # design it spends no retry (the service dials it again), so it is not an attempt
        # of the policy's
        policy_calls = [c for c in calls if not cut_by_asterisk_stop(c, obs.asterisk_stops)]
        if len(policy_calls) > MAX_ATTEMPTS:
            beyond += len(policy_calls) - MAX_ATTEMPTS
            details.append(f"beyond the policy, kind {kind}:")
            details.extend("    " + _timeline(c, t0) for c in calls)
        for c in calls:
            for start, end in c.bridged_with_operator:
                if (
                    end is not None
                    and end - start < OPERATOR_TALK - 1.0
                    and not _overlap((start, end), obs.freezes)
                ):
                    cut += 1
            if any(gap > SILENCE_LIMIT for gap in silence_gaps(c, obs.freezes, run.serve_down)):
                silent += 1
                details.append(f"silence over {SILENCE_LIMIT:g} s, kind {kind}:")
                details.append("    " + _timeline(c, t0))
    freezes = " ".join(f"[{a - t0:.1f},{b - t0:.1f}]" for a, b in obs.freezes)
    stops = " ".join(f"[{a - t0:.1f},{b - t0:.1f}]" for a, b in obs.asterisk_stops)
    down = " ".join(f"[{a - t0:.1f},{b - t0:.1f}]" for a, b in run.serve_down)
    details.append(f"no serve process (kill -9 to the next start): {down}")
    details.append(f"freezes: {freezes}; Asterisk stopped: {stops}; message {message:.1f} s")
    (run.workdir / "details.txt").write_text("\n".join(details) + "\n", encoding="utf-8")
    if run.verbose:
        print("\n".join(details))
    if not heard_through:
        # no listener heard the message to its end: the observer is blind to redials
        raise RuntimeError("the observer saw no message heard to its end: it cannot judge")
    lost = sum(1 for uid in obs.calls if uid not in db_channels)
    without_call = sum(1 for channel in counted_channels if channel not in obs.calls)
    return {
        "calls_observed": len(obs.calls),
        "campaign_finished": int(finished),
        "redials_after_final": redials,
        "concurrent_same_number": concurrent,
        "attempts_beyond_policy": beyond,
        "lost_attempts": lost,
        "cut_transfers": cut,
        "silent_answered_over_5s": silent,
        "unclosed_appeals": int(appeals),
        "retries_spent_without_call": without_call,
        "serve_exits_while_asterisk_down": run.serve_exits,
        "freezes_skipped": run.freezes_skipped,
    }


VIOLATIONS = (
    "redials_after_final",
    "concurrent_same_number",
    "attempts_beyond_policy",
    "lost_attempts",
    "cut_transfers",
    "silent_answered_over_5s",
    "unclosed_appeals",
    "retries_spent_without_call",
    "serve_exits_while_asterisk_down",
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--contacts", type=int, default=64)
    parser.add_argument("--early", type=float, default=20.0, help="serve starts this early")
    parser.add_argument("--min-gap", type=float, default=3.0)
    parser.add_argument("--max-gap", type=float, default=10.0)
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--short", action="store_true", help="the CI variant")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("-v", "--verbose", action="store_true", help="print each violation")
    args = parser.parse_args()
    if args.short:
        args.kills, args.contacts, args.early = min(args.kills, 4), min(args.contacts, 24), 6.0
    rng = random.Random(args.seed)
    workdir = Path(tempfile.mkdtemp(prefix="cc-chaos-", dir="/tmp"))
    settings = Settings().replace(
        asterisk_runtime_dir=workdir / "ast",
        ami_port=free_port(),
        ami_secret=secrets.token_hex(16),
        dial_template="Local/{number}@sim-customers",
        database_url=f"sqlite+aiosqlite:///{workdir / 'chaos.db'}",
        sim_operators=3,
        sim_operator_talk_time=OPERATOR_TALK,
    )
    offset = Clock.at(CLOCK_AT).offset_s
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "CC_DATABASE_URL": settings.database_url,
        "CC_AMI_PORT": str(settings.ami_port),
        "CC_AMI_SECRET": settings.ami_secret,
        "CC_ASTERISK_RUNTIME_DIR": str(settings.asterisk_runtime_dir),
        "CC_DIAL_TEMPLATE": settings.dial_template,
        "CC_CLOCK_OFFSET": f"{offset:.3f}",
        "CC_HTTP_PORT": "0",
        "CC_SIM_OPERATORS": "3",
        "CC_SIM_OPERATOR_TALK_TIME": f"{OPERATOR_TALK:g}",
        "CC_AMI_PING_INTERVAL": "2",
    }
    local = LocalAsterisk(settings, sip_port=0)
    run = Run(settings, env, workdir, local, verbose=args.verbose)
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC, work folder {workdir}", flush=True)
    try:
        result = asyncio.run(chaos(run, args, rng))
    finally:
        run.stop_serve()
        local.stop(timeout=20)
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    for name, value in result.items():
        print(f"{name}: {value}")
    violations = sum(result[name] for name in VIOLATIONS) + (1 - result["campaign_finished"])
    print(f"chaos_violations: {violations}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
