"""A campaign call put through to an operator is an appeal like a hotline call: the
operator's commands work on it, its context (campaign, scenario, parts played, keys, values
read out) is stored for the screen-pop, and it counts in the per-operator report."""

from __future__ import annotations

import asyncio
import json

import pytest
from click.testing import CliRunner

from contact_center.cli import main
from contact_center.hotline.models import Appeal
from contact_center.operators.models import OperatorState
from tests.integration.autoinformer.conftest import World, WorldFactory
from tests.integration.autoinformer.test_campaign_calls import (
    TUESDAY_11,
    csv_of,
    fast_sim,
    spec,
)
from tests.integration.waiting import wait_for

pytestmark = pytest.mark.integration


async def test_transfer_is_an_appeal_the_operator_works_and_the_report_counts(
    world: WorldFactory,
) -> None:
    w: World
    # the sim operator never finishes post-call work by itself: the test does, by CLI
    async with world(now=TUESDAY_11, settings={"sim_operator_wrapup_time": -1.0}) as w:
        await fast_sim(w)
        await w.sim(SIM_OPERATOR_TALK_TIME=8)
        await w.scenario()
        created = await w.campaigns.create(spec("с оператором"), list_data=csv_of("4"))
        s = w.settings
        env = {
            "CC_DATABASE_URL": s.database_url,
            "CC_AMI_HOST": s.ami_host,
            "CC_AMI_PORT": str(s.ami_port),
            "CC_AMI_SECRET": s.ami_secret,
            "CC_CLOCK_OFFSET": str(s.clock_offset),
        }
        runner = CliRunner()

        async def cli(*args: str) -> str:
            result = await asyncio.to_thread(runner.invoke, main, list(args), env=env)
            assert result.exit_code == 0, result.output
            return result.output

        connect = asyncio.ensure_future(w.service.link.wait_event("AgentConnect", timeout=30))
        await w.campaigns.start(created.campaign_id)
        event = await connect
        operators = w.service.operators

        async def on_call() -> str | None:
            op = await operators.by_interface(str(event["Interface"]))
            return op.code if op and op.state == OperatorState.ON_CALL else None

        code = await wait_for(on_call, 10, "the operator to be on the call")
        info = await cli("operator", "info", code)
        described = json.loads(info[info.index("{") :])
        assert described["source"] == "transfer"
        context = described["context"]
        assert context["campaign_id"] == created.campaign_id
        assert context["campaign_name"] == "с оператором"
        assert context["scenario"] == "test-debt"
        assert context["digits"] == "0"
        assert context["parts_total"] >= 1 and context["parts_played"] <= context["parts_total"]
        assert context["values"]["debt"] == "150.50"
        # the customer is known by the account of the campaign's list row
        assert described["caller"] == "+79130000004"
        assert "обращение" in await cli("operator", "lookup-done", code)
        assert "обращение" in await cli("operator", "info-done", code)

        async def wrapping() -> bool:
            return (await operators.get(code)).state == OperatorState.WRAP_UP

        await wait_for(wrapping, 20, "post-call work to start")
        out = await cli("operator", "wrap-up-done", code, "--class", "Об", "--summary", "долг")
        assert "обращение" in out
        await w.wait_finished(created.campaign_id, timeout=30)

        async def closed() -> Appeal | None:
            appeal = await w.service.hotline.appeals.by_uniqueid(str(event["Uniqueid"]))
            return appeal if appeal is not None and appeal.ended_at is not None else None

        appeal = await wait_for(closed, 10, "the transfer's appeal to close")
        report = await w.service.hotline.appeals.report(TUESDAY_11.date(), TUESDAY_11.date())
    assert appeal.source == "transfer" and appeal.ended_by == "operator"
    assert appeal.classification == "Об" and appeal.summary == "долг"
    assert appeal.operator_id is not None
    assert appeal.wait_s is not None and appeal.lookup_s is not None
    assert appeal.info_s is not None and appeal.wrapup_s is not None
    by_operator = report.by_operator[code]
    assert by_operator.answered == 1
    assert by_operator.metrics["lookup"].count == 1 and by_operator.metrics["wrapup"].count == 1
