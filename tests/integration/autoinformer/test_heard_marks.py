"""The heard marks a campaign leaves in Asterisk's AstDB: a call with nothing after its
message is hung up as soon as its last part ends (the mark records it until the result
is stored), and each mark of a closed attempt is deleted by a later call's dialplan."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace

import pytest

from autoinformer.phone.marks import HEARD_FAMILY
from contact_center.telephony.agi import DbKey
from tests.integration.autoinformer.conftest import FAST, World, WorldFactory
from tests.integration.autoinformer.test_campaign_calls import (
    TUESDAY_11,
    attempts_of,
    csv_of,
    spec,
)

pytestmark = pytest.mark.integration

# nothing after the message: no wait for a key, no goodbye (an empty reply is none)
LAST_WORDS = """
name = "marks"
kind = "debt"
message = "Задолженность {money:debt}."
wait_digit = 0
repeats = 0
[keys]
"1" = "confirm"
[replies]
goodbye = ""
"""


@pytest.mark.parametrize("by_dialplan", [True, False], ids=["dialplan", "agi"])
async def test_every_mark_of_a_closed_attempt_is_deleted_by_a_later_call_or_waits_for_one(
    world: WorldFactory, by_dialplan: bool
) -> None:
    w: World
    config = replace(FAST, dialplan_message=by_dialplan)
    async with world(now=TUESDAY_11, config=config) as w:
        await w.scenario(LAST_WORDS, name="marks")
        created = await w.campaigns.create(
            spec("метки", scenario="marks", concurrency=1),
            list_data=csv_of("3101", "3201", "3301", "3401", "3501"),
        )
        cid = created.campaign_id
        seconds = await w.listen_through(cid)
        commands: dict[str, list[str]] = defaultdict(list)
        w.service.link.on_event(
            "AGIExecStart", lambda e: commands[str(e.get("Uniqueid"))].append(str(e.get("Command")))
        )
        await w.campaigns.start(cid)
        await w.wait_finished(cid, timeout=60)
        attempts = await attempts_of(w, cid)
        marked = [await DbKey(HEARD_FAMILY, a.channel_id).exists(w.service.link) for a in attempts]
        assert w.plugin.dialer is not None
        waiting = w.plugin.dialer.marks.take() + w.plugin.dialer.marks.take()
    assert [a.status for a in attempts] == ["notified"] * 5
    assert all(a.played_to_end for a in attempts)
    # each mark is either gone from AstDB or waiting for the next call: never both, never lost
    assert [a.channel_id in waiting for a in attempts] == marked
    # the earlier calls' marks went with the later calls
    assert marked[:3] == [False, False, False]
    assert marked[-1]
    for a in attempts:
        if by_dialplan:
            # the dialplan played the message, left the mark and hung up: no AGI at all
            assert commands[a.channel_id] == []
        else:
            # hung up as the message ended, by AMI: nothing ran on the channel after its
            # mark (no AGI DATABASE DEL, which needed the channel up until the result was
            # stored)
            assert commands[a.channel_id][-1] == f"DATABASE PUT {HEARD_FAMILY} {a.channel_id} 1"
        assert a.answered_at is not None and a.ended_at is not None
        assert (a.ended_at - a.answered_at).total_seconds() < seconds + 1.0
