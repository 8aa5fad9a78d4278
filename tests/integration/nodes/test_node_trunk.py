"""Two real Asterisk nodes on loopback, both rendered from asterisk_conf/ with the sim world
and SIP on free ports, sharing one PostgreSQL database (issue 14): the hotline node has the
operators (CC_DIALER_NODES), the dialer node runs the campaign (CC_HOTLINE_NODE). A sim
customer who presses 0 on the dialer node is put through over the node trunk to a sim
operator in the hotline node's queue; the appeal the dialer registered (the handoff key)
reaches the hotline node's desk; the dialer records the transfer on the attempt."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from autoinformer.campaigns.service import CampaignService
from autoinformer.models import Attempt
from autoinformer.phone.config import DialerConfig
from autoinformer.plugin import Autoinformer, AutoinformerPlugin
from contact_center.app import App, build_app
from contact_center.hotline.models import Appeal
from contact_center.telephony._panoramisk import Message
from tests.conftest import NewDatabase
from tests.integration.autoinformer.conftest import SHORT_SCENARIO
from tests.integration.autoinformer.test_campaign_calls import csv_of, spec
from tests.integration.nodes.conftest import Nodes, shared_settings
from tests.integration.waiting import wait_for

pytestmark = pytest.mark.integration

FAST = DialerConfig(tick=0.2, orphan_grace=30.0, drain_timeout=0.0, queue_timeout=20.0)
# a transfer is notified as soon as an operator took it: the outcome is the dialer's alone
ANSWERED = SHORT_SCENARIO.replace("[keys]", 'transfer_counts_as = "answered"\n\n[keys]')


@dataclass
class Services:
    hotline: App
    dialer: App
    campaigns: CampaignService
    database: str
    shared: dict[str, object]


@pytest.fixture
async def services(
    nodes: Nodes, pg_database: NewDatabase, tmp_path: Path
) -> AsyncIterator[Services]:
    shared = await shared_settings(pg_database, "nodes", tmp_path)
    db = str(shared["database_url"])
    hotline = build_app(nodes.hotline.settings.replace(**shared), plugins=[])
    dialer = build_app(nodes.dialer.settings.replace(**shared), plugins=[AutoinformerPlugin(FAST)])
    async with hotline.running() as h, dialer.running() as d:
        # the sim customer presses 0 half a second into the message
        await d.link.action("Setvar", Variable="SIM_CUSTOMER_PRESS_DELAY", Value="0.5")
        try:
            yield Services(h, d, d.part(Autoinformer).campaigns, db, shared)
        finally:
            await d.stop_parts()


async def test_a_transfer_on_a_dialer_node_reaches_an_operator_on_the_hotline_node(
    services: Services, tmp_path: Path
) -> None:
    hotline, dialer = services.hotline, services.dialer
    path = tmp_path / "test-debt.toml"
    path.write_text(ANSWERED, encoding="utf-8")
    await services.campaigns.scenarios.add_file(path)
    created = await services.campaigns.create(spec("через узлы"), list_data=csv_of("4"))
    joined = asyncio.ensure_future(hotline.link.wait_event("QueueCallerJoin", timeout=40))
    connected = asyncio.ensure_future(hotline.link.wait_event("AgentConnect", timeout=40))
    popped: list[Message] = []
    # the desk's screen-pop on the hotline node: AgentCalled for the caller from the trunk
    hotline.link.on_event("AgentCalled", popped.append)
    await services.campaigns.start(created.campaign_id)
    join, connect = await joined, await connected
    # the caller in the hotline node's queue is the trunk's channel from the dialer node
    assert str(join["Channel"]).startswith("PJSIP/dialer-nodes-")
    assert connect["Uniqueid"] == join["Uniqueid"]
    assert hotline.handoff_receiver.received == 1

    async def appeal_ended() -> Appeal | None:
        found = await hotline.hotline.appeals.by_uniqueid(str(join["Uniqueid"]))
        return found if found is not None and found.ended_at is not None else None

    appeal = await wait_for(appeal_ended, 30, "the transfer's appeal to close")
    # the handoff key arrived: the appeal the dialer registered, moved to this node's channel
    assert appeal.source == "transfer"
    assert appeal.context is not None
    assert appeal.context["campaign_id"] == created.campaign_id
    assert appeal.context["digits"] == "0"
    assert appeal.context["values"]["debt"] == "150.50"
    assert appeal.queue_entered_at is not None and appeal.operator_answered_at is not None
    assert appeal.operator_id is not None and appeal.ended_by == "operator"
    pop = await hotline.desk.pop(str(join["Uniqueid"]), "", hotline.clock.now())
    assert pop["appeal"]["context"]["campaign_name"] == "через узлы"
    assert popped and popped[0]["Uniqueid"] == join["Uniqueid"]

    async def finished() -> bool:
        return (await services.campaigns.status(created.campaign_id)).finished

    await wait_for(finished, 30, "the campaign to finish")
    async with dialer.sessions() as session:
        (attempt,) = (
            await session.scalars(select(Attempt).where(Attempt.campaign_id == created.campaign_id))
        ).all()
    (row,) = (await services.campaigns.report(created.campaign_id)).rows
    # the dialer node recorded the outcome: put through, by the hotline node's operator
    assert attempt.node == "dialer-1"
    assert attempt.transferred and attempt.digits == "0"
    assert attempt.operator == str(connect["Interface"])
    assert row.status == "transferred" and row.notified
    # the operators are the hotline node's: the dialer node never put them in its own queue
    members = await dialer.link.action_list("QueueStatus", Queue="operators")
    assert [e for e in members if e.get("Event") == "QueueMember"] == []


async def test_the_dialer_node_paces_by_the_hotline_nodes_free_operators(
    services: Services, nodes: Nodes, tmp_path: Path
) -> None:
    path = tmp_path / "test-debt.toml"
    # customers who listen and never press: the calls stay up while the pace is read
    path.write_text(SHORT_SCENARIO.replace("wait_digit = 2", "wait_digit = 30"), encoding="utf-8")
    await services.campaigns.scenarios.add_file(path)
    created = await services.campaigns.create(
        spec("темп", concurrency=10), list_data=csv_of(*(f"{n}1" for n in range(1, 9)), debt="10")
    )
    await services.campaigns.start(created.campaign_id)

    async def paced() -> object:
        st = await services.campaigns.status(created.campaign_id)
        return st.pace if st.pace is not None and st.pace.free_operators is not None else None

    pace = await wait_for(paced, 20, "the campaign's pace")
    # one sim operator on the hotline node, none on the dialer's own Asterisk:
    # 3 calls per free operator (the scenario's calls_per_free_operator)
    assert pace.free_operators == 1  # type: ignore[attr-defined]
    assert pace.limit == 3 and pace.reason == "operators"  # type: ignore[attr-defined]

    async def open_calls() -> int:
        async with services.dialer.sessions() as session:
            rows = await session.scalars(
                select(Attempt.node).where(
                    Attempt.campaign_id == created.campaign_id, Attempt.ended_at.is_(None)
                )
            )
            return len(rows.all())

    # a second worker on its own dialer node joins the same campaign (the same PostgreSQL)
    second = build_app(
        nodes.dialer2.settings.replace(**services.shared), plugins=[AutoinformerPlugin(FAST)]
    )
    async with second.running() as d2:
        try:
            await wait_for(lambda: _at_least(open_calls, 3), 20, "three calls up")
            # both workers pass every 0.2 s: over the next 3 s (about 15 passes each, the
            # customers listen 30 s) the campaign's limit holds for the two together
            seen = await _most_within(open_calls, 3.0)
            st = await services.campaigns.status(created.campaign_id)
        finally:
            await d2.stop_parts()
    assert seen == 3
    assert st.pace is not None and st.pace.limit == 3
    await services.campaigns.pause(created.campaign_id)


async def test_campaigns_that_offer_an_operator_share_the_free_ones(
    services: Services, tmp_path: Path
) -> None:
    """Two running campaigns offer an operator and one is free (on the hotline node): the
    first (the lower id) counts on them, 3 calls; the other on none, 1 call (who presses 0
    is promised a call-back). Before, each counted on the same operator: 6 calls."""
    path = tmp_path / "test-debt.toml"
    path.write_text(SHORT_SCENARIO.replace("wait_digit = 2", "wait_digit = 30"), encoding="utf-8")
    await services.campaigns.scenarios.add_file(path)
    ids: list[int] = []
    for name, numbers in (("первая", range(1, 5)), ("вторая", range(5, 9))):
        created = await services.campaigns.create(
            spec(name, concurrency=10), list_data=csv_of(*(f"{n}1" for n in numbers), debt="10")
        )
        ids.append(created.campaign_id)
    try:
        for cid in ids:
            await services.campaigns.start(cid)

        async def shared() -> list[object] | None:
            paces = [(await services.campaigns.status(cid)).pace for cid in ids]
            if all(p is not None and p.operator_campaigns == 2 for p in paces):
                return list(paces)
            return None

        first, second = await wait_for(shared, 20, "both campaigns' shared pace")
        assert (first.free_in_all, first.free_operators, first.limit) == (1, 1, 3)  # type: ignore[attr-defined]
        assert (second.free_in_all, second.free_operators, second.limit) == (1, 0, 1)  # type: ignore[attr-defined]

        async def open_calls() -> int:
            async with services.dialer.sessions() as session:
                rows = await session.scalars(
                    select(Attempt.id).where(
                        Attempt.campaign_id.in_(ids), Attempt.ended_at.is_(None)
                    )
                )
                return len(rows.all())

        await wait_for(lambda: _at_least(open_calls, 4), 20, "four calls up")
        assert await _most_within(open_calls, 3.0) == 4
    finally:
        for cid in ids:
            await services.campaigns.pause(cid)


async def _at_least(count: Callable[[], Awaitable[int]], n: int) -> bool:
    return await count() >= n


async def _most_within(count: Callable[[], Awaitable[int]], seconds: float) -> int:
    """The largest value `count` gives over `seconds` (an observation window: what must not
    happen is looked for all through it, not waited for)."""
    most = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        most = max(most, await count())
        await asyncio.sleep(0.05)
    return most
