"""Campaign calls on the sim world: statuses, attempts, operators, opt-outs, caps."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from autoinformer.campaigns.service import CampaignSpec
from autoinformer.models import Attempt, CampaignContact
from autoinformer.reports import ReportRow
from autoinformer.scheduling import Caps, Retry, retry_policy
from contact_center.hotline.models import Appeal
from tests.integration.autoinformer.conftest import World, WorldFactory
from tests.integration.waiting import wait_for

pytestmark = pytest.mark.integration

KRS = ZoneInfo("Asia/Krasnoyarsk")
TUESDAY_11 = datetime(2026, 12, 1, 11, 0, tzinfo=KRS)
FAST_RETRY = retry_policy(["busy=2/1s", "no_answer=2/1s", "failed=2/1s", "hung_up=2/1s"])
NO_CAPS = Caps()  # no frequency caps: the tests call the same numbers again and again


def csv_of(*digits: str, debt: str = "150,50") -> bytes:
    rows = [f'+7913000{d:0>4},{1000 + i},"{debt}"' for i, d in enumerate(digits)]
    return ("phone,account,debt\n" + "\n".join(rows) + "\n").encode()


def spec(
    name: str = "t",
    *,
    kind: str = "debt",
    scenario: str = "test-debt",
    concurrency: int = 10,
    retry: Mapping[str, Retry] = FAST_RETRY,
    caps: Caps | None = NO_CAPS,
    end: datetime | None = None,
) -> CampaignSpec:
    return CampaignSpec(
        name=name,
        kind=kind,
        scenario=scenario,
        concurrency=concurrency,
        ring_timeout=3,
        retry=retry,
        caps=caps,
        end=end,
    )


async def fast_sim(w: World) -> None:
    await w.sim(
        SIM_CUSTOMER_PRESS_DELAY=0.5,
        SIM_CUSTOMER_HANGUP_AFTER=0.4,
        SIM_CUSTOMER_BUSY_TIME=1,
        SIM_OPERATOR_ANSWER_DELAY=0.3,
        SIM_OPERATOR_TALK_TIME=1,
    )


async def test_mixed_list_runs_to_completion_with_right_statuses(world: WorldFactory) -> None:
    w: World  # the factory is typed to give Any: this keeps the test's body type-checked
    async with world(now=TUESDAY_11) as w:
        await fast_sim(w)
        await w.scenario()
        created = await w.campaigns.create(spec(), list_data=csv_of(*"12345678"))
        await w.listen_through(created.campaign_id)
        await w.campaigns.start(created.campaign_id)
        st = await w.wait_finished(created.campaign_id, timeout=60)
        # a transfer counts as notified once the operator confirms it (the sim operator
        # finishes post-call work by themself a second after the call)
        await wait_for(lambda: operator_confirmed(w), 20, "the operator's post-call work")
        report = await w.campaigns.report(created.campaign_id)
    got = {r.phone[-1]: (r.status, r.notified, r.attempts) for r in report.rows}
    assert got == {
        "1": ("notified", True, 1),
        "2": ("busy", False, 2),
        "3": ("no_answer", False, 2),
        "4": ("transferred", True, 1),
        "5": ("notified", True, 1),
        "6": ("hung_up", False, 2),
        "7": ("failed", False, 2),
        "8": ("opted_out", True, 1),
    }
    # every call of each contact, first to last, with its result and the keys pressed
    calls = {r.phone[-1]: [(c.result, c.keys) for c in r.calls] for r in report.rows}
    assert calls["2"] == [("busy", ""), ("busy", "")]
    assert calls["1"] == [("notified", "")] and calls["8"] == [("opted_out", "9")]
    assert sum(len(v) for v in calls.values()) == 12
    t = report.totals
    assert (t.contacts, t.attempts, t.notified, t.transferred, t.opted_out) == (8, 12, 4, 1, 1)
    assert t.answered == sum(r.answered for r in report.rows) == 6
    assert st.status == "finished" and st.calling == 0 and st.waiting == 0


async def operator_confirmed(w: World) -> bool:
    async with w.campaigns.sessions() as session:
        done = await session.scalar(
            select(Appeal.id).where(Appeal.source == "transfer", Appeal.wrapup_done_at.is_not(None))
        )
    return done is not None


async def attempts_of(w: World, campaign_id: int, *, counted_only: bool = True) -> list[Attempt]:
    """The campaign's attempts as reports count them; `counted_only=False` adds the ones
    that were not attempts (an Originate that never reached Asterisk)."""
    query = select(Attempt).where(Attempt.campaign_id == campaign_id)
    if counted_only:
        query = query.where(Attempt.counted.is_(True))
    async with w.campaigns.sessions() as session:
        return list(await session.scalars(query.order_by(Attempt.id)))


async def test_zero_reaches_a_sim_operator_with_the_context_attached(world: WorldFactory) -> None:
    w: World
    async with world(now=TUESDAY_11) as w:
        await fast_sim(w)
        await w.sim(SIM_OPERATOR_TALK_TIME=3)
        await w.scenario()
        created = await w.campaigns.create(spec("с оператором"), list_data=csv_of("4"))
        link = w.service.link
        connect = asyncio.ensure_future(link.wait_event("AgentConnect", timeout=30))
        await w.campaigns.start(created.campaign_id)
        event = await connect
        # the operator's leg carries what the call was about
        operator_leg = str(event["DestChannel"])
        context = {}
        for name in ("CC_SOURCE", "CC_CAMPAIGN", "CC_CONTACT", "CC_SCENARIO", "CC_PLAYED"):
            reply = await link.action("Getvar", Channel=operator_leg, Variable=name)
            context[name] = str(reply.get("Value", ""))
        await w.wait_finished(created.campaign_id, timeout=30)
        attempts = await attempts_of(w, created.campaign_id)
        report = await w.campaigns.report(created.campaign_id)
    assert context["CC_SOURCE"] == "autoinformer"
    assert context["CC_CAMPAIGN"] == str(created.campaign_id)
    assert context["CC_CONTACT"] == str(attempts[0].contact_id)
    assert context["CC_SCENARIO"] == "test-debt"
    assert context["CC_PLAYED"].endswith(f"/{attempts[0].parts_total}")
    assert [(a.transferred, a.digits) for a in attempts] == [(True, "0")]
    assert "sim-operators" in attempts[0].operator
    assert report.rows[0].status == "transferred"


async def test_no_free_operator_means_busy_message_and_call_back(world: WorldFactory) -> None:
    w: World
    async with world(now=TUESDAY_11) as w:
        await fast_sim(w)
        await w.scenario()
        link = w.service.link
        members = [f"Local/{n}@sim-operators/n" for n in range(1, w.settings.sim_operators + 1)]
        for member in members:
            await link.action("QueuePause", Queue="operators", Interface=member, Paused="true")
        try:
            created = await w.campaigns.create(spec("без операторов"), list_data=csv_of("4"))
            await w.campaigns.start(created.campaign_id)
            await w.wait_finished(created.campaign_id, timeout=30)
        finally:
            for member in members:
                await link.action("QueuePause", Queue="operators", Interface=member, Paused="false")
        report = await w.campaigns.report(created.campaign_id)
        attempts = await attempts_of(w, created.campaign_id)
    row = report.rows[0]
    assert (row.status, row.callback, row.attempts) == ("callback", True, 1)
    assert report.totals.callback == 1
    assert not attempts[0].transferred and attempts[0].callback


async def test_nine_opts_out_and_the_next_campaign_of_that_kind_leaves_the_contact_out(
    world: WorldFactory,
) -> None:
    w: World
    async with world(now=TUESDAY_11) as w:
        await fast_sim(w)
        await w.scenario()
        first = await w.campaigns.create(spec("первая"), list_data=csv_of("8", "1"))
        await w.listen_through(first.campaign_id)
        await w.campaigns.start(first.campaign_id)
        await w.wait_finished(first.campaign_id, timeout=30)
        report = await w.campaigns.report(first.campaign_id)
        second = await w.campaigns.create(spec("вторая"), list_data=csv_of("8", "1", "5"))
        # another kind of notice still reaches the customer
        reminder = await w.campaigns.create(
            spec("напоминание", kind="reminder", scenario="reminder"),
            list_data=b"phone,account\n+79130000008,1000\n",
        )
    statuses = {r.phone[-1]: (r.status, r.notified) for r in report.rows}
    assert statuses == {"8": ("opted_out", True), "1": ("notified", True)}
    assert second.contacts == 2
    assert [n.line for n in second.parsed.opted_out] == [2]
    assert "отказался" in str(second.parsed.opted_out[0])
    assert reminder.contacts == 1


async def test_frequency_cap_holds_a_second_debt_call_the_same_day(world: WorldFactory) -> None:
    w: World
    async with world(now=TUESDAY_11) as w:
        await fast_sim(w)
        await w.scenario()
        first = await w.campaigns.create(spec("утро"), list_data=csv_of("1"))
        await w.campaigns.start(first.campaign_id)
        await w.wait_finished(first.campaign_id, timeout=30)
        # default caps for debt notices: 1 answered call a day, 2 a week, 8 a month
        second = await w.campaigns.create(spec("вечер", caps=None), list_data=csv_of("1"))
        await w.campaigns.start(second.campaign_id)

        async def capped() -> ReportRow | None:
            row = (await w.campaigns.report(second.campaign_id)).rows[0]
            return row if row.status == "waiting" and "сутки" in row.note else None

        row = await wait_for(capped, 15, "the contact to wait for the daily cap")
        st = await w.campaigns.status(second.campaign_id)
        await w.campaigns.cancel(second.campaign_id)
    assert row.attempts == 0
    assert st.waiting_reasons == {"cap_day": 1}


async def test_calling_window_closes_at_22_local_time(world: WorldFactory) -> None:
    evening = datetime(2026, 12, 1, 21, 59, 57, tzinfo=KRS)  # a Tuesday, a working day
    w: World
    async with world(now=evening) as w:
        await fast_sim(w)
        await w.scenario()
        created = await w.campaigns.create(spec("вечер", concurrency=1), list_data=csv_of("1", "5"))
        await w.campaigns.start(created.campaign_id)

        async def deferred() -> Sequence[ReportRow] | None:
            rows = (await w.campaigns.report(created.campaign_id)).rows
            return rows if rows[1].note.startswith("вне окна") and rows[0].attempts else None

        rows = await wait_for(deferred, 30, "the second contact to wait for the window")
        async with w.campaigns.sessions() as session:
            contact = await session.scalar(
                select(CampaignContact).where(CampaignContact.phone == "79130000005")
            )
        await w.campaigns.cancel(created.campaign_id)
    assert rows[1].attempts == 0
    assert contact is not None and contact.next_attempt_at is not None
    assert contact.next_attempt_at.astimezone(KRS) == datetime(2026, 12, 2, 8, 0, tzinfo=KRS)


async def test_end_time_is_respected(world: WorldFactory) -> None:
    w: World
    async with world(now=TUESDAY_11) as w:
        await fast_sim(w)
        await w.scenario()
        end = w.campaigns.clock.now() + timedelta(seconds=6)
        created = await w.campaigns.create(
            spec(
                "до срока",
                concurrency=1,
                end=end,
                retry=retry_policy(["no_answer=3/30s"]),
            ),
            list_data=csv_of("3", "1", "5"),
        )
        await w.campaigns.start(created.campaign_id)
        await w.wait_finished(created.campaign_id, timeout=40)
        report = await w.campaigns.report(created.campaign_id)
        attempts = await attempts_of(w, created.campaign_id)
    got = {r.phone[-1]: (r.status, r.attempts) for r in report.rows}
    # the retry would fall after the end; the third contact was never reached in time
    assert got == {"3": ("no_answer", 1), "1": ("notified", 1), "5": ("not_reached_in_time", 0)}
    assert all(a.started_at < end for a in attempts)
