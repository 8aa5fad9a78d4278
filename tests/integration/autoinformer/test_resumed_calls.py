"""A call a killed `serve` was in the middle of is carried on from what was stored, not
started again: against the session's real Asterisk, `serve` killed with SIGKILL in a
subprocess and started again (tests/integration/autoinformer/test_survival.py has the
helpers and the wider kill test)."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from sqlalchemy import select

from autoinformer.models import Attempt, Campaign
from contact_center.storage.database import create_engine, session_factory
from tests.integration.autoinformer.conftest import SHORT_SCENARIO, World, WorldFactory
from tests.integration.autoinformer.test_campaign_calls import TUESDAY_11, csv_of, spec
from tests.integration.autoinformer.test_survival import kill_9, observer, start_serve
from tests.integration.waiting import wait_for

pytestmark = pytest.mark.integration

# a long announcement: the service is killed while it plays
ANNOUNCING = SHORT_SCENARIO.replace(
    'operator = ""',
    'operator = "Соединяю вас с оператором. Пожалуйста, оставайтесь на линии, '
    'оператор ответит вам через несколько секунд."',
)


async def test_a_kill_during_the_transfer_announcement_puts_the_customer_through(
    world: WorldFactory, database: str, tmp_path: Path
) -> None:
    """The customer pressed 0 and hears «соединяю с оператором» when `serve` is killed:
    the next run takes the stored key and puts them through to an operator; it does not
    play the message again (which would leave them, having pressed once, with no operator)."""
    w0: World
    async with world(now=TUESDAY_11, start_plugin=False) as w0:
        await w0.scenario(ANNOUNCING)
        created = await w0.campaigns.create(spec("объявление"), list_data=csv_of("3104"))
        cid = created.campaign_id
        await w0.campaigns.start(cid)
        settings = w0.settings
    engine = create_engine(database)
    sessions = session_factory(engine)

    async def attempt() -> Attempt | None:
        async with sessions() as session:
            return await session.scalar(select(Attempt).where(Attempt.campaign_id == cid))

    try:
        async with observer(settings) as obs:
            await obs.sim(
                SIM_CUSTOMER_PRESS_DELAY=1.0,
                SIM_OPERATOR_ANSWER_DELAY=0.3,
                SIM_OPERATOR_TALK_TIME=3,
            )
            serve = start_serve(settings, tmp_path / "serve.log")
            try:

                async def key_stored() -> Attempt | None:
                    a = await attempt()
                    return a if a is not None and a.digits == "0" else None

                await wait_for(key_stored, 60, "the 0 to be stored", every=0.02)
            finally:
                kill_9(serve)
            killed = await attempt()
            assert killed is not None
            # the kill came during the announcement: not in the queue yet, nothing decided
            assert killed.queued_at is None and not killed.callback, "killed too late"
            assert killed.ended_at is None and not killed.played_to_end
            uid = killed.channel_id
            assert uid not in obs.hangups, "the call ended with the kill"

            serve = start_serve(settings, tmp_path / "serve2.log")
            try:

                async def finished() -> bool:
                    async with sessions() as session:
                        campaign = await session.get(Campaign, cid)
                        return campaign is not None and campaign.status == "finished"

                await wait_for(finished, 60, "the campaign to finish", every=0.2)
            finally:
                serve.send_signal(signal.SIGTERM)
                try:
                    serve.wait(timeout=20)
                finally:
                    kill_9(serve)
            after = await attempt()
            connected = uid in obs.agent_complete
    finally:
        await engine.dispose()
    assert after is not None
    assert (after.status, after.transferred, after.counted) == ("transferred", True, True)
    assert "sim-operators" in after.operator
    # the same call, put through: the operator talked to the customer to the end
    assert connected
    assert after.digits == "0"
