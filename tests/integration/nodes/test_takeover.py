"""A dialer worker killed with SIGKILL on its node: another worker, on another node, takes
its calls over and asks the dead worker's Asterisk what became of them (issue 14). Two real
Asterisk nodes, one PostgreSQL; the dead worker is a real `serve` process."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import select

from autoinformer.models import Attempt, Campaign
from autoinformer.phone.config import DialerConfig
from autoinformer.plugin import Autoinformer, AutoinformerPlugin
from contact_center.app import build_app
from tests.conftest import NewDatabase
from tests.integration.autoinformer.conftest import SHORT_SCENARIO
from tests.integration.autoinformer.test_campaign_calls import csv_of, spec
from tests.integration.autoinformer.test_survival import (
    AgiCommands,
    kill_as_last_part_starts,
    observer,
)
from tests.integration.nodes.conftest import Nodes, shared_settings
from tests.integration.waiting import wait_for

pytestmark = pytest.mark.integration

# the other worker looks every 0.5 s; its fallback for a node it cannot ask stays the
# default (the longest ring + the hard limit + 30 s: over 3 minutes here), so a call taken
# within the test's minute was taken because its node no longer had it
TAKES_OVER = DialerConfig(tick=0.2, orphan_grace=30.0, drain_timeout=0.0, takeover_interval=0.5)


async def test_a_dead_workers_listener_whose_message_ended_on_its_node_is_not_called_again(
    nodes: Nodes, pg_database: NewDatabase, tmp_path: Path
) -> None:
    """Worker 1 is killed as the message's last part starts; its Asterisk plays the part to
    its end, then the customer hangs up. Worker 2, on the other node, runs all along: it
    leaves the attempt alone while node 1 still has the call, and takes it over as soon
    as the call is gone there: node 1's Asterisk says (its AstDB mark) that the message
    was heard, so the contact is notified and not called again from node 2."""
    shared = await shared_settings(pg_database, "takeover", tmp_path) | {"hotline_node": ""}
    node1 = nodes.dialer.settings.replace(**shared)
    worker2 = build_app(
        nodes.dialer2.settings.replace(**shared), plugins=[AutoinformerPlugin(TAKES_OVER)]
    )
    agi = AgiCommands()

    async with worker2.running(parts=False) as w2:
        campaigns = w2.part(Autoinformer).campaigns
        path = tmp_path / "test-debt.toml"
        path.write_text(SHORT_SCENARIO, encoding="utf-8")
        await campaigns.scenarios.add_file(path)
        created = await campaigns.create(spec("узел умер"), list_data=csv_of("3701"))
        cid = created.campaign_id
        await campaigns.start(cid)

        async def attempts() -> list[Attempt]:
            async with w2.sessions() as session:
                rows = await session.scalars(
                    select(Attempt).where(Attempt.campaign_id == cid).order_by(Attempt.id)
                )
                return list(rows)

        async with observer(node1) as obs:
            obs.link.on_event("AGIExecStart", agi.on_exec)
            killed = await kill_as_last_part_starts(
                node1, tmp_path / "worker1.log", agi, attempts, {"CC_NODE": "dialer-1"}
            )
            uid = killed.channel_id
            assert killed.node == "dialer-1" and not killed.played_to_end
            await w2.start_parts()
            try:

                async def marked() -> bool:
                    return uid in agi.marks

                await wait_for(marked, 30, "the last part to end on node 1")
                dialer = w2.part(Autoinformer).dialer
                assert dialer is not None
                looked = dialer.stats.takeover_looks

                async def looked_again() -> bool:
                    return dialer.stats.takeover_looks >= looked + 3

                # worker 1 is dead (its pid is gone), its call still up on node 1: three
                # looks at it leave it to node 1
                await wait_for(looked_again, 10, "worker 2 to look at worker 1's call")
                [still] = await attempts()
                assert (still.node, still.ended_at) == ("dialer-1", None)
                await obs.link.action("Hangup", Channel=agi.names[uid])
                hung_up = time.monotonic()

                async def gone() -> bool:
                    return uid in obs.hangups

                await wait_for(gone, 10, "the customer to hang up")

                async def finished() -> bool:
                    async with w2.sessions() as session:
                        campaign = await session.get(Campaign, cid)
                        return campaign is not None and campaign.status == "finished"

                await wait_for(finished, 60, "the campaign to finish on worker 2", every=0.2)
                taken_in = time.monotonic() - hung_up
            finally:
                await w2.stop_parts()
        after = await attempts()
    # the next look after the hang-up (every 0.5 s), not the hard-limit fallback
    assert taken_in < 10
    assert [(a.id, a.counted, a.played_to_end, a.status) for a in after] == [
        (killed.id, True, True, "notified")
    ]
    # taken over by worker 2 (its node now), never dialed from there
    assert after[0].node == "dialer-2"
