"""The dialer's pre-render: waiting contacts read a page at a time, every page rendered,
each prompt file looked at once per pass (real SQLite, real espeak-ng)."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, update

import autoinformer.phone.prerender as prerender_module
from autoinformer.campaigns.plan import Plan, plan_of
from autoinformer.campaigns.service import CampaignService, CampaignSpec
from autoinformer.models import CampaignContact
from autoinformer.phone.book import CallBook
from autoinformer.phone.prerender import Prerenderer, contact_values
from autoinformer.plugin import AutoinformerPlugin
from autoinformer.scheduling import Caps
from contact_center.clock import Clock
from contact_center.speech import PromptPart, Speech
from contact_center.speech.prompts import PromptCatalog
from contact_center.storage import migrate
from contact_center.storage.database import create_engine, session_factory
from tests.conftest import NewDatabase

needs_tts = pytest.mark.skipif(
    shutil.which("espeak-ng") is None or shutil.which("sox") is None,
    reason="espeak-ng and sox are needed for synthesis",
)

SCENARIO = """
name = "paged"
kind = "debt"
message = "{prompt:autoinformer_intro} Долг {money:debt}. {prompt:press_1_confirm}"
wait_digit = 1
repeats = 0
[keys]
"1" = "confirm"
[replies]
confirmed = "Спасибо."
goodbye = ""
"""
DEBTS = ["101", "202", "303", "404", "505", "606", "707"]


@dataclass
class Env:
    campaigns: CampaignService
    book: CallBook
    plan: Plan
    queries: list[str]


@pytest.fixture
async def env(tmp_path: Path, new_database: NewDatabase) -> AsyncIterator[Env]:
    url = new_database("ai")
    await asyncio.to_thread(migrate.upgrade, url, [AutoinformerPlugin()])
    engine = create_engine(url)
    queries: list[str] = []

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def count(*args: Any) -> None:
        statement = str(args[2])  # (conn, cursor, statement, parameters, context, many)
        if statement.lstrip().startswith("SELECT") and "FROM ai_contacts" in statement:
            queries.append(statement)

    sessions = session_factory(engine)
    campaigns = CampaignService(
        sessions, clock=Clock(), timezone="Asia/Krasnoyarsk", prompts=set(PromptCatalog.load())
    )
    (tmp_path / "paged.toml").write_text(SCENARIO, encoding="utf-8")
    await campaigns.scenarios.add_file(tmp_path / "paged.toml")
    rows = "".join(f"+7913000{i:04d},{i},{debt}\n" for i, debt in enumerate(DEBTS, 1))
    created = await campaigns.create(
        CampaignSpec(name="pages", kind="debt", scenario="paged", caps=Caps()),
        list_data=f"phone,account,debt\n{rows}".encode(),
    )
    plan = plan_of(await campaigns.get(created.campaign_id))
    queries.clear()
    try:
        yield Env(campaigns, CallBook(sessions), plan, queries)
    finally:
        await engine.dispose()


async def test_waiting_contacts_come_a_page_at_a_time_in_id_order(env: Env) -> None:
    seen = [c async for c in env.book.waiting(env.plan.id, page=3)]
    assert [c.values["debt"] for c in seen] == [f"{d}.00" for d in DEBTS]
    assert [c.id for c in seen] == sorted(c.id for c in seen)
    assert len(env.queries) == 3  # 3 + 3 + 1: a short page ends it


async def test_a_contact_taken_between_pages_makes_no_other_one_skipped(env: Env) -> None:
    waiting = env.book.waiting(env.plan.id, page=3)
    first_page = [await anext(waiting) for _ in range(3)]
    everyone = await env.book.all_waiting(env.plan.id)
    taken = sorted(everyone, key=lambda c: c.id)[4]  # on the second page
    async with env.book.transaction() as session:
        await session.execute(
            update(CampaignContact).where(CampaignContact.id == taken.id).values(state="calling")
        )
    rest = [c async for c in waiting]
    got = {c.id for c in first_page + rest}
    assert got == {c.id for c in everyone} - {taken.id}


@needs_tts
async def test_prerender_covers_contacts_beyond_the_first_page_and_checks_prompts_once(
    env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    looked_at: list[str] = []
    real_prompt_path = prerender_module.prompt_path

    def counting_prompt_path(sounds_dir: Path, name: str) -> Path:
        looked_at.append(name)
        return real_prompt_path(sounds_dir, name)

    monkeypatch.setattr(prerender_module, "prompt_path", counting_prompt_path)
    async with Speech(tmp_path / "sounds", workers=1) as speech:
        prerenderer = Prerenderer(
            book=env.book, scenarios=env.campaigns.scenarios, speech=speech, page=2
        )
        summary = await prerenderer.prepare(env.plan)
        assert (summary.contacts, summary.unfit, summary.failed) == (len(DEBTS), 0, 0)
        assert len(env.queries) == 4  # 2 + 2 + 2 + 1
        scenario = await env.campaigns.scenarios.by_id(env.plan.scenario_id)
        contacts = await env.book.all_waiting(env.plan.id)
        assert len(contacts) == len(DEBTS)
        for contact in contacts:  # the last page's contact too
            values = contact_values(contact)
            for part in speech.resolve(scenario.message_for(values), values):
                if isinstance(part, PromptPart):
                    # not built in this fresh folder: its text was synthesized instead
                    assert speech.cached(speech.prompts.text(part.name)) is not None
                else:
                    assert speech.cached(part.text) is not None, part.text
        assert speech.cached("Спасибо.") is not None  # the replies too
        # each prompt (the message's and the default replies') once per pass, not per contact
        assert {"autoinformer_intro", "press_1_confirm"} <= set(looked_at)
        assert len(looked_at) == len(set(looked_at))
