"""`contact-center serve` as an administrator runs it: the web console comes up on
CC_HTTP_PORT in the same process and loop as the AMI link, answers while Asterisk is down,
and stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autoinformer.plugin import AutoinformerPlugin
from contact_center.storage import migrate
from tests.integration.conftest import free_tcp_port

from .conftest import Client

pytestmark = pytest.mark.integration


async def wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "serve exited"
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.2)
            continue
        writer.close()
        return
    raise AssertionError(f"nothing listens on {port} after {timeout} s")


async def test_serve_hosts_the_console_while_asterisk_is_down_and_stops_on_sigterm(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'serve.db'}"
    await asyncio.to_thread(migrate.upgrade, url, [AutoinformerPlugin()])
    port = free_tcp_port()
    env = {
        **os.environ,
        "CC_DATABASE_URL": url,
        "CC_HTTP_PORT": str(port),
        "CC_AMI_PORT": str(free_tcp_port()),  # nothing listens there: Asterisk is "down"
        "CC_SOUNDS_DIR": str(tmp_path / "sounds"),
    }
    proc = await asyncio.to_thread(
        subprocess.Popen,
        [sys.executable, "-m", "contact_center", "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        await wait_listening(port, proc, 30)
        client = Client(port)
        health = await client.get("/healthz")
        assert health.status == 503
        checks = health.json()["checks"]
        assert checks["ami"]["ok"] is False and checks["database"]["ok"] is True
        login = await client.get("/login")
        assert login.status == 200 and "Вход" in login.text
        unsubscribe = await client.get("/unsubscribe?token=v1.bad.token")
        assert unsubscribe.status == 400, "the unsubscribe endpoint lives on the same site"
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(proc.wait, 20)
        assert code == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    stderr = proc.stderr.read().decode() if proc.stderr else ""
    assert f"web console listening on http://127.0.0.1:{port}/" in stderr
    assert "Traceback" not in stderr, stderr
