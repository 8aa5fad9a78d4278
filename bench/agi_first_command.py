"""How long the first AGI command of an answered campaign call waits in Asterisk.

    .venv/bin/python bench/agi_first_command.py [--calls 60] [--concurrency 10]
        [--context autoinformer|hotline]

Starts a private Asterisk (asterisk_conf/ with the sim profile, a free AMI port, no SIP)
and Originates calls to sim customers who answer and stay silent (numbers ending in 1)
into the `[autoinformer]` context, as the dialer does (or into `[hotline]`, where an
inbound caller lands). On each call's AsyncAGIStart it sends
a command that Asterisk answers at once (`GET VARIABLE`), then a second one, and times
each from the AMI `AGI` action to its AsyncAGIExec: the first is the wait before the
call's first prompt, the second the wait of a command in the middle of a call.

AsyncAGI (res_agi.c) looks at its command queue only between waits of up to 100 ms for a
frame from the channel; a callee that sends no media leaves it waiting the whole 100 ms.
Prints the median and p95 of both, and last `first_command_p50_ms: X`.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import secrets
import shutil
import socket
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from panoramisk.message import Message

from contact_center.devtools.local_asterisk import LocalAsterisk
from contact_center.settings import Settings
from contact_center.telephony.ami import AmiConfig, AmiLink

COMMAND = "GET VARIABLE CHANNEL(language)"
PROMPT = 'STREAM FILE silence/1 ""'


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Probe:
    def __init__(self, link: AmiLink, context: str) -> None:
        self.link = link
        self.context = context
        self.first: list[float] = []
        self.second: list[float] = []
        self.prompt_excess: list[float] = []
        self.after_prompt: list[float] = []
        self._sent: dict[str, tuple[float, asyncio.Future[None]]] = {}
        self._started: dict[str, asyncio.Future[str]] = {}
        self._ids = itertools.count()
        link.on_event("AsyncAGIStart", self._on_start)
        link.on_event("AsyncAGIExec", self._on_exec)

    def _on_start(self, event: Message) -> None:
        future = self._started.pop(str(event.get("Uniqueid", "")), None)
        if future is not None and not future.done():
            future.set_result(str(event.get("Channel", "")))

    def _on_exec(self, event: Message) -> None:
        sent = self._sent.pop(str(event.get("CommandID", "")), None)
        if sent is not None and not sent[1].done():
            sent[1].set_result(None)

    async def _timed(self, channel: str, command: str = COMMAND) -> float:
        command_id = f"probe-{next(self._ids)}"
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._sent[command_id] = (time.monotonic(), done)
        started = time.monotonic()
        await self.link.action("AGI", Channel=channel, Command=command, CommandID=command_id)
        await asyncio.wait_for(done, 10)
        return (time.monotonic() - started) * 1000

    async def call(self, number: str) -> None:
        uniqueid = uuid.uuid4().hex
        started: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._started[uniqueid] = started
        await self.link.action(
            "Originate",
            Channel=f"Local/{number}@sim-customers",
            Context=self.context,
            Exten="s",
            Priority="1",
            ChannelId=uniqueid,
            Async="true",
            Timeout="10000",
        )
        channel = await asyncio.wait_for(started, 15)
        self.first.append(await self._timed(channel))
        self.second.append(await self._timed(channel))
        # a 1 s prompt (its own time taken off), then the command after it
        self.prompt_excess.append(await self._timed(channel, PROMPT) - 1000)
        self.after_prompt.append(await self._timed(channel))
        await self.link.action("Hangup", Channel=channel)


async def run(settings: Settings, calls: int, concurrency: int, context: str) -> Probe:
    link = AmiLink(AmiConfig.from_settings(settings))
    await link.connect(timeout=10)
    try:
        probe = Probe(link, context)
        numbers = iter(f"7913{i:06d}1" for i in range(calls))
        gate = asyncio.Semaphore(concurrency)

        async def one(number: str) -> None:
            async with gate:
                await probe.call(number)

        async with asyncio.TaskGroup() as group:
            for number in numbers:
                group.create_task(one(number))
        return probe
    finally:
        await link.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=60)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--context", choices=("autoinformer", "hotline"), default="autoinformer")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="cc-agi-", dir="/tmp"))
    settings = Settings().replace(
        asterisk_runtime_dir=workdir / "ast",
        ami_port=free_port(),
        ami_secret=secrets.token_hex(16),
    )
    local = LocalAsterisk(settings, sip_port=0)
    local.start(timeout=30)
    try:
        probe = asyncio.run(run(settings, args.calls, args.concurrency, args.context))
    finally:
        local.stop(timeout=15)
        shutil.rmtree(workdir, ignore_errors=True)
    for name, values in (
        ("first command", probe.first),
        ("second command", probe.second),
        ("1 s prompt beyond its length", probe.prompt_excess),
        ("command after the prompt", probe.after_prompt),
    ):
        print(
            f"{name}: p50 {statistics.median(values):.1f} ms, "
            f"p95 {pct(values, 0.95):.1f} ms, max {max(values):.1f} ms ({len(values)} calls)"
        )
    print(f"context: {args.context}")
    print(f"first_command_p50_ms: {statistics.median(probe.first):.1f}")


if __name__ == "__main__":
    main()
