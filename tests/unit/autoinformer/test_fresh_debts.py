"""FreshData.debts on a real SQLite base: one batch of contacts about to be called, their
customers' debts as they stand now; the paid one is closed (its letter too), the changed
one goes on with its values rewritten, a CSV list is left as loaded."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from autoinformer.campaigns.service import CampaignService, CampaignSpec
from autoinformer.models import CampaignContact, Letter
from autoinformer.phone.book import CallBook
from autoinformer.phone.fresh import FreshData
from autoinformer.plugin import AutoinformerPlugin
from contact_center.clock import Clock
from contact_center.customers.csv_import import parse_customers
from contact_center.customers.models import Customer
from contact_center.customers.services import CustomerService
from contact_center.speech.prompts import PromptCatalog
from contact_center.storage import migrate
from contact_center.storage.database import create_engine, session_factory

TZ = ZoneInfo("Asia/Krasnoyarsk")
BASE = (
    "Лицевой счёт;ФИО;Адрес;Договор;Телефон;Эл. почта;Согласие на рассылку;Долг;Дата долга\n"
    "1;А;ул. Чкалова, д. 1;да;+79130000001;a@example.ru;да;500;01.10.2026\n"
    "2;Б;ул. Ленина, д. 5;да;+79130000002;b@example.ru;да;1500;01.09.2026\n"
    "3;В;ул. Ленина, д. 9;да;+79130000003;;нет;2500;01.11.2026\n"
)


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[CampaignService]:
    url = f"sqlite+aiosqlite:///{tmp_path}/cc.db"
    await asyncio.to_thread(migrate.upgrade, url, [AutoinformerPlugin()])
    engine = create_engine(url)
    sessions = session_factory(engine)
    parsed = parse_customers(BASE.encode("cp1251"))
    assert parsed.ok, parsed.errors
    await CustomerService(sessions).import_rows(parsed.rows)
    try:
        yield CampaignService(
            sessions, clock=Clock(), timezone="Asia/Krasnoyarsk", prompts=set(PromptCatalog.load())
        )
    finally:
        await engine.dispose()


async def set_debt(service: CampaignService, account: str, debt: str) -> None:
    async with service.sessions() as session, session.begin():
        await session.execute(
            update(Customer).where(Customer.account == account).values(debt=Decimal(debt))
        )


async def test_a_batch_reads_the_base_once_and_acts_on_each_contact(
    service: CampaignService,
) -> None:
    created = await service.create(
        CampaignSpec(name="долги", kind="debt", scenario="debt-notice", channel="both"),
        from_base=True,
    )
    book = CallBook(service.sessions)
    plan = await book.plan(created.campaign_id)
    assert plan is not None and plan.from_base
    scenario = await service.scenarios.by_id(plan.scenario_id)
    await set_debt(service, "1", "0")
    await set_debt(service, "2", "99.90")
    now = datetime.now(TZ)
    due = await book.due(created.campaign_id, now, 10)
    kept = await FreshData(book).debts(plan, scenario, due, now)

    assert [c.account for c in kept] == ["2", "3"]
    assert kept[0].values["debt"] == "99.90" and kept[1].values["debt"] == "2500.00"
    async with service.sessions() as session:
        contacts = {
            c.account: c
            for c in await session.scalars(
                select(CampaignContact).where(CampaignContact.campaign_id == created.campaign_id)
            )
        }
        letters = {
            letter.account: letter
            for letter in await session.scalars(
                select(Letter).where(Letter.campaign_id == created.campaign_id)
            )
        }
    assert (contacts["1"].state, contacts["1"].status, contacts["1"].attempts) == (
        "done",
        "paid",
        0,
    )
    assert json.loads(contacts["2"].values)["debt"] == "99.90"
    assert contacts["2"].state == "waiting"
    # the paid customer's letter is not sent; the other one still is
    assert (letters["1"].state, letters["1"].status) == ("done", "cancelled")
    assert letters["2"].state == "queued"


async def test_a_csv_list_is_called_as_loaded(service: CampaignService) -> None:
    created = await service.create(
        CampaignSpec(name="csv", kind="debt", scenario="debt-notice"),
        list_data=b"phone,account,debt\n+79130000001,1,500\n",
        list_name="x.csv",
    )
    book = CallBook(service.sessions)
    plan = await book.plan(created.campaign_id)
    assert plan is not None and not plan.from_base
    scenario = await service.scenarios.by_id(plan.scenario_id)
    await set_debt(service, "1", "0")
    now = datetime.now(TZ)
    due = await book.due(created.campaign_id, now, 10)
    assert await FreshData(book).debts(plan, scenario, due, now) == due
