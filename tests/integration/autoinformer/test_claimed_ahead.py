"""The next wave of a campaign's contacts is claimed while the calls it will follow still
play (autoinformer/phone/dialer.py `_reserve_size`): calls that start together end
together, and the first wave's ends, with no earlier end to size the reserve by, used to
wait for claims made as they came. Against the session's real Asterisk."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from tests.integration.autoinformer.conftest import FAST, World, WorldFactory
from tests.integration.autoinformer.test_campaign_calls import (
    TUESDAY_11,
    attempts_of,
    csv_of,
    spec,
)
from tests.integration.waiting import wait_for

pytestmark = pytest.mark.integration

# about 9 s: the first wave's next contacts are claimed ahead as it nears its end (within
# RESERVE_TTL - 2 s), so a wave's last seconds are the window the tests look in
AHEAD_MESSAGE = "Задолженность по лицевому счёту {number:account} составляет {money:debt}."
AHEAD_SCENARIO = f"""
name = "test-ahead"
kind = "debt"
message = "{AHEAD_MESSAGE}"
wait_digit = 0
repeats = 0
[keys]
"1" = "confirm"
[replies]
confirmed = ""
"""


async def second_wave_claimed(w: World, numbers: list[str]) -> tuple[int, list[Any]]:
    """A campaign of `numbers` (six) at three channels, started; once the second three are
    claimed: its id and its six attempts, in claim order."""
    await w.scenario(AHEAD_SCENARIO, "test-ahead")
    created = await w.campaigns.create(
        spec("впрок", scenario="test-ahead", concurrency=3), list_data=csv_of(*numbers)
    )
    cid = created.campaign_id
    await w.campaigns.start(cid)

    async def claimed() -> list[Any] | None:
        attempts = await attempts_of(w, cid, counted_only=False)
        return attempts if len(attempts) == 6 else None

    return cid, await wait_for(claimed, 20, "the second wave's claim")


async def test_the_second_wave_is_claimed_before_the_first_ends(world: WorldFactory) -> None:
    """Three channels, six listeners: the three calls after the first ones are claimed
    (their attempts and ChannelIds committed) while the first three still play, and each
    of the six is called once, to its end."""
    ended: set[str] = set()
    w: World
    async with world(now=TUESDAY_11) as w:
        w.service.link.on_event("Hangup", lambda e: ended.add(str(e.get("Uniqueid", ""))))
        numbers = ["5101", "5111", "5121", "5131", "5141", "5151"]
        cid, attempts = await second_wave_claimed(w, numbers)
        # three channels: the second wave could only be dialed once calls of the first end
        assert not ended & {a.channel_id for a in attempts}, "claimed only as the first ended"
        await w.wait_finished(cid, timeout=60)
        attempts = await attempts_of(w, cid)
    assert sorted(a.phone[-4:] for a in attempts) == sorted(numbers)
    assert {a.status for a in attempts} == {"notified"}
    # each call starts when it is dialed, not when it was claimed: the second three were
    # dialed as the first ended, and last as long (the same message, heard whole)
    first, second = attempts[:3], attempts[3:]
    first_end = min(a.ended_at for a in first if a.ended_at is not None)
    assert min(a.started_at for a in second) >= first_end - timedelta(seconds=0.5)
    assert max(a.duration for a in second) < min(a.duration for a in first) + 1.0


async def test_a_campaign_started_on_the_console_is_dialed_at_once(
    world: WorldFactory,
) -> None:
    """The dialer's passes are a minute apart here: a start made in this process (the
    web console's button) is dialed now, not at the next pass."""
    slow = replace(FAST, tick=60.0)
    w: World
    async with world(now=TUESDAY_11, config=slow) as w:
        dialer = w.plugin.dialer
        assert dialer is not None
        await w.scenario(AHEAD_SCENARIO, "test-ahead")
        created = await w.campaigns.create(
            spec("сразу", scenario="test-ahead", concurrency=1), list_data=csv_of("5201")
        )
        cid = created.campaign_id

        async def started_up() -> bool:
            return dialer.stats.passes >= 1  # the next pass would come in a minute

        await wait_for(started_up, 10, "the dialer's first pass")
        await w.campaigns.start(cid)

        async def answered() -> bool:
            attempts = await attempts_of(w, cid)
            return bool(attempts and attempts[0].answered_at)

        # its phrases are synthesized first (a pass of their own when they are ready)
        await wait_for(answered, 30, "the first call, answered")
        assert dialer.stats.passes >= 2
