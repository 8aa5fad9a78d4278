"""Several real Asterisk nodes on loopback for the scale-out tests, started once for the
package: a hotline node with the operators, two dialer nodes (issue 14)."""

from __future__ import annotations

import asyncio
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from autoinformer.plugin import AutoinformerPlugin
from contact_center.clock import Clock
from contact_center.devtools.asterisk_config import NODE_TRUNK_SECRET_FILE
from contact_center.devtools.local_asterisk import LocalAsterisk
from contact_center.settings import PROJECT_ROOT, Settings
from contact_center.storage import migrate
from tests.conftest import NewDatabase
from tests.integration.autoinformer.test_campaign_calls import TUESDAY_11
from tests.integration.conftest import asterisk_settings, short_runtime_dir
from tests.integration.sip import baresip


@dataclass
class Node:
    settings: Settings
    local: LocalAsterisk


@dataclass
class Nodes:
    hotline: Node
    dialer: Node
    # a second dialer node, for the pacing across workers
    dialer2: Node


@pytest.fixture(scope="package")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nodes]:
    secrets_dir = tmp_path_factory.mktemp("node-secrets")
    (secrets_dir / NODE_TRUNK_SECRET_FILE).write_text(secrets.token_hex(16) + "\n")
    hotline_port = baresip.free_port()
    dialer_port = free_other_port(hotline_port)
    # one AMI login on every node (README, "Several dialer workers"): a worker asks a dead
    # worker's node about its calls with it
    common = {
        "sip_bind": "127.0.0.1",
        "asterisk_secrets_dir": secrets_dir,
        "ami_secret": secrets.token_hex(16),
    }
    hotline = asterisk_settings(
        short_runtime_dir(tmp_path_factory, "hl"),
        sip_port=hotline_port,
        dialer_nodes="127.0.0.1",
        sim_operators=1,
        sim_operator_answer_delay=0.3,
        sim_operator_talk_time=1.5,
        **common,
    )
    dialer = asterisk_settings(
        short_runtime_dir(tmp_path_factory, "dl"),
        sip_port=dialer_port,
        hotline_node=f"127.0.0.1:{hotline_port}",
        sim_operators=0,
        node="dialer-1",
        **common,
    )
    dialer2 = asterisk_settings(
        short_runtime_dir(tmp_path_factory, "dl2"),
        sip_port=free_other_port(hotline_port, dialer_port),
        hotline_node=f"127.0.0.1:{hotline_port}",
        sim_operators=0,
        node="dialer-2",
        **common,
    )
    started: list[LocalAsterisk] = []
    try:
        for settings in (hotline, dialer, dialer2):
            local = LocalAsterisk(settings)
            local.start(timeout=30)
            started.append(local)
        yield Nodes(*(Node(s.settings, s) for s in started))
    finally:
        for local in started:
            local.stop(timeout=15)


def free_other_port(*taken: int) -> int:
    while (port := baresip.free_port()) in taken:
        pass
    return port


async def shared_settings(pg_database: NewDatabase, name: str, tmp_path: Path) -> dict[str, object]:
    """What every node's service shares: a new PostgreSQL database (migrated), the clock
    at Tuesday 11:00, IVR scripts, no web console."""
    db = pg_database(name)
    await asyncio.to_thread(migrate.upgrade, db, [AutoinformerPlugin()])
    ivr_dir = tmp_path / "ivr"
    shutil.copytree(PROJECT_ROOT / "ivr_scripts", ivr_dir)
    return {
        "database_url": db,
        "clock_offset": Clock.at(TUESDAY_11).offset_s,
        "http_port": 0,
        "ivr_scripts_dir": ivr_dir,
    }
