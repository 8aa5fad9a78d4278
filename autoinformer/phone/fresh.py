"""Fresh data at dial time, the I/O half (the rules: autoinformer.campaigns.freshness).

The dialer asks twice, each time with one query for many:
- `debts`: the contacts it is about to claim (a campaign whose list came from the
  customer base), their customers' debts read in one query; a paid one is closed as
  `paid` and dropped, a changed one goes on with its values rewritten (what its message
  is rendered from) — one write for the lot, only when something changed;
- `outages`: the campaigns warning of a registered outage, the registry read in one query
  whenever the dialer re-reads its campaigns (once a tick); a removed outage cancels the
  campaign's remaining calls, a moved one rewrites the times they read out and the
  campaign's end (the 24 h rule).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from autoinformer.campaigns.freshness import (
    DebtNow,
    OutageNow,
    OutageVerdict,
    debt_verdict,
    outage_note,
    outage_values,
    outage_verdict,
)
from autoinformer.campaigns.plan import ACTIVE, Plan
from autoinformer.models import Campaign, CampaignContact, Letter
from autoinformer.phone.book import CallBook, DueContact
from autoinformer.scenarios import Scenario
from contact_center.customers.models import Customer
from contact_center.hotline.models import Outage

log = logging.getLogger(__name__)

# a done contact's reason (shown beside its status)
OUTAGE_CANCELLED = "outage_cancelled"


class FreshData:
    def __init__(self, book: CallBook) -> None:
        self._book = book
        self._sessions = book.sessions

    # ------------------------------------------------------------------ debts
    async def debts(
        self, plan: Plan, scenario: Scenario, contacts: Sequence[DueContact], now: datetime
    ) -> list[DueContact]:
        """The contacts still to be called, with their debts as they stand now."""
        if not plan.from_base or not contacts:
            return list(contacts)
        accounts = sorted({c.account for c in contacts if c.account})
        async with self._sessions() as session:
            rows = await session.execute(
                select(Customer.account, Customer.debt, Customer.debt_date).where(
                    Customer.account.in_(accounts)
                )
            )
            base = {str(a): DebtNow(d, dd) for a, d, dd in rows.all()}
        reads_debt = "debt" in scenario.fields
        keep: list[DueContact] = []
        paid: list[int] = []
        changed: list[dict[str, Any]] = []
        for contact in contacts:
            verdict = debt_verdict(contact.values, base.get(contact.account), reads_debt=reads_debt)
            if verdict.kind == "paid":
                paid.append(contact.id)
                continue
            if verdict.kind == "changed" and verdict.values is not None:
                values = dict(verdict.values)
                changed.append({"id": contact.id, "values": _json(values)})
                contact = replace(contact, values=values)
            keep.append(contact)
        if paid or changed:
            async with self._book.transaction() as session:
                if paid:
                    await session.execute(
                        update(CampaignContact)
                        .where(CampaignContact.id.in_(paid), CampaignContact.state == "waiting")
                        .values(
                            state="done",
                            status="paid",
                            finished_at=now,
                            next_attempt_at=None,
                            wait_reason=None,
                        )
                    )
                    # the same customer's letter (channel both) is not sent either
                    await session.execute(
                        update(Letter)
                        .where(Letter.contact_id.in_(paid), Letter.state == "queued")
                        .values(state="done", status="cancelled", finished_at=now)
                    )
                if changed:
                    # by primary key, one statement for the lot
                    await session.execute(update(CampaignContact), changed)
            log.info(
                "campaign %d: %d contacts paid since the list was made, %d debts changed",
                plan.id,
                len(paid),
                len(changed),
            )
        return keep

    # ------------------------------------------------------------------ outages
    async def outages(self, plans: Sequence[Plan], now: datetime) -> bool:
        """Apply the registry's changes to the campaigns warning of its outages; True when a
        campaign changed (the caller reads its campaigns again)."""
        watched = [p for p in plans if p.outage_id is not None and p.status in ACTIVE]
        if not watched:
            return False
        async with self._sessions() as session:
            rows = await session.execute(
                select(Outage.id, Outage.starts_at, Outage.ends_at).where(
                    Outage.id.in_({p.outage_id for p in watched})
                )
            )
            registry = {int(i): OutageNow(s, e) for i, s, e in rows.all()}
        changed = False
        for plan in watched:
            assert plan.outage_id is not None
            verdict = outage_verdict(
                listed_start=plan.outage_start,
                listed_end=plan.outage_end,
                campaign_end=plan.end_at,
                now=registry.get(plan.outage_id),
            )
            if verdict is None:
                continue
            note = outage_note(verdict, plan.outage_id, plan.tz, now)
            if verdict.kind == "cancelled":
                await self._cancel(plan, note, now)
            else:
                await self._move(plan, verdict, note)
            log.warning("campaign %d: outage %d %s", plan.id, plan.outage_id, verdict.kind)
            changed = True
        return changed

    async def _cancel(self, plan: Plan, note: str, now: datetime) -> None:
        async with self._book.transaction() as session:
            campaign = await session.get(Campaign, plan.id)
            if campaign is None or campaign.status not in ACTIVE:
                return
            campaign.status = "cancelled"
            campaign.finished_at = now
            campaign.outage_note = note
            # calls in progress finish; their contacts are closed by the dialer as cancelled
            await session.execute(
                update(CampaignContact)
                .where(
                    CampaignContact.campaign_id == plan.id,
                    CampaignContact.state == "waiting",
                )
                .values(
                    state="done",
                    status="cancelled",
                    finished_at=now,
                    next_attempt_at=None,
                    wait_reason=OUTAGE_CANCELLED,
                )
            )
            await session.execute(
                update(Letter)
                .where(Letter.campaign_id == plan.id, Letter.state == "queued")
                .values(state="done", status="cancelled", finished_at=now)
            )

    async def _move(self, plan: Plan, verdict: OutageVerdict, note: str) -> None:
        assert verdict.starts_at is not None and verdict.ends_at is not None
        times = outage_values(verdict.starts_at, verdict.ends_at, plan.tz)
        async with self._book.transaction() as session:
            campaign = await session.get(Campaign, plan.id)
            if campaign is None or campaign.status not in ACTIVE:
                return
            campaign.outage_start = verdict.starts_at
            campaign.outage_end = verdict.ends_at
            campaign.end_at = verdict.end_at
            campaign.outage_note = note
            # once per move, not per call: every remaining contact and letter reads the
            # new times (a call under way already played the old ones)
            contacts = await session.execute(
                select(CampaignContact.id, CampaignContact.values).where(
                    CampaignContact.campaign_id == plan.id,
                    CampaignContact.state == "waiting",
                )
            )
            rows = [{"id": i, "values": _with(v, times)} for i, v in contacts.all()]
            if rows:
                await session.execute(update(CampaignContact), rows)
            letters = await session.execute(
                select(Letter.id, Letter.values).where(
                    Letter.campaign_id == plan.id, Letter.state == "queued"
                )
            )
            rows = [{"id": i, "values": _with(v, times)} for i, v in letters.all()]
            if rows:
                await session.execute(update(Letter), rows)


def _with(stored: str | None, times: Mapping[str, str]) -> str:
    return _json({**json.loads(stored or "{}"), **times})


def _json(values: Mapping[str, str]) -> str:
    return json.dumps(dict(values), ensure_ascii=False)
