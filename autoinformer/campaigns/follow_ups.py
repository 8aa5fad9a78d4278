"""Another way to reach whom the phone did not (standard: a warning must get through).

An outage campaign's contacts left `not_reached_in_time` get a follow-up automatically once
the campaign is finished; any campaign's not-notified contacts get one when a supervisor
asks (`campaign follow-up ID`, the console's button). Each such contact gets one of:

- `email`: the customer base has an address with consent for the account (and it did not
  unsubscribe from this kind of notice): a letter of a follow-up campaign (channel e-mail,
  `follow_up_of` the original), started at once with the scenario's own letter, until the
  outage begins for an outage warning;
- `callback`: otherwise, an operator call-back task (the contact shows on the operators'
  desk list, «Перезвонить сегодня»).

The contact's `follow_up` records which, so the report says it, and nobody gets two.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from autoinformer.campaigns.list_writer import letter_row
from autoinformer.campaigns.scenario_store import ScenarioStore
from autoinformer.exceptions import CampaignNotFound, CampaignRefused
from autoinformer.lists import ListLetter
from autoinformer.models import Campaign, CampaignContact, Letter, OptOut
from autoinformer.scheduling import STATUS_RU
from contact_center.clock import Clock
from contact_center.customers.models import Customer, CustomerEmail

log = logging.getLogger(__name__)

# what an outage campaign's end leaves behind: followed up without anyone asking
AUTO_STATUSES = frozenset({"not_reached_in_time"})
# done and not notified, but nothing to follow up: the customer paid, refused, or the
# campaign was called off
NOT_FOLLOWED = frozenset({"paid", "opted_out", "cancelled"})
SWEEP_INTERVAL = 30.0


@dataclass(frozen=True, slots=True)
class FollowUpResult:
    campaign_id: int
    letters: int
    callbacks: int
    # the follow-up campaign carrying the letters (None: no letter)
    letters_campaign_id: int | None = None

    def text(self) -> str:
        """One Russian line for the CLI and the console."""
        if not self.letters and not self.callbacks:
            return f"Кампания {self.campaign_id}: некого оповещать другим путём."
        parts = []
        if self.letters:
            parts.append(f"писем {self.letters} (кампания {self.letters_campaign_id})")
        if self.callbacks:
            parts.append(f"звонков оператора {self.callbacks}")
        return f"Кампания {self.campaign_id}: другим путём — {', '.join(parts)}."


class FollowUpService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        scenarios: ScenarioStore,
        clock: Clock,
        *,
        interval: float = SWEEP_INTERVAL,
    ) -> None:
        self._sessions = sessions
        self._scenarios = scenarios
        self._clock = clock
        self.interval = interval
        self._lock = asyncio.Lock()

    async def run(self) -> None:
        """Follow up finished outage campaigns as they finish, until cancelled."""
        while True:
            try:
                await self.sweep()
            except Exception:  # the next sweep tries again; a bad campaign must not stop it
                log.exception("follow-up sweep failed")
            await asyncio.sleep(self.interval)

    async def sweep(self) -> list[FollowUpResult]:
        """Every finished outage warning not followed up yet (a follow-up campaign itself
        is not followed up again)."""
        async with self._sessions() as session:
            ids = list(
                await session.scalars(
                    select(Campaign.id).where(
                        Campaign.kind == "outage",
                        Campaign.status == "finished",
                        Campaign.follow_up_of.is_(None),
                        Campaign.follow_ups_at.is_(None),
                    )
                )
            )
        results = []
        for campaign_id in ids:
            result = await self.create(campaign_id, statuses=AUTO_STATUSES)
            if result.letters or result.callbacks:
                log.info(
                    "campaign %d followed up: %d letters, %d operator call-backs",
                    campaign_id,
                    result.letters,
                    result.callbacks,
                )
            results.append(result)
        return results

    async def create(
        self, campaign_id: int, *, statuses: Collection[str] | None = None
    ) -> FollowUpResult:
        """Follow up the campaign's contacts that are done and not notified (only those
        with one of `statuses` if given: codes, `-` or `_`), each once."""
        if statuses is not None:
            statuses = [s.strip().lower().replace("-", "_") for s in statuses]
            unknown = [s for s in statuses if s not in STATUS_RU]
            if unknown:
                raise CampaignRefused(
                    f"нет такого итога звонка «{unknown[0]}»; есть: "
                    + ", ".join(s.replace("_", "-") for s in STATUS_RU),
                    field="status",
                )
        async with self._lock, self._sessions() as session, session.begin():
            campaign = await session.get(Campaign, campaign_id, with_for_update=True)
            if campaign is None:
                raise CampaignNotFound(f"нет кампании {campaign_id}")
            if campaign.follow_up_of is not None:
                raise CampaignRefused(
                    f"кампания {campaign_id} сама рассылает письма по недозвону "
                    f"кампании {campaign.follow_up_of}",
                    field="campaign",
                )
            query = select(CampaignContact).where(
                CampaignContact.campaign_id == campaign_id,
                CampaignContact.state == "done",
                CampaignContact.notified.is_(False),
                CampaignContact.follow_up.is_(None),
                CampaignContact.status.not_in(sorted(NOT_FOLLOWED)),
            )
            if statuses is not None:
                query = query.where(CampaignContact.status.in_(sorted(statuses)))
            contacts = list(await session.scalars(query.order_by(CampaignContact.id)))
            now = self._clock.now()
            campaign.follow_ups_at = now
            if not contacts:
                return FollowUpResult(campaign_id, 0, 0)
            scenario = await self._scenarios.by_id(campaign.scenario_id)
            addresses = (
                await _addresses(session, [c.account for c in contacts], campaign.kind)
                if scenario.email is not None
                else {}
            )
            mailed = [c for c in contacts if c.account in addresses]
            letters_campaign_id = None
            if mailed:
                letters_campaign_id = await _letters_campaign(session, campaign, now)
                letters = [
                    ListLetter(
                        line=c.line,
                        address=addresses[c.account],
                        account=c.account,
                        name=c.name,
                        values=json.loads(c.values or "{}"),
                    )
                    for c in mailed
                ]
                await session.execute(
                    insert(Letter), [letter_row(letters_campaign_id, None, x) for x in letters]
                )
            for contact in contacts:
                if contact.account in addresses:
                    contact.follow_up = "email"
                else:
                    contact.follow_up = "callback"
                    contact.callback = True
            return FollowUpResult(
                campaign_id, len(mailed), len(contacts) - len(mailed), letters_campaign_id
            )


async def _addresses(session: AsyncSession, accounts: list[str], kind: str) -> dict[str, str]:
    """account -> the customer's first address with consent, one not unsubscribed."""
    wanted = sorted({a for a in accounts if a})
    if not wanted:
        return {}
    rows = (
        await session.execute(
            select(Customer.account, CustomerEmail.address)
            .join(CustomerEmail, CustomerEmail.customer_id == Customer.id)
            .where(Customer.account.in_(wanted), CustomerEmail.consent.is_(True))
            .order_by(Customer.account, CustomerEmail.id)
        )
    ).all()
    refused = set(
        await session.scalars(
            select(OptOut.address).where(
                OptOut.address.in_([address.lower() for _a, address in rows]),
                OptOut.kind == kind,
            )
        )
    )
    out: dict[str, str] = {}
    for account, address in rows:
        if address.lower() not in refused:
            out.setdefault(account, address.lower())
    return out


async def _letters_campaign(session: AsyncSession, original: Campaign, now: Any) -> int:
    """The e-mail campaign that carries the follow-up letters, running from now; an outage
    warning's letters go until the outage begins."""
    end = original.outage_start if original.kind == "outage" else original.end_at
    if end is not None and end <= now:
        end = None
    row = Campaign(
        name=f"{original.name} — письма не дозвонившимся"[:200],
        kind=original.kind,
        scenario_id=original.scenario_id,
        channel="email",
        status="running",
        start_at=now,
        end_at=end,
        windows=original.windows,
        timezone=original.timezone,
        concurrency=original.concurrency,
        ring_timeout=original.ring_timeout,
        retry=original.retry,
        caps=original.caps,
        priority=original.priority,
        outage_start=original.outage_start,
        outage_end=original.outage_end,
        outage_id=original.outage_id,
        decision_date=original.decision_date,
        source=f"по недозвону кампании {original.id}",
        started_at=now,
        follow_up_of=original.id,
    )
    session.add(row)
    await session.flush()
    return row.id
