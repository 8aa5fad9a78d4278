"""Two dialer workers, each on its own Asterisk node with a trunk of two channels
(CC_DIAL_CHANNELS), share one campaign of concurrency 4 on PostgreSQL (issue 14). The
campaign's concurrency holds across the workers, each node's channels for its own
worker's calls only: a node whose trunk is full is no reason for the other to dial less.
Before, a worker claimed against its own node's limit while the count was every worker's:
the first worker's two calls left the second no room, and it dialed nobody."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from autoinformer.models import Attempt
from autoinformer.phone.config import DialerConfig
from autoinformer.plugin import Autoinformer, AutoinformerPlugin
from contact_center.app import build_app
from tests.conftest import NewDatabase
from tests.integration.autoinformer.test_campaign_calls import csv_of, spec
from tests.integration.autoinformer.test_claimed_ahead import AHEAD_SCENARIO
from tests.integration.nodes.conftest import Nodes, shared_settings
from tests.integration.waiting import wait_for

pytestmark = pytest.mark.integration

FAST = DialerConfig(tick=0.2, orphan_grace=30.0, drain_timeout=0.0)


async def test_both_workers_dial_a_shared_campaign_each_within_its_nodes_channels(
    nodes: Nodes, pg_database: NewDatabase, tmp_path: Path
) -> None:
    shared = await shared_settings(pg_database, "shared", tmp_path) | {
        "hotline_node": "",
        "dial_channels": 2,
    }
    worker1 = build_app(nodes.dialer.settings.replace(**shared), plugins=[AutoinformerPlugin(FAST)])
    worker2 = build_app(
        nodes.dialer2.settings.replace(**shared), plugins=[AutoinformerPlugin(FAST)]
    )
    numbers = [f"6{n}01" for n in range(4)]
    async with worker1.running() as w1, worker2.running() as w2:
        campaigns = w1.part(Autoinformer).campaigns
        path = tmp_path / "test-ahead.toml"
        path.write_text(AHEAD_SCENARIO, encoding="utf-8")
        await campaigns.scenarios.add_file(path)
        created = await campaigns.create(
            spec("на двоих", scenario="test-ahead", concurrency=4), list_data=csv_of(*numbers)
        )
        cid = created.campaign_id
        most: Counter[str] = Counter()
        most_in_all = 0

        async def watch() -> None:
            nonlocal most_in_all
            while True:
                async with w1.sessions() as session:
                    rows = (
                        await session.execute(
                            select(Attempt.node, func.count())
                            .where(
                                Attempt.campaign_id == cid,
                                Attempt.ended_at.is_(None),
                                Attempt.ahead.is_(False),
                            )
                            .group_by(Attempt.node)
                        )
                    ).all()
                for node, n in rows:
                    most[node] = max(most[node], int(n))
                most_in_all = max(most_in_all, sum(int(n) for _node, n in rows))
                await asyncio.sleep(0.05)

        watching = asyncio.ensure_future(watch())
        try:
            await campaigns.start(cid)

            async def finished() -> bool:
                return (await campaigns.status(cid)).status == "finished"

            await wait_for(finished, 90, "the campaign to finish", every=0.2)
        finally:
            watching.cancel()
            await asyncio.gather(watching, return_exceptions=True)
            await w1.stop_parts()
            await w2.stop_parts()
        async with w1.sessions() as session:
            attempts = list(
                await session.scalars(select(Attempt).where(Attempt.campaign_id == cid))
            )
    by_node = Counter(a.node for a in attempts)
    assert sorted(a.phone[-4:] for a in attempts) == sorted(numbers)
    assert {a.status for a in attempts} == {"notified"}
    # both nodes carried calls, each at most its trunk's two at once, four in all
    assert set(by_node) == {"dialer-1", "dialer-2"}, by_node
    assert max(most.values()) <= 2, most
    assert most_in_all == 4, (most, most_in_all)
