"""contact-center-asterisk.service run as written (ExecStart, ExecReload, ExecStop, PIDFile)
on a private runtime folder: a second start says it runs (exit 0, its pid), a reload keeps a
call in progress, and the pid file is where the unit looks for it."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from contact_center.settings import PROJECT_ROOT
from tests.integration.conftest import free_tcp_port, short_runtime_dir
from tests.integration.deploy.units import read_unit

pytestmark = pytest.mark.integration

UNIT = read_unit("contact-center-asterisk.service")
EXAMPLE = PROJECT_ROOT / "deploy" / "contact-center.toml.example"


def test_the_pid_file_is_where_the_example_settings_put_asterisk() -> None:
    runtime = re.search(r'^asterisk_runtime_dir = "(.+)"$', EXAMPLE.read_text(), re.M)
    assert runtime is not None
    assert UNIT.one("Service", "PIDFile") == f"{runtime.group(1)}/run/asterisk.pid"
    assert UNIT.one("Service", "Type") == "forking"


def test_start_again_reload_and_stop_as_the_unit_runs_them(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    runtime = short_runtime_dir(tmp_path_factory, "unit")
    config = runtime / "cc.toml"
    sip_port = free_tcp_port()
    config.write_text(
        f'asterisk_runtime_dir = "{runtime}"\nami_port = {free_tcp_port()}\n'
        f'ami_secret = "unit-test-secret"\nsip_port = {sip_port}\n'
        'sip_external_address = "203.0.113.7"\nsip_local_net = "192.168.10.0/24"\n',
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("CC_")}
    env.update(UNIT.environment(config))

    def run(key: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            UNIT.command(key), env=env, cwd=runtime, capture_output=True, text=True, timeout=90
        )

    # the unit's PIDFile, moved from /var/lib/contact-center/asterisk to this runtime folder
    pid_file = Path(
        UNIT.one("Service", "PIDFile").replace("/var/lib/contact-center/asterisk", str(runtime))
    )
    first = run("ExecStart")
    try:
        assert first.returncode == 0, first.stderr
        pid = int(pid_file.read_text().strip())
        assert f"pid {pid}" in first.stdout
        assert f"SIP: 127.0.0.1:{sip_port}/udp" in first.stdout

        again = run("ExecStart")
        assert again.returncode == 0, again.stderr
        assert f"Asterisk уже запущен (pid {pid})" in again.stdout

        rx = ["asterisk", "-C", str(runtime / "etc" / "asterisk.conf"), "-rx"]
        subprocess.run(
            [*rx, "channel originate Local/1@sim-customers extension silent@sim-callers"],
            check=True, capture_output=True, timeout=10,
        )  # fmt: skip
        before = subprocess.run([*rx, "core show channels concise"], capture_output=True,
                                text=True, timeout=10).stdout  # fmt: skip
        assert "sim-customers" in before or "sim-customer-kind" in before

        reloaded = run("ExecReload")
        assert reloaded.returncode == 0, reloaded.stderr
        assert "dialplan reload" in reloaded.stdout
        after = subprocess.run([*rx, "core show channels concise"], capture_output=True,
                               text=True, timeout=10).stdout  # fmt: skip
        # the same channels, nobody dropped
        assert sorted(ln.split("!")[0] for ln in after.splitlines()) == sorted(
            ln.split("!")[0] for ln in before.splitlines()
        )
        transport = subprocess.run([*rx, "pjsip show transport transport-udp"],
                                   capture_output=True, text=True, timeout=10).stdout  # fmt: skip
        assert "external_media_address     : 203.0.113.7" in transport
        assert "192.168.10.0/255.255.255.0" in transport
    finally:
        stopped = run("ExecStop")
    assert stopped.returncode == 0, stopped.stderr
    assert "Asterisk остановлен" in stopped.stdout
    assert not pid_file.exists()
