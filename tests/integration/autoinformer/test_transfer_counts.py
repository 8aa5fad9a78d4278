"""A customer put through to an operator counts as notified when the operator confirms it,
or as the scenario's `transfer_counts_as` says (issue 13 § 5)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from autoinformer.reports import ReportRow
from contact_center.hotline.models import Appeal
from contact_center.operators.models import OperatorState
from tests.integration.autoinformer.conftest import SHORT_SCENARIO, World, WorldFactory
from tests.integration.autoinformer.test_campaign_calls import (
    TUESDAY_11,
    csv_of,
    fast_sim,
    spec,
)
from tests.integration.waiting import wait_for

pytestmark = pytest.mark.integration

# long enough that the sim customer's 0 (after half a second) cuts the message short: the
# message alone never makes the contact notified
LONG = SHORT_SCENARIO.replace(
    'message = "Задолженность {money:debt}."',
    'message = "Уважаемый абонент, у вас есть задолженность за электроэнергию '
    'в размере {money:debt}. Пожалуйста, оплатите её."',
)


def scenario(rule: str | None) -> str:
    text = LONG
    if rule is not None:
        text = text.replace("[keys]", f'transfer_counts_as = "{rule}"\n\n[keys]')
    return text


async def transferred_row(w: World, campaign_id: int) -> ReportRow:
    await w.wait_finished(campaign_id, timeout=40)
    report = await w.campaigns.report(campaign_id)
    (row,) = report.rows
    assert row.status == "transferred"
    return row


async def wrapped_up(w: World) -> Appeal | None:
    async with w.campaigns.sessions() as session:
        appeal = await session.scalar(select(Appeal).where(Appeal.source == "transfer"))
    return appeal if appeal is not None and appeal.wrapup_done_at is not None else None


async def test_a_transfer_is_notified_once_the_operator_finishes_post_call_work(
    world: WorldFactory,
) -> None:
    # the sim operator finishes post-call work by themself a second after the call
    async with world(now=TUESDAY_11) as w:
        await fast_sim(w)
        await w.scenario(scenario(None))
        created = await w.campaigns.create(spec("перевод"), list_data=csv_of("4"))
        await w.campaigns.start(created.campaign_id)
        await transferred_row(w, created.campaign_id)
        appeal = await wait_for(lambda: wrapped_up(w), 20, "the operator's post-call work")

        async def notified() -> ReportRow | None:
            (row,) = (await w.campaigns.report(created.campaign_id)).rows
            return row if row.notified else None

        row = await wait_for(notified, 10, "the transfer to count as notified")
        st = await w.campaigns.status(created.campaign_id)
    assert not appeal.wrapup_timed_out
    assert row.status == "transferred"
    assert (st.notified, st.failed) == (1, 0)


async def test_a_transfer_the_operator_has_not_confirmed_is_not_notified_until_info_done(
    world: WorldFactory,
) -> None:
    async with world(now=TUESDAY_11, settings={"sim_operator_wrapup_time": -1.0}) as w:
        await fast_sim(w)
        await w.scenario(scenario("confirmed"))
        created = await w.campaigns.create(spec("перевод"), list_data=csv_of("4"))
        connect = asyncio.ensure_future(w.service.link.wait_event("AgentConnect", timeout=30))
        await w.campaigns.start(created.campaign_id)
        event = await connect
        operators = w.service.operators
        row = await transferred_row(w, created.campaign_id)
        assert not row.notified
        assert (await w.campaigns.status(created.campaign_id)).notified == 0

        op = await operators.by_interface(str(event["Interface"]))
        assert op is not None and op.state == OperatorState.WRAP_UP
        await operators.info_done(op.code)
        (row,) = (await w.campaigns.report(created.campaign_id)).rows
        st = await w.campaigns.status(created.campaign_id)
        await operators.wrap_up_done(op.code)
    assert row.notified and row.status == "transferred"
    assert st.notified == 1


@pytest.mark.parametrize(("rule", "notified"), [("answered", True), ("message", False)])
async def test_the_scenario_says_when_a_transfer_counts(
    world: WorldFactory, rule: str, notified: bool
) -> None:
    async with world(now=TUESDAY_11) as w:
        await fast_sim(w)
        await w.scenario(scenario(rule))
        created = await w.campaigns.create(spec("перевод"), list_data=csv_of("4"))
        await w.campaigns.start(created.campaign_id)
        await transferred_row(w, created.campaign_id)
        # the operator's confirmation changes nothing for these rules
        await wait_for(lambda: wrapped_up(w), 20, "the operator's post-call work")
        (row,) = (await w.campaigns.report(created.campaign_id)).rows
        st = await w.campaigns.status(created.campaign_id)
    assert row.notified is notified
    assert st.notified == int(notified)
