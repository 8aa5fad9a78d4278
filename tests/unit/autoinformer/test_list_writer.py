"""A campaign list written in batches as it is read: letters find their row's phone contact
across batches, a list that gives nothing rolls back with its campaign."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from autoinformer.campaigns.list_writer import write_list
from autoinformer.lists import EmptyListError, open_campaign_list
from autoinformer.models import Campaign, CampaignContact, Letter, ScenarioRow
from autoinformer.plugin import AutoinformerPlugin
from autoinformer.scenarios import builtin_scenarios
from contact_center.storage import migrate
from contact_center.storage.base import utcnow
from contact_center.storage.database import create_engine, session_factory
from tests.conftest import NewDatabase

DEBT = next(s for s in builtin_scenarios() if s.name == "debt-notice")
BOTH = """phone,email,email_consent,account,debt
+79130000001,a@example.ru,да,1,10
+79130000002,,нет,2,20
+79130000001,b@example.ru,да,1,10
bad,c@example.ru,да,3,30
+79130000004,d@example.ru,нет,4,0
+79130000005,e@example.ru;f@example.ru,да,5,50
"""


@pytest.fixture
async def sessions(
    tmp_path: Path, new_database: NewDatabase
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    url = new_database("l")
    await asyncio.to_thread(migrate.upgrade, url, [AutoinformerPlugin()])
    engine = create_engine(url)
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()


async def new_campaign(session: AsyncSession, channel: str) -> Campaign:
    scenario = ScenarioRow(name="debt-notice", version=1, kind="debt", body=DEBT.body())
    session.add(scenario)
    await session.flush()
    campaign = Campaign(
        name="c",
        kind="debt",
        scenario_id=scenario.id,
        channel=channel,
        start_at=utcnow(),
        windows="{}",
        timezone="Asia/Krasnoyarsk",
        retry="{}",
    )
    session.add(campaign)
    await session.flush()
    return campaign


async def test_letters_join_their_phone_contact_across_batches(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    items = open_campaign_list(
        BOTH.encode(), channel="both", scenario=DEBT, today=date(2026, 12, 1)
    )
    async with sessions() as session, session.begin():
        campaign = await new_campaign(session, "both")
        written = await write_list(session, campaign, items, batch=2)
    assert (written.contacts, written.letters) == (3, 5)
    async with sessions() as session:
        contacts = {
            c.phone: c
            for c in await session.scalars(select(CampaignContact).order_by(CampaignContact.id))
        }
        letters = list(await session.scalars(select(Letter).order_by(Letter.id)))
        stored = await session.get(Campaign, campaign.id)
    assert list(contacts) == ["79130000001", "79130000002", "79130000005"]
    # line 4 repeats line 2's phone: its letter joins line 2's contact, from an earlier
    # batch; line 5's phone is refused, so its letter stands alone
    assert [(m.line, m.address, m.contact_id) for m in letters] == [
        (2, "a@example.ru", contacts["79130000001"].id),
        (4, "b@example.ru", contacts["79130000001"].id),
        (5, "c@example.ru", None),
        (7, "e@example.ru", contacts["79130000005"].id),
        (7, "f@example.ru", contacts["79130000005"].id),
    ]
    assert json.loads(letters[3].values) == {"debt": "50.00"}
    assert (contacts["79130000001"].state, contacts["79130000001"].line) == ("waiting", 2)
    assert json.loads(contacts["79130000002"].values) == {"debt": "20.00"}
    assert [str(n) for n in items.result.rejected] == [
        "строка 6: звонок: debt: задолженность 0,00 ₽ — уведомлять не о чем; "
        "e-mail d***@example.ru: нет согласия на рассылку (email_consent)"
    ]
    assert stored is not None and stored.rejected_rows == 1


async def test_a_list_that_gives_nothing_rolls_back_with_its_campaign(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    data = "phone,account,debt\n+79130000001,1,0\nbad,2,10\n"
    items = open_campaign_list(data.encode(), scenario=DEBT)
    with pytest.raises(EmptyListError) as exc:
        async with sessions() as session, session.begin():
            campaign = await new_campaign(session, "phone")
            await write_list(session, campaign, items, batch=1)
    assert [n.line for n in exc.value.parsed.rejected] == [2, 3]
    async with sessions() as session:
        assert await session.scalar(select(func.count(Campaign.id))) == 0
        assert await session.scalar(select(func.count(CampaignContact.id))) == 0
