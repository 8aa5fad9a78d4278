"""A campaign's phrases are rendered ahead of its start, as it is created or while it
waits for its scheduled start: at its start its first calls go out at once, not after the
synthesis of every amount it reads out."""

from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import timedelta

import pytest

from autoinformer.phone.prerender import contact_values
from tests.integration.autoinformer.conftest import World, WorldFactory
from tests.integration.autoinformer.test_campaign_calls import TUESDAY_11, attempts_of, spec
from tests.integration.waiting import wait_for

pytestmark = pytest.mark.integration


async def unrendered(w: World, campaign_id: int) -> int:
    """The campaign's waiting contacts whose message is not on disk yet, all parts."""
    campaign = await w.campaigns.get(campaign_id)
    scenario = await w.campaigns.scenarios.by_id(campaign.scenario_id)
    missing = 0
    async for contact in w.plugin.book.waiting(campaign_id):
        values = contact_values(contact)
        if w.service.speech.render_ready(scenario.message_for(values), values) is None:
            missing += 1
    return missing


def fresh_list() -> bytes:
    """Three contacts with amounts no earlier test rendered: the synthesis is theirs."""
    debts = [f"{secrets.randbelow(900_000) + 100_000},{n:02d}" for n in range(3)]
    rows = [f'+7913001{i:04d},{2000 + i},"{debt}"' for i, debt in enumerate(debts)]
    return ("phone,account,debt\n" + "\n".join(rows) + "\n").encode()


async def test_a_created_campaign_is_rendered_before_anyone_starts_it(
    world: WorldFactory,
) -> None:
    async with world(now=TUESDAY_11) as w:
        await w.scenario()
        created = await w.campaigns.create(spec(), list_data=fresh_list())

        async def rendered() -> bool:
            return await unrendered(w, created.campaign_id) == 0

        await wait_for(rendered, 60, "the new campaign's phrases")
        assert await attempts_of(w, created.campaign_id, counted_only=False) == []
        assert (await w.campaigns.get(created.campaign_id)).status == "created"


async def test_a_scheduled_campaign_is_rendered_before_its_start_and_not_called(
    world: WorldFactory,
) -> None:
    # created before the dialer started (or by the CLI, another process): the dialer first
    # sees it when it is started, an hour before its start time
    async with world(now=TUESDAY_11, start_plugin=False) as w:
        await w.scenario()
        created = await w.campaigns.create(
            replace(spec(), start=TUESDAY_11 + timedelta(hours=1)), list_data=fresh_list()
        )
        await w.service.start_parts()
        assert await unrendered(w, created.campaign_id) == 3
        await w.campaigns.start(created.campaign_id)

        async def rendered() -> bool:
            return await unrendered(w, created.campaign_id) == 0

        await wait_for(rendered, 60, "the scheduled campaign's phrases")
        # nobody was called before the campaign's start
        assert await attempts_of(w, created.campaign_id, counted_only=False) == []
        status = await w.campaigns.status(created.campaign_id)
        assert not status.finished
