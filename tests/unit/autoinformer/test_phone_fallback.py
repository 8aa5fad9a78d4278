"""A customer with several numbers (real SQLite): after a failed or unanswered call the next
number is dialled at once, each attempt keeps the number it used, a busy line is retried on
the same number."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from autoinformer.campaigns.plan import Plan, plan_of
from autoinformer.campaigns.service import CampaignService, CampaignSpec
from autoinformer.models import Attempt, CampaignContact
from autoinformer.phone.book import CallBook
from autoinformer.plugin import AutoinformerPlugin
from autoinformer.scheduling import CallFacts, Caps, retry_policy
from contact_center.clock import Clock
from contact_center.speech.prompts import PromptCatalog
from contact_center.storage import migrate
from contact_center.storage.database import create_engine, session_factory

SCENARIO = """
name = "fallback"
kind = "debt"
message = "Долг {money:debt}."
"""
LIST = (
    'Телефон;Лицевой счёт;Долг\n"+7 913 000-00-01; +7 913 000-00-02; +7 913 000-00-03";240001;100\n'
).encode()


@dataclass
class Env:
    campaigns: CampaignService
    book: CallBook
    plan: Plan
    clock: Clock

    async def call(self, facts: CallFacts) -> tuple[str, str]:
        """Dial the contact due now and end the call with `facts`: (number dialled, status)."""
        [due] = await self.book.due(self.plan.id, self.clock.now(), 10)
        [(contact, attempt_id, _channel)] = await self.book.claim_many(
            self.plan, [due], self.clock.now()
        )
        return contact.phone, await self.book.record(attempt_id, facts, self.clock.now())

    async def contact(self) -> CampaignContact:
        async with self.campaigns.sessions() as session:
            found = await session.scalar(select(CampaignContact))
            assert found is not None
            return found


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    url = f"sqlite+aiosqlite:///{tmp_path}/ai.db"
    await asyncio.to_thread(migrate.upgrade, url, [AutoinformerPlugin()])
    engine = create_engine(url)
    sessions = session_factory(engine)
    clock = Clock()
    campaigns = CampaignService(
        sessions, clock=clock, timezone="Asia/Krasnoyarsk", prompts=set(PromptCatalog.load())
    )
    (tmp_path / "fallback.toml").write_text(SCENARIO, encoding="utf-8")
    await campaigns.scenarios.add_file(tmp_path / "fallback.toml")
    created = await campaigns.create(
        CampaignSpec(
            name="fallback",
            kind="debt",
            scenario="fallback",
            caps=Caps(),
            retry=retry_policy(["busy=2/1m", "no_answer=4/1m", "failed=4/1m"]),
        ),
        list_data=LIST,
    )
    assert created.contacts == 1
    await campaigns.start(created.campaign_id)
    try:
        yield Env(
            campaigns, CallBook(sessions), plan_of(await campaigns.get(created.campaign_id)), clock
        )
    finally:
        await engine.dispose()


async def test_failed_and_unanswered_calls_fall_back_to_the_next_number_at_once(env: Env) -> None:
    assert await env.call(CallFacts("no_answer")) == ("79130000001", "no_answer")
    contact = await env.contact()
    assert (contact.state, contact.phone, contact.phones) == (
        "waiting",
        "79130000002",
        "79130000003",
    )
    assert contact.wait_reason == "next_phone"
    # due at once, not after the retry interval
    assert await env.call(CallFacts("congestion")) == ("79130000002", "failed")
    progress = CallFacts("answered", played_to_end=True, extra={"parts_total": 1})
    assert await env.call(progress) == ("79130000003", "notified")
    async with env.campaigns.sessions() as session:
        used = list(await session.scalars(select(Attempt.phone).order_by(Attempt.id)))
    assert used == ["79130000001", "79130000002", "79130000003"]
    contact = await env.contact()
    assert (contact.state, contact.notified, contact.attempts) == ("done", True, 3)
    report = await env.campaigns.report(env.plan.id)
    assert [row.phone for row in report.rows] == ["79130000003"]


async def test_a_busy_line_is_retried_on_the_same_number(env: Env) -> None:
    assert await env.call(CallFacts("busy")) == ("79130000001", "busy")
    contact = await env.contact()
    assert (contact.phone, contact.wait_reason) == ("79130000001", "retry")
    assert contact.next_attempt_at is not None
