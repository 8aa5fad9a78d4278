"""Follow-ups of whom the phone did not reach, on a real SQLite base: a letter where the
customer base has an address with consent (and no unsubscribe), an operator's call-back
otherwise; automatically for a finished outage warning's `not_reached_in_time` contacts,
on request for any campaign; each contact once."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from autoinformer.callbacks import CampaignCallbacks
from autoinformer.campaigns.follow_ups import FollowUpService
from autoinformer.campaigns.service import CampaignService, CampaignSpec
from autoinformer.exceptions import CampaignRefused
from autoinformer.models import Campaign, CampaignContact, Letter, OptOut
from autoinformer.plugin import AutoinformerPlugin
from autoinformer.reports import table_columns, table_rows, to_json
from contact_center.clock import Clock
from contact_center.customers.csv_import import parse_customers
from contact_center.customers.services import CustomerService
from contact_center.speech.prompts import PromptCatalog
from contact_center.storage import migrate
from contact_center.storage.database import create_engine, session_factory

TZ = ZoneInfo("Asia/Krasnoyarsk")
BASE = (
    "Лицевой счёт;ФИО;Адрес;Договор;Телефон;Эл. почта;Согласие на рассылку;Долг\n"
    "1;Андреев А.;г. Дивногорск, ул. Чкалова, д. 1;да;+79130000001;a@example.ru;да;500\n"
    "2;Борисова Б.;г. Дивногорск, ул. Чкалова, д. 2;да;+79130000002;b@example.ru;нет;500\n"
    "3;Васин В.;г. Дивногорск, ул. Чкалова, д. 3;да;+79130000003;;нет;500\n"
    "4;Глебов Г.;г. Дивногорск, ул. Чкалова, д. 4;да;+79130000004;g@example.ru;да;500\n"
    "5;Дёмина Д.;г. Дивногорск, ул. Чкалова, д. 5;да;+79130000005;d@example.ru;да;500\n"
    "6;Ершов Е.;г. Дивногорск, ул. Чкалова, д. 6;да;+79130000006;e@example.ru;да;500\n"
)
# how each contact's calls ended (account -> status, notified)
ENDED = {
    "1": ("not_reached_in_time", False),  # consent: a letter
    "2": ("not_reached_in_time", False),  # an address without consent: a call-back
    "3": ("busy", False),  # no address: a call-back, only when asked for
    "4": ("not_reached_in_time", False),  # unsubscribed from outage notices: a call-back
    "5": ("notified", True),  # reached: nothing
    "6": ("paid", False),  # paid meanwhile: nothing
}


@dataclass
class Env:
    campaigns: CampaignService
    follow_ups: FollowUpService
    clock: Clock

    async def outage_campaign(self) -> int:
        start = (self.clock.now().astimezone(TZ) + timedelta(days=3)).replace(
            hour=9, minute=0, second=0, microsecond=0
        )
        created = await self.campaigns.create(
            CampaignSpec(
                name="Чкалова",
                kind="outage",
                scenario="outage-warning",
                outage_start=start,
                outage_end=start + timedelta(hours=8),
                decision_date=self.clock.now().astimezone(TZ).date(),
            ),
            from_base=True,
        )
        await self.campaigns.start(created.campaign_id)
        return created.campaign_id

    async def end_calls(self, campaign_id: int, *, finished: bool = True) -> None:
        async with self.campaigns.sessions() as session, session.begin():
            for contact in await session.scalars(
                select(CampaignContact).where(CampaignContact.campaign_id == campaign_id)
            ):
                contact.status, contact.notified = ENDED[contact.account]
                contact.state = "done"
                contact.attempts = 2
                contact.last_attempt_at = self.clock.now()
            if finished:
                await session.execute(
                    update(Campaign).where(Campaign.id == campaign_id).values(status="finished")
                )

    async def contacts(self, campaign_id: int) -> dict[str, CampaignContact]:
        async with self.campaigns.sessions() as session:
            rows = await session.scalars(
                select(CampaignContact).where(CampaignContact.campaign_id == campaign_id)
            )
            return {c.account: c for c in rows}

    async def letters(self, campaign_id: int) -> list[Letter]:
        async with self.campaigns.sessions() as session:
            rows = await session.scalars(
                select(Letter).where(Letter.campaign_id == campaign_id).order_by(Letter.id)
            )
            return list(rows)


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    url = f"sqlite+aiosqlite:///{tmp_path}/cc.db"
    await asyncio.to_thread(migrate.upgrade, url, [AutoinformerPlugin()])
    engine = create_engine(url)
    sessions = session_factory(engine)
    parsed = parse_customers(BASE.encode("utf-8"))
    assert parsed.ok, parsed.errors
    await CustomerService(sessions).import_rows(parsed.rows)
    async with sessions() as session, session.begin():
        session.add(OptOut(address="g@example.ru", kind="outage", campaign_id=None))
    clock = Clock()
    campaigns = CampaignService(
        sessions, clock=clock, timezone="Asia/Krasnoyarsk", prompts=set(PromptCatalog.load())
    )
    try:
        yield Env(campaigns, FollowUpService(sessions, campaigns.scenarios, clock), clock)
    finally:
        await engine.dispose()


async def test_a_finished_outage_warning_follows_up_whom_it_did_not_reach_in_time(
    env: Env,
) -> None:
    campaign_id = await env.outage_campaign()
    await env.end_calls(campaign_id)

    [result] = await env.follow_ups.sweep()

    assert (result.letters, result.callbacks) == (1, 2)
    contacts = await env.contacts(campaign_id)
    assert {a: c.follow_up for a, c in contacts.items()} == {
        "1": "email",
        "2": "callback",
        "3": None,  # busy is not what the campaign's end left: only asked for
        "4": "callback",
        "5": None,
        "6": None,
    }
    assert [a for a, c in contacts.items() if c.callback] == ["2", "4"]
    # the letter: a running e-mail campaign of the same warning, sent until the outage
    assert result.letters_campaign_id is not None
    letters = await env.letters(result.letters_campaign_id)
    assert [(x.address, x.account, x.state) for x in letters] == [("a@example.ru", "1", "queued")]
    assert json.loads(letters[0].values)["outage_start"]
    follow = await env.campaigns.get(result.letters_campaign_id)
    original = await env.campaigns.get(campaign_id)
    assert (follow.channel, follow.status, follow.follow_up_of) == ("email", "running", campaign_id)
    assert follow.end_at == original.outage_start
    # each once: the next sweep finds nothing, a request adds only what was never followed
    assert await env.follow_ups.sweep() == []
    again = await env.follow_ups.create(campaign_id)
    assert (again.letters, again.callbacks) == (0, 1)  # the busy one, on request
    nothing = await env.follow_ups.create(campaign_id)
    assert nothing.text().endswith("некого оповещать другим путём.")


async def test_the_report_and_the_desk_say_how_each_was_followed_up(env: Env) -> None:
    campaign_id = await env.outage_campaign()
    await env.end_calls(campaign_id)
    await env.follow_ups.create(campaign_id)

    report = await env.campaigns.report(campaign_id)
    by_account = {r.account: r.follow_up for r in report.rows}
    assert by_account == {"1": "email", "2": "callback", "3": "callback", "4": "callback",
                          "5": "", "6": ""}  # fmt: skip
    header = [c.title for c in table_columns(report)]
    column = header.index("Оповещение другим путём")
    cells = {row[1]: row[column] for row in table_rows(report)}
    assert (cells["1"], cells["2"], cells["5"]) == ("письмо", "звонок оператора", "")
    rows = json.loads(to_json(report))["contacts"]
    assert {r["account"]: r["follow_up_label"] for r in rows}["1"] == "письмо"

    due = await CampaignCallbacks(env.campaigns.sessions, TZ).due(
        env.clock.now().astimezone(TZ).date()
    )
    reasons = {c.account: c.reason for c in due}
    assert set(reasons) == {"2", "3", "4"}
    assert reasons["2"] == "не дозвонились: кампания «Чкалова»"


async def test_a_running_campaign_or_a_debt_campaign_is_followed_up_only_on_request(
    env: Env,
) -> None:
    campaign_id = await env.outage_campaign()
    await env.end_calls(campaign_id, finished=False)
    assert await env.follow_ups.sweep() == []  # not finished yet
    result = await env.follow_ups.create(campaign_id, statuses=["not-reached-in-time"])
    assert (result.letters, result.callbacks) == (1, 2)


async def test_bad_requests_are_refused_with_the_reason(env: Env) -> None:
    campaign_id = await env.outage_campaign()
    await env.end_calls(campaign_id)
    with pytest.raises(CampaignRefused, match="нет такого итога звонка «someday»"):
        await env.follow_ups.create(campaign_id, statuses=["someday"])
    result = await env.follow_ups.create(campaign_id)
    assert result.letters_campaign_id is not None
    # the letters' campaign is itself the follow-up: not followed up again
    with pytest.raises(CampaignRefused, match="сама рассылает письма по недозвону"):
        await env.follow_ups.create(result.letters_campaign_id)
    contacts = await env.contacts(campaign_id)
    assert contacts["1"].follow_up == "email"
