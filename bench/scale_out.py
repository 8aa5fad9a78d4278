"""Scale-out: one campaign over 1 node and over 2 Asterisk nodes with a worker each.

    .venv/bin/python bench/scale_out.py [--contacts 10000] [--channels 100] [--short]
        [--kill | --stall SECONDS]

A throw-away PostgreSQL (contact_center/devtools/local_postgres.py), two private Asterisk
nodes (asterisk_conf/ with the sim profile, each its own runtime folder and AMI port, no
SIP) and the dialer workers as separate processes: this file run with `--worker`, which
builds the service from the composition root as `serve` does (AMI link, hotline, the
autoinformer's dialer and mailer, the service_state heartbeat) without the web console,
each with its own CC_AMI_PORT and CC_NODE and the shared CC_DATABASE_URL.

The same campaign is run twice, each time in a fresh database: N sim customers (numbers
ending in 1) who listen to a message of about 2 s until the service hangs up, first with
1 node and 1 worker at `--channels` concurrent calls, then with 2 nodes and 2 workers at
2 x `--channels` (a campaign's concurrency holds across workers, so it is the sum; each
node's trunk carries `--channels`, CC_DIAL_CHANNELS, as a real one has its limit). For
each: elapsed, contacts/min, efficiency (the channel-bound limit contacts x message length
/ concurrency, divided by elapsed, as bench/campaign_efficiency.py), the CPU of the
workers, of each Asterisk and of PostgreSQL, and the machine's CPU in all (other jobs
share it). Then `scale_ratio: X` (2-node contacts/min / 1-node contacts/min) with what
limits it, and `double_calls: N` from an independent AMI observer on each node
(bench/chaos.py's): a number in two calls at once, on one node or across both, or called
again after a call in which it heard the whole message.

`--kill`: the 2-node run only; worker 2 is killed with SIGKILL when a third of the
contacts are done. Its open calls go on in Asterisk (a message plays to its end, a call
in AGI is ended by its CC_DRIVEN_LEASE); the other worker asks node 2 every
takeover_interval (15 s) which of them it still has, takes over those gone at two looks
in a row, and their contacts go on there. Prints what happened to them, how long after
the kill their attempts were closed, and `double_calls`.

`--stall S`: as `--kill`, but worker 2 is stopped (SIGSTOP) for S seconds, then goes on
(SIGCONT): a frozen VM, a swap storm. Past 30 s the other worker takes it for dead and its
calls over as above; on waking it must not dial the contacts it had claimed ahead, which
the other worker may have called meanwhile (its heartbeat lease, HeartbeatLease). Prints
`double_calls` and the lapses the stalled worker logged.

`--short`: 1,000 contacts. `--keep`: keep the work folder, with the workers' logs (their
level BENCH_LOG_LEVEL, WARNING by default) and attempts-n1.csv / attempts-n2.csv (every
attempt with its call as the observers saw it).
Each run also prints the database transactions per contact and the CPU per call, and
from it how many calls a minute the machine's cores could carry if nothing else ran.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

# bench/ is the script's folder, first on sys.path
from campaign_efficiency import CLOCK_AT, SCENARIO, cpu_seconds, free_port, self_cpu
from chaos import Call, Observer
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from autoinformer.campaigns.service import CampaignSpec
from autoinformer.demo import wav_seconds
from autoinformer.models import Attempt, Campaign
from autoinformer.phone.config import DialerConfig
from autoinformer.phone.prerender import contact_values
from autoinformer.plugin import Autoinformer, AutoinformerPlugin
from autoinformer.scheduling import Caps, retry_policy
from contact_center.app import build_app
from contact_center.clock import Clock
from contact_center.devtools.local_asterisk import LocalAsterisk
from contact_center.devtools.local_postgres import LocalPostgres
from contact_center.settings import Settings, load_settings
from contact_center.storage import migrate
from contact_center.telephony.ami import AmiConfig, AmiLink

ROOT = Path(__file__).resolve().parents[1]
# the campaign rings at most this long: a dead worker's calls are taken over on the other
# node RING + CC_CALL_HARD_LIMIT + 30 s after they started
RING = 10
HARD_LIMIT = 60


# --------------------------------------------------------------------------- the worker


def worker_main(ready: Path) -> None:
    """One dialer worker: the service as `serve` builds it (settings from CC_*), no web."""
    logging.basicConfig(
        level=os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
        format="%(asctime)s %(name)s %(message)s",
    )
    settings = load_settings()
    # tick and drain as bench/campaign_efficiency.py; ring_timeout_max is this campaign's
    plugin = AutoinformerPlugin(
        DialerConfig(tick=0.2, drain_timeout=0.0, ring_timeout_max=RING), http=False
    )

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        async with build_app(settings, plugins=[plugin]).running(
            connect_timeout=30, report_state=True
        ):
            await asyncio.to_thread(ready.touch)
            await stop.wait()

    asyncio.run(serve())


# --------------------------------------------------------------------------- one run


@dataclass
class Node:
    name: str
    settings: Settings
    asterisk: LocalAsterisk
    pid: int = 0


@dataclass
class Worker:
    node: Node
    process: subprocess.Popen[bytes]
    cpu0: float = 0.0
    cpu: float = 0.0
    killed: bool = False
    log: Path | None = None


@dataclass
class Result:
    nodes: int
    concurrency: int
    contacts: int
    notified: int
    attempts: int
    call_time: float
    elapsed: float
    worker_cpu: list[float]
    asterisk_cpu: list[float]
    postgres_cpu: float
    bench_cpu: float
    machine_busy: float
    # database transactions per contact, the bench's own polls included
    xacts: int
    load: float
    calls_by_node: dict[str, int]
    # calls in progress on each node, averaged over the run (the observers' channel times)
    in_call_by_node: dict[str, float]
    double: dict[str, int]
    kill: list[str] = field(default_factory=list)

    @property
    def per_min(self) -> float:
        return self.contacts / self.elapsed * 60

    @property
    def limit(self) -> float:
        return self.contacts * self.call_time / self.concurrency

    def print(self) -> None:
        label = f"{self.nodes} node{'s' if self.nodes > 1 else ''}"
        print(f"--- {label}, {self.nodes} worker(s), concurrency {self.concurrency}")
        print(
            f"contacts: {self.contacts}, notified: {self.notified}, attempts: {self.attempts}, "
            f"calls by node: {self.calls_by_node}"
        )
        print(
            f"elapsed: {self.elapsed:.2f} s, channel-bound limit: {self.limit:.2f} s "
            f"(message {self.call_time:.2f} s)"
        )
        busy = ", ".join(f"{n} {v:.1f}" for n, v in self.in_call_by_node.items())
        print(f"calls in progress on average: {busy} (of {self.concurrency} in all)")
        print(f"contacts/min: {self.per_min:.0f}")
        print(f"efficiency: {self.limit / self.elapsed:.3f}")
        workers = " + ".join(f"{c:.1f}" for c in self.worker_cpu)
        asterisks = " + ".join(f"{c:.1f}" for c in self.asterisk_cpu)
        ours = sum(self.worker_cpu) + sum(self.asterisk_cpu) + self.postgres_cpu
        print(
            f"CPU s: workers {workers}, Asterisk {asterisks}, PostgreSQL {self.postgres_cpu:.1f}, "
            f"bench and observers {self.bench_cpu:.1f}"
        )
        print(
            f"CPU of the run {ours / self.elapsed:.2f} cores, of the whole machine "
            f"{self.machine_busy / self.elapsed:.2f} of {os.cpu_count()} cores, load average "
            f"{self.load:.1f} at the end"
        )
        print(f"database transactions: {self.xacts / self.contacts:.1f} per contact")
        # what the cores allow if nothing else ran: CPU per call against the channels' rate
        per_call = ours / self.attempts
        cores = os.cpu_count() or 1
        print(
            f"CPU per call {per_call * 1000:.1f} ms (workers, Asterisk, PostgreSQL): "
            f"{cores} idle cores would carry at most {cores / per_call * 60:.0f} calls/min; "
            f"the channels allow {self.concurrency / self.call_time * 60:.0f}"
        )
        print(f"double calls: {self.double}")
        for line in self.kill:
            print(f"kill: {line}")


def machine_busy() -> float:
    """Seconds of CPU every process of the machine has used (from /proc/stat)."""
    fields_ = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    ticks = [int(x) for x in fields_]
    idle = ticks[3] + ticks[4]
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def postgres_cpu(pg: LocalPostgres) -> float:
    """The postmaster's CPU, its exited children's, and its live children's."""
    main = int((pg.data / "postmaster.pid").read_text().split()[0])
    stat = Path(f"/proc/{main}/stat").read_text().rsplit(")", 1)[1].split()
    tck = os.sysconf("SC_CLK_TCK")
    total = sum(int(x) for x in stat[11:15]) / tck
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            fields_ = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields_[1]) == main:
            total += (int(fields_[11]) + int(fields_[12])) / tck
    return total


async def transactions(sessions: async_sessionmaker[AsyncSession]) -> int:
    """Transactions of this database so far, every process's (PostgreSQL's statistics)."""
    async with sessions() as session:
        count = await session.scalar(
            text(
                "SELECT xact_commit + xact_rollback FROM pg_stat_database "
                "WHERE datname = current_database()"
            )
        )
        return int(count or 0)


async def attempts_ended(sessions: async_sessionmaker[AsyncSession], campaign_id: int) -> int:
    async with sessions() as session:
        query = select(func.count()).select_from(Attempt).where(Attempt.campaign_id == campaign_id)
        query = query.where(Attempt.ended_at.is_not(None))
        return int(await session.scalar(query) or 0)


def heard_whole(call: Call, message: list[str]) -> bool:
    """Each part heard: by its AGI stream, or within the dialplan's CCPlayed (as chaos.py)."""
    return all(i < call.dialplan_played or p in call.heard for i, p in enumerate(message))


def double_calls(observers: list[Observer], message: list[str]) -> dict[str, int]:
    """From the observers' records: overlapping calls to one number (on one node, across
    nodes) and calls to a number after a call in which it heard the whole message."""
    by_number: dict[str, list[tuple[int, Call]]] = defaultdict(list)
    for n, obs in enumerate(observers):
        for call in obs.calls.values():
            by_number[call.number].append((n, call))
    same_node = across = after_heard = 0
    for calls in by_number.values():
        calls.sort(key=lambda nc: nc[1].created)
        for (na, a), (nb, b) in itertools.pairwise(calls):
            if a.ended is None or b.created < a.ended:
                if na == nb:
                    same_node += 1
                else:
                    across += 1
        heard_at = next((c.ended for _, c in calls if c.ended and heard_whole(c, message)), None)
        if heard_at is not None:
            after_heard += sum(1 for _, c in calls if c.created > heard_at)
    return {
        "at_once_same_node": same_node,
        "at_once_across_nodes": across,
        "after_heard": after_heard,
    }


def start_worker(ready: Path, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, __file__, "--worker", str(ready)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def run_once(
    args: argparse.Namespace, pg: LocalPostgres, nodes: list[Node], workdir: Path, tag: str
) -> Result:
    url = pg.create_database(tag)
    base = nodes[0].settings.replace(database_url=url)
    await asyncio.to_thread(migrate.upgrade, url, [AutoinformerPlugin()])
    offset = Clock.at(CLOCK_AT).offset_s
    concurrency = args.channels * len(nodes)
    async with build_app(base.replace(clock_offset=offset), plugins=[AutoinformerPlugin()]) as app:
        ai = app.part(Autoinformer)
        campaigns = ai.campaigns
        scenario = workdir / "bench.toml"
        scenario.write_text(SCENARIO, encoding="utf-8")
        await campaigns.scenarios.add_file(scenario)
        rows = ["phone,account"] + [f"+7913{i:06d}1,{i}" for i in range(args.contacts)]
        created = await campaigns.create(
            CampaignSpec(
                name=f"scale-{tag}",
                kind="debt",
                scenario="bench-notice",
                concurrency=concurrency,
                ring_timeout=RING,
                retry=retry_policy(["failed=3/1s", "hung_up=3/1s", "busy=3/1s", "no_answer=3/1s"]),
                caps=Caps(),
            ),
            list_data=("\n".join(rows) + "\n").encode(),
        )
        cid = created.campaign_id
        # one message for every contact (no variables): its parts and length from the first
        campaign = await campaigns.get(cid)
        spoken = await campaigns.scenarios.by_id(campaign.scenario_id)
        async for contact in ai.book.waiting(cid):
            values = contact_values(contact)
            message = await app.speech.render(spoken.message_for(values), values)
            break
        call_time = wav_seconds(app.speech.sounds_dir, message, app.speech.asterisk_prefix)

        observers, links = [], []
        for node in nodes:
            obs = Observer()
            link = AmiLink(AmiConfig.from_settings(node.settings))
            obs.attach(link)
            await link.connect(timeout=30)
            observers.append(obs)
            links.append(link)

        workers: list[Worker] = []
        for i, node in enumerate(nodes):
            ready = workdir / f"ready-{tag}-{i}"
            env = {
                **os.environ,
                "PYTHONPATH": str(ROOT),
                "CC_DATABASE_URL": url,
                "CC_AMI_PORT": str(node.settings.ami_port),
                "CC_AMI_SECRET": node.settings.ami_secret,
                "CC_NODE": node.name,
                "CC_ASTERISK_RUNTIME_DIR": str(node.settings.asterisk_runtime_dir),
                "CC_DIAL_TEMPLATE": node.settings.dial_template,
                # each node's trunk carries --channels: without it the first worker up
                # took all of the campaign's 2 x --channels on its own node
                "CC_DIAL_CHANNELS": str(args.channels),
                "CC_CLOCK_OFFSET": f"{offset:.3f}",
                "CC_CALL_HARD_LIMIT": str(HARD_LIMIT),
                "CC_HTTP_PORT": "0",
            }
            log = workdir / f"worker-{tag}-{i}.log"
            process = start_worker(ready, env, log)
            workers.append(Worker(node, process, log=log))
            deadline = time.monotonic() + 60
            while not ready.exists():
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"worker {i} did not start: see {log.name}")
                await asyncio.sleep(0.1)

        for w in workers:
            w.cpu0 = cpu_seconds(w.process.pid)
        ast0 = [cpu_seconds(n.pid) for n in nodes]
        pg0, bench0, machine0 = postgres_cpu(pg), self_cpu(), machine_busy()
        xact0 = await transactions(app.sessions)
        started, started_wall = time.monotonic(), time.time()
        await campaigns.start(cid)
        kill_at = args.contacts // 3 if args.kill or args.stall else None
        killed_open: list[int] = []
        killed_wall = 0.0
        # --stall: when the stopped worker is let go on (monotonic)
        resume_at: float | None = None
        deadline = started + args.timeout
        while True:
            async with app.sessions() as session:
                status = await session.scalar(select(Campaign.status).where(Campaign.id == cid))
            if status in ("finished", "cancelled"):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"campaign not finished in {args.timeout:g} s")
            if resume_at is not None and time.monotonic() >= resume_at:
                workers[-1].process.send_signal(signal.SIGCONT)
                resume_at = None
                print(f"  worker on {workers[-1].node.name} let go on", flush=True)
            if kill_at is not None and await attempts_ended(app.sessions, cid) >= kill_at:
                victim = workers[-1]
                if args.stall:
                    victim.process.send_signal(signal.SIGSTOP)
                    resume_at = time.monotonic() + args.stall
                else:
                    victim.cpu = cpu_seconds(victim.process.pid) - victim.cpu0
                    victim.process.send_signal(signal.SIGKILL)
                    victim.process.wait(timeout=10)
                    victim.killed = True
                killed_wall = time.time()
                kill_at = None
                async with app.sessions() as session:
                    killed_open = list(
                        await session.scalars(
                            select(Attempt.id).where(
                                Attempt.campaign_id == cid,
                                Attempt.ended_at.is_(None),
                                Attempt.node == victim.node.name,
                            )
                        )
                    )
                print(
                    f"  worker on {victim.node.name} {'stopped' if args.stall else 'killed'} at "
                    f"{killed_wall - started_wall:.1f} s with {len(killed_open)} calls open",
                    flush=True,
                )
            await asyncio.sleep(0.2)
        elapsed = time.monotonic() - started
        for w in workers:
            if not w.killed:
                w.cpu = cpu_seconds(w.process.pid) - w.cpu0
        ast_cpu = [cpu_seconds(n.pid) - a for n, a in zip(nodes, ast0, strict=True)]
        pg_cpu, bench_cpu = postgres_cpu(pg) - pg0, self_cpu() - bench0
        busy = machine_busy() - machine0
        # the statistics reach the view within a second or so of a transaction's end
        await asyncio.sleep(1.5)
        xacts = await transactions(app.sessions) - xact0

        if resume_at is not None:
            # finished while it was stopped: a stopped process would not see its SIGTERM
            workers[-1].process.send_signal(signal.SIGCONT)
        for w in workers:
            if not w.killed:
                w.process.send_signal(signal.SIGTERM)
        for w in workers:
            try:
                w.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                w.process.kill()
                w.process.wait()
        # the last hang-ups reach the observers
        await asyncio.sleep(1.0)
        for link in links:
            await link.close()

        report = await campaigns.report(cid)
        async with app.sessions() as session:
            attempts = list(
                await session.scalars(select(Attempt).where(Attempt.campaign_id == cid))
            )
    dump(workdir / f"attempts-{tag}.csv", attempts, observers, offset)
    kill_lines: list[str] = []
    if killed_open:
        victim = workers[-1]
        what = f"stopped for {args.stall:g} s" if args.stall else "killed"
        kill_lines = [
            f"{what} at {time.strftime('%H:%M:%S', time.gmtime(killed_wall))} UTC",
            *(
                [f"lapses of its heartbeat lease it logged: {lapses_logged(victim.log)}"]
                if args.stall and victim.log is not None
                else []
            ),
            *killed_story(
                attempts,
                killed_open,
                victim.node,
                observers[nodes.index(victim.node)],
                message,
                # the service's clock is set back to CLOCK_AT: its timestamps too
                killed_wall + offset,
                "stop" if args.stall else "kill",
            ),
        ]
    t = report.totals
    return Result(
        nodes=len(nodes),
        concurrency=concurrency,
        contacts=t.contacts,
        notified=t.notified,
        attempts=t.attempts,
        call_time=call_time,
        elapsed=elapsed,
        worker_cpu=[w.cpu for w in workers],
        asterisk_cpu=ast_cpu,
        postgres_cpu=pg_cpu,
        bench_cpu=bench_cpu,
        machine_busy=busy,
        xacts=xacts,
        load=os.getloadavg()[0],
        calls_by_node={n.name: len(o.calls) for n, o in zip(nodes, observers, strict=True)},
        in_call_by_node={
            n.name: sum(c.ended - c.created for c in o.calls.values() if c.ended) / elapsed
            for n, o in zip(nodes, observers, strict=True)
        },
        double=double_calls(observers, message),
        kill=kill_lines,
    )


def dump(path: Path, attempts: list[Attempt], observers: list[Observer], offset: float) -> None:
    """Every attempt with its call as the observers saw it, seconds on the wall clock from
    the first Originate (kept with --keep)."""
    calls = {uid: c for obs in observers for uid, c in obs.calls.items()}
    t0 = min((a.started_at.timestamp() - offset for a in attempts), default=0.0)

    def at(x: float | None) -> str:
        return "" if x is None else f"{x - t0:.3f}"

    lines = ["id,contact,node,started,answered,ended,status,counted,call_created,call_ended"]
    for a in sorted(attempts, key=lambda a: a.id):
        call = calls.get(a.channel_id)
        stamps = [
            (x.timestamp() - offset) if x is not None else None
            for x in (a.started_at, a.answered_at, a.ended_at)
        ]
        lines.append(
            ",".join(
                [
                    str(a.id),
                    str(a.contact_id),
                    a.node,
                    *(at(x) for x in stamps),
                    str(a.status),
                    str(int(a.counted)),
                    at(call.created if call else None),
                    at(call.ended if call else None),
                ]
            )
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def lapses_logged(log: Path) -> int:
    """The warnings of HeartbeatLease a worker logged (each: what it claimed, handed back)."""
    text = log.read_text(encoding="utf-8", errors="replace")
    return text.count("no heartbeat was written for")


def killed_story(
    attempts: list[Attempt],
    killed_open: list[int],
    victim: Node,
    observer: Observer,
    message: list[str],
    killed_at: float,
    event: str = "kill",
) -> list[str]:
    """What became of the calls the killed (or stopped: `event`) worker had open, and of
    their contacts."""
    by_id = {a.id: a for a in attempts}
    open_ = [by_id[i] for i in killed_open if i in by_id]
    # a contact claimed ahead and handed back before its Originate leaves no attempt
    unclaimed = len(killed_open) - len(open_)
    # take_over writes the taker's node on the attempts it closes
    taken = [a for a in open_ if a.node != victim.name]
    contacts = {a.contact_id for a in open_}
    later = [a for a in attempts if a.contact_id in contacts and a.id not in set(killed_open)]
    on_nodes: dict[str, int] = defaultdict(int)
    for a in later:
        on_nodes[a.node] += 1
    statuses: dict[str, int] = defaultdict(int)
    for a in open_:
        statuses[f"{a.status}{'' if a.counted else ' (not counted)'}"] += 1
    calls = [observer.calls.get(a.channel_id) for a in open_]
    lasted = [c.ended - c.created for c in calls if c is not None and c.ended is not None]
    heard = sum(1 for c in calls if c is not None and heard_whole(c, message))
    closed = [a.ended_at for a in taken if a.ended_at is not None]
    lines = [
        f"{len(open_)} calls open on {victim.name} at the {event}, {heard} of them heard the "
        f"whole message (Asterisk played it on); their calls lasted up to "
        f"{max(lasted, default=0):.0f} s (the hard limit: {HARD_LIMIT} s)",
        f"{unclaimed} of them were claims handed back before their Originate (no attempt kept)",
        f"{len(taken)} of their attempts closed by the other worker ({dict(statuses)})",
        f"their contacts called again: {len(later)} calls, by node {dict(on_nodes)}",
    ]
    if closed:
        lines.append(
            f"closed {min(closed).timestamp() - killed_at:.0f}-"
            f"{max(closed).timestamp() - killed_at:.0f} s after the {event}"
        )
    if later:
        first = min(a.started_at for a in later).timestamp() - killed_at
        lines.append(f"first of them called again {first:.0f} s after the {event}")
    return lines


async def bench(args: argparse.Namespace) -> list[Result]:
    workdir = Path(tempfile.mkdtemp(prefix="cc-scale-", dir="/tmp"))
    pg = LocalPostgres()
    nodes: list[Node] = []
    try:
        pg.start()
        # one AMI login on both nodes, as a deployment has it: a worker asks a dead one's
        # node about its calls (README "Several dialer workers")
        ami_secret = secrets.token_hex(16)
        for i in (1, 2):
            settings = Settings().replace(
                asterisk_runtime_dir=workdir / f"a{i}",
                ami_port=free_port(),
                ami_secret=ami_secret,
                dial_template="Local/{number}@sim-customers",
            )
            local = LocalAsterisk(settings, sip_port=0)
            await asyncio.to_thread(local.start, 30)
            pid = local.status(with_version=False).pid
            assert pid is not None
            nodes.append(Node(f"node{i}", settings, local, pid))
        results = []
        layouts = [2] if args.kill or args.stall else [1, 2]
        for count in layouts:
            print(f"running with {count} node(s)...", flush=True)
            results.append(await run_once(args, pg, nodes[:count], workdir, f"n{count}"))
        return results
    finally:
        for node in nodes:
            node.asterisk.stop(timeout=15)
        pg.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"work folder kept: {workdir}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--channels", type=int, default=100, help="concurrent calls per node")
    parser.add_argument("--short", action="store_true", help="1,000 contacts")
    faults = parser.add_mutually_exclusive_group()
    faults.add_argument("--kill", action="store_true", help="SIGKILL one of 2 workers mid-run")
    faults.add_argument(
        "--stall", type=float, default=0.0, metavar="S", help="SIGSTOP one of 2 workers for S s"
    )
    parser.add_argument("--timeout", type=float, default=3600.0)
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs)")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        worker_main(args.worker)
        return
    if args.short:
        args.contacts = min(args.contacts, 1000)
    results = asyncio.run(bench(args))
    for result in results:
        result.print()
    if len(results) == 2:
        one, two = results
        ratio = two.per_min / one.per_min
        cores = os.cpu_count() or 1
        print(
            f"limits: the 2-node run used {two.machine_busy / two.elapsed:.2f} of {cores} "
            f"cores on the machine (this run's processes "
            f"{(sum(two.worker_cpu) + sum(two.asterisk_cpu) + two.postgres_cpu) / two.elapsed:.2f}"
            f"); the 1-node run {one.machine_busy / one.elapsed:.2f}"
        )
        print(f"scale_ratio: {ratio:.2f}")
    total = sum(sum(r.double.values()) for r in results)
    print(f"double_calls: {total}")


if __name__ == "__main__":
    main()
