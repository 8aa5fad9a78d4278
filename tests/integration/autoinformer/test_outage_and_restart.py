"""Planned outages (24-hour rule, cut-off) and restarts (nobody called twice, nothing lost)."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from autoinformer.campaigns.service import CampaignSpec
from autoinformer.exceptions import CampaignRefused
from autoinformer.models import Attempt
from autoinformer.phone.book import CallBook
from autoinformer.scheduling import retry_policy
from contact_center.telephony.ami import AmiConfig, AmiLink
from tests.integration.autoinformer.conftest import WorldFactory
from tests.integration.autoinformer.test_campaign_calls import (
    TUESDAY_11,
    attempts_of,
    csv_of,
    fast_sim,
    spec,
)
from tests.integration.conftest import AsteriskFixture
from tests.integration.waiting import wait_for

pytestmark = pytest.mark.integration

KRS = ZoneInfo("Asia/Krasnoyarsk")
OUTAGE_SCENARIO = """
name = "test-outage"
kind = "outage"
message = "Отключение {date:outage_start form=genitive year=no}."
wait_digit = 2
repeats = 0
[keys]
"1" = "confirm"
[replies]
confirmed = ""
goodbye = ""
"""


def outage_csv(outage_start: datetime, *digits: str) -> bytes:
    stamp = outage_start.astimezone(KRS).strftime("%Y-%m-%d %H:%M")
    rows = [f"+7913000{d:0>4},{stamp}" for d in digits]
    return ("phone,outage_start\n" + "\n".join(rows) + "\n").encode()


def outage_spec(outage_start: datetime, decision: datetime, **changes: Any) -> CampaignSpec:
    return replace(
        CampaignSpec(
            name="отключение",
            kind="outage",
            scenario="test-outage",
            ring_timeout=3,
            retry=retry_policy(["busy=3/30s", "no_answer=3/30s"]),
            outage_start=outage_start,
            decision_date=decision.astimezone(KRS).date(),
        ),
        **changes,
    )


async def test_outage_24_hour_and_3_day_rules(world: WorldFactory) -> None:
    async with world(now=TUESDAY_11, start_plugin=False) as w:
        await w.scenario(OUTAGE_SCENARIO, "test-outage")
        now = w.campaigns.clock.now()
        tomorrow = now + timedelta(hours=20)
        with pytest.raises(CampaignRefused, match="24 часа"):
            await w.campaigns.create(
                outage_spec(tomorrow, now), list_data=outage_csv(tomorrow, "1")
            )
        later = now + timedelta(days=5)
        with pytest.raises(CampaignRefused, match="трёх суток"):
            await w.campaigns.create(
                outage_spec(later, now - timedelta(days=4)), list_data=outage_csv(later, "1")
            )
        ok = await w.campaigns.create(
            outage_spec(later, now, end=now + timedelta(days=10)), list_data=outage_csv(later, "1")
        )
    # the end is capped at outage start - 24 h
    assert ok.end_at == later - timedelta(hours=24)


async def test_outage_cut_off_reports_not_reached_in_time(world: WorldFactory) -> None:
    async with world(now=TUESDAY_11) as w:
        await fast_sim(w)
        await w.scenario(OUTAGE_SCENARIO, "test-outage")
        now = w.campaigns.clock.now()
        outage = now + timedelta(hours=24, seconds=6)  # the cut-off is 6 s away
        created = await w.campaigns.create(
            outage_spec(outage, now), list_data=outage_csv(outage, "3", "2", "1")
        )
        await w.campaigns.start(created.campaign_id)
        st = await w.wait_finished(created.campaign_id, timeout=40)
        report = await w.campaigns.report(created.campaign_id)
        attempts = await attempts_of(w, created.campaign_id)
    got = {r.phone[-1]: (r.status, r.notified, r.attempts) for r in report.rows}
    assert got == {
        "3": ("not_reached_in_time", False, 1),
        "2": ("not_reached_in_time", False, 1),
        "1": ("notified", True, 1),
    }
    assert st.by_status == {"not_reached_in_time": 2, "notified": 1}
    assert all(a.started_at < outage - timedelta(hours=24) for a in attempts)


def overlapping(attempts: list[Attempt]) -> list[tuple[int, int]]:
    by_contact: dict[int, list[Attempt]] = {}
    for a in attempts:
        by_contact.setdefault(a.contact_id, []).append(a)
    bad = []
    for items in by_contact.values():
        items.sort(key=lambda a: a.started_at)
        for first, second in itertools.pairwise(items):
            assert first.ended_at is not None
            if second.started_at < first.ended_at:
                bad.append((first.id, second.id))
    return bad


async def test_restart_mid_campaign_calls_nobody_twice_and_loses_nothing(
    world: WorldFactory,
) -> None:
    digits = [f"1{n}01" for n in range(6)]  # six listeners (last digit 1)
    async with world(now=TUESDAY_11) as w:
        await fast_sim(w)
        await w.scenario()
        created = await w.campaigns.create(
            spec("с перезапуском", concurrency=2), list_data=csv_of(*digits)
        )
        cid = created.campaign_id
        await w.campaigns.start(cid)

        async def two_answered() -> bool:
            return sum(1 for a in await attempts_of(w, cid) if a.answered_at) >= 2

        await wait_for(two_answered, 20, "two answered calls")
        await w.plugin.stop()  # the service stops mid-campaign (calls in progress hang up)
        before = await attempts_of(w, cid, counted_only=False)
    assert before and all(a.ended_at is not None for a in before)
    # cut off mid-message by our own stop: recorded, but no retry spent on it
    assert any(a.error.startswith("interrupted") and not a.counted for a in before)

    async with world(now=TUESDAY_11 + timedelta(seconds=30)) as w2:
        await fast_sim(w2)
        await w2.wait_finished(cid, timeout=60)
        report = await w2.campaigns.report(cid)
        after = await attempts_of(w2, cid, counted_only=False)
    assert {r.status for r in report.rows} == {"notified"}
    assert all(r.attempts == 1 for r in report.rows)
    assert report.totals.attempts == sum(1 for a in after if a.counted)
    # every stored result survived; nobody had two calls at once or two positive calls
    assert {a.id for a in before} <= {a.id for a in after}
    assert overlapping(after) == []
    notified = [a.contact_id for a in after if a.status == "notified"]
    assert len(notified) == len(set(notified)) == 6


async def test_a_call_left_waiting_in_asyncagi_by_a_crash_is_driven_to_its_end(
    world: WorldFactory, asterisk: AsteriskFixture
) -> None:
    """A crashed run leaves two attempts open: one whose answered call waits in AsyncAGI
    with nobody driving it (the customer hears silence), one whose Originate never went
    out. The next start plays the first customer the message at once (one attempt,
    notified) and dials the second again without counting the attempt that never was."""
    async with world(now=TUESDAY_11, start_plugin=False) as w0:
        await w0.scenario()
        created = await w0.campaigns.create(spec("после сбоя"), list_data=csv_of("2101", "2201"))
        cid = created.campaign_id
        await w0.campaigns.start(cid)
        book = CallBook(w0.campaigns.sessions)
        plan = next(p for p in await book.active_plans() if p.id == cid)
        contacts = await book.due(cid, w0.campaigns.clock.now(), 10)
        now = w0.campaigns.clock.now()
        # what a crashed run leaves: attempts committed with their ChannelIds, still open
        claimed = await book.claim_many(plan, contacts[:2], now)
        assert [c.id for c, _attempt, _channel in claimed] == [contacts[0].id, contacts[1].id]
        live_id, dead_id = (channel_id for _c, _attempt, channel_id in claimed)
        assert live_id != dead_id
    # the live one really is answered and waiting in AsyncAGI for commands nobody sends
    link = AmiLink(AmiConfig.from_settings(asterisk.settings))
    await link.connect(timeout=10)
    started = asyncio.get_running_loop().create_future()
    link.on_event(
        "AsyncAGIStart",
        lambda e: (
            started.set_result(None)
            if e.get("Uniqueid") == live_id and not started.done()
            else None
        ),
    )
    agi_results: list[str] = []
    link.on_event(
        "AsyncAGIExec",
        lambda e: (
            agi_results.append(str(e.get("Result", ""))) if e.get("Uniqueid") == live_id else None
        ),
    )
    try:
        await link.action(
            "Originate",
            Channel=f"Local/{contacts[0].phone}@sim-customers",
            Context="autoinformer",
            Exten="s",
            Priority="1",
            Async="true",
            ChannelId=live_id,
            OtherChannelId=f"{live_id}-b",
            Timeout="4000",
        )
        await asyncio.wait_for(started, 10)
        async with world(now=TUESDAY_11) as w:
            await w.wait_finished(cid, timeout=40)
            attempts = await attempts_of(w, cid, counted_only=False)
            report = await w.campaigns.report(cid)
    finally:
        await link.close()
    by_contact: dict[int, list[Attempt]] = {}
    for a in attempts:
        by_contact.setdefault(a.contact_id, []).append(a)
    live_attempts = by_contact[contacts[0].id]
    dead_attempts = by_contact[contacts[1].id]
    # adopted and played to its end: one attempt, notified, the message's every part
    assert [(a.channel_id, a.status, a.counted) for a in live_attempts] == [
        (live_id, "notified", True)
    ]
    assert live_attempts[0].played_to_end
    assert live_attempts[0].parts_played == live_attempts[0].parts_total > 0
    assert any("endpos" in r for r in agi_results)  # the message really was streamed
    # the Originate that never went out is no attempt; the second call is the first counted
    assert next((a.channel_id, a.counted) for a in dead_attempts) == (dead_id, False)
    assert [a.status for a in dead_attempts if a.counted] == ["notified"]
    assert {r.status for r in report.rows} == {"notified"}
    assert [r.attempts for r in report.rows] == [1, 1]
    assert report.totals.attempts == sum(1 for a in attempts if a.counted)
