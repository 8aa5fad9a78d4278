"""The call book's side of surviving a crash (real SQLite): a call's progress is stored as
it happens and a decided fate is final at that moment; an attempt that was not one is
voided without spending a retry; an attempt is closed once; the orphan deadline is kept
from the first run that set it; a campaign ends only when its calls have."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from autoinformer.campaigns.plan import Plan, plan_of
from autoinformer.campaigns.service import CampaignService, CampaignSpec
from autoinformer.models import Attempt, CampaignContact, OptOut
from autoinformer.phone.book import CallBook
from autoinformer.phone.progress import CallJournal, CallProgress, CallRef
from autoinformer.plugin import AutoinformerPlugin
from autoinformer.scheduling import CallFacts, Caps, retry_policy
from contact_center.clock import Clock
from contact_center.speech.prompts import PromptCatalog
from contact_center.storage import migrate
from contact_center.storage.database import create_engine, session_factory
from tests.conftest import NewDatabase

SCENARIO = """
name = "journal"
kind = "debt"
message = "Долг {money:debt}."
wait_digit = 1
[keys]
"1" = "confirm"
"0" = "operator"
"9" = "opt_out"
"""


@dataclass
class Env:
    campaigns: CampaignService
    book: CallBook
    plan: Plan
    clock: Clock

    async def claim(self, n: int = 1) -> list[CallRef]:
        """The next `n` contacts claimed, as their calls know them."""
        due = await self.book.due(self.plan.id, self.clock.now(), n)
        claimed = await self.book.claim_many(self.plan, due, self.clock.now())
        return [
            CallRef(attempt_id, c.id, self.plan.id, c.phone, self.plan.kind)
            for c, attempt_id, _channel in claimed
        ]

    async def contact(self, contact_id: int) -> CampaignContact:
        async with self.campaigns.sessions() as session:
            found = await session.get(CampaignContact, contact_id)
            assert found is not None
            return found

    async def attempt(self, attempt_id: int) -> Attempt:
        async with self.campaigns.sessions() as session:
            found = await session.get(Attempt, attempt_id)
            assert found is not None
            return found


@pytest.fixture
async def env(tmp_path: Path, new_database: NewDatabase) -> AsyncIterator[Env]:
    url = new_database("ai")
    await asyncio.to_thread(migrate.upgrade, url, [AutoinformerPlugin()])
    engine = create_engine(url)
    sessions = session_factory(engine)
    clock = Clock()
    campaigns = CampaignService(
        sessions, clock=clock, timezone="Asia/Krasnoyarsk", prompts=set(PromptCatalog.load())
    )
    (tmp_path / "journal.toml").write_text(SCENARIO, encoding="utf-8")
    await campaigns.scenarios.add_file(tmp_path / "journal.toml")
    rows = "".join(f"+7913000{i:04d},{i},100\n" for i in range(1, 4))
    created = await campaigns.create(
        CampaignSpec(
            name="journal",
            kind="debt",
            scenario="journal",
            caps=Caps(),
            retry=retry_policy(["failed=2/1m", "hung_up=2/1m"]),
        ),
        list_data=f"phone,account,debt\n{rows}".encode(),
    )
    await campaigns.start(created.campaign_id)
    plan = plan_of(await campaigns.get(created.campaign_id))
    try:
        yield Env(campaigns, CallBook(sessions), plan, clock)
    finally:
        await engine.dispose()


async def test_nine_is_final_and_stored_the_moment_it_is_pressed(env: Env) -> None:
    [ref] = await env.claim()
    contact_id, attempt_id = ref.contact_id, ref.attempt_id
    progress = CallProgress(parts_total=3, parts_played=1, digits="9", opted_out=True)
    now = env.clock.now()
    await env.book.note(ref, progress, now, answered_at=now)
    contact = await env.contact(contact_id)
    attempt = await env.attempt(attempt_id)
    # the call goes on (the attempt is open), the contact's fate is sealed
    assert attempt.ended_at is None and attempt.opted_out and attempt.digits == "9"
    assert (contact.state, contact.status, contact.notified) == ("done", "opted_out", False)
    async with env.campaigns.sessions() as session:
        assert await session.scalar(select(OptOut.phone)) == contact.phone
    # the number is still in a call: nobody else dials it meanwhile
    assert await env.book.phones_in_call([contact.phone]) == {contact.phone}
    # and the campaign is not finished while that call lasts
    assert not await env.book.finish_if_done(env.plan.id, now)


async def test_zero_makes_the_contact_an_operators_and_an_answer_makes_it_transferred(
    env: Env,
) -> None:
    [ref] = await env.claim()
    contact_id, attempt_id = ref.contact_id, ref.attempt_id
    journal = CallJournal(env.book, ref, CallProgress(parts_total=2), env.clock)
    journal.answered()
    journal.progress.digits = "0"
    journal.progress.queued = True
    await journal.flush()
    contact = await env.contact(contact_id)
    assert (contact.state, contact.status, contact.callback) == ("done", "callback", True)
    assert (await env.attempt(attempt_id)).queued_at is not None
    journal.progress.transferred = True
    journal.progress.operator = "Local/2@sim-operators/n"
    await journal.flush()
    contact = await env.contact(contact_id)
    attempt = await env.attempt(attempt_id)
    assert contact.status == "transferred"
    assert attempt.transferred and attempt.operator == "Local/2@sim-operators/n"


async def test_parts_played_are_stored_as_they_play_and_never_go_back(env: Env) -> None:
    [ref] = await env.claim()
    attempt_id = ref.attempt_id
    journal = CallJournal(env.book, ref, CallProgress(parts_total=4), env.clock)
    journal.answered()
    for played in (1, 2, 3):
        journal.progress.parts_played = played
        journal.changed()  # does not wait: the customer is listening
    await journal.flush()
    assert (await env.attempt(attempt_id)).parts_played == 3
    # an older snapshot arriving late takes nothing back
    await env.book.note(ref, CallProgress(parts_total=4, parts_played=1), env.clock.now())
    attempt = await env.attempt(attempt_id)
    assert attempt.parts_played == 3 and attempt.answered_at is not None


async def test_an_originate_that_never_went_out_spends_no_retry(env: Env) -> None:
    [ref] = await env.claim()
    contact_id, first = ref.contact_id, ref.attempt_id
    await env.book.record(first, CallFacts("busy"), env.clock.now())
    before = await env.contact(contact_id)
    assert (before.state, before.status, before.attempts) == ("waiting", "busy", 1)
    async with env.campaigns.sessions() as session, session.begin():
        found = await session.get(CampaignContact, contact_id)
        assert found is not None
        found.next_attempt_at = None  # due again now
    [again] = await env.claim()
    assert again.contact_id == contact_id
    second = again.attempt_id
    await env.book.void(second, env.clock.now(), "not sent: Asterisk is shutting down")
    contact = await env.contact(contact_id)
    attempt = await env.attempt(second)
    # back as it was: waiting, its last result and its attempts untouched
    assert (contact.state, contact.status, contact.attempts) == ("waiting", "busy", 1)
    assert contact.last_attempt_at == before.last_attempt_at
    assert (attempt.counted, attempt.outcome, attempt.ended_at is not None) == (
        False,
        "not_sent",
        True,
    )
    report = await env.campaigns.report(env.plan.id)
    assert report.totals.attempts == 1


async def test_an_attempt_is_closed_once(env: Env) -> None:
    [ref] = await env.claim()
    contact_id, attempt_id = ref.contact_id, ref.attempt_id
    now = env.clock.now()
    progress = CallProgress(parts_total=1, parts_played=1, played_to_end=True)
    assert await env.book.record(attempt_id, progress.facts(), now) == "notified"
    # a second closing (a watcher that saw the end too) changes nothing
    assert await env.book.record(attempt_id, CallFacts("failed"), now) == "notified"
    await env.book.void(attempt_id, now, "late")
    contact = await env.contact(contact_id)
    attempt = await env.attempt(attempt_id)
    assert (contact.status, contact.answered, contact.attempts) == ("notified", 1, 1)
    assert attempt.counted and attempt.status == "notified"


async def test_a_fate_decided_mid_call_survives_a_call_that_ends_badly(env: Env) -> None:
    [ref] = await env.claim()
    contact_id, attempt_id = ref.contact_id, ref.attempt_id
    now = env.clock.now()
    await env.book.note(
        ref,
        CallProgress(parts_total=2, parts_played=1, digits="1", confirmed=True),
        now,
        answered_at=now,
    )
    assert (await env.contact(contact_id)).status == "notified"  # 1 pressed: final now
    # the end is recorded as a failure (cut off later): the contact stays notified
    await env.book.record(attempt_id, CallFacts("failed"), now, error="interrupted")
    contact = await env.contact(contact_id)
    assert (contact.state, contact.status) == ("done", "notified")


async def test_the_orphan_deadline_is_kept_from_the_first_run_that_set_it(env: Env) -> None:
    [ref] = await env.claim()
    attempt_id = ref.attempt_id
    first = env.clock.now() + timedelta(seconds=30)
    assert await env.book.keep_orphan_deadline(attempt_id, first) == first
    later = first + timedelta(seconds=45)  # the next start would push it back: it may not
    assert await env.book.keep_orphan_deadline(attempt_id, later) == first
    [opened] = await env.book.open_attempts()
    assert opened.orphan_deadline == first


async def test_open_attempts_carry_what_the_call_stored(env: Env) -> None:
    [ref] = await env.claim()
    now = env.clock.now()
    await env.book.note(
        ref,
        CallProgress(parts_total=3, parts_played=2, digits="0", queued=True),
        now,
        answered_at=now,
    )
    [opened] = await env.book.open_attempts()
    assert opened.answered
    p = opened.progress
    assert (p.parts_played, p.parts_total, p.queued, p.transferred, p.digits) == (
        2,
        3,
        True,
        False,
        "0",
    )
    assert await env.book.is_open(opened.channel_id)


async def test_notes_of_calls_at_once_share_a_write_and_each_keeps_its_own(env: Env) -> None:
    refs = await env.claim(3)
    now = env.clock.now()
    progresses = [
        CallProgress(parts_total=2, parts_played=1, asterisk_boot="b1"),
        CallProgress(parts_total=2, parts_played=2, played_to_end=True, recording="/r/2.wav"),
        CallProgress(parts_total=2, digits="1"),
    ]
    await asyncio.gather(
        *(
            env.book.note(ref, p, now, answered_at=now if i else None)
            for i, (ref, p) in enumerate(zip(refs, progresses, strict=True))
        )
    )
    first, second, third = [await env.attempt(ref.attempt_id) for ref in refs]
    assert (first.parts_played, first.asterisk_boot, first.answered_at) == (1, "b1", None)
    assert (second.parts_played, second.played_to_end, second.recording_path) == (
        2,
        True,
        "/r/2.wav",
    )
    assert second.answered_at is not None
    assert (third.digits, third.parts_played, third.played_to_end) == ("1", 0, False)
    # an empty value stores nothing, a count never drops
    await env.book.note(refs[1], CallProgress(parts_total=2, parts_played=1), now)
    second = await env.attempt(refs[1].attempt_id)
    assert (second.parts_played, second.played_to_end, second.recording_path) == (
        2,
        True,
        "/r/2.wav",
    )


async def test_calls_ending_together_are_closed_each_with_its_own_result(env: Env) -> None:
    refs = await env.claim(3)
    now = env.clock.now()
    statuses = await asyncio.gather(
        env.book.record(refs[0].attempt_id, CallFacts("answered", played_to_end=True), now),
        env.book.record(refs[1].attempt_id, CallFacts("busy"), now),
        env.book.record(refs[2].attempt_id, CallFacts("answered", opted_out=True), now),
        # a call closed twice in the same write is counted once
        env.book.record(refs[2].attempt_id, CallFacts("failed"), now),
    )
    assert statuses[0] == "notified"
    assert statuses[1] == "busy"
    assert statuses[2] == statuses[3] == "opted_out"
    contacts = [await env.contact(ref.contact_id) for ref in refs]
    assert [(c.state, c.status) for c in contacts] == [
        ("done", "notified"),
        ("waiting", "busy"),
        ("done", "opted_out"),
    ]
    for ref in refs:
        assert (await env.attempt(ref.attempt_id)).ended_at is not None


async def test_a_gone_attempt_fails_alone_among_calls_closed_together(env: Env) -> None:
    [ref] = await env.claim()
    now = env.clock.now()
    results = await asyncio.gather(
        env.book.record(10**9, CallFacts("busy"), now),
        env.book.record(ref.attempt_id, CallFacts("answered", played_to_end=True), now),
        return_exceptions=True,
    )
    assert isinstance(results[0], LookupError)
    assert results[1] == "notified"


async def test_a_claim_handed_back_unsent_leaves_no_attempt_and_spends_no_retry(env: Env) -> None:
    kept, handed_back = await env.claim(2)
    now = env.clock.now()
    # one went out (its Asterisk noted as the Originate was sent): voided, kept on record
    await env.book.note(kept, CallProgress(asterisk_boot="boot-1"), now)
    for ref in (kept, handed_back):
        await env.book.void(ref.attempt_id, now, "claimed ahead, not needed", unclaim=True)
    async with env.campaigns.sessions() as session:
        ids = set(await session.scalars(select(Attempt.id)))
    assert ids == {kept.attempt_id}
    assert not (await env.attempt(kept.attempt_id)).counted
    for ref in (kept, handed_back):
        contact = await env.contact(ref.contact_id)
        assert (contact.state, contact.attempts) == ("waiting", 0)
