"""A campaign's contacts and letters written as its list is read, in batches.

A list of 200,000 rows held as validated objects and then as ORM rows took about a gigabyte;
here each batch of rows goes to the database as plain INSERT parameters and is dropped, so
memory stays flat whatever the list's length. Everything happens in the caller's transaction:
a list that turns out to give nothing (every row refused) or breaks half way rolls back with
the campaign, so nothing is created.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from autoinformer.lists import ListContact, ListLetter, ListReader
from autoinformer.models import Campaign, CampaignContact, Letter

# rows per INSERT batch; also the size of the IN (...) a batch's letters look their
# contacts up with, well under SQLite's limit of bound parameters
BATCH = 500


@dataclass(slots=True)
class Written:
    contacts: int = 0
    letters: int = 0


async def write_list(
    session: AsyncSession, campaign: Campaign, items: ListReader, *, batch: int = BATCH
) -> Written:
    """Insert `items` for `campaign` (already flushed, so it has its id); raise
    :class:`autoinformer.lists.EmptyListError` when the list gave nothing to send, after
    reading all of it (its `parsed` then names every row's reason). Sets the campaign's
    count of refused rows."""
    written = Written()
    contacts: list[dict[str, Any]] = []
    letters: list[ListLetter] = []
    for item in items:
        if isinstance(item, ListContact):
            contacts.append(_contact_values(campaign.id, item))
        else:
            letters.append(item)
        if len(contacts) + len(letters) >= batch:
            await _flush(session, campaign.id, contacts, letters, written)
    await _flush(session, campaign.id, contacts, letters, written)
    items.check_not_empty()
    campaign.rejected_rows = len(items.result.rejected)
    return written


async def _flush(
    session: AsyncSession,
    campaign_id: int,
    contacts: list[dict[str, Any]],
    letters: list[ListLetter],
    written: Written,
) -> None:
    if contacts:
        await session.execute(insert(CampaignContact), contacts)
        written.contacts += len(contacts)
        contacts.clear()
    if not letters:
        return
    # a letter joins its row's phone contact, which may be in an earlier batch (a repeated
    # phone): the phone is unique within a campaign, so the database finds it
    phones = sorted({letter.phone for letter in letters if letter.phone})
    ids: dict[str, int] = {}
    if phones:
        found = await session.execute(
            select(CampaignContact.phone, CampaignContact.id).where(
                CampaignContact.campaign_id == campaign_id, CampaignContact.phone.in_(phones)
            )
        )
        ids = {phone: contact_id for phone, contact_id in found}
    await session.execute(
        insert(Letter),
        [letter_row(campaign_id, ids.get(letter.phone), letter) for letter in letters],
    )
    written.letters += len(letters)
    letters.clear()


def _contact_values(campaign_id: int, c: ListContact) -> dict[str, Any]:
    return {
        "campaign_id": campaign_id,
        "line": c.line,
        "phone": c.phone,
        "phones": ";".join(c.alternates),
        "account": c.account,
        "name": c.name,
        "timezone": c.timezone,
        "values": json.dumps(dict(c.values), ensure_ascii=False),
        "state": "waiting",
        "status": None,
        "notified": False,
        "attempts": 0,
        "answered": 0,
        "callback": False,
    }


def letter_row(campaign_id: int, contact_id: int | None, letter: ListLetter) -> dict[str, Any]:
    """A queued letter's row for `insert(Letter)`."""
    return {
        "campaign_id": campaign_id,
        "contact_id": contact_id,
        "line": letter.line,
        "address": letter.address,
        "account": letter.account,
        "name": letter.name,
        "values": json.dumps(dict(letter.values), ensure_ascii=False),
        "state": "queued",
        "status": None,
        "attempts": 0,
        "deferrals": 0,
        "rounds": 0,
        "reply": "",
        "last_deferral": "",
    }
