"""A dialer worker killed with SIGKILL on its node: another worker, on another node, takes
its calls over and asks the dead worker's Asterisk what became of them (issue 14). Two real
Asterisk nodes, one PostgreSQL; the dead worker is a real `serve` process."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from autoinformer.models import Attempt, Campaign
from autoinformer.phone.book import CallBook
from autoinformer.phone.config import DialerConfig
from autoinformer.plugin import Autoinformer, AutoinformerPlugin
from contact_center.app import App, build_app
from contact_center.service_state import ServiceStateRow
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


async def started_campaign(app: App, tmp_path: Path, name: str) -> int:
    """A campaign of one listener (3701) with the short scenario, started; its id."""
    campaigns = app.part(Autoinformer).campaigns
    path = tmp_path / "test-debt.toml"
    path.write_text(SHORT_SCENARIO, encoding="utf-8")
    await campaigns.scenarios.add_file(path)
    created = await campaigns.create(spec(name), list_data=csv_of("3701"))
    await campaigns.start(created.campaign_id)
    return created.campaign_id


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
        cid = await started_campaign(w2, tmp_path, "узел умер")

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


async def test_a_dead_workers_node_that_does_not_answer_holds_up_no_pass(
    nodes: Nodes, pg_database: NewDatabase, tmp_path: Path
) -> None:
    """A worker died with its host: its node takes a connection and says nothing (a host
    that is gone makes a connect wait out its time-out the same way). Asking it runs beside
    the dialer's passes, which go on meanwhile; its call is left for the hard-limit rule."""
    shared = await shared_settings(pg_database, "silent", tmp_path) | {"hotline_node": ""}
    worker2 = build_app(
        nodes.dialer2.settings.replace(**shared), plugins=[AutoinformerPlugin(TAKES_OVER)]
    )
    asked: list[str] = []

    async def say_nothing(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        asked.append("connected")
        await reader.read()  # until the other side gives up
        writer.close()

    silent = await asyncio.start_server(say_nothing, "127.0.0.1", 0)
    port = silent.sockets[0].getsockname()[1]
    async with silent, worker2.running(parts=False) as w2:
        cid = await started_campaign(w2, tmp_path, "узел молчит")
        # the dead worker's claim, and its row: stale, with the silent node's address
        gone = CallBook(w2.sessions, node="dialer-9", instance="gone-host:1")
        plan = await gone.plan(cid)
        assert plan is not None
        now = w2.clock.now()  # the app's clock (Tuesday 11:00), as its liveness reads
        [(_contact, attempt_id, _channel)] = await gone.claim_many(
            plan, await gone.due(cid, now, 1), now
        )
        async with w2.sessions() as session, session.begin():
            long_ago = now - timedelta(minutes=5)
            session.add(
                ServiceStateRow(
                    instance="gone-host:1", started_at=long_ago, heartbeat_at=long_ago,
                    ami_up=True, ami_since=long_ago, ami_address=f"127.0.0.1:{port}",
                )
            )  # fmt: skip
        await w2.start_parts()
        try:
            dialer = w2.part(Autoinformer).dialer
            assert dialer is not None

            async def asking() -> bool:
                return bool(asked)

            await wait_for(asking, 10, "worker 2 to ask the silent node")
            passes = dialer.stats.passes

            async def passing() -> bool:
                return dialer.stats.passes >= passes + 5

            # tick 0.2 s: five passes while the look waits for the node (5 s time-out)
            await wait_for(passing, 4, "the dialer's passes while the node is asked")
            assert dialer.stats.takeover_looks == 0

            async def looked() -> bool:
                return dialer.stats.takeover_looks >= 1

            await wait_for(looked, 15, "the look to give the silent node up")
            async with w2.sessions() as session:
                attempt = await session.get(Attempt, attempt_id)
                # not known to be over: it waits for the longest ring + the hard limit
                assert attempt is not None and attempt.ended_at is None
                assert attempt.node == "dialer-9"
        finally:
            await w2.stop_parts()
