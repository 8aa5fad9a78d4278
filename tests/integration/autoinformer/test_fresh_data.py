"""Fresh data at dial time on the sim world (issue 13 § 4): a list from the customer base is
called with the debt as it stands before each attempt, and an outage moved or removed in the
registry moves or cancels its campaign's remaining calls."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from autoinformer.campaigns.service import CampaignSpec
from autoinformer.models import Attempt, CampaignContact
from autoinformer.phone.book import DueContact
from autoinformer.phone.prerender import contact_values
from autoinformer.scheduling import retry_policy
from contact_center.customers.csv_import import parse_customers
from contact_center.customers.models import Customer
from contact_center.customers.services import CustomerService
from contact_center.hotline.outage_store import OutageService
from contact_center.hotline.outages import OutageRecord
from contact_center.speech import PromptPart
from tests.integration.autoinformer.conftest import World, WorldFactory
from tests.integration.autoinformer.test_campaign_calls import (
    NO_CAPS,
    TUESDAY_11,
    attempts_of,
    fast_sim,
)
from tests.integration.autoinformer.test_outage_and_restart import OUTAGE_SCENARIO
from tests.integration.waiting import wait_for

pytestmark = pytest.mark.integration

KRS = ZoneInfo("Asia/Krasnoyarsk")
# the sim's last digit: 1 listens to the end, 2 is busy
BASE = (
    "Лицевой счёт;ФИО;Адрес;Договор;Телефон;Эл. почта;Согласие на рассылку;Долг;Дата долга\n"
    "101;А;г. Дивногорск, ул. Чкалова, д. 1;да;+79130000011;;нет;150,50;01.10.2026\n"
    "102;Б;г. Дивногорск, ул. Чкалова, д. 2;да;+79130000022;;нет;300;01.10.2026\n"
    "103;В;г. Дивногорск, ул. Ленина, д. 9;да;+79130000031;;нет;400;01.10.2026\n"
)


async def load_base(w: World) -> None:
    parsed = parse_customers(BASE.encode("cp1251"))
    assert parsed.ok, parsed.errors
    await CustomerService(w.campaigns.sessions).import_rows(parsed.rows)


async def set_debt(w: World, account: str, debt: str) -> None:
    async with w.campaigns.sessions() as session, session.begin():
        await session.execute(
            update(Customer).where(Customer.account == account).values(debt=Decimal(debt))
        )


async def contacts_of(w: World, campaign_id: int) -> dict[str, CampaignContact]:
    async with w.campaigns.sessions() as session:
        rows = await session.scalars(
            select(CampaignContact).where(CampaignContact.campaign_id == campaign_id)
        )
        return {c.account: c for c in rows}


def debt_spec(**changes: object) -> CampaignSpec:
    base = CampaignSpec(
        name="долги",
        kind="debt",
        scenario="test-debt",
        ring_timeout=3,
        retry=retry_policy(["busy=3/4s", "no_answer=3/4s"]),
        caps=NO_CAPS,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


async def said_for(w: World, campaign_id: int, contact: CampaignContact) -> str:
    """What the campaign's message says for `contact` as it is stored now."""
    campaign = await w.campaigns.get(campaign_id)
    scenario = await w.campaigns.scenarios.by_id(campaign.scenario_id)
    due = DueContact(
        contact.id,
        contact.phone,
        contact.account,
        contact.name,
        contact.timezone,
        json.loads(contact.values),
        contact.attempts,
    )
    values = contact_values(due)
    speech = w.service.speech
    # as the attempt stores it for its proof: a recorded prompt by its text
    return " ".join(
        speech.prompts.text(part.name) if isinstance(part, PromptPart) else part.text
        for part in speech.resolve(scenario.message_for(values), values)
    )


async def test_a_debt_paid_between_attempts_is_not_called_again(world: WorldFactory) -> None:
    async with world(now=TUESDAY_11) as w:
        await fast_sim(w)
        await w.scenario()
        await load_base(w)
        created = await w.campaigns.create(debt_spec(), from_base=True)
        await w.campaigns.start(created.campaign_id)

        async def busy_once() -> bool:
            c = (await contacts_of(w, created.campaign_id))["102"]
            return c.attempts == 1 and c.state == "waiting"

        await wait_for(busy_once, 20, "the busy customer's first attempt")
        await set_debt(w, "102", "0")
        await w.wait_finished(created.campaign_id, timeout=40)
        contacts = await contacts_of(w, created.campaign_id)
        attempts = await attempts_of(w, created.campaign_id)
        report = await w.campaigns.report(created.campaign_id)
    paid = contacts["102"]
    assert (paid.status, paid.attempts, paid.notified) == ("paid", 1, False)
    assert len([a for a in attempts if a.contact_id == paid.id]) == 1
    assert {r.account: r.status for r in report.rows}["102"] == "paid"
    assert contacts["101"].status == "notified"


async def test_a_changed_debt_is_read_out_as_it_stands_now(world: WorldFactory) -> None:
    async with world(now=TUESDAY_11) as w:
        await fast_sim(w)
        await w.scenario()
        await load_base(w)
        created = await w.campaigns.create(debt_spec(), from_base=True)
        listed = (await contacts_of(w, created.campaign_id))["101"]
        said_listed = await said_for(w, created.campaign_id, listed)
        # paid off in part after the list was made, before the first call
        await set_debt(w, "101", "77.25")
        await set_debt(w, "103", "-5")
        await w.campaigns.start(created.campaign_id)
        await w.wait_finished(created.campaign_id, timeout=40)
        contacts = await contacts_of(w, created.campaign_id)
        attempts = {a.contact_id: a for a in await attempts_of(w, created.campaign_id)}
        said_now = await said_for(w, created.campaign_id, contacts["101"])
        report = await w.campaigns.report(created.campaign_id)
    changed = contacts["101"]
    assert json.loads(changed.values)["debt"] == "77.25"
    assert changed.status == "notified"
    # what the call read out is the amount as it stood at dial time, not the listed one
    assert attempts[changed.id].said == said_now
    assert said_now != said_listed
    assert "семьдесят семь" in said_now
    assert {r.account: r.debt for r in report.rows}["101"] == "77,25\u00a0₽"
    # an overpaid account is not called either
    assert contacts["103"].status == "paid"
    assert contacts["103"].id not in attempts


# ---------------------------------------------------------------------- outages


async def outage_campaign(w: World, outage_start: datetime) -> tuple[int, int, OutageService]:
    await w.scenario(OUTAGE_SCENARIO, "test-outage")
    await load_base(w)
    outages = OutageService(w.campaigns.sessions, KRS)
    outage_id = await outages.add(
        OutageRecord(
            "planned", "ул. Чкалова", outage_start, outage_start + timedelta(hours=6), "ремонт"
        )
    )
    now = w.campaigns.clock.now()
    created = await w.campaigns.create(
        CampaignSpec(
            name="отключение",
            kind="outage",
            scenario="test-outage",
            ring_timeout=3,
            retry=retry_policy(["busy=3/30s", "no_answer=3/30s"]),
            outage_id=outage_id,
            decision_date=now.astimezone(KRS).date(),
        )
    )
    # ул. Чкалова: 101 and 102, not 103 on ул. Ленина
    assert created.contacts == 2
    return created.campaign_id, outage_id, outages


async def test_an_outage_removed_from_the_registry_cancels_the_remaining_calls(
    world: WorldFactory,
) -> None:
    async with world(now=TUESDAY_11) as w:
        await fast_sim(w)
        campaign_id, outage_id, outages = await outage_campaign(
            w, w.campaigns.clock.now() + timedelta(days=2)
        )
        assert await outages.remove(outage_id)
        await w.campaigns.start(campaign_id)
        st = await w.wait_finished(campaign_id, timeout=20)
        contacts = await contacts_of(w, campaign_id)
        attempts = await attempts_of(w, campaign_id, counted_only=False)
        report = await w.campaigns.report(campaign_id)
    assert st.status == "cancelled"
    assert st.outage_note is not None and "снято из реестра" in st.outage_note
    assert {c.status for c in contacts.values()} == {"cancelled"}
    assert attempts == []  # nobody dialed
    assert {r.note for r in report.rows} == {"отключение снято из реестра"}


async def test_an_outage_removed_mid_campaign_stops_the_retries(world: WorldFactory) -> None:
    async with world(now=TUESDAY_11) as w:
        await fast_sim(w)
        campaign_id, outage_id, outages = await outage_campaign(
            w, w.campaigns.clock.now() + timedelta(days=2)
        )
        await w.campaigns.start(campaign_id)

        async def busy_waits() -> bool:
            contacts = await contacts_of(w, campaign_id)
            busy = contacts["102"]
            return (
                busy.attempts == 1 and busy.state == "waiting" and contacts["101"].state == "done"
            )

        await wait_for(busy_waits, 20, "the busy customer waiting for a retry")
        assert await outages.remove(outage_id)
        st = await w.wait_finished(campaign_id, timeout=20)
        contacts = await contacts_of(w, campaign_id)
    assert st.status == "cancelled"
    assert (contacts["102"].status, contacts["102"].attempts) == ("cancelled", 1)
    assert contacts["101"].status == "notified"


async def test_an_outage_moved_in_the_registry_is_read_out_with_its_new_times(
    world: WorldFactory,
) -> None:
    async with world(now=TUESDAY_11) as w:
        await fast_sim(w)
        now = w.campaigns.clock.now()
        first = (now + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
        campaign_id, outage_id, outages = await outage_campaign(w, first)
        listed = (await contacts_of(w, campaign_id))["101"]
        said_listed = await said_for(w, campaign_id, listed)
        moved = first + timedelta(days=1, hours=2)
        assert await outages.move(outage_id, moved, moved + timedelta(hours=4))
        await w.campaigns.start(campaign_id)

        async def heard() -> Attempt | None:
            for a in await attempts_of(w, campaign_id):
                if a.contact_id == listed.id and a.ended_at is not None:
                    return a
            return None

        attempt = await wait_for(heard, 20, "the first customer's call")
        contact = (await contacts_of(w, campaign_id))["101"]
        said_now = await said_for(w, campaign_id, contact)
        campaign = await w.campaigns.get(campaign_id)
        st = await w.campaigns.status(campaign_id)
    values = json.loads(contact.values)
    assert values["outage_start"] == moved.astimezone(KRS).strftime("%Y-%m-%dT%H:%M")
    assert values["outage_end"] == (moved + timedelta(hours=4)).astimezone(KRS).strftime(
        "%Y-%m-%dT%H:%M"
    )
    assert attempt.said == said_now != said_listed
    # the 24 h rule follows the outage
    assert campaign.end_at == moved - timedelta(hours=24)
    assert campaign.outage_start == moved
    assert st.outage_note is not None and "перенесено" in st.outage_note


async def test_an_outage_moved_too_close_ends_its_warnings_as_not_reached_in_time(
    world: WorldFactory,
) -> None:
    async with world(now=TUESDAY_11) as w:
        await fast_sim(w)
        now = w.campaigns.clock.now()
        campaign_id, outage_id, outages = await outage_campaign(w, now + timedelta(days=2))
        # tomorrow morning: a warning 24 h ahead can no longer be given
        soon = now + timedelta(hours=20)
        assert await outages.move(outage_id, soon, soon + timedelta(hours=4))
        await w.campaigns.start(campaign_id)
        st = await w.wait_finished(campaign_id, timeout=20)
        attempts = await attempts_of(w, campaign_id, counted_only=False)
    assert st.by_status == {"not_reached_in_time": 2}
    assert attempts == []
    assert st.outage_note is not None and "24 часа уже нельзя" in st.outage_note
