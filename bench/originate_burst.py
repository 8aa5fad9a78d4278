"""What a burst of Originates costs Asterisk itself, with and without ChannelId.

    .venv/bin/python bench/originate_burst.py [--calls 100] [--rounds 3]

Starts a private Asterisk (asterisk_conf/ with the sim profile, a free AMI port, no SIP)
and, with no service in the way, writes N Originate actions to it at once over one AMI
session (events off), as a campaign's first wave is sent. Another session watches the
calls' own legs appear (Newchannel of each Local channel's ;1 side, by Asterisk's event
timestamps). Printed a variant: how long the N channels took to appear (first to last)
and that a call: the median of the rounds, which alternate between the variants.

The variants:
- ``callfile``: Application Playback, no ids: what a call file asks of Asterisk;
- ``callfile+ids``: the same with ChannelId and OtherChannelId;
- ``dialer``: the dialer's Originate: the ``[autoinformer]`` context with the message's
  variables, ChannelId and OtherChannelId (the ids the claim commits before it is sent);
- ``dialer-ids``: the dialer's Originate without the ids.

Asterisk checks that an assigned id is not in use by any channel (a look at every channel
under the channel list's lock, for each of a Local call's two channels), so the calls of
a burst enter one after another. This is the anchor for campaign_efficiency's first wave:
its calls start over this time, and each channel's calls follow its first one's start.
Prints last ``channelid_ms_per_call: X`` (dialer minus dialer-ids, a call).
"""

from __future__ import annotations

import argparse
import secrets
import shutil
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from contact_center.devtools.local_asterisk import LocalAsterisk
from contact_center.settings import Settings

SOUND = "cc/ru/goodbye"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def login(settings: Settings, events: str) -> socket.socket:
    sock = socket.create_connection((settings.ami_host, settings.ami_port))
    sock.sendall(
        f"Action: Login\r\nUsername: {settings.ami_user}\r\nSecret: {settings.ami_secret}\r\n"
        f"Events: {events}\r\n\r\n".encode()
    )
    return sock


def read(
    sock: socket.socket, stop: threading.Event, take: Callable[[dict[str, str]], None]
) -> None:
    """Every AMI message to `take` as it is read, until `stop` is set (a thread's loop)."""
    sock.settimeout(0.1)
    buffer = b""
    while not stop.is_set():
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        if not chunk:
            break
        buffer += chunk
        *whole, buffer = buffer.split(b"\r\n\r\n")
        for block in whole:
            lines = block.decode(errors="replace").split("\r\n")
            take(dict(line.split(": ", 1) for line in lines if ": " in line))


def originate(variant: str, i: int, tag: str) -> str:
    number = f"7913{i:06d}1"
    head = f"Action: Originate\r\nChannel: Local/{number}@sim-customers\r\nAsync: true\r\n"
    ids = f"ChannelId: cc-{tag}-{i}\r\nOtherChannelId: cc-{tag}-{i}-b\r\n"
    if variant.startswith("callfile"):
        body = f"Application: Playback\r\nData: {SOUND}\r\nTimeout: 10000\r\n"
        return head + body + (ids if variant.endswith("+ids") else "") + "\r\n"
    body = (
        "Context: autoinformer\r\nExten: s\r\nPriority: 1\r\nTimeout: 10000\r\n"
        "Variable: CC_CALL_LIMIT=120\r\nVariable: CC_PARTS=1\r\n"
        f"Variable: CC_P1={SOUND}\r\nVariable: CC_END=1\r\nVariable: CC_MARK={tag}-{i}\r\n"
    )
    return head + body + (ids if variant == "dialer" else "") + "\r\n"


def burst(settings: Settings, variant: str, calls: int, tag: str) -> float:
    """Seconds from the first call's Newchannel to the last's."""
    stop = threading.Event()
    watcher = login(settings, "call")
    sender = login(settings, "off")
    seen: list[dict[str, str]] = []
    threads = [
        threading.Thread(target=read, args=(watcher, stop, seen.append)),
        threading.Thread(target=read, args=(sender, stop, lambda _message: None)),
    ]
    for thread in threads:
        thread.start()
    time.sleep(0.3)  # both logged in
    sender.sendall("".join(originate(variant, i, tag) for i in range(calls)).encode())
    # every call over (a second's message) before the next round
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        ended = sum(
            1 for e in list(seen) if e.get("Event") == "Hangup" and e["Channel"].endswith(";1")
        )
        if ended >= calls:
            break
        time.sleep(0.1)
    stop.set()
    for thread in threads:
        thread.join()
    watcher.close()
    sender.close()
    stamps = sorted(
        float(e["Timestamp"])
        for e in seen
        if e.get("Event") == "Newchannel" and e.get("Channel", "").endswith(";1")
    )
    if len(stamps) != calls:
        raise RuntimeError(f"{variant}: {len(stamps)} of {calls} calls started")
    return stamps[-1] - stamps[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="cc-bench-burst-", dir="/tmp"))
    settings = Settings().replace(
        asterisk_runtime_dir=workdir / "ast", ami_port=free_port(), ami_secret=secrets.token_hex(16)
    )
    variants = ("callfile", "callfile+ids", "dialer", "dialer-ids")
    spreads: dict[str, list[float]] = {v: [] for v in variants}
    local = LocalAsterisk(settings, sip_port=0)
    local.start(timeout=30)
    try:
        burst(settings, "callfile", args.calls, "warm")  # Asterisk's first burst is slower
        for r in range(args.rounds):
            for variant in variants:
                spreads[variant].append(burst(settings, variant, args.calls, f"r{r}{variant}"))
    finally:
        local.stop(timeout=15)
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"{args.calls} Originates written at once, {args.rounds} rounds (median):")
    medians = {v: statistics.median(s) for v, s in spreads.items()}
    for variant in variants:
        rounds = ", ".join(f"{s * 1000:.0f}" for s in spreads[variant])
        print(
            f"  {variant}: the calls started within {medians[variant] * 1000:.0f} ms "
            f"({medians[variant] / args.calls * 1000:.2f} ms a call; rounds: {rounds} ms)"
        )
    cost = (medians["dialer"] - medians["dialer-ids"]) / args.calls * 1000
    print(f"channelid_ms_per_call: {cost:.2f}")


if __name__ == "__main__":
    main()
