"""The local Asterisk runner and the AMI user it configures, against the real Asterisk."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner

from contact_center.cli import main as cli_main
from contact_center.devtools.asterisk_config import render_for_container
from contact_center.devtools.local_asterisk import AsteriskAlreadyRunning, LocalAsterisk
from tests.integration.conftest import AsteriskFixture, asterisk_settings, short_runtime_dir

pytestmark = pytest.mark.integration


class RawAmi:
    """Just enough AMI over plain asyncio streams: one action at a time, events collected."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.ids = itertools.count(1)
        self.events: list[dict[str, str]] = []

    async def read_message(self) -> dict[str, str]:
        message: dict[str, str] = {}
        while True:
            line = (await self.reader.readline()).decode("utf-8", "replace")
            if not line:
                raise ConnectionError("AMI closed the connection")
            line = line.rstrip("\r\n")
            if not line:
                if message:
                    return message
                continue
            key, _, value = line.partition(": ")
            message[key] = value

    async def action(self, name: str, **fields: str) -> dict[str, str]:
        action_id = f"t{next(self.ids)}"
        lines = [f"Action: {name}", f"ActionID: {action_id}"]
        lines += [f"{key}: {value}" for key, value in fields.items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        await self.writer.drain()
        while True:
            message = await asyncio.wait_for(self.read_message(), 10)
            if "Response" in message and message.get("ActionID") == action_id:
                return message
            self.events.append(message)

    async def event(self, predicate: object, timeout: float = 10) -> dict[str, str]:
        assert callable(predicate)
        for message in self.events:
            if predicate(message):
                self.events.remove(message)
                return message
        async with asyncio.timeout(timeout):
            while True:
                message = await self.read_message()
                if predicate(message):
                    return message
                self.events.append(message)


@asynccontextmanager
async def raw_ami(
    asterisk: AsteriskFixture, secret: str | None = None
) -> AsyncIterator[tuple[RawAmi, dict[str, str]]]:
    s = asterisk.settings
    reader, writer = await asyncio.open_connection(s.ami_host, s.ami_port)
    try:
        banner = (await asyncio.wait_for(reader.readline(), 5)).decode()
        assert banner.startswith("Asterisk Call Manager/")
        ami = RawAmi(reader, writer)
        login = await ami.action(
            "Login", Username=s.ami_user, Secret=s.ami_secret if secret is None else secret
        )
        yield ami, login
    finally:
        writer.close()


def test_status_says_running_with_pid_and_version(asterisk: AsteriskFixture) -> None:
    status = asterisk.local.status()
    assert status.running
    assert status.pid and Path(f"/proc/{status.pid}").exists()
    assert status.version and status.version.startswith("Asterisk ")
    assert "operators" in asterisk.local.rx("queue show operators")


def test_a_second_start_is_refused(asterisk: AsteriskFixture) -> None:
    with pytest.raises(AsteriskAlreadyRunning) as info:
        LocalAsterisk(asterisk.settings, sip_port=0).start(timeout=5)
    assert info.value.pid == asterisk.local.status().pid


async def test_ami_user_logs_in_and_has_only_its_classes(asterisk: AsteriskFixture) -> None:
    async with raw_ami(asterisk) as (ami, login):
        assert login["Response"] == "Success", login
        assert (await ami.action("Ping"))["Response"] == "Success"
        for action, fields in [
            ("Command", {"Command": "core show version"}),
            ("GetConfig", {"Filename": "manager.conf"}),
            ("ModuleLoad", {"Module": "app_system.so", "LoadType": "load"}),
        ]:
            reply = await ami.action(action, **fields)
            assert reply["Response"] == "Error", (action, reply)
            assert reply["Message"] == "Permission denied", (action, reply)
        shell = await ami.action(
            "Originate",
            Channel="Local/79130000001@sim-customers",
            Application="System",
            Data="id",
            Async="true",
        )
        assert shell["Response"] == "Error"
        for action, fields in [
            ("CoreShowChannels", {}),
            ("QueueSummary", {"Queue": "operators"}),
            ("Setvar", {"Variable": "SIM_TEST_MARK", "Value": "1"}),
        ]:
            reply = await ami.action(action, **fields)
            assert reply["Response"] == "Success", (action, reply)


async def test_wrong_secret_is_refused(asterisk: AsteriskFixture) -> None:
    async with raw_ami(asterisk, secret="not-the-secret") as (_, login):
        assert login["Response"] == "Error"


async def test_simulated_customers_answer_or_not_by_last_digit(asterisk: AsteriskFixture) -> None:
    async with raw_ami(asterisk) as (ami, _):
        busy = await ami.action(
            "Originate",
            Channel="Local/79130000002@sim-customers",
            Context="autoinformer",
            Exten="s",
            Priority="1",
            Async="true",
            Timeout="4000",
            ChannelId="t-busy-0002",
        )
        assert busy["Response"] == "Success"
        result = await ami.event(
            lambda m: m.get("Event") == "OriginateResponse" and m["Uniqueid"] == "t-busy-0002"
        )
        assert result["Reason"] == "5"  # busy

        await ami.action(
            "Originate",
            Channel="Local/79130000004@sim-customers",
            Context="autoinformer",
            Exten="s",
            Priority="1",
            Async="true",
            Timeout="4000",
            ChannelId="t-answer-0004",
        )
        start = await ami.event(
            lambda m: m.get("Event") == "AsyncAGIStart" and m["Uniqueid"] == "t-answer-0004"
        )
        await ami.action(
            "AGI", Channel=start["Channel"], Command="WAIT FOR DIGIT 5000", CommandID="d"
        )
        digit = await ami.event(
            lambda m: m.get("Event") == "AsyncAGIExec" and m.get("CommandId") == "d"
        )
        assert "result%3D48" in digit["Result"]  # the customer pressed 0
        await ami.action("Hangup", Channel=start["Channel"])


def test_cli_start_status_stop(tmp_path_factory: pytest.TempPathFactory) -> None:
    settings = asterisk_settings(short_runtime_dir(tmp_path_factory, "cli"))
    env = {
        "CC_ASTERISK_RUNTIME_DIR": str(settings.asterisk_runtime_dir),
        "CC_AMI_PORT": str(settings.ami_port),
        "CC_AMI_SECRET": settings.ami_secret,
    }
    runner = CliRunner()
    try:
        started = runner.invoke(cli_main, ["asterisk", "start", "--sip-port", "0"], env=env)
        assert started.exit_code == 0, started.output
        assert f"AMI: 127.0.0.1:{settings.ami_port}" in started.output
        status = runner.invoke(cli_main, ["asterisk", "status"], env=env)
        assert status.exit_code == 0, status.output
        again = runner.invoke(cli_main, ["asterisk", "start", "--sip-port", "0"], env=env)
        # already running is the state asked for: exit 0 with its pid (issue 15)
        assert again.exit_code == 0, again.output
        pid = LocalAsterisk(settings).status(with_version=False).pid
        assert f"Asterisk уже запущен (pid {pid})" in again.output
        stopped = runner.invoke(cli_main, ["asterisk", "stop"], env=env)
        assert stopped.exit_code == 0, stopped.output
        assert "остановлен" in stopped.output
        status = runner.invoke(cli_main, ["asterisk", "status"], env=env)
        assert status.exit_code == 3, status.output
    finally:
        LocalAsterisk(settings).stop(timeout=5)


def test_container_config_has_no_placeholders_left(tmp_path: Path) -> None:
    settings = asterisk_settings(tmp_path / "unused")
    written = render_for_container(settings, tmp_path / "etc", sip_port=5060)
    names = {p.relative_to(tmp_path / "etc").as_posix() for p in written}
    assert {"asterisk.conf", "manager.conf", "extensions.conf", "sim/queue_members.conf"} <= names
    for path in written:
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.lstrip().startswith(";"):
                assert "@" not in line or "@sim-" in line or "@trunk" in line, (path, line)
    manager = (tmp_path / "etc" / "manager.conf").read_text(encoding="utf-8")
    assert "bindaddr = 0.0.0.0" in manager
    assert f"secret = {settings.ami_secret}" in manager
    assert "write = originate,call,agent,agi,reporting" in manager
    assert "bind = 0.0.0.0:5060" in (tmp_path / "etc" / "pjsip.conf").read_text(encoding="utf-8")
