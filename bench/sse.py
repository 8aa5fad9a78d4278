"""Live progress to many browsers: does it cost the calls anything, and how fast does it come?

    .venv/bin/python bench/sse.py [--contacts 1000] [--clients 200] [--concurrency 50] [--short]

Starts a private Asterisk (asterisk_conf/ with the sim profile, its own runtime folder under
/tmp, a free AMI port, no SIP), a fresh SQLite database and the service with the autoinformer
and the web console (`serve` without its CLI) in this process. Logs one supervisor in
`--clients` times over HTTP (a session each; the user's Argon2 cost is lowered for the bench
only, the logins are not what is measured), then runs the same phone campaign four times,
A B B A (interleaved, so a drift of the shared machine falls on both sides):

  A  no event-stream client is connected;
  B  `--clients` clients hold /api/events open the whole run (raw asyncio sockets in a
     child process, as browsers would be elsewhere: their parsing does not eat the
     service's core).

Each campaign: N sim customers (numbers ending in 1) who listen to a ~2 s message until the
service hangs up. Efficiency as in bench/campaign_efficiency.py: the channel-bound limit
(contacts x message length / concurrency) divided by the elapsed time.

Delivery: every `campaign` event carries `ts`, the wall-clock moment the service published it
(autoinformer/web/progress.py); a client takes receipt time - ts for every event of the run's
campaign, over all clients. Every client must see the campaign finish.

Prints each run, then `sse_delivery_p95_ms`, `efficiency_without_clients`,
`efficiency_with_clients` and last `efficiency_ratio` (target >= 0.95). `--short` (100
contacts, 50 clients) is the `make bench` variant.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import secrets
import shutil
import socket
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from argon2 import PasswordHasher

from autoinformer.campaigns.service import CampaignSpec
from autoinformer.demo import longest_message
from autoinformer.phone.config import DialerConfig
from autoinformer.plugin import Autoinformer, AutoinformerPlugin
from autoinformer.scheduling import Caps, retry_policy
from contact_center.app import App, build_app
from contact_center.clock import Clock
from contact_center.devtools.local_asterisk import LocalAsterisk
from contact_center.settings import Settings
from contact_center.storage import migrate
from contact_center.users.passwords import Passwords

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
LOGIN, PASSWORD = "bench-supervisor", "пароль-для-бенчмарка"
ORDER = "ABBA"
# bounds: nothing here waits forever
CONNECT_TIMEOUT = 60.0
FINISH_GRACE = 15.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


# --------------------------------------------------------------------------- HTTP, raw


async def http_request(
    port: int, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> tuple[int, list[tuple[str, str]], bytes]:
    """One HTTP/1.0 request (the server closes the connection after the answer)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        lines = [f"{method} {path} HTTP/1.0", f"Host: 127.0.0.1:{port}"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        lines.append(f"Content-Length: {len(body)}")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), 30)
    finally:
        writer.close()
    head, _, content = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parsed = [tuple(h.split(":", 1)) for h in header_lines if ":" in h]
    return int(status_line.split()[1]), [(k.strip(), v.strip()) for k, v in parsed], content


async def log_in(port: int) -> str:
    """A fresh session: its cookie as a `Cookie:` header value."""
    body = json.dumps({"login": LOGIN, "password": PASSWORD}).encode()
    status, headers, content = await http_request(
        port, "POST", "/api/login", body, {"Content-Type": "application/json"}
    )
    if status != 200:
        raise RuntimeError(f"login refused: {status} {content[:200]!r}")
    cookies = [v.split(";", 1)[0] for k, v in headers if k.lower() == "set-cookie"]
    return "; ".join(cookies)


# --------------------------------------------------------------------------- the clients


@dataclass
class ClientResult:
    latencies_ms: list[float]
    saw_finish: bool
    events: int


async def sse_client(
    port: int, cookie: str, campaign_id: int, connected: asyncio.Event, counter: list[int]
) -> ClientResult:
    """Hold /api/events open until the campaign's finished event; time every event of it."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    latencies: list[float] = []
    events = 0
    try:
        request = (
            f"GET /api/events HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nCookie: {cookie}\r\n"
            "Accept: text/event-stream\r\n\r\n"
        )
        writer.write(request.encode())
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        if b" 200 " not in head.split(b"\r\n", 1)[0]:
            raise RuntimeError(f"event stream refused: {head[:200]!r}")
        counter[0] += 1
        if counter[0] == counter[1]:
            connected.set()
        name, data = "", ""
        while True:
            line = (await reader.readline()).decode("utf-8")
            received = time.time()
            if not line:
                return ClientResult(latencies, False, events)
            line = line.rstrip("\n")
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data += line[5:].strip()
            elif line == "":
                if name == "campaign" and data:
                    payload = json.loads(data)
                    if payload.get("id") == campaign_id:
                        events += 1
                        latencies.append((received - float(payload["ts"])) * 1000)
                        if payload.get("status") == "finished":
                            return ClientResult(latencies, True, events)
                name, data = "", ""
    finally:
        writer.close()


async def clients_main(port: int, cookies: list[str], campaign_id: int, timeout: float) -> None:
    """The child process: connect every client, say `ready`, wait, print the results."""
    connected = asyncio.Event()
    counter = [0, len(cookies)]
    tasks = [
        asyncio.create_task(sse_client(port, c, campaign_id, connected, counter)) for c in cookies
    ]
    await asyncio.wait_for(connected.wait(), CONNECT_TIMEOUT)
    print("ready", flush=True)
    done, pending = await asyncio.wait(tasks, timeout=timeout)
    for task in pending:
        task.cancel()
    results = [t.result() for t in done if not t.cancelled() and t.exception() is None]
    errors = [repr(t.exception()) for t in done if not t.cancelled() and t.exception()]
    print(
        json.dumps(
            {
                "latencies_ms": [x for r in results for x in r.latencies_ms],
                "finished": sum(r.saw_finish for r in results),
                "events": sum(r.events for r in results),
                "timed_out": len(pending),
                "errors": errors[:5],
            }
        ),
        flush=True,
    )


class Clients:
    """The child process holding the streams open for one B run."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def open(cls, port: int, cookies_file: Path, campaign_id: int, timeout: float) -> Clients:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--clients-for",
            str(campaign_id),
            "--port",
            str(port),
            "--cookies-file",
            str(cookies_file),
            "--timeout",
            str(timeout),
            stdout=asyncio.subprocess.PIPE,
            # the results are one line of JSON: every latency of every client
            limit=1 << 26,
        )
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), CONNECT_TIMEOUT + 10)
        if line.strip() != b"ready":
            proc.kill()
            await proc.wait()
            raise RuntimeError(f"the clients did not connect: {line!r}")
        return cls(proc)

    async def results(self, timeout: float) -> dict[str, Any]:
        assert self.proc.stdout is not None
        try:
            line = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        finally:
            if self.proc.returncode is None:
                try:
                    await asyncio.wait_for(self.proc.wait(), 10)
                except TimeoutError:
                    self.proc.kill()
                    await self.proc.wait()
        return dict(json.loads(line))


# --------------------------------------------------------------------------- the service


@dataclass
class RunResult:
    kind: str
    efficiency: float
    elapsed: float
    limit: float
    notified: int
    cpu: float
    delivery: dict[str, Any] | None = None


async def one_campaign(
    app: App,
    args: argparse.Namespace,
    index: int,
    kind: str,
    cookies_file: Path,
    port: int,
    parts_started: bool,
) -> RunResult:
    ai = app.part(Autoinformer)
    campaigns = ai.campaigns
    # numbers of their own per run: +79<run>3<6 digits>1, all sim listeners (last digit 1)
    rows = ["phone,account"] + [f"+79{index + 1}3{i:06d}1,{i}" for i in range(args.contacts)]
    created = await campaigns.create(
        CampaignSpec(
            name=f"bench-sse-{index + 1}-{kind}",
            kind="debt",
            scenario="bench-notice",
            concurrency=args.concurrency,
            ring_timeout=10,
            retry=retry_policy(["failed=3/1s", "hung_up=3/1s", "busy=3/1s", "no_answer=3/1s"]),
            caps=Caps(),
        ),
        list_data=("\n".join(rows) + "\n").encode(),
    )
    cid = created.campaign_id
    call_time = await longest_message(ai, app.speech, [cid])
    if not parts_started:
        await app.start_parts()
    limit = args.contacts * call_time / args.concurrency
    bound = max(120.0, 20 * limit)
    clients = (
        await Clients.open(port, cookies_file, cid, bound + FINISH_GRACE) if kind == "B" else None
    )
    try:
        cpu0 = self_cpu()
        started = time.monotonic()
        await campaigns.start(cid)
        while True:
            st = await campaigns.status(cid)
            if st.finished:
                break
            if time.monotonic() - started > bound:
                raise RuntimeError(f"campaign {cid} did not finish within {bound:.0f} s")
            await asyncio.sleep(0.1)
        elapsed = time.monotonic() - started
        cpu = self_cpu() - cpu0
        delivery = await clients.results(FINISH_GRACE + 5) if clients else None
    finally:
        if clients and clients.proc.returncode is None:
            clients.proc.kill()
            await clients.proc.wait()
    return RunResult(kind, limit / elapsed, elapsed, limit, st.notified, cpu, delivery)


async def run(settings: Settings, args: argparse.Namespace, workdir: Path) -> list[RunResult]:
    settings = settings.replace(clock_offset=Clock.at(CLOCK_AT).offset_s, http_port=0)
    plugin = AutoinformerPlugin(DialerConfig(tick=0.2, drain_timeout=0.0))
    app = build_app(settings, plugins=[plugin])
    # logins are not what is measured: a cheap hash for the bench's one user
    app.users.users.passwords = Passwords(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    async with app.running(parts=False, web=True):
        port = app.web.bound_port
        scenario = workdir / "bench.toml"
        scenario.write_text(SCENARIO, encoding="utf-8")
        await app.part(Autoinformer).campaigns.scenarios.add_file(scenario)
        await app.users.users.add(LOGIN, "supervisor", PASSWORD, actor="bench")
        cookies = await asyncio.gather(*(log_in(port) for _ in range(args.clients)))
        if len(set(cookies)) != args.clients:
            raise RuntimeError("logins did not give a session each")
        cookies_file = workdir / "cookies.json"
        cookies_file.write_text(json.dumps(cookies))
        results: list[RunResult] = []
        try:
            for index, kind in enumerate(ORDER):
                result = await one_campaign(
                    app, args, index, kind, cookies_file, port, parts_started=index > 0
                )
                results.append(result)
                line = (
                    f"run {index + 1} {kind}: elapsed {result.elapsed:.2f} s, limit "
                    f"{result.limit:.2f} s, efficiency {result.efficiency:.3f}, notified "
                    f"{result.notified}/{args.contacts}, service CPU {result.cpu:.1f} s"
                )
                if result.delivery is not None:
                    d = result.delivery
                    lat = d["latencies_ms"]
                    line += (
                        f"; {args.clients} clients: {d['events']} events, p50 "
                        f"{percentile(lat, 0.5):.1f} ms, p95 {percentile(lat, 0.95):.1f} ms, "
                        f"max {max(lat, default=float('nan')):.1f} ms, saw the end "
                        f"{d['finished']}/{args.clients}"
                    )
                    if d["errors"] or d["timed_out"]:
                        line += f", timed out {d['timed_out']}, errors {d['errors']}"
                print(line, flush=True)
        finally:
            await app.stop_parts()
    return results


def report(results: list[RunResult], args: argparse.Namespace) -> None:
    without = [r.efficiency for r in results if r.kind == "A"]
    with_ = [r.efficiency for r in results if r.kind == "B"]
    latencies = [x for r in results if r.delivery for x in r.delivery["latencies_ms"]]
    finished = sum(r.delivery["finished"] for r in results if r.delivery)
    expected = args.clients * len(with_)
    print(f"contacts: {args.contacts}, clients: {args.clients}, concurrency: {args.concurrency}")
    print(f"sse_events_timed: {len(latencies)}, clients that saw the end: {finished}/{expected}")
    print(f"sse_delivery_p50_ms: {percentile(latencies, 0.5):.1f}")
    print(f"sse_delivery_p95_ms: {percentile(latencies, 0.95):.1f}")
    a, b = statistics.mean(without), statistics.mean(with_)
    print(f"efficiency_without_clients: {a:.3f} ({', '.join(f'{x:.3f}' for x in without)})")
    print(f"efficiency_with_clients: {b:.3f} ({', '.join(f'{x:.3f}' for x in with_)})")
    print(f"efficiency_ratio: {b / a:.3f} (target >= 0.95)")
    if finished != expected:
        print("WARNING: not every client saw the campaign finish", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--short", action="store_true", help="100 contacts, 50 clients")
    # the child process's own arguments
    parser.add_argument("--clients-for", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--cookies-file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--timeout", type=float, default=600.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.clients_for is not None:
        cookies = json.loads(args.cookies_file.read_text())
        asyncio.run(clients_main(args.port, cookies, args.clients_for, args.timeout))
        return
    if args.short:
        args.contacts, args.clients = 100, 50
    workdir = Path(tempfile.mkdtemp(prefix="cc-bench-sse-", dir="/tmp"))
    settings = Settings().replace(
        asterisk_runtime_dir=workdir / "ast",
        ami_port=free_port(),
        ami_secret=secrets.token_hex(16),
        dial_template="Local/{number}@sim-customers",
        database_url=f"sqlite+aiosqlite:///{workdir / 'bench.db'}",
        unsubscribe_secret=secrets.token_hex(16),
    )
    local = LocalAsterisk(settings, sip_port=0)
    local.start(timeout=30)
    try:
        migrate.upgrade(settings.database_url, [AutoinformerPlugin()])
        results = asyncio.run(run(settings, args, workdir))
    finally:
        local.stop(timeout=15)
        shutil.rmtree(workdir, ignore_errors=True)
    report(results, args)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
