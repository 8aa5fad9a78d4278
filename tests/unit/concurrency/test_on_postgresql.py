"""What several processes on one PostgreSQL must never do, tried with real processes
racing on a real PostgreSQL: claim a contact twice, call a number past its frequency caps
(or twice at once), hand out a journal number twice."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from autoinformer.campaigns.service import CampaignService, CampaignSpec
from autoinformer.models import Attempt, CampaignContact
from autoinformer.phone.book import CallBook
from autoinformer.phone.progress import CallProgress, CallRef
from autoinformer.plugin import AutoinformerPlugin
from autoinformer.scheduling import NO_CAPS, CallFacts, Caps
from contact_center.clock import Clock
from contact_center.hotline.appeals import AppealService
from contact_center.hotline.models import AppealSource
from contact_center.operators.models import Operator, OperatorState
from contact_center.speech.prompts import PromptCatalog
from contact_center.storage import migrate
from contact_center.storage.base import utcnow
from contact_center.storage.database import create_engine, session_factory
from tests.conftest import NewDatabase
from tests.unit.concurrency.processes import run_in_processes

PROCESSES = 4
SCENARIO = """
name = "race"
kind = "debt"
message = "Долг {money:debt}."
"""


async def _campaign(
    url: str,
    tmp_path: Path,
    contacts: int,
    caps: Caps = NO_CAPS,
    name: str = "race",
    first: int = 0,
) -> int:
    """A started campaign of `contacts` numbers (+79130000001...), listed from the
    `first`-th on (the rest after them); its id."""
    await asyncio.to_thread(migrate.upgrade, url, [AutoinformerPlugin()])
    engine = create_engine(url)
    try:
        campaigns = CampaignService(
            session_factory(engine),
            clock=Clock(),
            timezone="Asia/Krasnoyarsk",
            prompts=set(PromptCatalog.load()),
        )
        (tmp_path / "race.toml").write_text(SCENARIO, encoding="utf-8")
        await campaigns.scenarios.add_file(tmp_path / "race.toml")
        order = [(first + i) % contacts + 1 for i in range(contacts)]
        rows = "".join(f"+7913{i:07d},{i},100\n" for i in order)
        created = await campaigns.create(
            CampaignSpec(name=name, kind="debt", scenario="race", caps=caps),
            list_data=f"phone,account,debt\n{rows}".encode(),
        )
        await campaigns.start(created.campaign_id)
        return created.campaign_id
    finally:
        await engine.dispose()


async def claim_until_none_left(url: str, _index: int, campaign_id: int) -> list[int]:
    """A dialer's claiming alone: the due contacts, claimed a batch at a time, until none
    (small batches: a process that runs first must not take all 400 before the others
    are scheduled)."""
    engine = create_engine(url)
    book = CallBook(session_factory(engine))
    taken: list[int] = []
    try:
        plan = await book.plan(campaign_id)
        assert plan is not None
        while due := await book.due(campaign_id, utcnow(), 10):
            taken += [c.id for c, _attempt, _channel in await book.claim_many(plan, due, utcnow())]
    finally:
        await engine.dispose()
    return taken


def test_no_contact_is_claimed_twice_by_processes_claiming_at_once(
    pg_database: NewDatabase, tmp_path: Path
) -> None:
    # on a loaded machine one process may take everything before the others have connected:
    # a round where they did not race proves nothing, so it is run again (a fresh database)
    for round_ in range(3):
        url = pg_database(f"claims{round_}")
        campaign_id = asyncio.run(_campaign(url, tmp_path, 400))
        taken = run_in_processes(claim_until_none_left, url, PROCESSES, campaign_id)
        everyone = [cid for ids in taken for cid in ids]
        twice = [cid for cid, n in Counter(everyone).items() if n > 1]
        assert twice == []
        assert len(everyone) == 400
        if sum(1 for ids in taken if ids) >= 2:
            break
    else:
        raise AssertionError("the processes did not race in 3 rounds")

    async def stored() -> tuple[int, list[tuple[str, int]]]:
        engine = create_engine(url)
        try:
            async with session_factory(engine)() as session:
                attempts = await session.scalar(select(func.count()).select_from(Attempt))
                states = (
                    await session.execute(
                        select(CampaignContact.state, CampaignContact.attempts).distinct()
                    )
                ).all()
                return int(attempts or 0), [(str(s), int(n)) for s, n in states]
        finally:
            await engine.dispose()

    attempts, states = asyncio.run(stored())
    assert attempts == 400
    assert states == [("calling", 1)]


async def claim_answer_and_hang_up(url: str, index: int, campaign_ids: list[int]) -> int:
    """A dialer on its own campaign: each claimed call is answered and ends at once, until
    a claim takes nothing (every number capped or in another dialer's call)."""
    engine = create_engine(url)
    book = CallBook(session_factory(engine))
    calls = 0
    try:
        plan = await book.plan(campaign_ids[index])
        assert plan is not None
        while due := await book.due(plan.id, utcnow(), 10):
            claimed = await book.claim_many(plan, due, utcnow())
            if not claimed:
                break
            for contact, attempt_id, _channel in claimed:
                ref = CallRef(attempt_id, contact.id, plan.id, contact.phone, plan.kind)
                now = utcnow()
                await book.note(ref, CallProgress(parts_total=2), now, answered_at=now)
                await book.record(attempt_id, CallFacts("answered"), utcnow())
                calls += 1
    finally:
        await engine.dispose()
    return calls


def test_a_number_is_answered_no_more_than_its_cap_across_dialer_processes(
    pg_database: NewDatabase, tmp_path: Path
) -> None:
    url = pg_database("caps")
    # every process dials a campaign of its own with the same 30 numbers, one call a day,
    # each list starting elsewhere: they race for a number at the start and as they go on
    campaign_ids = [
        asyncio.run(_campaign(url, tmp_path, 30, Caps(day=1), name=f"caps-{i}", first=i * 3))
        for i in range(PROCESSES)
    ]

    calls = run_in_processes(claim_answer_and_hang_up, url, PROCESSES, campaign_ids)

    async def answered_per_number() -> Counter[str]:
        engine = create_engine(url)
        try:
            async with session_factory(engine)() as session:
                phones = await session.scalars(
                    select(Attempt.phone).where(Attempt.answered_at.is_not(None))
                )
                return Counter(phones)
        finally:
            await engine.dispose()

    per_number = asyncio.run(answered_per_number())
    assert len(per_number) == 30
    assert [p for p, n in per_number.items() if n > 1] == []
    assert sum(calls) == 30


async def register_appeals(url: str, index: int, count: int) -> list[str]:
    engine = create_engine(url)
    appeals = AppealService(session_factory(engine), ZoneInfo("Asia/Krasnoyarsk"))
    numbers: list[str] = []
    arrived = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)
    try:
        for i in range(count):
            ref = await appeals.register(
                uniqueid=f"p{index}-{i}",
                channel=f"PJSIP/trunk-{index}-{i}",
                caller_number="+79135550101",
                customer_id=None,
                arrived_at=arrived + timedelta(seconds=i),
            )
            numbers.append(ref.number)
    finally:
        await engine.dispose()
    return numbers


def test_processes_numbering_appeals_at_once_never_share_a_journal_number(
    pg_database: NewDatabase,
) -> None:
    url = pg_database("journal")
    migrate.upgrade(url)
    # no counter row for the year yet: the processes also race to create it
    numbers = run_in_processes(register_appeals, url, PROCESSES, 50)

    everyone = [n for ns in numbers for n in ns]
    assert len(everyone) == PROCESSES * 50
    assert [n for n, k in Counter(everyone).items() if k > 1] == []
    seqs = [int(n.split("-")[1]) for n in everyone]
    assert sorted(seqs) == list(range(1, PROCESSES * 50 + 1))
    # each process's own numbers rise
    for ns in numbers:
        assert ns == sorted(ns)


async def transfer_if_free(url: str, index: int, tries: int) -> int:
    """A dialer node's transfers, each registered only while an operator is free (the
    operators are on another node); how many were let through."""
    engine = create_engine(url)
    appeals = AppealService(session_factory(engine), ZoneInfo("Asia/Krasnoyarsk"))
    through = 0
    try:
        for i in range(tries):
            ref = await appeals.register_if_operator_free(
                uniqueid=f"t{index}-{i}",
                channel=f"Local/t{index}-{i}",
                caller_number="+79135550101",
                customer_id=None,
                arrived_at=datetime.now(UTC),
                source=AppealSource.TRANSFER,
            )
            through += ref is not None
    finally:
        await engine.dispose()
    return through


def test_workers_transferring_at_once_never_send_more_customers_than_free_operators(
    pg_database: NewDatabase,
) -> None:
    url = pg_database("transfers")
    migrate.upgrade(url)

    async def operators(states: list[OperatorState]) -> None:
        engine = create_engine(url)
        try:
            async with session_factory(engine)() as session, session.begin():
                for n, state in enumerate(states):
                    session.add(
                        Operator(code=f"op{n}", interface=f"PJSIP/op{n}", state=state.value)
                    )
        finally:
            await engine.dispose()

    asyncio.run(operators([OperatorState.AVAILABLE] * 2 + [OperatorState.ON_CALL]))
    through = run_in_processes(transfer_if_free, url, PROCESSES, 5)
    # 2 free operators, 20 transfers tried from 4 nodes at once
    assert sum(through) == 2


# the whole message heard: the contact is done, never claimed again
HEARD = CallFacts("answered", played_to_end=True)


async def claim_within_concurrency(
    url: str, index: int, campaign_id: int, limit: int
) -> tuple[int, int]:
    """A dialer of its own node claiming for a shared campaign of concurrency `limit`: after
    each claim it counts the campaign's open calls (every worker's), then ends a call of
    its own now and then. Returns (its claims, the most open calls it ever saw)."""
    engine = create_engine(url)
    book = CallBook(session_factory(engine), node=f"node-{index}", instance=f"w{index}")
    mine: list[int] = []
    most = claims = 0
    try:
        plan = await book.plan(campaign_id)
        assert plan is not None
        while due := await book.due(campaign_id, utcnow(), 5):
            claimed = await book.claim_many(plan, due, utcnow(), limit=limit)
            claims += len(claimed)
            mine += [attempt_id for _c, attempt_id, _ch in claimed]
            async with session_factory(engine)() as session:
                open_now = await session.scalar(
                    select(func.count())
                    .select_from(Attempt)
                    .where(Attempt.campaign_id == campaign_id, Attempt.ended_at.is_(None))
                )
            most = max(most, int(open_now or 0))
            if mine and (not claimed or len(mine) > 1):
                await book.record(mine.pop(0), HEARD, utcnow())
            await asyncio.sleep(0)
        for attempt_id in mine:
            await book.record(attempt_id, HEARD, utcnow())
    finally:
        await engine.dispose()
    return claims, most


def test_a_campaigns_concurrency_holds_across_workers(
    pg_database: NewDatabase, tmp_path: Path
) -> None:
    url = pg_database("concurrency")
    campaign_id = asyncio.run(_campaign(url, tmp_path, 120))
    results = run_in_processes(claim_within_concurrency, url, PROCESSES, campaign_id, 3)
    assert sum(claims for claims, _most in results) == 120
    # each worker alone would have held 3 of its own: together never more than 3
    assert max(most for _claims, most in results) <= 3
    assert sum(1 for claims, _most in results if claims) >= 2, results


def test_a_worker_adopts_its_nodes_calls_and_a_dead_workers_only_once_over_there(
    any_database: NewDatabase, tmp_path: Path
) -> None:
    url = any_database("takeover")
    campaign_id = asyncio.run(_campaign(url, tmp_path, 4))

    async def scene() -> dict[str, list[Any]]:
        engine = create_engine(url)
        sessions = session_factory(engine)
        a = CallBook(sessions, node="node-a", instance="host-a:1")
        b = CallBook(sessions, node="node-b", instance="host-b:2")
        try:
            plan = await a.plan(campaign_id)
            assert plan is not None
            due = await a.due(campaign_id, utcnow(), 4)
            on_a = [i for _c, i, _ch in await a.claim_many(plan, due[:2], utcnow())]
            on_b = [i for _c, i, _ch in await b.claim_many(plan, due[2:], utcnow())]
            now = utcnow()
            hour = timedelta(hours=1)
            seen: dict[str, list[Any]] = {}
            # A restarts (a new process) while B lives: A's node's calls only
            a2 = CallBook(sessions, node="node-a", instance="host-a:3")
            seen["restart"] = [x.id for x in await a2.take_over(now, alive={"host-b:2"})]
            # B's calls are another node's: not while B lives, nor before they must have
            # ended, then once, to one worker
            seen["b alive"] = [
                x.id for x in await a2.take_over(now, alive={"host-b:2"}, ended_by=-hour)
            ]
            seen["too soon"] = [x.id for x in await a2.take_over(now, alive=(), ended_by=hour)]
            # what to ask B's node about: nothing while B lives, then B's open calls
            seen["ask b alive"] = [
                x for x, _ch, _i in await a2.dead_workers_calls(alive={"host-b:2"})
            ]
            asked = await a2.dead_workers_calls(alive=())
            seen["ask"] = [x for x, _ch, _i in asked]
            seen["placed by"] = sorted({i for _x, _ch, i in asked})
            # B's node no longer has the first call: that one is taken before its time
            seen["gone there"] = [
                x.id for x in await a2.take_over(now, alive=(), ended_by=hour, ended={on_b[0]})
            ]
            seen["ended"] = [x.id for x in await a2.take_over(now, alive=(), ended_by=-hour)]
            c = CallBook(sessions, node="node-c", instance="host-c:4")
            seen["again"] = [
                x.id for x in await c.take_over(now, alive={"host-a:3"}, ended_by=-hour)
            ]
            seen["on_a"], seen["on_b"] = on_a, on_b
            return seen
        finally:
            await engine.dispose()

    seen = asyncio.run(scene())
    assert seen["restart"] == seen["on_a"]
    assert seen["b alive"] == [] and seen["too soon"] == []
    assert seen["ask b alive"] == [] and seen["ask"] == seen["on_b"]
    assert seen["placed by"] == ["host-b:2"]
    assert seen["gone there"] == seen["on_b"][:1]
    assert seen["ended"] == seen["on_b"][1:]
    # every open call is a2's now, and a2 lives: a third worker takes none
    assert seen["again"] == []


def test_claims_ahead_hold_no_slot_until_a_call_that_ends_hands_them_its_own(
    pg_database: NewDatabase, tmp_path: Path
) -> None:
    """Concurrency 2: worker A claims two to dial and two ahead; worker B then finds no
    room (A's claims ahead are not counted, A's calls are). A's first call ends and hands
    its slot to a claim ahead in the write that closes it: the count stays at 2, and B
    still finds no room; once A's other call ends with nobody to take its slot, B does."""
    url = pg_database("ahead")
    campaign_id = asyncio.run(_campaign(url, tmp_path, 8))

    async def scene() -> dict[str, Any]:
        engine = create_engine(url)
        sessions = session_factory(engine)
        a = CallBook(sessions, node="node-a", instance="w-a")
        b = CallBook(sessions, node="node-b", instance="w-b")

        async def counted() -> tuple[int, int]:
            async with sessions() as session:
                rows = (
                    await session.execute(
                        select(Attempt.ahead, func.count())
                        .where(Attempt.campaign_id == campaign_id, Attempt.ended_at.is_(None))
                        .group_by(Attempt.ahead)
                    )
                ).all()
            by_kind = {bool(ahead): int(n) for ahead, n in rows}
            return by_kind.get(False, 0), by_kind.get(True, 0)

        seen: dict[str, Any] = {}
        try:
            plan = await a.plan(campaign_id)
            assert plan is not None
            due = await a.due(campaign_id, utcnow(), 8)
            now_a, ahead_a = await a.claim_wave(plan, due[:5], utcnow(), limit=2, ahead=2)
            seen["a"] = (len(now_a), len(ahead_a))
            seen["after a"] = await counted()
            now_b, ahead_b = await b.claim_wave(plan, due[5:], utcnow(), limit=2, ahead=0)
            seen["b"] = (len(now_b), len(ahead_b))
            first, second = (attempt_id for _c, attempt_id, _ch in now_a)
            successor = ahead_a[0][1]
            a.hand_over(first, successor)
            await a.record(first, HEARD, utcnow())
            seen["handed"] = await counted()
            async with sessions() as session:
                stored = await session.get(Attempt, successor)
                seen["successor ahead"] = stored.ahead if stored else None
            seen["b again"] = len(await b.claim_many(plan, due[5:], utcnow(), limit=2))
            await a.record(second, HEARD, utcnow())
            seen["b at last"] = len(await b.claim_many(plan, due[5:], utcnow(), limit=2))
            seen["end"] = await counted()
        finally:
            await engine.dispose()
        return seen

    seen = asyncio.run(scene())
    assert seen["a"] == (2, 2)
    assert seen["after a"] == (2, 2)  # (counted, ahead)
    assert seen["b"] == (0, 0)
    assert seen["handed"] == (2, 1)
    assert seen["successor ahead"] is False
    assert seen["b again"] == 0
    assert seen["b at last"] == 1
    assert seen["end"] == (2, 1)


def test_a_worker_claims_to_dial_now_only_what_its_own_slots_take(
    pg_database: NewDatabase, tmp_path: Path
) -> None:
    """Concurrency 4 over two workers; worker A's node has two slots free and wants three
    more ahead: it claims two to dial and three ahead, so worker B still finds room for
    two (a claim A cannot dial now would hold a slot B could use)."""
    url = pg_database("own_slots")
    campaign_id = asyncio.run(_campaign(url, tmp_path, 8))

    async def scene() -> tuple[tuple[int, int], tuple[int, int]]:
        engine = create_engine(url)
        sessions = session_factory(engine)
        a = CallBook(sessions, node="node-a", instance="w-a")
        b = CallBook(sessions, node="node-b", instance="w-b")
        try:
            plan = await a.plan(campaign_id)
            assert plan is not None
            due = await a.due(campaign_id, utcnow(), 8)
            now_a, ahead_a = await a.claim_wave(plan, due[:5], utcnow(), limit=4, ahead=3)
            now_b, ahead_b = await b.claim_wave(plan, due[5:7], utcnow(), limit=4, ahead=0)
        finally:
            await engine.dispose()
        return (len(now_a), len(ahead_a)), (len(now_b), len(ahead_b))

    assert asyncio.run(scene()) == ((2, 3), (2, 0))
