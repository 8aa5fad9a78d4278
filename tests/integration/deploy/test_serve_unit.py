"""contact-center.service run as written (ExecStartPre, ExecStart) against the session's
Asterisk: the web console answers, calls in progress (campaign calls and hotline callers)
are let go on SIGTERM within the unit's TimeoutStopSec, exit 0; the log is journald's."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

from tests.integration.conftest import AsteriskFixture, free_tcp_port
from tests.integration.deploy.units import read_unit

pytestmark = pytest.mark.integration

T = TypeVar("T")
UNIT = read_unit("contact-center.service")
LONG_SCENARIO = """
name = "stop-test"
kind = "reminder"
title = "Длинное напоминание"
message = "%s"
wait_digit = 5
repeats = 2

[keys]
"1" = "confirm"
other = "ignore"

[replies]
confirmed = ""
goodbye = ""
""" % ("Напоминаем о плановом обслуживании сетей в вашем районе. " * 12)
CUSTOMERS = 6  # sim customers ending in 1: they answer and stay on the line


def toml_settings(values: dict[str, object]) -> str:
    return "".join(f"{k} = {json.dumps(v, ensure_ascii=False)}\n" for k, v in values.items())


def wait_until(condition: Callable[[], T | None], timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def healthz(port: int) -> dict[str, object] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as reply:
            return dict(json.loads(reply.read()))
    except urllib.error.HTTPError as exc:  # 503 while a check fails: still our console
        return dict(json.loads(exc.read()))
    except OSError:
        return None


def channels(asterisk: AsteriskFixture) -> int:
    out = asterisk.local.rx("core show channels count")
    match = re.search(r"(\d+) active channels?", out)
    return int(match.group(1)) if match else 0


def test_the_unit_runs_serve_and_a_sigterm_lets_calls_go_within_its_timeout(
    asterisk: AsteriskFixture, tmp_path: Path
) -> None:
    s = asterisk.settings
    http_port = free_tcp_port()
    config = tmp_path / "contact-center.toml"
    config.write_text(
        toml_settings(
            {
                "database_url": f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}",
                "ami_host": s.ami_host,
                "ami_port": s.ami_port,
                "ami_secret": s.ami_secret,
                "dial_template": s.dial_template,
                "asterisk_runtime_dir": str(s.asterisk_runtime_dir),
                "http_port": http_port,
                "sounds_dir": str(s.sounds_dir),
            }
        ),
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("CC_")}
    env.update(UNIT.environment(config))
    assert env["CC_CONFIG"] == str(config)
    # WorkingDirectory=/var/lib/contact-center is the server's; the test's folder stands in
    assert UNIT.one("Service", "WorkingDirectory") == "/var/lib/contact-center"

    pre = subprocess.run(
        UNIT.command("ExecStartPre"), env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert pre.returncode == 0, pre.stderr

    # a campaign with calls that stay up, made with the CLI the admin would use
    listing = tmp_path / "list.csv"
    listing.write_text(
        "account,name,address,has_contract,phone\n"
        + "".join(
            f"{1000 + n},Абонент {n},ул. Тестовая {n},1,+7913000{n:03d}1\n"
            for n in range(CUSTOMERS)
        ),
        encoding="utf-8",
    )
    cli = UNIT.command("ExecStart")[0]
    # a message long enough that every call is still playing it when the stop comes
    scenario = tmp_path / "long.toml"
    scenario.write_text(LONG_SCENARIO, encoding="utf-8")
    added = subprocess.run(
        [cli, "scenario", "add", str(scenario)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert added.returncode == 0, added.stderr + added.stdout
    created = subprocess.run(
        [cli, "campaign", "create", "--name", "остановка", "--kind", "reminder",
         "--scenario", "stop-test", "--list", str(listing), "--window", "00:00-23:59",
         "--caps", "none"],
        env=env, cwd=tmp_path, capture_output=True, text=True,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr + created.stdout
    campaign_id = created.stdout.split()[-1].strip(".")
    launched = subprocess.run(
        [cli, "campaign", "start", campaign_id],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert launched.returncode == 0, launched.stderr + launched.stdout

    # stderr is a journald stream: systemd names it in JOURNAL_STREAM (device:inode)
    before = channels(asterisk)
    journal = tmp_path / "journal.txt"
    with open(journal, "wb") as stderr:
        stat = os.fstat(stderr.fileno())
        env["JOURNAL_STREAM"] = f"{stat.st_dev}:{stat.st_ino}"
        proc = subprocess.Popen(
            UNIT.command("ExecStart"), env=env, cwd=tmp_path, stdout=stderr, stderr=stderr
        )
    try:
        health = wait_until(lambda: healthz(http_port), 30, "the web console's /healthz")
        assert "checks" in health
        wait_until(lambda: channels(asterisk) >= before + CUSTOMERS, 30, "campaign calls up")
        for _ in range(3):  # hotline callers who press nothing
            asterisk.local.rx("channel originate Local/s@hotline extension silent@sim-callers")
        wait_until(lambda: channels(asterisk) >= before + CUSTOMERS + 6, 15, "hotline callers")
        time.sleep(1.0)  # let the flows take the callers (no condition to see it from here)

        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
        took = time.monotonic() - started
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    log = journal.read_text(encoding="utf-8")
    print(f"stop with {CUSTOMERS} campaign calls and 3 hotline callers: {took:.2f} s")
    assert code == 0, log
    timeout_stop = float(UNIT.one("Service", "TimeoutStopSec"))
    assert took < timeout_stop / 2, f"stop took {took:.1f} s; TimeoutStopSec={timeout_stop:g}"
    # journald lines: a syslog priority, no time of our own (journald stamps them)
    lines = [ln for ln in log.splitlines() if ln.strip()]
    assert any(
        ln.startswith("<4>WARNING contact_center.app: contact-center service running")
        for ln in lines
    ), log
    assert "service stopped" in log
    assert not [ln for ln in lines if re.match(r"<\d>\d{4}-\d\d-\d\d", ln)]
    # personal data: no customer's number in full
    assert "+7913000" not in log and "7913000" not in log
    # the campaign calls were hung up (Asterisk holds none of ours after the drain)
    wait_until(lambda: channels(asterisk) <= before + 6, 10, "campaign calls to end")
