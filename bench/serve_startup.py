"""How long `contact-center serve` takes from its exec to being connected and running.

    .venv/bin/python bench/serve_startup.py [--runs 5] [--root OTHER_CHECKOUT]

A private Asterisk (asterisk_conf/ with the sim profile, its own runtime folder, a free AMI
port) and a fresh SQLite database; `serve` is started `--runs` times and stopped with
SIGTERM once it says it runs. Printed per run and as medians: the moment its AMI link was up
(the dialer adopts a killed run's calls right after) and the moment the whole service ran
(web console included), both from the exec, as the parent read the log lines. The CPU the
process used up to then is printed too: on a loaded machine it is the steadier figure.
"""

from __future__ import annotations

import argparse
import os
import resource
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from contact_center.devtools.local_asterisk import LocalAsterisk
from contact_center.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "contact_center"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def one_run(env: dict[str, str], root: Path) -> tuple[float, float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    proc = subprocess.Popen(
        [*CLI, "serve"],
        env=env,
        # `-m` puts the working folder first on sys.path: the tree measured must be it
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    connected = running = 0.0
    for line in proc.stdout:
        if "connected to Asterisk AMI" in line and not connected:
            connected = time.monotonic() - started
        if "service running" in line:
            running = time.monotonic() - started
            break
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return connected, running, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--root", type=Path, default=ROOT, help="the code tree `serve` runs (another checkout)"
    )
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="cc-startup-", dir="/tmp"))
    settings = Settings().replace(
        asterisk_runtime_dir=workdir / "ast",
        ami_port=free_port(),
        ami_secret=secrets.token_hex(16),
        database_url=f"sqlite+aiosqlite:///{workdir / 'startup.db'}",
    )
    env = {
        **os.environ,
        "PYTHONPATH": str(args.root),
        "CC_DATABASE_URL": settings.database_url,
        "CC_AMI_PORT": str(settings.ami_port),
        "CC_AMI_SECRET": settings.ami_secret,
        "CC_ASTERISK_RUNTIME_DIR": str(settings.asterisk_runtime_dir),
        "CC_HTTP_PORT": "0",
    }
    local = LocalAsterisk(settings, sip_port=0)
    try:
        subprocess.run(
            [*CLI, "db", "upgrade"], env=env, cwd=args.root, check=True, capture_output=True
        )
        local.start(timeout=60)
        results = []
        for n in range(args.runs):
            connected, running, cpu = one_run(env, args.root)
            results.append((connected, running, cpu))
            print(
                f"run {n + 1}: link up {connected:.2f} s, running {running:.2f} s, CPU {cpu:.2f} s",
                flush=True,
            )
    finally:
        local.stop(timeout=20)
        shutil.rmtree(workdir, ignore_errors=True)
    up, run, cpu = (statistics.median(r[i] for r in results) for i in range(3))
    print(f"load average {os.getloadavg()[0]:.1f}")
    print(f"median: link up {up:.2f} s, running {run:.2f} s, CPU to stop {cpu:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
