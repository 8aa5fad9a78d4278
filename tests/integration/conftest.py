"""Helpers for the integration tests' real Asterisk (the session fixture `asterisk` itself is in
tests/conftest.py, so the end-to-end tests share the same one).

The Asterisk is started once per session from asterisk_conf/.

It gets its own runtime directory, a free AMI port, a random AMI secret and no SIP
(sip_port=0), so it runs beside a demo Asterisk on the same machine.
"""

from __future__ import annotations

import secrets
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from contact_center.devtools.local_asterisk import LocalAsterisk
from contact_center.settings import Settings

# <runtime>/run/asterisk.ctl must fit in a unix socket path (107 bytes)
_MAX_RUNTIME_PATH = 80


@dataclass(frozen=True, slots=True)
class AsteriskFixture:
    settings: Settings
    local: LocalAsterisk


def free_tcp_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def short_runtime_dir(tmp_path_factory: pytest.TempPathFactory, name: str) -> Path:
    path = tmp_path_factory.mktemp(name)
    if len(str(path)) > _MAX_RUNTIME_PATH:
        path = Path(tempfile.mkdtemp(prefix=f"cc-{name}-", dir="/tmp"))
    return path


def asterisk_settings(runtime_dir: Path, **changes: object) -> Settings:
    values: dict[str, object] = {
        "asterisk_runtime_dir": runtime_dir,
        "ami_host": "127.0.0.1",
        "ami_port": free_tcp_port(),
        "ami_secret": secrets.token_hex(16),
        "dial_template": "Local/{number}@sim-customers",
    }
    values.update(changes)
    return Settings().replace(**values)
