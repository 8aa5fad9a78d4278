"""A call a killed `serve` was in the middle of is carried on from what was stored, not
started again: against the session's real Asterisk, `serve` killed with SIGKILL in a
subprocess and started again (tests/integration/autoinformer/test_survival.py has the
helpers and the wider kill test)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import unquote

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from autoinformer.models import Attempt
from autoinformer.phone.book import CallBook
from autoinformer.phone.prerender import contact_values
from contact_center.settings import Settings
from contact_center.storage.database import create_engine, session_factory
from tests.integration.autoinformer.conftest import SHORT_SCENARIO, World, WorldFactory
from tests.integration.autoinformer.test_campaign_calls import (
    TUESDAY_11,
    attempts_of,
    csv_of,
    spec,
)
from tests.integration.autoinformer.test_survival import (
    AgiCommands,
    Observer,
    kill_9,
    kill_as_last_part_starts,
    observer,
    serve_until_finished,
    start_serve,
)
from tests.integration.waiting import wait_for

pytestmark = pytest.mark.integration

# a long announcement: the service is killed while it plays
ANNOUNCING = SHORT_SCENARIO.replace(
    'operator = ""',
    'operator = "Соединяю вас с оператором. Пожалуйста, оставайтесь на линии, '
    'оператор ответит вам через несколько секунд."',
)


async def _started_campaign(
    world: WorldFactory, name: str, number: str, scenario: str | None = None
) -> tuple[int, Settings]:
    """A campaign of one contact, started, in the world's database; the world's settings
    for the `serve` processes a test starts."""
    w0: World
    async with world(now=TUESDAY_11, start_plugin=False) as w0:
        await (w0.scenario(scenario) if scenario is not None else w0.scenario())
        created = await w0.campaigns.create(spec(name), list_data=csv_of(number))
        await w0.campaigns.start(created.campaign_id)
        return created.campaign_id, w0.settings


async def _attempts(sessions: async_sessionmaker[AsyncSession], cid: int) -> list[Attempt]:
    async with sessions() as session:
        rows = await session.scalars(
            select(Attempt).where(Attempt.campaign_id == cid).order_by(Attempt.id)
        )
        return list(rows)


async def test_a_kill_during_the_transfer_announcement_puts_the_customer_through(
    world: WorldFactory, database: str, tmp_path: Path
) -> None:
    """The customer pressed 0 and hears «соединяю с оператором» when `serve` is killed:
    the next run takes the stored key and puts them through to an operator; it does not
    play the message again (which would leave them, having pressed once, with no operator)."""
    cid, settings = await _started_campaign(world, "объявление", "3104", ANNOUNCING)
    engine = create_engine(database)
    sessions = session_factory(engine)

    async def attempt() -> Attempt | None:
        return next(iter(await _attempts(sessions, cid)), None)

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

            await serve_until_finished(settings, tmp_path / "serve2.log", sessions, cid)
            after = await attempt()

            async def talked() -> bool:
                return uid in obs.agent_complete

            # the observer's own link may read the queue's AgentComplete a moment after the
            # service closed the attempt: waited for, still required
            connected = await wait_for(talked, 10, "the operator's talk with the customer to end")
    finally:
        await engine.dispose()
    assert after is not None
    assert (after.status, after.transferred, after.counted) == ("transferred", True, True)
    assert "sim-operators" in after.operator
    # the same call, put through: the operator talked to the customer to the end
    assert connected
    assert after.digits == "0"


async def test_a_listener_cut_off_after_every_part_was_stored_is_notified_not_called_again(
    world: WorldFactory,
) -> None:
    """A killed run had stored every part of the message as played (not yet the flag that
    follows), then Asterisk was restarted and took the call down: the next run finds the
    call gone on an Asterisk that is not the one that had it. Cut off by our side, but the
    customer heard the whole message: notified, final, never called again (it was voided
    and the customer called a second time)."""
    w0: World
    async with world(now=TUESDAY_11, start_plugin=False) as w0:
        await w0.scenario()
        created = await w0.campaigns.create(spec("все части"), list_data=csv_of("3201"))
        cid = created.campaign_id
        await w0.campaigns.start(cid)
        book = CallBook(w0.campaigns.sessions)
        plan = next(p for p in await book.active_plans() if p.id == cid)
        now = w0.campaigns.clock.now()
        contacts = await book.due(cid, now, 10)
        scenario = await w0.campaigns.scenarios.by_id(plan.scenario_id)
        values = contact_values(contacts[0])
        parts = len(await w0.service.speech.render(scenario.message_for(values), values))
        [(_contact, attempt_id, _channel)] = await book.claim_many(plan, contacts, now)
        async with w0.campaigns.sessions() as session, session.begin():
            await session.execute(
                update(Attempt)
                .where(Attempt.id == attempt_id)
                .values(
                    answered_at=now,
                    parts_total=parts,
                    parts_played=parts,
                    asterisk_boot="a run of Asterisk gone since",
                )
            )
    w: World
    async with world(now=TUESDAY_11) as w:
        await w.wait_finished(cid, timeout=40)
        attempts = await attempts_of(w, cid, counted_only=False)
        report = await w.campaigns.report(cid)
    assert [(a.id, a.counted, a.played_to_end) for a in attempts] == [(attempt_id, True, True)]
    assert (report.rows[0].status, report.rows[0].notified) == ("notified", True)


async def test_the_wait_for_a_key_begins_only_once_the_message_is_stored_as_heard(
    world: WorldFactory, database: str, tmp_path: Path
) -> None:
    """`serve` killed the moment the wait for a key after the message begins: the message
    is stored as heard to its end already (the write goes first, ahead of the queued ones),
    so whatever becomes of the call the customer is not called again. Under load the write
    lagged the call by over a second and such a kill left a listener to be called again."""
    cid, settings = await _started_campaign(world, "до конца", "3401")
    engine = create_engine(database)
    sessions = session_factory(engine)

    async def attempt() -> Attempt | None:
        return next(iter(await _attempts(sessions, cid)), None)

    waits: list[str] = []
    try:
        async with observer(settings) as obs:
            obs.link.on_event(
                "AGIExecStart",
                lambda e: (
                    waits.append(str(e.get("Uniqueid")))
                    if str(e.get("Command", "")).startswith('CONTROL STREAM FILE "cc/silence/10s"')
                    else None
                ),
            )
            serve = start_serve(settings, tmp_path / "serve.log")
            try:

                async def waiting() -> bool:
                    return bool(waits)

                await wait_for(waiting, 60, "the wait for a key", every=0.005)
            finally:
                kill_9(serve)
            stored = await attempt()
    finally:
        await engine.dispose()
    assert stored is not None and stored.channel_id == waits[0] and stored.ended_at is None
    assert stored.played_to_end and stored.parts_played == stored.parts_total > 0


async def _kill_during_the_last_part(
    world: WorldFactory,
    database: str,
    tmp_path: Path,
    number: str,
    meanwhile: Callable[[Observer, AgiCommands, str], Awaitable[None]],
) -> tuple[Attempt | None, list[Attempt], int]:
    """`serve` killed as the message's last part starts; `meanwhile` (given the observer,
    the AGI commands seen and the call's Uniqueid) is what happens on the call with nobody
    driving it. A new run finishes the campaign. Returns the attempt when killed, all
    attempts after, and how many times the last part was started on the call."""
    cid, settings = await _started_campaign(world, "последняя часть", number)
    engine = create_engine(database)
    sessions = session_factory(engine)

    async def attempts() -> list[Attempt]:
        return await _attempts(sessions, cid)

    agi = AgiCommands()
    try:
        async with observer(settings) as obs:
            obs.link.on_event("AGIExecStart", agi.on_exec)
            killed = await kill_as_last_part_starts(settings, tmp_path / "serve.log", agi, attempts)
            uid = killed.channel_id
            last = [cmd for u, cmd in agi.streams if u == uid][-1]
            await meanwhile(obs, agi, uid)
            await serve_until_finished(settings, tmp_path / "serve2.log", sessions, cid)
            after = await attempts()
            replays = sum(1 for u, cmd in agi.streams if u == uid and cmd == last)
    finally:
        await engine.dispose()
    return killed, after, replays


def _last_part_ends(
    *, then_hang_up: bool
) -> Callable[[Observer, AgiCommands, str], Awaitable[None]]:
    """Asterisk plays the last part to its end (its mark comes), and the customer then
    hangs up (`then_hang_up`) or stays."""

    async def meanwhile(obs: Observer, agi: AgiCommands, uid: str) -> None:
        async def marked() -> bool:
            return uid in agi.marks

        await wait_for(marked, 30, "the last part to end in Asterisk")
        if then_hang_up:
            await obs.link.action("Hangup", Channel=agi.names[uid])

            async def gone() -> bool:
                return uid in obs.hangups

            await wait_for(gone, 10, "the customer to hang up")

    return meanwhile


async def test_a_listener_who_hung_up_after_a_last_part_nobody_drove_is_notified(
    world: WorldFactory, database: str, tmp_path: Path
) -> None:
    """The last part played to its end while `serve` was dead, then the customer hung up:
    Asterisk's own mark says the message was heard, so the contact is notified and never
    called again (it counted as an attempt cut mid-message, and was called once more)."""
    killed, after, _ = await _kill_during_the_last_part(
        world, database, tmp_path, "3501", _last_part_ends(then_hang_up=True)
    )
    assert killed is not None and not killed.played_to_end
    assert [(a.counted, a.played_to_end, a.status) for a in after] == [(True, True, "notified")]


async def test_a_call_adopted_after_its_last_part_ended_unheard_is_not_played_again(
    world: WorldFactory, database: str, tmp_path: Path
) -> None:
    """The last part ended while `serve` was dead and the customer stays: the next run
    takes Asterisk's mark and goes on to the goodbye, rather than playing the part again."""
    killed, after, replays = await _kill_during_the_last_part(
        world, database, tmp_path, "3601", _last_part_ends(then_hang_up=False)
    )
    assert killed is not None and not killed.played_to_end
    assert [(a.counted, a.played_to_end, a.status) for a in after] == [(True, True, "notified")]
    assert replays == 1


async def test_a_key_pressed_while_no_service_ran_is_the_customers_answer(
    world: WorldFactory, database: str, tmp_path: Path
) -> None:
    """`serve` killed as the last part starts, and the customer presses 9 during it: the
    part stops and its result, with the key, goes to nobody. The next run reads the key
    Asterisk kept in the channel: the customer opted out and is not called again. (The CI
    chaos run found such a customer called again: a kill while Asterisk was frozen.)"""

    async def presses_9(obs: Observer, agi: AgiCommands, uid: str) -> None:
        # the customer's half of the call sends the key towards ours
        far = agi.names[uid][:-1] + "2"
        await obs.link.action("PlayDTMF", Channel=far, Digit="9", Duration="120")

        async def stopped_by_the_key() -> bool:
            return any("result=57" in unquote(r) for _, r in obs.execs[uid])

        await wait_for(stopped_by_the_key, 10, "the key to stop the part")

    killed, after, _ = await _kill_during_the_last_part(
        world, database, tmp_path, "3701", presses_9
    )
    assert killed is not None and not killed.opted_out
    assert [(a.counted, a.opted_out, a.digits, a.status) for a in after] == [
        (True, True, "9", "opted_out")
    ]
    async with world(start_plugin=False) as w:
        opted_out = await w.campaigns.opted_out_phones("debt")
    assert any(phone.endswith("3701") for phone in opted_out)
