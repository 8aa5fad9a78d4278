"""A customer put through to an operator counts as notified as the scenario says
(`transfer_counts_as`, autoinformer.scenarios.TRANSFER_RULES):

- `confirmed` (the default): once the operator confirms it — info-done on the transfer's
  appeal, or post-call work the operator finished (not one the time limit ended);
- `answered`: as soon as an operator took the call;
- `message`: only as the message itself says (heard to its end, or 1 pressed).

The operator confirms after (often well after) the call ended, in the operators' desk
(contact_center.operators), which knows nothing of campaigns: so the campaign side settles
it, with one UPDATE per campaign, whenever its status or report is read. The transfer's
appeal is found by its Uniqueid, which is the attempt's ChannelId.
"""

from __future__ import annotations

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from autoinformer.models import Attempt, CampaignContact
from contact_center.hotline.models import Appeal
from contact_center.storage.database import affected_rows


async def settle_transfers(session: AsyncSession, campaign_id: int, rule: str) -> int:
    """Mark the campaign's transferred contacts notified as `rule` says; how many were."""
    if rule == "message":
        return 0
    where = [
        CampaignContact.campaign_id == campaign_id,
        CampaignContact.status == "transferred",
        CampaignContact.notified.is_(False),
    ]
    if rule == "confirmed":
        confirmed = (
            select(Attempt.contact_id)
            .join(Appeal, Appeal.uniqueid == Attempt.channel_id)
            .where(
                Attempt.campaign_id == campaign_id,
                or_(
                    Appeal.info_done_at.is_not(None),
                    and_(Appeal.wrapup_done_at.is_not(None), Appeal.wrapup_timed_out.is_(False)),
                ),
            )
        )
        where.append(CampaignContact.id.in_(confirmed))
    # read first: a status read every few seconds takes no write lock for nothing
    ids = list(await session.scalars(select(CampaignContact.id).where(*where)))
    if not ids:
        return 0
    result = await session.execute(
        update(CampaignContact)
        .where(CampaignContact.id.in_(ids), CampaignContact.notified.is_(False))
        .values(notified=True)
    )
    return affected_rows(result)
