"""A campaign call in AGI lives on a lease its driver renews (autoinformer/phone/lease.py):
a call driven by a live service is never cut by it, and a customer whose `serve` died in
the wait for a key hears a goodbye and is hung up within the lease, not left in silence
until the hard limit (15 minutes). Against the session's real Asterisk; the kill is a
SIGKILL of a `serve` subprocess (helpers: test_survival)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from autoinformer.phone.lease import DRIVERLESS_EVENT, renewal
from contact_center.storage.database import create_engine, session_factory
from tests.integration.autoinformer.conftest import SHORT_SCENARIO, World, WorldFactory
from tests.integration.autoinformer.test_campaign_calls import (
    TUESDAY_11,
    attempts_of,
    csv_of,
    spec,
)
from tests.integration.autoinformer.test_resumed_calls import _attempts
from tests.integration.autoinformer.test_survival import (
    kill_9,
    observer,
    serve_until_finished,
    start_serve,
)
from tests.integration.waiting import wait_for

pytestmark = pytest.mark.integration

# the wait for a key is far longer than the lease: only renewals keep the call alive
LONG_WAIT = SHORT_SCENARIO.replace("wait_digit = 2", "wait_digit = 6")


class Ends:
    """When each call entered AGI, was told it had no driver, and hung up (monotonic)."""

    def __init__(self) -> None:
        self.entered: dict[str, float] = {}
        self.driverless: dict[str, float] = {}
        self.hangups: dict[str, float] = {}

    def on(self, event: Any) -> None:
        name, uid = str(event.get("Event", "")), str(event.get("Uniqueid", ""))
        now = time.monotonic()
        if name == "AsyncAGIStart":
            self.entered.setdefault(uid, now)
        elif name == "UserEvent" and event.get("UserEvent") == DRIVERLESS_EVENT:
            self.driverless.setdefault(uid, now)
        elif name == "Hangup":
            self.hangups.setdefault(uid, now)


def test_a_renewal_grants_the_lease_but_never_past_the_hard_limit() -> None:
    assert renewal(60, until=1000.0, now=100.0) == 60
    assert renewal(60, until=130.5, now=100.0) == 30
    # never 0: that would lift the bound altogether
    assert renewal(60, until=100.2, now=100.0) == 1
    assert renewal(60, until=90.0, now=100.0) == 1


async def test_a_driven_call_outlives_its_lease_many_times_over(world: WorldFactory) -> None:
    """A lease of 2 s, a wait for a key of 6 s: the live service renews the bound and the
    customer gets the whole wait; nothing says the call lost its driver."""
    ends = Ends()
    w: World
    async with world(now=TUESDAY_11, settings={"driven_lease": 2.0}) as w:
        w.service.link.on_event("*", ends.on)
        await w.scenario(LONG_WAIT)
        created = await w.campaigns.create(spec("аренда"), list_data=csv_of("4001"))
        await w.campaigns.start(created.campaign_id)
        await w.wait_finished(created.campaign_id, timeout=60)
        [attempt] = await attempts_of(w, created.campaign_id)
        dialer = w.plugin.dialer
        assert dialer is not None
        renewals = dialer.leases.renewals
    uid = attempt.channel_id
    assert attempt.status == "notified" and attempt.played_to_end
    assert ends.hangups[uid] - ends.entered[uid] >= 6.0
    assert uid not in ends.driverless
    assert renewals >= 3


async def test_a_customer_whose_serve_died_in_the_key_wait_hears_goodbye_within_the_lease(
    world: WorldFactory, database: str, tmp_path: Path
) -> None:
    """`serve` (lease 3 s) killed as its call enters AGI after the message: Asterisk takes
    the call to `T` (CCDriverless, the goodbye) and hangs up within the lease, where it
    used to wait in silence for CC_CALL_HARD_LIMIT. The next run closes the attempt: the
    message was heard (its mark), notified once, nobody called again."""
    w0: World
    async with world(now=TUESDAY_11, start_plugin=False) as w0:
        await w0.scenario(LONG_WAIT)
        created = await w0.campaigns.create(spec("без водителя"), list_data=csv_of("4001"))
        cid, settings = created.campaign_id, w0.settings
        await w0.campaigns.start(cid)
    engine = create_engine(database)
    sessions: async_sessionmaker[AsyncSession] = session_factory(engine)
    ends = Ends()
    try:
        async with observer(settings) as obs:
            obs.link.on_event("*", ends.on)
            serve = start_serve(settings, tmp_path / "serve.log", {"CC_DRIVEN_LEASE": "3"})
            try:

                async def in_agi() -> bool:
                    return bool(ends.entered)

                await wait_for(in_agi, 60, "the call to enter AGI", every=0.005)
            finally:
                kill_9(serve)
            killed = time.monotonic()
            [uid] = list(ends.entered)

            async def hung_up() -> bool:
                return uid in ends.hangups

            await wait_for(hung_up, 30, "Asterisk to end the driverless call")
            await serve_until_finished(settings, tmp_path / "serve2.log", sessions, cid)
            after = await _attempts(sessions, cid)
    finally:
        await engine.dispose()
    assert uid in ends.driverless
    # the lease (3 s, renewed as the call entered AGI at the latest) and the goodbye (~2 s)
    assert ends.driverless[uid] - killed <= 3.0 + 1.5
    assert ends.hangups[uid] - killed <= 3.0 + 1.5 + 4.0
    [a] = after
    assert (a.channel_id, a.counted, a.status, a.played_to_end) == (uid, True, "notified", True)
