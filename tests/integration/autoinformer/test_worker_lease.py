"""A worker stalled past its heartbeat lease dials nothing it claimed before
(contact_center.service_state.HeartbeatLease): by then another worker may have taken its
attempts and called their contacts. Against the session's real Asterisk; the stall is the
lease's clock jumping, as a process frozen for that long finds it on waking."""

from __future__ import annotations

import time

import pytest

from tests.integration.autoinformer.conftest import World, WorldFactory
from tests.integration.autoinformer.test_campaign_calls import TUESDAY_11, attempts_of
from tests.integration.autoinformer.test_claimed_ahead import second_wave_claimed
from tests.integration.waiting import wait_for

pytestmark = pytest.mark.integration


async def test_contacts_claimed_before_the_lease_ran_out_are_handed_back_not_dialed(
    world: WorldFactory,
) -> None:
    """Three channels, six listeners: the second three are claimed ahead while the first
    play. The lease runs out: those three are handed back and no channel is made for them,
    nothing more is claimed. A heartbeat again: each of the six is called once, to its end."""
    made: set[str] = set()
    w: World
    async with world(now=TUESDAY_11) as w:
        w.service.link.on_event("Newchannel", lambda e: made.add(str(e.get("Uniqueid", ""))))
        dialer = w.plugin.dialer
        assert dialer is not None
        lease = w.service.state.lease
        lease.renewed(lease.clock())  # serve's heartbeat (this world's service writes none)
        numbers = ["5301", "5311", "5321", "5331", "5341", "5351"]
        cid, attempts = await second_wave_claimed(w, numbers)
        first, ahead = attempts[:3], attempts[3:]
        assert not made & {a.channel_id for a in ahead}, "the second wave is not dialed yet"

        stalled_for = lease.span + 5
        lease.clock = lambda: time.monotonic() + stalled_for

        async def handed_back() -> bool:
            left = {a.id for a in await attempts_of(w, cid, counted_only=False)}
            return not left & {a.id for a in ahead}

        await wait_for(handed_back, 5, "the contacts claimed ahead, handed back")

        async def first_wave_over() -> bool:
            now = await attempts_of(w, cid, counted_only=False)
            return len(now) >= 3 and all(a.ended_at is not None for a in now[:3])

        await wait_for(first_wave_over, 60, "the first wave's end")
        passes = dialer.stats.passes

        async def three_passes_later() -> bool:
            return dialer.stats.passes >= passes + 3

        await wait_for(three_passes_later, 10, "the dialer's passes with free slots")
        assert not made & {a.channel_id for a in ahead}, "dialed after the lease ran out"
        assert len(await attempts_of(w, cid, counted_only=False)) == 3, "claimed while lapsed"
        assert {a.id for a in await attempts_of(w, cid)} == {a.id for a in first}

        lease.renewed(lease.clock())  # a heartbeat written again
        await w.wait_finished(cid, timeout=60)
        attempts = await attempts_of(w, cid)
    assert lease.lapses == 1
    assert sorted(a.phone[-4:] for a in attempts) == sorted(numbers)
    assert {a.status for a in attempts} == {"notified"}
