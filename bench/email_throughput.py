"""E-mail channel benchmark: render, build and send N letters to a local SMTP server.

    .venv/bin/python bench/email_throughput.py [--messages 10000] [--rate 0] [--campaign]

The SMTP server (aiosmtpd, counting and discarding letters) runs in a separate process so
its CPU is not charged to the sender. Each letter goes the way a campaign sends it: the
template rendered for one contact (typed values as text), a MIME letter with a signed
unsubscribe link (``compose_letter``: ``compose_notice``'s letter written as bytes), then
``SmtpSender.send`` on the one reused SMTP session with a ``before_data`` hook; the next
letters are built while one is on the wire (``BuiltAhead``), as the mailer does.
``--rate`` is the sender's limit in letters a second (0: none; the service's default
``CC_SMTP_RATE`` is 50).

``--campaign`` sends the same number of letters the way ``contact-center serve`` does: a
campaign with ``--channel email`` (the shipped debt-notice letter) in a fresh SQLite
database, and the service's mailer (autoinformer.email.mailer) claiming letters, committing
``sending`` before each DATA and each result after it.

The anchor, in the same run: a raw aiosmtplib loop (``--raw``, its own process) sending
prebuilt MIME letters (built and serialized before the clock starts) over one reused SMTP
session to the same server, the cheapest way to push the same bytes through the same
library. Runs alternate raw, ours, raw, ours (``--rounds``) so that the machine's load
(other jobs on its cores) falls on both alike; each run sends ``--messages`` letters.

While ours runs, a probe task on the same event loop wakes every 10 ms and records how late
it woke: the longest stall is what any other call sharing the loop (AMI events, web
requests) would have waited.

Prints figures measured in this run, the sender's peak memory (maximum resident set size
of this process; the raw loop's prebuilt letters live in the other process), the load
average, ``messages_per_second: X`` (letters accepted by the server per second of wall
time, rendering included, best round) and last ``vs_raw: X`` (ours / raw letters per
second, the rounds' medians).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import os
import resource
import socket
import statistics
import subprocess
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from autoinformer.email import EmailTemplate, SmtpSender, compose_notice
from autoinformer.email.ahead import BuiltAhead
from autoinformer.email.wire import WireLetter, compose_letter
from contact_center.settings import Settings

TEMPLATE = EmailTemplate(
    subject="Задолженность {{ debt | money }} по лицевому счёту {{ account }}",
    text=(
        "Здравствуйте, {{ name }}!\n\n"
        "Задолженность по лицевому счёту {{ account }} на {{ debt_date | date }} составляет"
        " {{ debt | money }}. Оплатите её до {{ pay_by | date(form='genitive') }}.\n"
        "Плановое отключение {{ outage | date(style='digits') }}"
        " {{ outage_from | timerange(outage_to) }}.\n"
        "Телефон для справок: {{ office | phone }}.\n\n"
        "Отказаться от таких писем: {{ unsubscribe_url }}\n"
    ),
    html=(
        "<p>Здравствуйте, {{ name }}!</p>"
        "<p>Задолженность по лицевому счёту {{ account }} на {{ debt_date | date }} составляет"
        " <b>{{ debt | money }}</b>. Оплатите её до {{ pay_by | date(form='genitive') }}.</p>"
        "<p>Плановое отключение {{ outage | date(style='digits') }}"
        " {{ outage_from | timerange(outage_to) }}.</p>"
        "<p>Телефон для справок: {{ office | phone }}.</p>"
        '<p><a href="{{ unsubscribe_url }}">Отказаться от таких писем</a></p>'
    ),
)


# --- the server process ----------------------------------------------------------------


class CountingHandler:
    def __init__(self) -> None:
        self.count = 0
        self.octets = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.count += 1
        self.octets += len(envelope.content)
        return f"250 2.0.0 Ok: queued as B{self.count}"


def serve(port: int) -> None:
    """Run aiosmtpd until stdin closes, then print what it received."""
    from aiosmtpd.controller import Controller

    handler = CountingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=port, server_hostname="bench.local")
    controller.start()
    print("ready", flush=True)
    sys.stdin.read()
    controller.stop()
    print(f"received {handler.count} {handler.octets}", flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- the raw anchor (its own process) ---------------------------------------------------


def raw_loop(port: int, messages: int) -> None:
    """Prebuilt letters through one aiosmtplib session; prints ``raw <letters> <seconds>``."""
    import aiosmtplib

    settings = Settings(smtp_port=port, unsubscribe_secret="bench-secret")
    prebuilt = [
        compose_notice(
            template=TEMPLATE,
            contact=contact(n),
            to_address=f"customer{n}@example.ru",
            to_name=f"Иванов Иван Иванович {n}",
            kind="debt",
            settings=settings,
            contact_id=n + 1,
        ).as_bytes()
        for n in range(messages)
    ]
    sender = "noreply@localhost"

    async def go() -> tuple[int, float]:
        smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, local_hostname="bench.local")
        await smtp.connect()
        accepted = 0
        started = time.perf_counter()
        for n, data in enumerate(prebuilt):
            errors, _ = await smtp.sendmail(sender, [f"customer{n}@example.ru"], data)
            accepted += not errors
        wall = time.perf_counter() - started
        await smtp.quit()
        return accepted, wall

    cpu0 = time.process_time()
    accepted, wall = asyncio.run(go())
    cpu = time.process_time() - cpu0
    print(f"raw {accepted} {wall:.6f} {cpu:.6f}", flush=True)


def run_raw(port: int, messages: int) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, __file__, "--raw", str(port), "--messages", str(messages)],
        capture_output=True,
        text=True,
        check=True,
    )
    _, accepted, wall, cpu = done.stdout.split()[-4:]
    return {"accepted": int(accepted), "wall": float(wall), "cpu": float(cpu)}


class StallProbe:
    """Wakes every ``period`` seconds on the loop and keeps how late each wake-up was, and
    how much CPU this process used in that time. A late wake-up with as much CPU as delay
    is the loop held by work; one with little CPU is the machine giving its cores to other
    processes (on a loaded machine most are)."""

    def __init__(self, period: float = 0.01) -> None:
        self.period = period
        self.lags: list[tuple[float, float]] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            t0, c0 = time.perf_counter(), time.thread_time()
            await asyncio.sleep(self.period)
            lag = time.perf_counter() - t0 - self.period
            self.lags.append((lag, time.thread_time() - c0))

    def __enter__(self) -> StallProbe:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()

    def summary(self) -> tuple[float, float, float]:
        """(p99 lateness, max lateness, max CPU the loop's thread spent inside one wait) in ms."""
        if not self.lags:
            return 0.0, 0.0, 0.0
        ordered = sorted(lag for lag, _ in self.lags)
        held = max(cpu for _, cpu in self.lags)
        return ordered[int(len(ordered) * 0.99)] * 1000, ordered[-1] * 1000, held * 1000


# --- the sender (this process) ---------------------------------------------------------


def contact(n: int) -> dict[str, object]:
    return {
        "name": f"Иванов Иван Иванович {n}",
        "account": f"24-{n:06d}",
        "debt": Decimal(1000 + n % 9000) + Decimal("0.5"),
        "debt_date": dt.date(2026, 11, 25),
        "pay_by": dt.date(2026, 12, 5),
        "outage": dt.date(2026, 12, 10),
        "outage_from": "09:00",
        "outage_to": "17:30",
        "office": "+73914431234",
    }


async def run(messages: int, rate: float, port: int) -> dict[str, float]:
    settings = Settings(smtp_port=port, smtp_rate=rate, unsubscribe_secret="bench-secret")
    statuses: dict[str, int] = {}
    sending: set[str] = set()

    async def before_data(message_id: str) -> None:
        # what the campaign does here is one UPDATE; the set stands in for it
        sending.add(message_id)

    compose_seconds = 0.0

    def build(n: int) -> WireLetter:
        nonlocal compose_seconds
        t0 = time.perf_counter()
        letter = compose_letter(
            template=TEMPLATE,
            contact=contact(n),
            to_address=f"customer{n}@example.ru",
            to_name=f"Иванов Иван Иванович {n}",
            kind="debt",
            settings=settings,
            contact_id=n + 1,
        )
        compose_seconds += time.perf_counter() - t0
        return letter

    started, cpu0 = time.perf_counter(), time.process_time()
    with StallProbe() as probe:
        async with SmtpSender.from_settings(settings, local_hostname="bench.local") as sender:
            await sender.connect()
            # as the mailer does: the next letters are built while this one is on the wire
            async with BuiltAhead(range(messages), build) as ahead:
                async for built in ahead:
                    if built.error is not None:
                        raise built.error
                    assert built.result is not None
                    result = await sender.send(built.result, before_data=before_data)
                    statuses[result.status] = statuses.get(result.status, 0) + 1
                    sending.discard(result.message_id)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu0
    stall_p99, stall_max, stall_cpu = probe.summary()
    return {
        "wall": wall,
        "cpu": cpu,
        "compose": compose_seconds,
        "stall_p99": stall_p99,
        "stall_max": stall_max,
        "stall_cpu": stall_cpu,
        "accepted": statuses.get("accepted", 0),
        "other": sum(v for k, v in statuses.items() if k != "accepted"),
    }


async def run_campaign(messages: int, rate: float, port: int) -> dict[str, float]:
    """The same letters as a campaign sent by the service's mailer (database included)."""
    import shutil
    import tempfile

    from sqlalchemy import func, select

    from autoinformer.campaigns.service import CampaignSpec
    from autoinformer.email.mailer import MailerConfig
    from autoinformer.models import Letter
    from autoinformer.plugin import Autoinformer, AutoinformerPlugin
    from contact_center.app import build_app
    from contact_center.storage import migrate

    workdir = Path(tempfile.mkdtemp(prefix="cc-email-bench-"))
    url = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    settings = Settings(
        database_url=url, smtp_port=port, smtp_rate=rate, unsubscribe_secret="bench-secret"
    )
    # e-mail only: the mailer runs without a dialer, an AMI link or the unsubscribe endpoint
    plugin = AutoinformerPlugin(
        mailer=MailerConfig(tick=0.05, batch=50, sender={"local_hostname": "bench.local"}),
        http=False,
        phone=False,
    )
    await asyncio.to_thread(migrate.upgrade, url, [plugin])
    app = build_app(settings, plugins=[plugin])
    try:
        ai = app.part(Autoinformer)
        campaigns = ai.campaigns
        rows = "".join(
            f"24-{n:06d},Иванов Иван Иванович {n},customer{n}@example.ru,да,{1000 + n % 9000}.50\n"
            for n in range(messages)
        )
        t0 = time.perf_counter()
        created = await campaigns.create(
            CampaignSpec(name="bench", kind="debt", scenario="debt-notice", channel="email"),
            list_data=("account,name,email,email_consent,debt\n" + rows).encode(),
        )
        create_seconds = time.perf_counter() - t0
        # `serve` sends campaigns that the CLI or the web made: it holds none of the list
        campaign_id = created.campaign_id
        del created, rows
        await campaigns.start(campaign_id)
        # a count, not campaigns.status(): reading every letter twice a second would be
        # the benchmark's own cost
        left = select(func.count(Letter.id)).where(
            Letter.campaign_id == campaign_id, Letter.state != "done"
        )
        started, cpu0 = time.perf_counter(), time.process_time()
        with StallProbe() as probe:
            await app.start_parts()
            try:
                while True:
                    async with app.sessions() as session:
                        if not await session.scalar(left):
                            break
                    await asyncio.sleep(0.2)
            finally:
                wall, cpu = time.perf_counter() - started, time.process_time() - cpu0
                await app.stop_parts()
        stall_p99, stall_max, stall_cpu = probe.summary()
        mail = (await campaigns.status(campaign_id)).email
        assert mail is not None
        return {
            "wall": wall,
            "cpu": cpu,
            "compose": 0.0,
            "create": create_seconds,
            "stall_p99": stall_p99,
            "stall_max": stall_max,
            "stall_cpu": stall_cpu,
            "accepted": mail.accepted,
            "other": mail.total - mail.accepted,
        }
    finally:
        await app.aclose()
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=0.0, help="letters/s limit, 0 = none")
    parser.add_argument(
        "--campaign", action="store_true", help="send as a campaign through the service's mailer"
    )
    parser.add_argument(
        "--rounds", type=int, default=2, help="raw/ours pairs, interleaved (default 2)"
    )
    parser.add_argument("--serve", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--raw", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        serve(args.serve)
        return
    if args.raw is not None:
        raw_loop(args.raw, args.messages)
        return

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(port)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdin is not None and server.stdout is not None
    if server.stdout.readline().strip() != "ready":
        server.kill()
        raise SystemExit("the SMTP server process did not start")
    baseline_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    load_before = os.getloadavg()
    raws: list[dict[str, float]] = []
    ours: list[dict[str, float]] = []
    try:
        runner = run_campaign if args.campaign else run
        for _ in range(args.rounds):
            raws.append(run_raw(port, args.messages))
            # the previous round's app is garbage now: collected here, not during the next
            gc.collect()
            ours.append(asyncio.run(runner(args.messages, args.rate, port)))
    finally:
        server.stdin.close()
        # the server's last line; a watchdog so a stuck server cannot hang the benchmark
        timer = threading.Timer(30, server.kill)
        timer.start()
        received_line = server.stdout.readline().split()
        server.wait()
        timer.cancel()
    load_after = os.getloadavg()
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    received = int(received_line[1]) if len(received_line) == 3 else -1
    octets = int(received_line[2]) if len(received_line) == 3 else 0
    accepted = sum(int(f["accepted"]) for f in ours)
    raw_accepted = sum(int(f["accepted"]) for f in raws)
    other = sum(int(f["other"]) for f in ours)
    print(
        f"letters: {args.messages} a run, {args.rounds} rounds of raw then ours; "
        f"ours accepted: {accepted}, not accepted: {other}; raw accepted: {raw_accepted}"
    )
    print(f"server received: {received} letters, {octets / max(received, 1) / 1024:.1f} KiB each")
    limit = f"{args.rate:g} letters/s" if args.rate else "none"
    print(f"rate limit: {limit}; one SMTP session; the server runs in its own process")
    print(
        "load average (1, 5, 15 min) before: "
        + ", ".join(f"{x:.2f}" for x in load_before)
        + "; after: "
        + ", ".join(f"{x:.2f}" for x in load_after)
        + f" ({os.cpu_count()} cores)"
    )
    ours_rates = [f["accepted"] / f["wall"] for f in ours]
    raw_rates = [f["accepted"] / f["wall"] for f in raws]
    for n, (raw, mine) in enumerate(zip(raws, ours, strict=True), 1):
        line = (
            f"round {n}: raw {raw['accepted'] / raw['wall']:.0f} letters/s "
            f"({raw['wall']:.2f} s, CPU {raw['cpu'] / raw['accepted'] * 1000:.2f} ms a letter); "
            f"ours {mine['accepted'] / mine['wall']:.0f} letters/s ({mine['wall']:.2f} s, "
            f"CPU {mine['cpu'] / mine['accepted'] * 1000:.2f} ms a letter), loop stall p99 "
            f"{mine['stall_p99']:.1f} ms, max {mine['stall_max']:.1f} ms (loop's own CPU in "
            f"one wait at most {mine['stall_cpu']:.1f} ms)"
        )
        if args.campaign:
            line += f"; list stored in {mine['create']:.2f} s (not in the wall time)"
        else:
            line += f"; render + MIME {args.messages / mine['compose']:.0f} letters/s"
        print(line)
    if args.campaign:
        print(
            "campaign mode: letters sent by the service's mailer with their states committed "
            "to SQLite"
        )
    print(
        f"peak memory (sender, max RSS): {peak_kib / 1024:.1f} MiB "
        f"(after imports, before sending: {baseline_kib / 1024:.1f} MiB)"
    )
    if received != accepted + raw_accepted:
        print(
            f"MISMATCH: server received {received}, senders saw {accepted + raw_accepted} accepted"
        )
    print(f"messages_per_second: {max(ours_rates):.1f}")
    print(f"raw_messages_per_second: {max(raw_rates):.1f}")
    print(f"vs_raw: {statistics.median(ours_rates) / statistics.median(raw_rates):.2f}")


if __name__ == "__main__":
    main()
