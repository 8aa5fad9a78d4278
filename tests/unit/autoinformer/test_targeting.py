"""Targeted campaigns on a real SQLite base: `--where` over the customers, a warning built
from a registered outage (its addresses, times and the 24 h / 3-day rules), and a CSV
outage list whose rows take the outage's times from the options."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from autoinformer.campaigns.service import CampaignService, CampaignSpec
from autoinformer.exceptions import CallListError, CampaignRefused
from autoinformer.models import Campaign, CampaignContact
from autoinformer.plugin import AutoinformerPlugin
from contact_center.clock import Clock
from contact_center.customers.csv_import import parse_customers
from contact_center.customers.filters import parse_filters
from contact_center.customers.services import CustomerService
from contact_center.hotline.outage_store import OutageService
from contact_center.hotline.outages import OutageRecord
from contact_center.speech.prompts import PromptCatalog
from contact_center.storage import migrate
from contact_center.storage.database import create_engine, session_factory

TZ = ZoneInfo("Asia/Krasnoyarsk")
BASE = (
    "Лицевой счёт;ФИО;Адрес;Договор;Телефон;Эл. почта;Согласие на рассылку;Долг;Дата долга\n"
    "1;А;г. Дивногорск, ул. Чкалова, д. 1, кв. 3;да;+79130000001;;нет;500;01.10.2026\n"
    "2;Б;г. Дивногорск, ул. Ленина, д. 5;да;+79130000002;b@example.ru;да;1500;01.09.2026\n"
    "3;В;г. Дивногорск, ул. Ленина, д. 15, кв. 2;да;+79130000003;;нет;2500;01.11.2026\n"
    "4;Г;г. Дивногорск, ул. Ленина, д. 9;да;+79130000004;;нет;3000;01.08.2026\n"
    "5;Д;г. Дивногорск, ул. Ленина, д. 21;да;+79130000005;;нет;;\n"
    "6;Е;г. Дивногорск, пер. Чкалова, д. 2;да;+79130000006;;нет;;\n"
    "7;Ж;г. Дивногорск, ул. Ленина, д. 7;нет;+79130000007;;нет;;\n"
)


@dataclass
class Env:
    campaigns: CampaignService
    outages: OutageService
    clock: Clock

    async def contacts(self, campaign_id: int) -> list[CampaignContact]:
        async with self.campaigns.sessions() as session:
            return list(
                await session.scalars(
                    select(CampaignContact)
                    .where(CampaignContact.campaign_id == campaign_id)
                    .order_by(CampaignContact.id)
                )
            )

    async def register(self, addresses: str, start: datetime, hours: int = 8) -> int:
        return await self.outages.add(
            OutageRecord("planned", addresses, start, start + timedelta(hours=hours), "ремонт")
        )


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    url = f"sqlite+aiosqlite:///{tmp_path}/cc.db"
    await asyncio.to_thread(migrate.upgrade, url, [AutoinformerPlugin()])
    engine = create_engine(url)
    sessions = session_factory(engine)
    parsed = parse_customers(BASE.encode("cp1251"))
    assert parsed.ok, parsed.errors
    await CustomerService(sessions).import_rows(parsed.rows)
    clock = Clock()
    campaigns = CampaignService(
        sessions, clock=clock, timezone="Asia/Krasnoyarsk", prompts=set(PromptCatalog.load())
    )
    try:
        yield Env(campaigns, OutageService(sessions, TZ), clock)
    finally:
        await engine.dispose()


def _day_after_tomorrow(env: Env) -> datetime:
    local = env.clock.now().astimezone(TZ) + timedelta(days=2)
    return local.replace(hour=10, minute=0, second=0, microsecond=0)


async def test_an_outage_from_the_registry_reaches_its_customers_and_not_their_neighbours(
    env: Env,
) -> None:
    start = _day_after_tomorrow(env)
    outage_id = await env.register("ул. Чкалова; ул. Ленина, д. 5, 7, 10-20", start)
    created = await env.campaigns.create(
        CampaignSpec(name="Ленина", kind="outage", scenario="outage-warning", outage_id=outage_id)
    )
    contacts = await env.contacts(created.campaign_id)
    # 4 (д. 9), 5 (д. 21), 6 (пер. Чкалова) are neighbours; 7 has no contract
    assert [c.account for c in contacts] == ["1", "2", "3"]
    values = json.loads(contacts[0].values)
    assert values["outage_start"] == start.strftime("%Y-%m-%dT%H:%M")
    assert values["outage_end"] == (start + timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M")
    assert values["address"] == "г. Дивногорск, ул. Чкалова, д. 1, кв. 3"
    campaign = await env.campaigns.get(created.campaign_id)
    # the 24 h rule: notified no later than a day before the outage
    assert campaign.end_at == start - timedelta(hours=24)
    assert campaign.outage_start == start
    assert campaign.decision_date == env.clock.now().astimezone(TZ).date()
    assert campaign.source.startswith(f"отключение {outage_id}: customers")


async def test_an_outage_less_than_a_day_ahead_is_refused_by_the_24_hour_rule(env: Env) -> None:
    soon = env.clock.now() + timedelta(hours=20)
    outage_id = await env.register("ул. Чкалова", soon)
    with pytest.raises(CampaignRefused, match="24 часа"):
        await env.campaigns.create(
            CampaignSpec(name="x", kind="outage", scenario="outage-warning", outage_id=outage_id)
        )


async def test_the_three_day_rule_counts_from_the_decision(env: Env) -> None:
    outage_id = await env.register("ул. Чкалова", _day_after_tomorrow(env) + timedelta(days=5))
    long_ago = env.clock.now().astimezone(TZ).date() - timedelta(days=10)
    with pytest.raises(CampaignRefused, match="трёх дней"):
        await env.campaigns.create(
            CampaignSpec(
                name="x",
                kind="outage",
                scenario="outage-warning",
                outage_id=outage_id,
                decision_date=long_ago,
            )
        )


async def test_unknown_outage_and_wrong_kind_are_refused(env: Env) -> None:
    with pytest.raises(CampaignRefused, match="нет отключения 99 в реестре"):
        await env.campaigns.create(
            CampaignSpec(name="x", kind="outage", scenario="outage-warning", outage_id=99)
        )
    with pytest.raises(CampaignRefused, match="только для кампаний вида outage"):
        await env.campaigns.create(
            CampaignSpec(name="x", kind="debt", scenario="debt-notice", outage_id=1)
        )


async def test_where_targets_debtors_by_amount_date_and_street(env: Env) -> None:
    created = await env.campaigns.create(
        CampaignSpec(
            name="долги",
            kind="debt",
            scenario="debt-notice",
            where=parse_filters(["debt>=1000", "debt_date<2026-10-01", "улица=ул. Ленина"]),
        ),
        from_base=True,
    )
    assert [c.account for c in await env.contacts(created.campaign_id)] == ["2", "4"]
    campaign = await env.campaigns.get(created.campaign_id)
    assert campaign.source == "customers: debt>=1000 и debt_date<2026-10-01 и улица=ул. Ленина"


async def test_where_with_nobody_left_says_which_filters(env: Env) -> None:
    with pytest.raises(CallListError, match="для которого debt>=100000"):
        await env.campaigns.create(
            CampaignSpec(
                name="x", kind="debt", scenario="debt-notice", where=parse_filters(["debt>=100000"])
            ),
            from_base=True,
        )


async def test_where_needs_the_base(env: Env) -> None:
    with pytest.raises(CampaignRefused, match="нужен --list customers"):
        await env.campaigns.create(
            CampaignSpec(
                name="x", kind="debt", scenario="debt-notice", where=parse_filters(["debt>=1"])
            ),
            list_data=b"phone,account,debt\n+79130000001,1,5\n",
        )


async def test_a_csv_outage_list_takes_missing_times_from_the_options(env: Env) -> None:
    start = _day_after_tomorrow(env)
    data = (
        "Телефон;Адрес;Конец отключения\n"
        "+79130000001;ул. Мира 1;\n"
        f"+79130000002;ул. Мира 2;{(start + timedelta(hours=2)):%d.%m.%Y %H:%M}\n"
    ).encode()
    created = await env.campaigns.create(
        CampaignSpec(
            name="csv",
            kind="outage",
            scenario="outage-warning",
            outage_start=start,
            outage_end=start + timedelta(hours=6),
            decision_date=env.clock.now().astimezone(TZ).date(),
        ),
        list_data=data,
    )
    ends = [json.loads(c.values)["outage_end"] for c in await env.contacts(created.campaign_id)]
    assert ends == [
        (start + timedelta(hours=6)).strftime("%Y-%m-%dT%H:%M"),
        (start + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"),
    ]
    async with env.campaigns.sessions() as session:
        assert (await session.get(Campaign, created.campaign_id)) is not None
